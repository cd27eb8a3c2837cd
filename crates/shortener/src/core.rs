//! The pure decisions of the shortener: which code a hash gives (book 8.3.2), whether a
//! link redirects now and how (book 8.3.4), how long the cache and browsers may keep the
//! answer, and how a click is classified for analytics. No I/O, time passed in.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bloom::BloomFilter;
use crate::code::{HASH_CODE_LEN, ShortCode};
use crate::error::GoneReason;
use crate::long_url::LongUrl;

/// Which redirect a link answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Redirect {
    /// 301: browsers cache it and stop asking (less load, fewer analytics).
    Permanent,
    /// 302: every visit comes back here (analytics see every click).
    Temporary,
}

impl Redirect {
    /// From an HTTP status: only 301 and 302.
    pub fn from_status(status: u16) -> Option<Self> {
        match status {
            301 => Some(Redirect::Permanent),
            302 => Some(Redirect::Temporary),
            _ => None,
        }
    }

    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Redirect::Permanent => 301,
            Redirect::Temporary => 302,
        }
    }
}

/// What the redirect path needs to know about a link: what the cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    /// Where it goes.
    pub long_url: String,
    /// 301 or 302.
    pub redirect: Redirect,
    /// Unix ms after which it is gone.
    pub expires_at_ms: Option<i64>,
    /// Whether it has a click limit (then every click is counted in the database before
    /// the redirect, so the limit is exact).
    pub limited: bool,
    /// Disabled by its owner.
    pub disabled: bool,
}

/// The first byte of [`LinkView::to_cache_bytes`]: its format's version.
const CACHE_FORMAT_V1: u8 = 1;
const FLAG_TEMPORARY: u8 = 1;
const FLAG_LIMITED: u8 = 2;
const FLAG_DISABLED: u8 = 4;
const FLAG_EXPIRES: u8 = 8;

impl LinkView {
    /// The cache's form: a version byte, a flags byte, the expiry (8 bytes, little-endian,
    /// when set), then the URL. Binary, not JSON: decoding the JSON form was a tenth of a
    /// cached redirect's instructions.
    pub fn to_cache_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.long_url.len());
        let mut flags = 0;
        if self.redirect == Redirect::Temporary {
            flags |= FLAG_TEMPORARY;
        }
        if self.limited {
            flags |= FLAG_LIMITED;
        }
        if self.disabled {
            flags |= FLAG_DISABLED;
        }
        if self.expires_at_ms.is_some() {
            flags |= FLAG_EXPIRES;
        }
        out.push(CACHE_FORMAT_V1);
        out.push(flags);
        if let Some(at) = self.expires_at_ms {
            out.extend_from_slice(&at.to_le_bytes());
        }
        out.extend_from_slice(self.long_url.as_bytes());
        out
    }

    /// Read [`LinkView::to_cache_bytes`]; `None` for anything else (another version, an
    /// entry an older release wrote as JSON, a truncated or non-UTF-8 value), which the
    /// caller treats as a miss.
    pub fn from_cache_bytes(bytes: &[u8]) -> Option<LinkView> {
        let (&version, rest) = bytes.split_first()?;
        let (&flags, rest) = rest.split_first()?;
        if version != CACHE_FORMAT_V1
            || flags & !(FLAG_TEMPORARY | FLAG_LIMITED | FLAG_DISABLED | FLAG_EXPIRES) != 0
        {
            return None;
        }
        let (expires_at_ms, url) = if flags & FLAG_EXPIRES != 0 {
            let (at, url) = rest.split_first_chunk::<8>()?;
            (Some(i64::from_le_bytes(*at)), url)
        } else {
            (None, rest)
        };
        let long_url = std::str::from_utf8(url).ok()?;
        if long_url.is_empty() {
            return None;
        }
        Some(LinkView {
            long_url: long_url.to_owned(),
            redirect: if flags & FLAG_TEMPORARY != 0 {
                Redirect::Temporary
            } else {
                Redirect::Permanent
            },
            expires_at_ms,
            limited: flags & FLAG_LIMITED != 0,
            disabled: flags & FLAG_DISABLED != 0,
        })
    }
}

/// What to answer for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Redirect. `count_first`: claim one of its limited clicks in the database first.
    Redirect {
        /// 301 or 302.
        redirect: Redirect,
        /// The link has a click limit.
        count_first: bool,
    },
    /// 410.
    Gone(GoneReason),
}

