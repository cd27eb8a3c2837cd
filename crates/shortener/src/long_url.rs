//! Long URLs: [`LongUrl`] holds only a normalised `http`/`https` URL that passed a
//! [`UrlPolicy`] (length cap, no control characters, no credentials, no blocked host, no
//! redirect back to this shortener).

use std::fmt;

/// Default cap on a long URL, in bytes, before and after normalisation: what browsers and
/// proxies reliably carry, and what keeps the unique index on `long_url` small.
pub const DEFAULT_MAX_URL_LEN: usize = 2048;
/// The largest cap an operator may configure.
pub const MAX_URL_LEN_LIMIT: usize = 8192;
/// Most hosts in a blocklist (each is compared on every shorten).
pub const MAX_BLOCKED_HOSTS: usize = 10_000;

/// Why a long URL was refused. Each maps to one API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not a URL, not http(s), control characters, credentials or no host (`invalid_url`).
    #[error("invalid URL: {reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// Longer than the cap (`url_too_long`).
    #[error("the URL is {len} bytes; at most {max} are accepted")]
    TooLong {
        /// Bytes given (or after normalisation).
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The host is on the blocklist, or is this shortener itself (`blocked_host`).
    #[error("links to {host} are not accepted: {reason}")]
    BlockedHost {
        /// The normalised host.
        host: String,
        /// Blocklist or self-redirect.
        reason: &'static str,
    },
}

/// What a long URL must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Byte cap, before and after normalisation.
    pub max_len: usize,
    /// Hosts refused, with all their subdomains (lowercase, no port).
    pub blocked_hosts: Vec<String>,
    /// This shortener's own hosts (lowercase, with `:port` when not the default): a link
    /// to one of them would redirect to itself, or to another short link (a loop).
    pub own_hosts: Vec<String>,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        Self { max_len: DEFAULT_MAX_URL_LEN, blocked_hosts: Vec::new(), own_hosts: Vec::new() }
    }
}

/// A normalised http(s) URL that passed a [`UrlPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LongUrl(String);

fn invalid(reason: impl Into<String>) -> UrlError {
    UrlError::Invalid { reason: reason.into() }
}

