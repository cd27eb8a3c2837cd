//! The in-process link cache: with the platform's in-process cache (no `cache.url`), links
//! are kept as ready-made redirects — the view, its `Location` and, for a link without an
//! expiry, its `Cache-Control` — so a cached redirect is a lookup and a click, with no
//! decoding, no allocation for the headers and no `await` ([`crate::http::RedirectFastPath`]).
//!
//! Bounded by bytes (the URL twice, the code and a fixed overhead per entry), per-entry
//! TTL (`cache_ttl_s`, cut at the link's expiry), TinyLFU admission (moka). With Redis as
//! the cache, links stay in Redis, shared by every instance, and this cache is not used.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use moka::Expiry;

use crate::core::LinkView;

/// What an entry costs beyond its code and URL bytes: the `Arc`, the view, the header
/// values and moka's own bookkeeping (an estimate, as in the platform's cache).
const ENTRY_OVERHEAD_BYTES: usize = 192;

/// A cached link.
#[derive(Debug)]
pub struct HotLink {
    /// The link.
    pub view: LinkView,
    /// Its `Location`.
    pub location: HeaderValue,
    /// Its `Cache-Control`, when it does not depend on the time (no expiry).
    pub cache_control: Option<HeaderValue>,
    /// How long the cache keeps it.
    ttl: Duration,
}

struct HotExpiry;

impl Expiry<Box<str>, Arc<HotLink>> for HotExpiry {
    fn expire_after_create(
        &self,
        _code: &Box<str>,
        link: &Arc<HotLink>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(link.ttl)
    }
}

/// The cache. Cheap to clone.
#[derive(Clone)]
pub struct HotLinks {
    inner: moka::sync::Cache<Box<str>, Arc<HotLink>>,
}

impl std::fmt::Debug for HotLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotLinks").field("entries", &self.inner.entry_count()).finish()
    }
}

impl HotLinks {
    /// A cache of at most `max_bytes`.
    #[allow(clippy::borrowed_box, reason = "moka's weigher takes the key type by reference")]
    pub fn new(max_bytes: u64) -> Self {
        let inner = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|code: &Box<str>, link: &Arc<HotLink>| {
                let bytes = code.len() + 2 * link.view.long_url.len() + ENTRY_OVERHEAD_BYTES;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(HotExpiry)
            .build();
        HotLinks { inner }
    }

    /// The cached link `code`.
    pub fn get(&self, code: &str) -> Option<Arc<HotLink>> {
        self.inner.get(code)
    }

    /// Keep `view` under `code` for `ttl`, with `cache_control` when it is fixed; `false`
    /// (nothing kept) when its URL cannot be a header value.
    pub fn insert(
        &self,
        code: &str,
        view: LinkView,
        cache_control: Option<&str>,
        ttl: Duration,
    ) -> bool {
        let Ok(location) = HeaderValue::from_str(&view.long_url) else { return false };
        let cache_control = match cache_control.map(HeaderValue::from_str) {
            Some(Ok(value)) => Some(value),
            Some(Err(_)) => return false,
            None => None,
        };
        self.inner.insert(code.into(), Arc::new(HotLink { view, location, cache_control, ttl }));
        true
    }

    /// Drop `code`.
    pub fn remove(&self, code: &str) {
        self.inner.invalidate(code);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::core::Redirect;

    fn view(url: &str) -> LinkView {
        LinkView {
            long_url: url.into(),
            redirect: Redirect::Permanent,
            expires_at_ms: None,
            limited: false,
            disabled: false,
        }
    }

    #[test]
    fn keeps_ready_made_headers_and_forgets_on_remove() {
        let hot = HotLinks::new(1 << 20);
        assert!(hot.insert(
            "abc1234",
            view("https://e.example/a"),
            Some("public, max-age=5"),
            Duration::from_secs(60)
        ));
        let link = hot.get("abc1234").unwrap();
        assert_eq!(link.location, "https://e.example/a");
        assert_eq!(link.cache_control.as_ref().unwrap(), "public, max-age=5");
        hot.remove("abc1234");
        assert!(hot.get("abc1234").is_none());
    }

    #[test]
    fn a_url_that_cannot_be_a_header_is_not_kept() {
        let hot = HotLinks::new(1 << 20);
        assert!(!hot.insert(
            "abc1234",
            view("https://e.example/\n"),
            None,
            Duration::from_secs(60)
        ));
        assert!(hot.get("abc1234").is_none());
    }

    #[test]
    fn entries_expire_after_their_ttl() {
        let hot = HotLinks::new(1 << 20);
        assert!(hot.insert(
            "abc1234",
            view("https://e.example/a"),
            None,
            Duration::from_millis(30)
        ));
        assert!(hot.get("abc1234").is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(hot.get("abc1234").is_none());
    }

    #[test]
    fn the_byte_bound_holds_under_a_flood_of_links() {
        let hot = HotLinks::new(100_000);
        for n in 0..10_000 {
            hot.insert(
                &format!("c{n:06}"),
                view("https://e.example/long/enough/url"),
                None,
                Duration::from_secs(60),
            );
        }
        hot.inner.run_pending_tasks();
        assert!(hot.inner.weighted_size() <= 100_000, "{}", hot.inner.weighted_size());
        assert!(hot.inner.entry_count() > 0);
    }
}