/// The verdict for `link` at `now_ms`.
pub fn decide(link: &LinkView, now_ms: i64) -> Verdict {
    if link.disabled {
        return Verdict::Gone(GoneReason::Disabled);
    }
    if link.expires_at_ms.is_some_and(|at| now_ms >= at) {
        return Verdict::Gone(GoneReason::Expired);
    }
    Verdict::Redirect { redirect: link.redirect, count_first: link.limited }
}

/// The `Cache-Control` of a redirect: a 301 may be kept by browsers and proxies for
/// `max_age_s`, never past the link's expiry; a 302 (and any limited link, whose clicks
/// must all reach us) is `no-store`.
pub fn cache_control(view: &LinkView, max_age_s: u64, now_ms: i64) -> String {
    if view.redirect == Redirect::Temporary || view.limited {
        return "no-store".into();
    }
    let until_expiry_s = view
        .expires_at_ms
        .map_or(u64::MAX, |at| u64::try_from((at - now_ms).max(0) / 1000).unwrap_or(0));
    format!("public, max-age={}", max_age_s.min(until_expiry_s))
}

/// How long the server's cache may keep `view`: `ttl`, cut at the link's expiry; `None`
/// when it has already expired (not worth caching).
pub fn cache_ttl(view: &LinkView, ttl: Duration, now_ms: i64) -> Option<Duration> {
    match view.expires_at_ms {
        None => Some(ttl),
        Some(at) if at <= now_ms => None,
        Some(at) => {
            let left = Duration::from_millis(u64::try_from(at - now_ms).unwrap_or(0));
            Some(ttl.min(left))
        }
    }
}

/// The hash function of [`HashCodes`]: injectable, so a test can force collisions.
pub type HashFn = Arc<dyn Fn(&[u8]) -> u64 + Send + Sync>;

/// The default hash: xxh3-64 (stable across versions and platforms; any well-mixed
/// 64-bit hash serves, the book's CRC32/MD5/SHA-1 included).
pub fn default_hash() -> HashFn {
    Arc::new(xxhash_rust::xxh3::xxh3_64)
}

/// Most attempts of the hash approach before giving up: each appends the predefined
/// string once more, and at ≤ 50 % fill the chance of 8 collisions in a row is < 0.4 %.
pub const MAX_HASH_ATTEMPTS: u32 = 8;

/// Book 8.3.2, "hash + collision resolution": hash the long URL, keep 7 base62
/// characters; on a collision append a predefined string and hash again. The Bloom
/// filter of codes in use answers "certainly free" without a database round trip.
pub struct HashCodes {
    hash: HashFn,
    suffix: String,
    bloom: BloomFilter,
}

impl std::fmt::Debug for HashCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashCodes")
            .field("suffix", &self.suffix)
            .field("bloom", &self.bloom)
            .finish()
    }
}

impl HashCodes {
    /// Codes from `hash`, retrying with `suffix` appended, with a Bloom filter sized for
    /// `capacity` codes at 1 % false positives.
    pub fn new(hash: HashFn, suffix: impl Into<String>, capacity: u64) -> Self {
        Self { hash, suffix: suffix.into(), bloom: BloomFilter::with_rate(capacity, 0.01) }
    }

    /// The candidate code of attempt `attempt` (0 first) for `url`: the URL with the
    /// predefined string appended `attempt` times, hashed, reduced mod 62^7, in base62
    /// padded to 7. `None` when it spells a reserved word (try the next attempt).
    pub fn candidate(&self, url: &LongUrl, attempt: u32) -> Option<ShortCode> {
        let mut input = url.as_str().to_owned();
        for _ in 0..attempt {
            input.push_str(&self.suffix);
        }
        let space = 62u64.pow(HASH_CODE_LEN as u32);
        let mut text = crate::code::base62_encode((self.hash)(input.as_bytes()) % space);
        while text.len() < HASH_CODE_LEN {
            text.insert(0, '0');
        }
        ShortCode::parse(&text, &[]).ok()
    }

    /// False: `code` is certainly not in use. True: check the database.
    pub fn maybe_taken(&self, code: &ShortCode) -> bool {
        self.bloom.might_contain(code.as_str().as_bytes())
    }

    /// Record `code` as in use.
    pub fn mark_taken(&self, code: &ShortCode) {
        self.bloom.insert(code.as_str().as_bytes());
    }

    /// The filter, for size reports.
    pub fn bloom(&self) -> &BloomFilter {
        &self.bloom
    }
}

/// Longest referrer host kept (a DNS name is at most 253 bytes).
pub const MAX_REFERRER_HOST_LEN: usize = 253;

