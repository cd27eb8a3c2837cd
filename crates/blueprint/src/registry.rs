//! The one place a system is registered: add its crate to Cargo.toml and a line here.

use std::sync::Arc;

use blueprint_platform::System;

use crate::systems;

/// Every system this binary runs, in console order.
pub fn systems() -> Vec<Arc<dyn System>> {
    vec![
        Arc::new(systems::estimate::Estimate),
        Arc::new(systems::ratelimit::RateLimit),
        Arc::new(systems::ids::Ids),
        Arc::new(systems::hashring::Hashring),
        Arc::new(systems::kv::Kv),
        Arc::new(systems::shortener::Shortener),
        Arc::new(systems::autocomplete::AutocompleteSystem),
    ]
}
