//! Users and opaque bearer tokens, for the systems that have users (feed, chat, drive,
//! payments).
//!
//! - Passwords are hashed with Argon2id (memory and passes from `[auth]`), on the blocking
//!   pool so a login never stalls the async workers.
//! - A token is 256 random bits from the OS, shown to the client once; only its SHA-256 is
//!   stored, so a database leak does not leak sessions. Tokens expire and can be revoked.
//! - [`CurrentUser`] is an axum extractor: handlers that take it require a valid
//!   `Authorization: Bearer <token>`.

mod domain;
pub mod http;

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use domain::{Password, Username};
pub use http::{CurrentUser, routes};

use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::sql::{Sql, SqlError};
use crate::sql_dispatch;

/// Prefix of every token, so a leaked one is recognisable by secret scanners.
pub const TOKEN_PREFIX: &str = "bp_";
/// Random bytes per token: 256 bits.
const TOKEN_RANDOM_BYTES: usize = 32;

/// Why an auth operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The username breaks the rules.
    #[error("invalid username: {reason}")]
    InvalidUsername {
        /// Which rule.
        reason: String,
    },
    /// The password breaks the rules.
    #[error("invalid password: {reason}")]
    InvalidPassword {
        /// Which rule.
        reason: String,
    },
    /// Someone already has this username.
    #[error("username {username} is taken")]
    UsernameTaken {
        /// The normalised username.
        username: String,
    },
    /// Unknown user or wrong password (deliberately indistinguishable).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Missing, malformed, unknown, expired or revoked token.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The database failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// Hashing failed (bad parameters or the blocking pool is gone).
    #[error("password hashing failed: {reason}")]
    Hashing {
        /// Why.
        reason: String,
    },
}

impl From<sqlx::Error> for AuthError {
    fn from(error: sqlx::Error) -> Self {
        AuthError::Sql(SqlError::Query(error))
    }
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Stable numeric id.
    pub id: i64,
    /// Normalised username.
    pub username: String,
}

/// A freshly issued token: the only time the secret is visible.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// The bearer token.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Expiry, Unix milliseconds.
    pub expires_at_ms: i64,
    /// Whose token it is.
    pub user: User,
}

/// The auth service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Auth {
    sql: Sql,
    config: AuthConfig,
    clock: Arc<dyn Clock>,
    /// Verified against when the user does not exist, so both paths cost one Argon2 run
    /// and response time does not reveal which usernames exist.
    dummy_hash: Arc<String>,
}

impl Auth {
    /// The platform's migrations (users, tokens) for [`Sql::migrate`].
    pub async fn migrate(sql: &Sql) -> Result<(), SqlError> {
        static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
        sql.migrate("platform", &SQLITE, &POSTGRES).await
    }