/// The referrer host of a click: `direct` without a `Referer`, `unknown` when it is not
/// an http(s) URL with a host.
pub fn referrer_host(referer: Option<&str>) -> String {
    let Some(referer) = referer.filter(|text| !text.is_empty()) else {
        return "direct".into();
    };
    match ::url::Url::parse(referer) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => match url.host_str() {
            Some(host) => host.chars().take(MAX_REFERRER_HOST_LEN).collect(),
            None => "unknown".into(),
        },
        _ => "unknown".into(),
    }
}

/// Every user-agent family [`agent_family`] returns, in a fixed order (a click batch
/// counts them in an array indexed by [`agent_family_index`]).
pub const AGENT_FAMILIES: [&str; 10] =
    ["curl", "wget", "bot", "edge", "opera", "firefox", "chrome", "safari", "other", "unknown"];

/// The position of `family` (one of [`AGENT_FAMILIES`]) in that list.
pub fn agent_family_index(family: &str) -> usize {
    AGENT_FAMILIES.iter().position(|known| *known == family).unwrap_or(AGENT_FAMILIES.len() - 2)
}

/// The user-agent family of a click: a small fixed set, so the table stays bounded.
pub fn agent_family(user_agent: Option<&str>) -> &'static str {
    let Some(agent) = user_agent.filter(|text| !text.is_empty()) else {
        return "unknown";
    };
    let lower = agent.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    if has("curl/") {
        "curl"
    } else if has("wget/") {
        "wget"
    } else if has("bot") || has("crawler") || has("spider") || has("slurp") {
        "bot"
    } else if has("edg/") || has("edge/") {
        "edge"
    } else if has("opr/") || has("opera") {
        "opera"
    } else if has("firefox/") || has("fxios/") {
        "firefox"
    } else if has("chrome/") || has("crios/") || has("chromium/") {
        "chrome"
    } else if has("safari/") {
        "safari"
    } else {
        "other"
    }
}

/// The UTC day of `at_ms`, `YYYY-MM-DD` (days before 1970 are clamped to 1970-01-01).
pub fn day_of(at_ms: i64) -> String {
    day_name(day_number(at_ms))
}

/// The UTC day of `at_ms` as days since 1970-01-01 (times before it count as that day).
pub fn day_number(at_ms: i64) -> i64 {
    at_ms.max(0) / 86_400_000
}

