//! URL shortener (System Design Interview, chapter 8): `POST /api/v1/data/shorten` turns a
//! long URL into a short code, `GET /{code}` redirects to it.
//!
//! **What it is:** the book's design built for real. Codes are base62 of a Snowflake ID
//! (default, book 8.3.2 "base 62 conversion") or a hash's first 7 characters with a Bloom
//! filter collision check and a predefined string appended on collision ("hash +
//! collision resolution"). Redirects read the platform cache first (in-process or Redis),
//! then the database (SQLite or PostgreSQL), filling the cache (book figure 8-9); 301 or
//! 302 per link with a matching `Cache-Control`. The same long URL returns its existing
//! code (book 8.3.3), also under concurrency. Beyond the book: custom aliases, expiry by
//! date or by clicks (410), disable/delete, API keys, click analytics off the request
//! path (total, per day, referrer host, user-agent family), QR codes, URL normalisation
//! and a host blocklist, rate limiting of shortens per IP and per API key.
//!
//! **What it is not:** a link-in-bio page builder, a tracker (no cookies, no IPs
//! stored), or a multi-tenant admin console (keys belong to platform users; links
//! created without a key cannot be managed over the API).
//!
//! # Layout
//! - [`code`]: base62 and the [`code::ShortCode`] newtype (length, alphabet, reserved words).
//! - [`long_url`]: [`long_url::LongUrl`] validation and normalisation, [`long_url::UrlPolicy`].
//! - [`bloom`]: the Bloom filter of codes in use.
//! - [`core`]: pure decisions: hash codes, redirect verdicts, `Cache-Control`, cache TTLs,
//!   click classification.
//! - [`store`]: the [`store::LinkStore`] trait and [`store::SqlStore`] over the platform's
//!   SQL, with `migrations/{sqlite,postgres}`.
//! - [`analytics`]: clicks aggregated in memory and written in batches by a thread of their own.
//! - [`service`]: the flows (shorten, redirect, manage, stats, keys).
//! - [`qr`]: QR codes as SVG and PNG.
//! - [`http`]: `router(state, limit)`, the OpenAPI description and the console page.
//! - [`config`]: the `[shortener]` section; [`startup`]: building it on the platform.
//! - [`cli`]: `blueprint shortener shorten|stats|load`.
//!
//! # Limits
//! Codes are [`code::MIN_CODE_LEN`]..=[`code::MAX_CODE_LEN`] characters; long URLs at
//! most `max_url_len` bytes (default [`long_url::DEFAULT_MAX_URL_LEN`], at most
//! [`long_url::MAX_URL_LEN_LIMIT`]); the hash approach tries [`core::MAX_HASH_ATTEMPTS`]
//! candidates; a click batch holds `click_batch_rows` rows (default
//! [`analytics::DEFAULT_MAX_BATCH_ROWS`]) and at most [`analytics::MAX_BATCH_CLICKS`] clicks;
//! a click limit is at most [`service::MAX_CLICKS_LIMIT`]; a user holds at most
//! [`store::MAX_KEYS_PER_USER`] keys; stats answers carry at most
//! [`store::STATS_DAYS_MAX`] days and [`store::STATS_REFERRERS_MAX`] referrers.
//!
//! # Example
//! ```
//! use blueprint_shortener::code::{ShortCode, base62_encode};
//! use blueprint_shortener::long_url::{LongUrl, UrlPolicy};
//!
//! // The book's figure 8-6: 11157 is "2TX" in base 62.
//! assert_eq!(base62_encode(11157), "2TX");
//! assert!(ShortCode::parse("healthz", &[]).is_err(), "reserved: one of our own routes");
//! let url = LongUrl::parse("HTTPS://Example.com:443/a/../b", &UrlPolicy::default(), None)?;
//! assert_eq!(url.as_str(), "https://example.com/b");
//! # Ok::<(), blueprint_shortener::long_url::UrlError>(())
//! ```
#![deny(missing_docs)]

pub mod analytics;
pub mod bloom;
pub mod cli;
pub mod code;
pub mod config;
pub mod core;
pub mod error;
pub mod hot;
pub mod http;
pub mod long_url;
pub mod qr;
pub mod service;
pub mod startup;
pub mod store;
