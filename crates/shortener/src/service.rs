//! The shortener service: the shorten flow (book figure 8-8), the redirect flow (book
//! figure 8-9: cache, then database, filling the cache), link management, statistics and
//! API keys. HTTP handlers and the CLI only parse and call these.

use std::sync::Arc;
use std::time::Duration;

use blueprint_platform::cache::Cache;
use blueprint_platform::clock::Clock;
use sha2::{Digest, Sha256};

use crate::analytics::{Analytics, Click};
use crate::code::ShortCode;
use crate::config::Settings;
use crate::core::{
    HashCodes, LinkView, MAX_HASH_ATTEMPTS, Redirect, Verdict, cache_control, cache_ttl, decide,
};
use crate::error::{GoneReason, ShortenError};
use crate::hot::HotLinks;
use crate::long_url::{LongUrl, UrlPolicy};
use crate::store::{
    ApiKeyRecord, Inserted, Link, LinkStore, MAX_KEYS_PER_USER, NewLink, Stats, StoreError,
};

/// Most clicks a link may be limited to.
pub const MAX_CLICKS_LIMIT: i64 = 1_000_000_000;
/// Attempts of the Snowflake approach (a retry only follows an alias squatting a code).
const MAX_SNOWFLAKE_ATTEMPTS: u32 = 3;
/// Longest API key name.
pub const MAX_KEY_NAME_LEN: usize = 64;
/// Every API key secret starts with this, so leaked keys are easy to scan for.
pub const API_KEY_PREFIX: &str = "bpk_";
/// Random bytes in an API key secret.
const API_KEY_RANDOM_BYTES: usize = 24;
/// Characters of a secret kept in clear to recognise a key in a list.
const API_KEY_SHOWN_LEN: usize = 12;
/// How long a stats request waits for the clicks recorded before it to be written.
pub const STATS_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// Cache keys of links: `shortener:<code>`.
const CACHE_PREFIX: &str = "shortener:";

/// Issues unique 64-bit IDs (a Snowflake generator on a leased worker ID).
pub trait IdSource: Send + Sync + 'static {
    /// The next ID, or why none can be issued now.
    fn next_id(&self) -> Result<u64, String>;
}

impl<C: blueprint_idgen::Clock> IdSource for blueprint_idgen::LeasedSnowflake<C> {
    fn next_id(&self) -> Result<u64, String> {
        let ids = self.next_ids(1).map_err(|error| error.to_string())?;
        ids.first().copied().ok_or_else(|| "the generator issued no ID".to_owned())
    }
}

/// Where new codes come from.
pub enum CodeSource {
    /// Base62 of unique IDs.
    Snowflake(Arc<dyn IdSource>),
    /// Hash + collision resolution.
    Hash(HashCodes),
}

/// A shorten request, as the API and CLI take it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShortenRequest {
    /// The URL to shorten.
    pub long_url: String,
    /// A custom code.
    pub alias: Option<String>,
    /// RFC 3339 time after which the link answers 410.
    pub expires_at: Option<String>,
    /// Redirects allowed before the link answers 410.
    pub max_clicks: Option<i64>,
    /// 301 or 302, instead of the configured default.
    pub redirect: Option<u16>,
}

/// Who is calling: the API key presented and the signed-in platform user, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// A live key from `x-api-key`.
    pub key: Option<ApiKeyRecord>,
    /// The user of a bearer token.
    pub user_id: Option<i64>,
}

/// What a shorten did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortened {
    /// The link (new or existing).
    pub link: Link,
    /// False when the same long URL already had this code.
    pub created: bool,
}

/// Where a redirect goes and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The `Location`.
    pub location: String,
    /// 301 or 302.
    pub redirect: Redirect,
    /// The `Cache-Control`.
    pub cache_control: String,
}

/// A new API key: the only time its secret is seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The stored record.
    pub record: ApiKeyRecord,
    /// The secret for `x-api-key`.
    pub secret: String,
}

/// The shortener.
pub struct Service {
    store: Arc<dyn LinkStore>,
    cache: Cache,
    codes: CodeSource,
    settings: Settings,
    policy: UrlPolicy,
    reserved: Vec<&'static str>,
    analytics: Analytics,
    clock: Arc<dyn Clock>,
    /// Links as ready-made redirects, with the in-process cache (`cache` is then unused
    /// for links); `None` with Redis.
    hot: Option<HotLinks>,
}