/// `YYYY-MM-DD` of `days` since 1970-01-01.
pub fn day_name(days: i64) -> String {
    // Howard Hinnant's civil_from_days, for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod cache_form_tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn the_cache_form_round_trips(
            url in "https://[a-z]{1,20}\\.example/[ -~\u{e9}\u{4e2d}]{0,40}",
            temporary: bool,
            expires in proptest::option::of(any::<i64>()),
            limited: bool,
            disabled: bool,
        ) {
            let view = LinkView {
                long_url: url,
                redirect: if temporary { Redirect::Temporary } else { Redirect::Permanent },
                expires_at_ms: expires,
                limited,
                disabled,
            };
            prop_assert_eq!(LinkView::from_cache_bytes(&view.to_cache_bytes()), Some(view));
        }

        #[test]
        fn any_bytes_decode_or_miss_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = LinkView::from_cache_bytes(&bytes);
        }
    }

    #[test]
    fn an_older_json_entry_truncation_or_unknown_flags_are_misses() {
        let view = LinkView {
            long_url: "https://example.com/a".into(),
            redirect: Redirect::Permanent,
            expires_at_ms: Some(7),
            limited: false,
            disabled: false,
        };
        let json = serde_json::to_vec(&view).unwrap();
        assert_eq!(LinkView::from_cache_bytes(&json), None);
        let bytes = view.to_cache_bytes();
        assert_eq!(LinkView::from_cache_bytes(&bytes[..5]), None, "expiry cut short");
        assert_eq!(LinkView::from_cache_bytes(&bytes[..10]), None, "no URL");
        let mut flagged = bytes.clone();
        flagged[1] |= 0x80;
        assert_eq!(LinkView::from_cache_bytes(&flagged), None);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::long_url::UrlPolicy;

    fn view(redirect: Redirect) -> LinkView {
        LinkView {
            long_url: "https://example.com/".into(),
            redirect,
            expires_at_ms: None,
            limited: false,
            disabled: false,
        }
    }

    fn url(text: &str) -> LongUrl {
        LongUrl::parse(text, &UrlPolicy::default(), None).unwrap()
    }

    #[test]
    fn a_link_redirects_until_it_expires_or_is_disabled() {
        let mut link = view(Redirect::Permanent);
        assert_eq!(
            decide(&link, 0),
            Verdict::Redirect { redirect: Redirect::Permanent, count_first: false }
        );
        link.expires_at_ms = Some(1_000);
        assert!(matches!(decide(&link, 999), Verdict::Redirect { .. }));
        assert_eq!(decide(&link, 1_000), Verdict::Gone(GoneReason::Expired));
        link.disabled = true;
        assert_eq!(decide(&link, 0), Verdict::Gone(GoneReason::Disabled));
        let limited = LinkView { limited: true, ..view(Redirect::Temporary) };
        assert_eq!(
            decide(&limited, 0),
            Verdict::Redirect { redirect: Redirect::Temporary, count_first: true }
        );
    }

    #[test]
    fn cache_control_matches_the_redirect_and_never_outlives_the_link() {
        assert_eq!(cache_control(&view(Redirect::Permanent), 86_400, 0), "public, max-age=86400");
        assert_eq!(cache_control(&view(Redirect::Temporary), 86_400, 0), "no-store");
        let expiring = LinkView { expires_at_ms: Some(60_000), ..view(Redirect::Permanent) };
        assert_eq!(cache_control(&expiring, 86_400, 0), "public, max-age=60");
        let limited = LinkView { limited: true, ..view(Redirect::Permanent) };
        assert_eq!(cache_control(&limited, 86_400, 0), "no-store");
    }

    #[test]
    fn the_cache_keeps_a_link_no_longer_than_it_lives() {
        let hour = Duration::from_secs(3600);
        assert_eq!(cache_ttl(&view(Redirect::Permanent), hour, 0), Some(hour));
        let expiring = LinkView { expires_at_ms: Some(5_000), ..view(Redirect::Permanent) };
        assert_eq!(cache_ttl(&expiring, hour, 0), Some(Duration::from_secs(5)));
        assert_eq!(cache_ttl(&expiring, hour, 5_000), None);
    }

    #[test]
    fn hash_codes_are_seven_base62_characters_and_stable() {
        let codes = HashCodes::new(default_hash(), "!", 1_000);
        let first = codes.candidate(&url("https://example.com/a"), 0).unwrap();
        assert_eq!(first.as_str().len(), HASH_CODE_LEN);
        assert_eq!(codes.candidate(&url("https://example.com/a"), 0), Some(first.clone()));
        assert_ne!(codes.candidate(&url("https://example.com/a"), 1), Some(first));
    }

    #[test]
    fn a_forced_collision_moves_to_the_suffixed_candidate() {
        // Every input hashes to 42 unless the predefined string was appended.
        let hash: HashFn = Arc::new(|bytes: &[u8]| if bytes.ends_with(b"!") { 7 } else { 42 });
        let codes = HashCodes::new(hash, "!", 1_000);
        let a = codes.candidate(&url("https://a.example/"), 0).unwrap();
        let b = codes.candidate(&url("https://b.example/"), 0).unwrap();
        assert_eq!(a, b, "the forced collision");
        assert!(!codes.maybe_taken(&a), "an empty filter says certainly free");
        codes.mark_taken(&a);
        assert!(codes.maybe_taken(&b), "the filter now reports the collision");
        let retry = codes.candidate(&url("https://b.example/"), 1).unwrap();
        assert_ne!(retry, a);
        assert_eq!(retry.as_str(), "0000007");
    }

    #[test]
    fn clicks_are_classified_into_bounded_families() {
        assert_eq!(referrer_host(None), "direct");
        assert_eq!(referrer_host(Some("https://News.Example.com/a?b")), "news.example.com");
        assert_eq!(referrer_host(Some("android-app://x")), "unknown");
        assert_eq!(referrer_host(Some("not a url")), "unknown");
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(agent_family(Some(chrome)), "chrome");
        assert_eq!(agent_family(Some(&format!("{chrome} Edg/120.0"))), "edge");
        assert_eq!(
            agent_family(Some("Mozilla/5.0 (X11; rv:120.0) Gecko/20100101 Firefox/120.0")),
            "firefox"
        );
        assert_eq!(agent_family(Some("curl/8.5.0")), "curl");
        assert_eq!(agent_family(Some("Googlebot/2.1")), "bot");
        assert_eq!(agent_family(None), "unknown");
        assert_eq!(agent_family(Some("Something/1.0")), "other");
        for (index, family) in AGENT_FAMILIES.iter().enumerate() {
            assert_eq!(agent_family_index(family), index);
        }
    }

    #[test]
    fn days_are_utc_calendar_dates() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(951_782_400_000), "2000-02-29");
        assert_eq!(day_of(1_767_225_599_999), "2025-12-31");
        assert_eq!(day_of(-5), "1970-01-01");
    }
}
