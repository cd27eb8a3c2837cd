//! Why a shortener operation failed: one enum, each variant one API error code.

use crate::code::CodeError;
use crate::long_url::UrlError;
use crate::store::StoreError;

/// Why a request to the shortener was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ShortenError {
    /// The long URL (`invalid_url`, `url_too_long`, `blocked_host`; 400).
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A custom alias that is not a valid code (`invalid_alias`, 400).
    #[error("invalid alias: {source}")]
    InvalidAlias {
        /// Why.
        source: CodeError,
    },
    /// A code in a path that cannot exist (404 like any unknown code).
    #[error("no link {code:?}")]
    NotFound {
        /// The code asked for (truncated).
        code: String,
    },
    /// The alias is someone else's link already (`alias_taken`, 409).
    #[error("the alias {alias:?} is taken")]
    AliasTaken {
        /// The alias.
        alias: String,
    },
    /// `expiresAt` is not RFC 3339, or not in the future (`invalid_expiry`, 400).
    #[error("invalid expiresAt {given:?}: {reason}")]
    InvalidExpiry {
        /// What was given.
        given: String,
        /// Why.
        reason: &'static str,
    },
    /// `maxClicks` out of range (`invalid_max_clicks`, 400).
    #[error("maxClicks must be 1 to {max}, got {given}")]
    InvalidMaxClicks {
        /// What was given.
        given: i64,
        /// The cap.
        max: i64,
    },
    /// `redirect` is not 301 or 302 (`invalid_redirect`, 400).
    #[error("redirect must be 301 or 302, got {given}")]
    InvalidRedirect {
        /// What was given.
        given: u16,
    },
    /// The link expired by date or by clicks, or was disabled (410).
    #[error("the link {code} is gone: {reason}")]
    Gone {
        /// The code.
        code: String,
        /// Why (`expired`, `click_limit_reached`, `disabled`).
        reason: GoneReason,
    },
    /// No API key where one is required, or an unknown or revoked one (401).
    #[error("{reason}")]
    Unauthorized {
        /// What is missing or wrong.
        reason: &'static str,
    },
    /// The caller may not manage this link or key (403).
    #[error("{reason}")]
    Forbidden {
        /// Why.
        reason: &'static str,
    },
    /// An API key name that is empty or too long (`invalid_name`, 400).
    #[error("a key name must be 1 to {max} characters")]
    InvalidKeyName {
        /// The cap.
        max: usize,
    },
    /// Every candidate code collided (hash codes) or no ID could be issued (503).
    #[error("no free code after {attempts} attempts: {reason}")]
    NoCode {
        /// Attempts made.
        attempts: u32,
        /// The last reason.
        reason: String,
    },
    /// The database failed (500, logged).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a link no longer redirects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoneReason {
    /// Its `expiresAt` passed.
    Expired,
    /// Its `maxClicks` were used up.
    ClickLimitReached,
    /// Its owner disabled it.
    Disabled,
}

impl GoneReason {
    /// The API error code.
    pub fn code(self) -> &'static str {
        match self {
            GoneReason::Expired => "expired",
            GoneReason::ClickLimitReached => "click_limit_reached",
            GoneReason::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for GoneReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GoneReason::Expired => "it expired",
            GoneReason::ClickLimitReached => "its click limit was reached",
            GoneReason::Disabled => "it was disabled",
        })
    }
}

impl ShortenError {
    /// HTTP status and stable code.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            ShortenError::Url(UrlError::Invalid { .. }) => (400, "invalid_url"),
            ShortenError::Url(UrlError::TooLong { .. }) => (400, "url_too_long"),
            ShortenError::Url(UrlError::BlockedHost { .. }) => (400, "blocked_host"),
            ShortenError::InvalidAlias { .. } => (400, "invalid_alias"),
            ShortenError::NotFound { .. } => (404, "not_found"),
            ShortenError::AliasTaken { .. } => (409, "alias_taken"),
            ShortenError::InvalidExpiry { .. } => (400, "invalid_expiry"),
            ShortenError::InvalidMaxClicks { .. } => (400, "invalid_max_clicks"),
            ShortenError::InvalidRedirect { .. } => (400, "invalid_redirect"),
            ShortenError::Gone { reason, .. } => (410, reason.code()),
            ShortenError::Unauthorized { .. } => (401, "unauthorized"),
            ShortenError::Forbidden { .. } => (403, "forbidden"),
            ShortenError::InvalidKeyName { .. } => (400, "invalid_name"),
            ShortenError::NoCode { .. } => (503, "no_free_code"),
            ShortenError::Store(_) => (500, "internal"),
        }
    }
}