/// A redirect answered from [`HotLinks`] ([`Service::fast_redirect`]).
#[derive(Debug, Clone)]
pub struct FastRedirect {
    /// 301 or 302.
    pub redirect: Redirect,
    /// The `Location`.
    pub location: axum::http::HeaderValue,
    /// The `Cache-Control`.
    pub cache_control: axum::http::HeaderValue,
}

fn cache_key(code: &str) -> String {
    format!("{CACHE_PREFIX}{code}")
}

/// The SHA-256 of an API key secret, as stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `host` (a `Host` header) looks like an authority we may echo in a URL.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
}

impl Service {
    /// A service over `store` and `cache`; `reserved` are extra codes refused (every
    /// system's page name). Starts the analytics worker (call inside a tokio runtime).
    pub fn new(
        store: Arc<dyn LinkStore>,
        cache: Cache,
        codes: CodeSource,
        settings: Settings,
        reserved: Vec<&'static str>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let analytics = Analytics::start(
            Arc::clone(&store),
            settings.config.click_batch_rows,
            Duration::from_millis(settings.config.click_flush_ms),
        );
        let policy = UrlPolicy {
            max_len: settings.config.max_url_len,
            blocked_hosts: settings.blocked_hosts.clone(),
            own_hosts: settings.own_host.iter().cloned().collect(),
        };
        let hot = match &cache {
            Cache::Memory(memory) => Some(HotLinks::new(memory.max_bytes())),
            Cache::Redis(_) => None,
        };
        Self { store, cache, codes, settings, policy, reserved, analytics, clock, hot }
    }

    /// Fill the hash approach's Bloom filter with every stored code; how many.
    pub async fn load_bloom(&self) -> Result<usize, StoreError> {
        let CodeSource::Hash(hash) = &self.codes else { return Ok(0) };
        let mut after = String::new();
        let mut loaded = 0;
        loop {
            let page = self.store.codes_after(&after).await?;
            let Some(last) = page.last() else { return Ok(loaded) };
            for code in &page {
                hash.mark_taken(&ShortCode::from_stored(code.clone()));
            }
            loaded += page.len();
            after = last.clone();
        }
    }

    /// A code for a bulk-loaded link: the next Snowflake code, or the first hash candidate
    /// (a bulk insert skips codes already taken).
    pub fn bulk_code(&self, long_url: &LongUrl) -> Result<ShortCode, ShortenError> {
        match &self.codes {
            CodeSource::Snowflake(ids) => ids
                .next_id()
                .map(ShortCode::from_id)
                .map_err(|reason| ShortenError::NoCode { attempts: 1, reason }),
            CodeSource::Hash(hash) => (0..MAX_HASH_ATTEMPTS)
                .find_map(|attempt| hash.candidate(long_url, attempt))
                .ok_or_else(|| ShortenError::NoCode {
                    attempts: MAX_HASH_ATTEMPTS,
                    reason: "every candidate spelled a reserved word".into(),
                }),
        }
    }

    /// The store (for bulk loads).
    pub fn store(&self) -> &Arc<dyn LinkStore> {
        &self.store
    }

    /// The clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The short URL of `code`: `base_url/code`, or `http://<host>/code`.
    pub fn short_url(&self, code: &ShortCode, host: Option<&str>) -> String {
        match (&self.settings.base_url, host) {
            (Some(base), _) => format!("{base}/{code}"),
            (None, Some(host)) if plausible_host(host) => format!("http://{host}/{code}"),
            (None, _) => format!("http://localhost/{code}"),
        }
    }

    /// A code from a path, or 404.
    fn path_code(&self, text: &str) -> Result<ShortCode, ShortenError> {
        ShortCode::parse(text, &self.reserved)
            .map_err(|_| ShortenError::NotFound { code: text.chars().take(40).collect() })
    }

    /// Book figure 8-8: validate, return the existing code of a plain long URL, or store a
    /// new link under an alias or a fresh code. `host` is the request's `Host` (refused as
    /// a self-redirect).
    pub async fn shorten(
        &self,
        request: &ShortenRequest,
        caller: &Caller,
        host: Option<&str>,
    ) -> Result<Shortened, ShortenError> {
        if self.settings.config.require_api_key && caller.key.is_none() {
            return Err(ShortenError::Unauthorized {
                reason: "this shortener requires an API key in x-api-key",
            });
        }
        let long_url = LongUrl::parse(&request.long_url, &self.policy, host)?;
        let alias = match &request.alias {
            Some(alias) => Some(
                ShortCode::parse(alias, &self.reserved)
                    .map_err(|source| ShortenError::InvalidAlias { source })?,
            ),
            None => None,
        };
        let now_ms = self.clock.now_ms();
        let expires_at_ms = match &request.expires_at {
            Some(text) => Some(parse_expiry(text, now_ms)?),
            None => None,
        };
        if let Some(given) = request.max_clicks
            && !(1..=MAX_CLICKS_LIMIT).contains(&given)
        {
            return Err(ShortenError::InvalidMaxClicks { given, max: MAX_CLICKS_LIMIT });
        }
        let redirect = match request.redirect {
            Some(given) => {
                Redirect::from_status(given).ok_or(ShortenError::InvalidRedirect { given })?
            }
            None => self.settings.default_redirect,
        };
        let plain = alias.is_none()
            && expires_at_ms.is_none()
            && request.max_clicks.is_none()
            && request.redirect.is_none();
        let api_key_id = caller.key.as_ref().map_or(0, |key| key.id);
        // A plain URL shortened before keeps its code (book 8.3.3). With snowflake codes the
        // insert finds it: the partial unique index refuses a second plain row and the
        // store then reads the first, so a new URL (the common case) costs no lookup.
        // Hash codes look first: the URL's own candidate code would read as a collision.
        if plain
            && matches!(self.codes, CodeSource::Hash(_))
            && let Some(link) = self.store.find_plain(long_url.as_str(), api_key_id).await?
        {
            return Ok(Shortened { link, created: false });
        }
        let template = |code: ShortCode| NewLink {
            link: Link {
                code,
                long_url: long_url.as_str().to_owned(),
                created_at_ms: now_ms,
                expires_at_ms,
                max_clicks: request.max_clicks,
                clicks: 0,
                redirect,
                disabled: false,
                api_key_id,
            },
            plain,
        };
        let outcome = match alias {
            Some(alias) => match self.store.insert(&template(alias.clone())).await? {
                Inserted::New(link) => Shortened { link, created: true },
                Inserted::Existing(link) => Shortened { link, created: false },
                Inserted::CodeTaken => {
                    return Err(ShortenError::AliasTaken { alias: alias.to_string() });
                }
            },
            None => self.insert_generated(&long_url, template).await?,
        };
        if outcome.created {
            self.fill_cache(&outcome.link.code, &outcome.link.view(), now_ms).await;
            metrics::counter!("shortener_links_created_total").increment(1);
        }
        Ok(outcome)
    }

    /// Try codes from the configured source until one inserts.
    async fn insert_generated(
        &self,
        long_url: &LongUrl,
        template: impl Fn(ShortCode) -> NewLink,
    ) -> Result<Shortened, ShortenError> {
        let attempts = match self.codes {
            CodeSource::Snowflake(_) => MAX_SNOWFLAKE_ATTEMPTS,
            CodeSource::Hash(_) => MAX_HASH_ATTEMPTS,
        };
        let mut reason = String::from("every candidate was taken");
        for attempt in 0..attempts {
            let code = match &self.codes {
                CodeSource::Snowflake(ids) => match ids.next_id() {
                    Ok(id) => ShortCode::from_id(id),
                    Err(error) => {
                        reason = error;
                        break;
                    }
                },
                CodeSource::Hash(hash) => {
                    let Some(code) = hash.candidate(long_url, attempt) else { continue };
                    // The filter's "maybe" is confirmed by the database; its "no" is final.
                    if hash.maybe_taken(&code) && self.store.get(code.as_str()).await?.is_some() {
                        metrics::counter!("shortener_hash_collisions_total").increment(1);
                        continue;
                    }
                    code
                }
            };
            match self.store.insert(&template(code.clone())).await? {
                Inserted::New(link) => {
                    if let CodeSource::Hash(hash) = &self.codes {
                        hash.mark_taken(&code);
                    }
                    return Ok(Shortened { link, created: true });
                }
                Inserted::Existing(link) => return Ok(Shortened { link, created: false }),
                Inserted::CodeTaken => {
                    if let CodeSource::Hash(hash) = &self.codes {
                        hash.mark_taken(&code);
                    }
                }
            }
        }
        Err(ShortenError::NoCode { attempts, reason })
    }

    async fn fill_cache(&self, code: &ShortCode, view: &LinkView, now_ms: i64) {
        let ttl = Duration::from_secs(self.settings.config.cache_ttl_s);
        let Some(ttl) = cache_ttl(view, ttl, now_ms) else { return };
        if let Some(hot) = &self.hot {
            // Fixed unless the link expires (then max-age counts down to it).
            let fixed = view
                .expires_at_ms
                .is_none()
                .then(|| cache_control(view, self.settings.config.redirect_max_age_s, now_ms));
            hot.insert(code.as_str(), view.clone(), fixed.as_deref(), ttl);
            return;
        }
        let bytes = view.to_cache_bytes();
        if let Err(error) = self.cache.set(&cache_key(code.as_str()), &bytes, Some(ttl)).await {
            tracing::warn!(%error, "shortener: cache write failed");
        }
    }

    async fn forget(&self, code: &ShortCode) {
        if let Some(hot) = &self.hot {
            hot.remove(code.as_str());
            return;
        }
        if let Err(error) = self.cache.delete(&cache_key(code.as_str())).await {
            tracing::warn!(%error, "shortener: cache delete failed; the link may redirect until its TTL");
        }
    }

    /// The link's view: cache first, then the database, filling the cache.
    async fn view(&self, code: &ShortCode, now_ms: i64) -> Result<LinkView, ShortenError> {
        let cached = match &self.hot {
            Some(hot) => match hot.get(code.as_str()) {
                Some(link) => {
                    metrics::counter!("shortener_cache_hits_total").increment(1);
                    return Ok(link.view.clone());
                }
                None => Ok(None),
            },
            None => self.cache.get(&cache_key(code.as_str())).await,
        };
        match cached {
            Ok(Some(bytes)) => match LinkView::from_cache_bytes(&bytes) {
                Some(view) => {
                    metrics::counter!("shortener_cache_hits_total").increment(1);
                    return Ok(view);
                }
                // Another format (an older release's JSON): refetched and overwritten.
                None => tracing::debug!("shortener: unreadable cache entry"),
            },
            Ok(None) => {}
            // A cache is an optimisation: its failure is a miss.
            Err(error) => tracing::warn!(%error, "shortener: cache read failed"),
        }
        metrics::counter!("shortener_cache_misses_total").increment(1);
        let link = self
            .store
            .get(code.as_str())
            .await?
            .ok_or_else(|| ShortenError::NotFound { code: code.to_string() })?;
        let view = link.view();
        self.fill_cache(code, &view, now_ms).await;
        Ok(view)
    }

    /// Book figure 8-9: where `code` redirects, recording the click off the request path.
    pub async fn resolve(
        &self,
        code: &str,
        referer: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Resolved, ShortenError> {
        let code = self.path_code(code)?;
        let now_ms = self.clock.now_ms();
        let view = self.view(&code, now_ms).await?;
        let (redirect, count_first) = match decide(&view, now_ms) {
            Verdict::Gone(reason) => {
                return Err(ShortenError::Gone { code: code.to_string(), reason });
            }
            Verdict::Redirect { redirect, count_first } => (redirect, count_first),
        };
        if count_first && !self.store.claim_click(code.as_str()).await? {
            return Err(ShortenError::Gone {
                code: code.to_string(),
                reason: GoneReason::ClickLimitReached,
            });
        }
        if self.settings.config.record_clicks {
            self.analytics.record(&Click::new(code.as_str(), now_ms, referer, user_agent)).await;
        }
        metrics::counter!("shortener_redirects_total").increment(1);
        Ok(Resolved {
            cache_control: cache_control(&view, self.settings.config.redirect_max_age_s, now_ms),
            location: view.long_url,
            redirect,
        })
    }

    /// Book figure 8-9 without a wait: the redirect of `code` when it is in [`HotLinks`] and
    /// needs nothing but its click recorded (not disabled, expired or click-limited, and room
    /// in the click batch); `None` sends the request the full way ([`Service::resolve`]),
    /// which answers every other case, errors included.
    pub fn fast_redirect(
        &self,
        code: &str,
        referer: Option<&str>,
        user_agent: Option<&str>,
    ) -> Option<FastRedirect> {
        let hot = self.hot.as_ref().filter(|_| self.settings.config.fast_redirects)?;
        // Only parsed codes are cached, so anything else misses here.
        let link = hot.get(code)?;
        let now_ms = self.clock.now_ms();
        let Verdict::Redirect { redirect, count_first: false } = decide(&link.view, now_ms) else {
            return None;
        };
        if self.settings.config.record_clicks
            && !self.analytics.try_record(&Click::new(code, now_ms, referer, user_agent))
        {
            return None;
        }
        let cache_control = match &link.cache_control {
            Some(fixed) => fixed.clone(),
            None => axum::http::HeaderValue::from_str(&cache_control(
                &link.view,
                self.settings.config.redirect_max_age_s,
                now_ms,
            ))
            .ok()?,
        };
        metrics::counter!("shortener_cache_hits_total").increment(1);
        metrics::counter!("shortener_redirects_total").increment(1);
        Some(FastRedirect { redirect, location: link.location.clone(), cache_control })
    }

    /// The stored link `code`.
    pub async fn link(&self, code: &str) -> Result<Link, ShortenError> {
        let code = self.path_code(code)?;
        self.store
            .get(code.as_str())
            .await?
            .ok_or_else(|| ShortenError::NotFound { code: code.to_string() })
    }

    /// The link with its statistics, once every click recorded so far is written.
    pub async fn stats(&self, code: &str) -> Result<Stats, ShortenError> {
        let code = self.path_code(code)?;
        if !self.analytics.flush(STATS_FLUSH_TIMEOUT).await {
            tracing::warn!("shortener: the clicks were not written in time; stats may lag");
        }
        self.store
            .stats(code.as_str())
            .await?
            .ok_or_else(|| ShortenError::NotFound { code: code.to_string() })
    }

    /// Wait until the clicks recorded so far are written (tests, the CLI); false on timeout.
    pub async fn flush_clicks(&self, timeout: Duration) -> bool {
        self.analytics.flush(timeout).await
    }

    /// May `caller` manage `link`? Its API key, or the user owning that key.
    async fn authorize(&self, link: &Link, caller: &Caller) -> Result<(), ShortenError> {
        if caller.key.is_none() && caller.user_id.is_none() {
            return Err(ShortenError::Unauthorized {
                reason: "managing a link needs its API key (x-api-key) or its owner's bearer token",
            });
        }
        if link.api_key_id == 0 {
            return Err(ShortenError::Forbidden {
                reason: "this link was created without an API key and cannot be managed over the API",
            });
        }
        if caller.key.as_ref().is_some_and(|key| key.id == link.api_key_id) {
            return Ok(());
        }
        if let Some(user_id) = caller.user_id
            && let Some(key) = self.store.key_by_id(link.api_key_id).await?
            && key.user_id == user_id
        {
            return Ok(());
        }
        Err(ShortenError::Forbidden { reason: "this link belongs to another API key" })
    }

    /// Delete `code` (its owner only).
    pub async fn delete(&self, code: &str, caller: &Caller) -> Result<(), ShortenError> {
        let link = self.link(code).await?;
        self.authorize(&link, caller).await?;
        self.store.delete(link.code.as_str()).await?;
        self.forget(&link.code).await;
        Ok(())
    }

    /// Disable or re-enable `code` (its owner only).
    pub async fn set_disabled(
        &self,
        code: &str,
        disabled: bool,
        caller: &Caller,
    ) -> Result<Link, ShortenError> {
        let link = self.link(code).await?;
        self.authorize(&link, caller).await?;
        self.store.set_disabled(link.code.as_str(), disabled).await?;
        self.forget(&link.code).await;
        Ok(Link { disabled, ..link })
    }

    /// The live key whose secret is `secret`.
    pub async fn authenticate(&self, secret: &str) -> Result<ApiKeyRecord, ShortenError> {
        let unknown = ShortenError::Unauthorized { reason: "unknown or revoked API key" };
        if !secret.starts_with(API_KEY_PREFIX) || secret.len() > 128 {
            return Err(unknown);
        }
        match self.store.key_by_hash(&hash_secret(secret)).await? {
            Some(key) if key.revoked_at_ms.is_none() => Ok(key),
            _ => Err(unknown),
        }
    }

    /// A new API key for `user_id`.
    pub async fn create_key(&self, user_id: i64, name: &str) -> Result<IssuedKey, ShortenError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME_LEN {
            return Err(ShortenError::InvalidKeyName { max: MAX_KEY_NAME_LEN });
        }
        if self.store.count_live_keys(user_id).await? >= MAX_KEYS_PER_USER {
            return Err(ShortenError::Forbidden { reason: "at most 100 live API keys per user" });
        }
        let mut random = [0u8; API_KEY_RANDOM_BYTES];
        getrandom::fill(&mut random).map_err(|error| ShortenError::NoCode {
            attempts: 1,
            reason: format!("no randomness for a key: {error}"),
        })?;
        let secret = format!("{API_KEY_PREFIX}{}", hex::encode(random));
        let prefix: String = secret.chars().take(API_KEY_SHOWN_LEN).collect();
        let now_ms = self.clock.now_ms();
        let id =
            self.store.create_key(user_id, name, &prefix, &hash_secret(&secret), now_ms).await?;
        let record = ApiKeyRecord {
            id,
            user_id,
            name: name.to_owned(),
            prefix,
            created_at_ms: now_ms,
            revoked_at_ms: None,
        };
        Ok(IssuedKey { record, secret })
    }

    /// The keys of `user_id`.
    pub async fn list_keys(&self, user_id: i64) -> Result<Vec<ApiKeyRecord>, ShortenError> {
        Ok(self.store.list_keys(user_id).await?)
    }

    /// Revoke key `id` of `user_id`; 404 when there is no such live key.
    pub async fn revoke_key(&self, user_id: i64, id: i64) -> Result<(), ShortenError> {
        if self.store.revoke_key(user_id, id, self.clock.now_ms()).await? {
            Ok(())
        } else {
            Err(ShortenError::NotFound { code: format!("key {id}") })
        }
    }
}