impl LongUrl {
    /// Validate and normalise `text`: scheme and host lowercased, IDN hosts in punycode,
    /// default ports and dot segments removed, an empty path made `/`, the rest
    /// percent-encoded as WHATWG URL does. `extra_own_host` is the host the request came
    /// in on (its `Host` header), also refused as a self-redirect.
    pub fn parse(
        text: &str,
        policy: &UrlPolicy,
        extra_own_host: Option<&str>,
    ) -> Result<Self, UrlError> {
        if text.len() > policy.max_len {
            return Err(UrlError::TooLong { len: text.len(), max: policy.max_len });
        }
        // The parser silently strips tabs, newlines and edge C0 characters; a URL carrying
        // them is a mistake or an attack, so it is refused instead.
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(invalid(format!("control character U+{:04X}", u32::from(c))));
        }
        if text.trim() != text || text.is_empty() {
            return Err(invalid("leading or trailing whitespace, or empty"));
        }
        let url = ::url::Url::parse(text).map_err(|error| invalid(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("scheme {:?}: only http and https", url.scheme())));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("credentials (user:password@) are not accepted"));
        }
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.to_ascii_lowercase(),
            _ => return Err(invalid("no host")),
        };
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let bare = host.trim_end_matches('.');
        for blocked in &policy.blocked_hosts {
            if bare == blocked || bare.ends_with(&format!(".{blocked}")) {
                return Err(UrlError::BlockedHost { host, reason: "the host is blocklisted" });
            }
        }
        let own = policy.own_hosts.iter().map(String::as_str).chain(extra_own_host);
        for own_host in own {
            if own_host.eq_ignore_ascii_case(&authority) {
                return Err(UrlError::BlockedHost {
                    host: authority,
                    reason: "it is this shortener (the link would redirect to itself)",
                });
            }
        }
        let normalised = String::from(url);
        if normalised.len() > policy.max_len {
            return Err(UrlError::TooLong { len: normalised.len(), max: policy.max_len });
        }
        Ok(Self(normalised))
    }

    /// A URL read back from our own store (validated when it was written).
    pub fn from_trusted(text: String) -> Self {
        Self(text)
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LongUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A blocklist entry in the form [`UrlPolicy::blocked_hosts`] compares: lowercase, no
/// trailing dot, IDN in punycode. `None` for something that is not a host name.
pub fn normalise_host(text: &str) -> Option<String> {
    let host = ::url::Host::parse(text.trim().trim_end_matches('.')).ok()?;
    Some(host.to_string().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<LongUrl, UrlError> {
        LongUrl::parse(text, &UrlPolicy::default(), None)
    }

    #[test]
    fn urls_are_normalised() {
        assert_eq!(parse("HTTPS://Example.COM").unwrap().as_str(), "https://example.com/");
        assert_eq!(parse("http://example.com:80/a/../b").unwrap().as_str(), "http://example.com/b");
        assert_eq!(
            parse("https://bücher.example/ä?q=1#top").unwrap().as_str(),
            "https://xn--bcher-kva.example/%C3%A4?q=1#top"
        );
        assert_eq!(
            parse("https://example.com:8443/").unwrap().as_str(),
            "https://example.com:8443/"
        );
    }

    #[test]
    fn only_http_and_https_with_a_host_are_accepted() {
        for bad in [
            "ftp://example.com/",
            "javascript:alert(1)",
            "mailto:a@b.c",
            "example.com",
            "",
            "http://",
        ] {
            assert!(matches!(parse(bad), Err(UrlError::Invalid { .. })), "{bad:?}");
        }
        assert!(matches!(parse("https://user:pw@example.com/"), Err(UrlError::Invalid { .. })));
    }

    #[test]
    fn control_characters_and_edge_whitespace_are_refused_not_stripped() {
        for bad in [
            "https://example.com/\n",
            "https://exa\tmple.com/",
            "\u{0}https://a.b/",
            " https://a.b/",
            "https://a.b/\u{7f}",
        ] {
            assert!(matches!(parse(bad), Err(UrlError::Invalid { .. })), "{bad:?}");
        }
    }

    #[test]
    fn the_length_cap_applies_before_and_after_normalisation() {
        let policy = UrlPolicy { max_len: 40, ..UrlPolicy::default() };
        let long = format!("https://example.com/{}", "a".repeat(30));
        assert_eq!(
            LongUrl::parse(&long, &policy, None),
            Err(UrlError::TooLong { len: 50, max: 40 })
        );
        // 30 bytes given, 20 more after percent-encoding the two-byte characters.
        let grows = "https://example.com/éééééé";
        assert!(matches!(
            LongUrl::parse(grows, &policy, None),
            Err(UrlError::TooLong { max: 40, .. })
        ));
    }

    #[test]
    fn blocked_hosts_and_their_subdomains_are_refused() {
        let policy = UrlPolicy { blocked_hosts: vec!["evil.test".into()], ..UrlPolicy::default() };
        for bad in ["https://evil.test/", "https://EVIL.test./x", "http://a.b.evil.test:8080/"] {
            assert!(
                matches!(LongUrl::parse(bad, &policy, None), Err(UrlError::BlockedHost { .. })),
                "{bad}"
            );
        }
        assert!(LongUrl::parse("https://notevil.test/", &policy, None).is_ok());
    }

    #[test]
    fn links_to_this_shortener_are_refused_as_self_redirects() {
        let policy = UrlPolicy { own_hosts: vec!["sho.rt".into()], ..UrlPolicy::default() };
        assert!(matches!(
            LongUrl::parse("https://sho.rt/abc", &policy, None),
            Err(UrlError::BlockedHost { .. })
        ));
        let request_host = Some("127.0.0.1:8080");
        assert!(matches!(
            LongUrl::parse("http://127.0.0.1:8080/abc", &policy, request_host),
            Err(UrlError::BlockedHost { .. })
        ));
        assert!(LongUrl::parse("http://127.0.0.1:9090/abc", &policy, request_host).is_ok());
    }

    #[test]
    fn blocklist_entries_are_normalised_like_hosts() {
        assert_eq!(normalise_host("Bücher.Example.").as_deref(), Some("xn--bcher-kva.example"));
        assert_eq!(normalise_host("bad host"), None);
    }
}
