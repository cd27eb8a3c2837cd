//! The `[shortener]` section of `blueprint.toml`, checked by [`ShortenerConfig::validate`].

use serde::{Deserialize, Serialize};

use crate::core::Redirect;
use crate::long_url::{MAX_BLOCKED_HOSTS, MAX_URL_LEN_LIMIT, normalise_host};

/// How new codes are made (book 8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStrategy {
    /// Base62 of a Snowflake ID: never collides, no lookup before the insert.
    Snowflake,
    /// Hash + first 7 characters + Bloom-filter collision check + retry with a suffix.
    Hash,
}

/// The `[shortener]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShortenerConfig {
    /// Prefix of every `shortUrl` (`https://sho.rt`). Empty: `http://<Host header>`, the
    /// address the client reached us on.
    pub base_url: String,
    /// `snowflake` (default) or `hash`.
    pub codes: CodeStrategy,
    /// The predefined string the hash approach appends on a collision.
    pub collision_suffix: String,
    /// Codes the hash approach's Bloom filter is sized for (1 % false positives; 10 M
    /// take 12 MB, allocated only for `codes = "hash"`).
    pub bloom_capacity: u64,
    /// 301 (cacheable by browsers) or 302 (every click reaches us), for links that do not
    /// choose.
    pub default_redirect: u16,
    /// `Cache-Control: max-age` of a 301, in seconds.
    pub redirect_max_age_s: u64,
    /// How long the server's cache keeps a link, in seconds.
    pub cache_ttl_s: u64,
    /// Longest long URL accepted, in bytes.
    pub max_url_len: usize,
    /// Hosts (with their subdomains) that may not be shortened.
    pub blocked_hosts: Vec<String>,
    /// Refuse shortening without an `x-api-key`.
    pub require_api_key: bool,
    /// Shortens per minute per client IP; 0 for no limit.
    pub shorten_per_minute_per_ip: u64,
    /// Shortens per minute per API key; 0 for no limit.
    pub shorten_per_minute_per_key: u64,
    /// The Snowflake datacenter field (0..=31) of this server's codes.
    pub datacenter: u64,
    /// Rows (a link's day, referrer host or user-agent family) the batch of clicks in
    /// memory holds before redirects wait for the writer.
    pub click_batch_rows: usize,
    /// How often the analytics writer writes its batch while clicks arrive, in ms. A
    /// write costs per distinct link, not per click, so longer batches are cheaper; stats
    /// requests flush first either way.
    pub click_flush_ms: u64,
    /// Record click analytics (count, per day, referrer host, user-agent family). Off:
    /// redirects do no analytics work at all; only click-limited links still count their
    /// clicks (they must, to enforce the limit).
    pub record_clicks: bool,
    /// Answer redirects of links in the in-process cache before the platform's middleware
    /// stack (same answer, request id, metrics and log line; see
    /// `blueprint_platform::http::fast`). Off: every redirect takes the full stack.
    pub fast_redirects: bool,
}

impl Default for ShortenerConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            codes: CodeStrategy::Snowflake,
            collision_suffix: "[bp]".into(),
            bloom_capacity: 10_000_000,
            default_redirect: 301,
            redirect_max_age_s: 86_400,
            cache_ttl_s: 3_600,
            max_url_len: crate::long_url::DEFAULT_MAX_URL_LEN,
            blocked_hosts: Vec::new(),
            require_api_key: false,
            shorten_per_minute_per_ip: 600,
            shorten_per_minute_per_key: 6_000,
            datacenter: 0,
            click_batch_rows: crate::analytics::DEFAULT_MAX_BATCH_ROWS,
            click_flush_ms: crate::analytics::DEFAULT_FLUSH_INTERVAL.as_millis() as u64,
            record_clicks: true,
            fast_redirects: true,
        }
    }
}

/// Most codes a Bloom filter may be sized for (1 G codes: 1.2 GB of bits).
pub const MAX_BLOOM_CAPACITY: u64 = 1_000_000_000;
/// Largest click batch accepted, in rows.
pub const MAX_CLICK_BATCH_ROWS: usize = 10_000_000;
/// Longest interval between click writes (an hour: a crash loses at most that much).
pub const MAX_CLICK_FLUSH_MS: u64 = 3_600_000;
/// Longest predefined string.
pub const MAX_SUFFIX_LEN: usize = 64;

/// A value out of range, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[shortener] {field}: {reason}")]
pub struct InvalidConfig {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// The checked section: what the service runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The section as given.
    pub config: ShortenerConfig,
    /// `base_url` without a trailing `/`, or `None` to use the `Host` header.
    pub base_url: Option<String>,
    /// The host (and port) of `base_url`, refused as a long URL.
    pub own_host: Option<String>,
    /// `default_redirect` parsed.
    pub default_redirect: Redirect,
    /// `blocked_hosts` normalised.
    pub blocked_hosts: Vec<String>,
}

