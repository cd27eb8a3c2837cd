//! Consistent hashing, chapter 5 of *System Design Interview*, built for real.
//!
//! A [`Ring`] puts every node on a 64-bit circle many times (virtual nodes, in proportion
//! to its weight); a key belongs to the first point clockwise from its hash. Adding or
//! removing a node moves only the keys on the arcs it gains or loses, and
//! [`Ring::affected_ranges`] names those arcs exactly, with their old and new owners (book
//! 5.2.9). [`Ring::replicas`] walks clockwise to `n` distinct physical nodes, optionally in
//! distinct zones ([`Spread::Zones`]). The KV store, the crawler and chat service discovery
//! use it to place data and work.
//!
//! For comparison, the same [`Placement`] trait also fronts modulo hashing (the book's
//! strawman), Jump consistent hash, weighted rendezvous (HRW), Maglev, and consistent
//! hashing with bounded loads; [`experiment`] measures the book's claims on all of them.
//!
//! What it is not: a membership or failure detector (callers say who is in the ring), a
//! network service (the HTTP layer is the `blueprint` binary's; [`api`] holds its pure
//! request/response functions), or a data mover (it says which ranges move, not how).
//!
//! # Layout
//!
//! - [`node`]: [`NodeId`], [`Zone`], [`Weight`], [`Node`] — validated on construction.
//! - [`hash`]: the [`RingHash`] parameter and its default, [`Xxh3`].
//! - [`ring`]: the [`Ring`]: points, O(1) lookups through a bucket index, replica walks.
//! - [`replicas`]: [`Replicas`], a walk's nodes held inline (no allocation up to
//!   [`INLINE_REPLICAS`]).
//! - [`ranges`]: [`Change`], [`HashRange`], [`AffectedRange`], [`ranges::diff`].
//! - [`placement`]: the [`Placement`] trait, [`Algorithm`], [`placement::build`].
//! - [`modulo`], [`jump`], [`rendezvous`], [`maglev`], [`bounded`]: the comparison algorithms.
//! - [`experiment`]: the book's claims as pure functions returning tables.
//! - [`api`]: JSON types and pure handlers for the console page (`web/index.html`).
//! - [`cli`]: `blueprint hashring experiment`.
//!
//! # Limits
//!
//! Node ids and zones are 1..=[`MAX_NAME_LEN`] bytes; at most [`MAX_VNODES`] virtual nodes
//! per unit weight, [`MAX_POINTS_PER_NODE`] points per node and [`MAX_POINTS`] per ring.
//! Membership changes cost O(points); lookups O(1) expected. [`DEFAULT_VNODES`] is 4096,
//! not the usual 100–200, so that the busiest of 10 nodes stays within 5 % of the mean: its
//! documentation gives the arithmetic.
//!
//! # Example
//!
//! ```
//! use blueprint_hashring::{Change, HashringError, Node, Ring};
//!
//! # fn main() -> Result<(), HashringError> {
//! let mut ring = Ring::new();
//! for id in ["cache-a", "cache-b", "cache-c"] {
//!     ring.add(Node::new(id)?)?;
//! }
//! let owner = ring.lookup("user:42").map(|node| node.id().clone());
//! assert!(owner.is_some());
//!
//! // Three distinct physical nodes, clockwise from the key, the owner first (held inline:
//! // no allocation).
//! let replicas = ring.replicas("user:42", 3);
//! assert_eq!(replicas.len(), 3);
//! assert_eq!(Some(replicas[0].id()), owner.as_ref());
//!
//! // Which arcs move if cache-d joins? All of them move to cache-d.
//! let joining = Node::new("cache-d")?;
//! let moved = ring.affected_ranges(&Change::Add(joining))?;
//! assert!(moved.iter().all(|range| range.to.as_ref().map(|id| id.as_str()) == Some("cache-d")));
//!
//! // Bad input is a typed error, not a panic.
//! assert!(matches!(
//!     ring.add(Node::new("cache-a")?),
//!     Err(HashringError::DuplicateNode { .. })
//! ));
//! # Ok(())
//! # }
//! ```
pub mod api;
pub mod bounded;
pub mod cli;
pub mod error;
pub mod experiment;
pub mod hash;
pub mod jump;
pub mod maglev;
pub mod modulo;
pub mod node;
pub mod placement;
pub mod ranges;
pub mod rendezvous;
pub mod replicas;
pub mod ring;

pub use error::HashringError;
pub use hash::{RingHash, Xxh3};
pub use node::{MAX_NAME_LEN, Node, NodeId, Weight, Zone};
pub use placement::{Algorithm, Placement, PlacementParams};
pub use ranges::{AffectedRange, AffectedReplicas, Change, HashRange};
pub use replicas::{INLINE_REPLICAS, Replicas};
pub use ring::{DEFAULT_VNODES, MAX_POINTS, MAX_POINTS_PER_NODE, MAX_VNODES, Ring, Spread};
