//! A lazily connected, self-healing client for one RESP endpoint (Redis, or a `blueprint
//! kv` node), shared by the cache and the key-value store backends.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

use crate::config::redact_url;

/// A command that has not answered in this long fails instead of hanging a request.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Connecting gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a RESP operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RespError {
    /// The endpoint could not be reached or answered with an error.
    #[error("redis at {url}: {source}")]
    Redis {
        /// The redacted URL.
        url: String,
        /// The client's error.
        source: redis::RedisError,
    },
    /// The configured URL is not a Redis URL.
    #[error("invalid RESP URL {url}: {reason}")]
    InvalidUrl {
        /// The redacted URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A TTL as `PX` milliseconds: at least 1, since `PX 0` is an error and a zero TTL means
/// "expire at once".
pub fn px_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// One endpoint. Cheap to clone; connects on first use, so an endpoint that is down at
/// start is reported by the first command (and `/readyz`) rather than failing startup.
#[derive(Clone)]
pub struct RespClient {
    client: redis::Client,
    connection: Arc<Mutex<Option<ConnectionManager>>>,
    url: String,
}

impl std::fmt::Debug for RespClient {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.url)
    }
}

impl RespClient {
    /// A client for `url` (`redis://host:port/db`).
    pub fn new(url: &str) -> Result<Self, RespError> {
        let redacted = redact_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| RespError::InvalidUrl { url: redacted.clone(), reason: e.to_string() })?;
        Ok(RespClient { client, connection: Arc::new(Mutex::new(None)), url: redacted })
    }

    /// The redacted URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, source: redis::RedisError) -> RespError {
        RespError::Redis { url: self.url.clone(), source }
    }

    async fn connection(&self) -> Result<ConnectionManager, RespError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        let connection = self
            .client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| self.error(e))?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Runs one command.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, RespError> {
        let mut connection = self.connection().await?;
        command.query_async(&mut connection).await.map_err(|e| self.error(e))
    }

    /// Runs a pipeline (one round trip).
    pub async fn run_pipeline<T: redis::FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, RespError> {
        let mut connection = self.connection().await?;
        pipeline.query_async(&mut connection).await.map_err(|e| self.error(e))
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<(), RespError> {
        let _: String = self.run(&redis::cmd("PING")).await?;
        Ok(())
    }
}