/// `text` as RFC 3339, in Unix ms, strictly after `now_ms`.
fn parse_expiry(text: &str, now_ms: i64) -> Result<i64, ShortenError> {
    let format = time::format_description::well_known::Rfc3339;
    let invalid =
        |reason| ShortenError::InvalidExpiry { given: text.chars().take(64).collect(), reason };
    let at = time::OffsetDateTime::parse(text, &format)
        .map_err(|_| invalid("not an RFC 3339 time such as 2030-01-01T00:00:00Z"))?;
    let at_ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| invalid("out of range"))?;
    if at_ms <= now_ms {
        return Err(invalid("it is not in the future"));
    }
    Ok(at_ms)
}

/// `ms` as RFC 3339 (`None` outside the representable range).
pub fn rfc3339(ms: i64) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    at.format(&time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expiry_must_be_rfc3339_and_in_the_future() {
        assert_eq!(parse_expiry("1970-01-01T00:00:01Z", 0).unwrap(), 1_000);
        assert!(matches!(
            parse_expiry("1970-01-01T00:00:01Z", 1_000),
            Err(ShortenError::InvalidExpiry { .. })
        ));
        assert!(matches!(parse_expiry("tomorrow", 0), Err(ShortenError::InvalidExpiry { .. })));
        assert_eq!(rfc3339(1_000).as_deref(), Some("1970-01-01T00:00:01Z"));
    }

    #[test]
    fn only_plausible_host_headers_are_echoed() {
        assert!(plausible_host("127.0.0.1:8080"));
        assert!(plausible_host("[::1]:8080"));
        assert!(!plausible_host("evil.test/<script>"));
        assert!(!plausible_host(""));
    }
}
