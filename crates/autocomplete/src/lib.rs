//! Search autocomplete (placeholder doc while the crate is assembled).
pub mod cache;
pub mod config;
pub mod error;
pub mod filter;
pub mod log;
pub mod normalize;
pub mod pipeline;
pub mod prefix_store;
pub mod snapshot;
pub mod trie;
