//! Black-box tests of the platform: one test binary, one module per behaviour, each test
//! starting its own app on a random port with its own backends.
#![allow(clippy::unwrap_used, missing_docs)]

mod auth;
mod cache;
mod errors;
mod kv_store;
mod observability;
mod readiness;
mod shutdown;