    /// An auth service over `sql` (already migrated).
    pub async fn new(
        sql: Sql,
        config: AuthConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Auth, AuthError> {
        let hasher = argon2(&config)?;
        let dummy_hash =
            hash_blocking(hasher, Password::parse("dummy-password-for-timing")?).await?;
        Ok(Auth { sql, config, clock, dummy_hash: Arc::new(dummy_hash) })
    }

    /// Create a user.
    pub async fn signup(&self, username: &str, password: &str) -> Result<User, AuthError> {
        let username = Username::parse(username)?;
        let password = Password::parse(password)?;
        let hash = hash_blocking(argon2(&self.config)?, password).await?;
        let now = self.clock.now_ms();
        let inserted: Result<i64, sqlx::Error> = sql_dispatch!(&self.sql, pool => {
            sqlx::query_scalar(
                "INSERT INTO users (username, password_hash, created_at_ms) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(username.as_str())
            .bind(&hash)
            .bind(now)
            .fetch_one(pool)
            .await
        });
        match inserted {
            Ok(id) => Ok(User { id, username: username.as_str().to_owned() }),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(AuthError::UsernameTaken { username: username.as_str().to_owned() })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Check a password and issue a token.
    pub async fn login(&self, username: &str, password: &str) -> Result<IssuedToken, AuthError> {
        // Malformed input is just wrong credentials: no hint about what exists.
        let (Ok(username), Ok(password)) = (Username::parse(username), Password::parse(password))
        else {
            return Err(AuthError::InvalidCredentials);
        };
        let row: Option<(i64, String)> = sql_dispatch!(&self.sql, pool => {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
                .bind(username.as_str())
                .fetch_optional(pool)
                .await
        })?;
        let (user_id, stored_hash) = match row {
            Some(row) => row,
            None => {
                let _ = verify_blocking(self.dummy_hash.as_str().to_owned(), password).await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        if !verify_blocking(stored_hash, password).await? {
            return Err(AuthError::InvalidCredentials);
        }
        let user = User { id: user_id, username: username.as_str().to_owned() };
        self.issue_token(user).await
    }

    async fn issue_token(&self, user: User) -> Result<IssuedToken, AuthError> {
        let mut random = [0u8; TOKEN_RANDOM_BYTES];
        getrandom::fill(&mut random).map_err(|e| AuthError::Hashing { reason: e.to_string() })?;
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(random));
        let now = self.clock.now_ms();
        let ttl_ms =
            i64::try_from(self.config.token_ttl_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        let expires_at_ms = now.saturating_add(ttl_ms);
        sql_dispatch!(&self.sql, pool => {
            sqlx::query(
                "INSERT INTO auth_tokens (token_hash, user_id, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash(&token))
            .bind(user.id)
            .bind(now)
            .bind(expires_at_ms)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(IssuedToken { token, token_type: "Bearer".into(), expires_at_ms, user })
    }

    /// The user a token belongs to, if it is valid now.
    pub async fn authenticate(&self, token: &str) -> Result<User, AuthError> {
        if !token.starts_with(TOKEN_PREFIX)
            || token.len() != TOKEN_PREFIX.len() + 2 * TOKEN_RANDOM_BYTES
        {
            return Err(AuthError::InvalidToken);
        }
        let now = self.clock.now_ms();
        let row: Option<(i64, String)> = sql_dispatch!(&self.sql, pool => {
            sqlx::query_as(
                "SELECT u.id, u.username FROM auth_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND t.revoked_at_ms IS NULL AND t.expires_at_ms > $2",
            )
            .bind(token_hash(token))
            .bind(now)
            .fetch_optional(pool)
            .await
        })?;
        row.map(|(id, username)| User { id, username }).ok_or(AuthError::InvalidToken)
    }

    /// Revoke a token; revoking an unknown or already revoked token is an error.
    pub async fn revoke(&self, token: &str) -> Result<(), AuthError> {
        let now = self.clock.now_ms();
        let result = sql_dispatch!(&self.sql, pool => {
            sqlx::query("UPDATE auth_tokens SET revoked_at_ms = $1 WHERE token_hash = $2 AND revoked_at_ms IS NULL")
                .bind(now)
                .bind(token_hash(token))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        if result == 0 { Err(AuthError::InvalidToken) } else { Ok(()) }
    }
}

fn argon2(config: &AuthConfig) -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(config.argon2_memory_kib, config.argon2_iterations, 1, None)
        .map_err(|e| AuthError::Hashing { reason: format!("bad argon2 parameters: {e}") })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

async fn hash_blocking(hasher: Argon2<'static>, password: Password) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || {
        hasher
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AuthError::Hashing { reason: e.to_string() })
    })
    .await
    .map_err(|e| AuthError::Hashing { reason: e.to_string() })?
}

async fn verify_blocking(stored: String, password: Password) -> Result<bool, AuthError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| AuthError::Hashing { reason: format!("stored hash unreadable: {e}") })?;
        // Parameters come from the stored hash, so raising the cost later keeps old
        // hashes verifiable.
        Ok(Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| AuthError::Hashing { reason: e.to_string() })?
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