impl ShortenerConfig {
    /// Check every field.
    pub fn validate(&self) -> Result<Settings, InvalidConfig> {
        let invalid = |field, reason: String| InvalidConfig { field, reason };
        let (base_url, own_host) = if self.base_url.is_empty() {
            (None, None)
        } else {
            let url = ::url::Url::parse(&self.base_url)
                .map_err(|error| invalid("base_url", error.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(invalid("base_url", "must be an http(s) URL with a host".into()));
            }
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            let own = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            (Some(String::from(url).trim_end_matches('/').to_owned()), Some(own))
        };
        let default_redirect = Redirect::from_status(self.default_redirect)
            .ok_or_else(|| invalid("default_redirect", "must be 301 or 302".into()))?;
        if !(1..=MAX_URL_LEN_LIMIT).contains(&self.max_url_len) {
            return Err(invalid("max_url_len", format!("must be 1 to {MAX_URL_LEN_LIMIT}")));
        }
        if self.blocked_hosts.len() > MAX_BLOCKED_HOSTS {
            return Err(invalid("blocked_hosts", format!("at most {MAX_BLOCKED_HOSTS}")));
        }
        let blocked_hosts = self
            .blocked_hosts
            .iter()
            .map(|host| {
                normalise_host(host)
                    .ok_or_else(|| invalid("blocked_hosts", format!("{host:?} is not a host")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !(1..=MAX_BLOOM_CAPACITY).contains(&self.bloom_capacity) {
            return Err(invalid("bloom_capacity", format!("must be 1 to {MAX_BLOOM_CAPACITY}")));
        }
        if self.collision_suffix.is_empty() || self.collision_suffix.len() > MAX_SUFFIX_LEN {
            return Err(invalid(
                "collision_suffix",
                format!("must be 1 to {MAX_SUFFIX_LEN} bytes"),
            ));
        }
        if !(1..=MAX_CLICK_BATCH_ROWS).contains(&self.click_batch_rows) {
            return Err(invalid(
                "click_batch_rows",
                format!("must be 1 to {MAX_CLICK_BATCH_ROWS}"),
            ));
        }
        if !(1..=MAX_CLICK_FLUSH_MS).contains(&self.click_flush_ms) {
            return Err(invalid("click_flush_ms", format!("must be 1 to {MAX_CLICK_FLUSH_MS}")));
        }
        if self.cache_ttl_s == 0 {
            return Err(invalid("cache_ttl_s", "must be at least 1".into()));
        }
        if self.datacenter > 31 {
            return Err(invalid("datacenter", "must be 0..=31 (the Snowflake layout)".into()));
        }
        Ok(Settings { config: self.clone(), base_url, own_host, default_redirect, blocked_hosts })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_default_section_is_valid_and_uses_the_host_header() {
        let settings = ShortenerConfig::default().validate().unwrap();
        assert_eq!((settings.base_url, settings.own_host), (None, None));
        assert_eq!(settings.default_redirect, Redirect::Permanent);
    }

    #[test]
    fn a_base_url_names_our_own_host() {
        let config = ShortenerConfig {
            base_url: "https://Sho.rt:8443/".into(),
            ..ShortenerConfig::default()
        };
        let settings = config.validate().unwrap();
        assert_eq!(settings.base_url.as_deref(), Some("https://sho.rt:8443"));
        assert_eq!(settings.own_host.as_deref(), Some("sho.rt:8443"));
    }

    #[test]
    fn bad_values_are_refused_by_field() {
        let field = |config: ShortenerConfig| config.validate().unwrap_err().field;
        let base = ShortenerConfig::default;
        assert_eq!(field(ShortenerConfig { base_url: "ftp://x".into(), ..base() }), "base_url");
        assert_eq!(field(ShortenerConfig { default_redirect: 307, ..base() }), "default_redirect");
        assert_eq!(field(ShortenerConfig { max_url_len: 0, ..base() }), "max_url_len");
        assert_eq!(
            field(ShortenerConfig { blocked_hosts: vec!["a b".into()], ..base() }),
            "blocked_hosts"
        );
        assert_eq!(field(ShortenerConfig { bloom_capacity: 0, ..base() }), "bloom_capacity");
        assert_eq!(
            field(ShortenerConfig { collision_suffix: String::new(), ..base() }),
            "collision_suffix"
        );
        assert_eq!(field(ShortenerConfig { datacenter: 32, ..base() }), "datacenter");
    }
}
