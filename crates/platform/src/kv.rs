//! One key-value interface over the `lsm` engine in-process (the embedded default, under
//! `<data_dir>/<kvstore.data_subdir>`) and any RESP endpoint: a `blueprint kv` node or
//! Redis (`[kvstore] url`), for systems that keep key-value data (autocomplete's prefix
//! table, crawler state, chat history).
//!
//! Keys and values are bytes; callers namespace their keys (`"autocomplete:…"`). On RESP
//! every key also gets `[kvstore] prefix`, so deployments or tests can share a server.
//! The embedded engine is opened on first use, so a process whose systems never touch it
//! pays nothing (no files, no background threads).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use blueprint_lsm::{Db, Options, WriteBatch};
use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use crate::config::KvStoreConfig;
use crate::resp::{RespClient, RespError, px_millis};

/// Keys examined per `SCAN` call when listing a prefix over RESP.
const RESP_SCAN_COUNT: usize = 1000;
/// Most pairs one [`KvStore::scan_prefix`] returns, whatever the caller asks: a bound on
/// reply memory.
pub const MAX_SCAN_PAIRS: usize = 100_000;

/// Why a key-value operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KvStoreError {
    /// The embedded engine failed (I/O, corruption, a key or value beyond its limits).
    #[error("embedded kv engine in {path}: {source}")]
    Engine {
        /// The engine's directory.
        path: String,
        /// The engine's error.
        source: blueprint_lsm::Error,
    },
    /// The RESP endpoint failed.
    #[error(transparent)]
    Resp(#[from] RespError),
    /// The blocking task running an engine call was lost (the runtime is shutting down).
    #[error("embedded kv task failed: {0}")]
    Task(String),
}

/// A key-value handle. Cheap to clone.
#[derive(Clone)]
pub enum KvStore {
    /// The `lsm` engine in this process.
    Embedded(EmbeddedKv),
    /// A RESP endpoint.
    Resp(RespKv),
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.describe())
    }
}

impl KvStore {
    /// The configured store; `data_dir` is the server's data directory.
    pub fn from_config(
        config: &KvStoreConfig,
        data_dir: &std::path::Path,
    ) -> Result<Self, KvStoreError> {
        match &config.url {
            None => Ok(KvStore::Embedded(EmbeddedKv {
                path: data_dir.join(&config.data_subdir),
                db: Arc::new(OnceCell::new()),
            })),
            Some(url) => Ok(KvStore::Resp(RespKv {
                client: RespClient::new(url)?,
                prefix: config.prefix.clone().into_bytes(),
            })),
        }
    }

    /// The value of `key`.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, KvStoreError> {
        match self {
            KvStore::Embedded(store) => {
                let key = key.to_vec();
                store.blocking(move |db| db.get(key)).await
            }
            KvStore::Resp(store) => {
                Ok(store.client.run(redis::cmd("GET").arg(store.key(key))).await?)
            }
        }
    }

    /// Sets `key` to `value`, expiring after `ttl` when given.
    pub async fn set(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), KvStoreError> {
        match self {
            KvStore::Embedded(store) => {
                let (key, value) = (key.to_vec(), value.to_vec());
                store
                    .blocking(move |db| match ttl {
                        Some(ttl) => db.put_with_ttl(key, value, ttl),
                        None => db.put(key, value),
                    })
                    .await
            }
            KvStore::Resp(store) => {
                let mut command = redis::cmd("SET");
                command.arg(store.key(key)).arg(value);
                if let Some(ttl) = ttl {
                    command.arg("PX").arg(px_millis(ttl));
                }
                Ok(store.client.run::<()>(&command).await?)
            }
        }
    }

    /// Sets every pair: atomically on the embedded engine (one batch), in one round trip
    /// (`MSET`) on RESP.
    pub async fn set_many(&self, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), KvStoreError> {
        if pairs.is_empty() {
            return Ok(());
        }
        match self {
            KvStore::Embedded(store) => {
                store
                    .blocking(move |db| {
                        let mut batch = WriteBatch::new();
                        for (key, value) in &pairs {
                            batch.put(key, value);
                        }
                        db.write(batch)
                    })
                    .await
            }
            KvStore::Resp(store) => {
                let mut command = redis::cmd("MSET");
                for (key, value) in &pairs {
                    command.arg(store.key(key)).arg(value);
                }
                Ok(store.client.run::<()>(&command).await?)
            }
        }
    }

    /// Deletes `key`; whether it existed.
    pub async fn delete(&self, key: &[u8]) -> Result<bool, KvStoreError> {
        match self {
            KvStore::Embedded(store) => {
                let key = key.to_vec();
                store
                    .blocking(move |db| {
                        let existed = db.get(&key)?.is_some();
                        if existed {
                            db.delete(&key)?;
                        }
                        Ok(existed)
                    })
                    .await
            }
            KvStore::Resp(store) => {
                let removed: i64 = store.client.run(redis::cmd("DEL").arg(store.key(key))).await?;
                Ok(removed > 0)
            }
        }
    }

    /// Up to `limit` (at most [`MAX_SCAN_PAIRS`]) pairs whose keys start with `prefix`:
    /// in key order on the embedded engine; in the endpoint's `SCAN` order on RESP.
    pub async fn scan_prefix(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvStoreError> {
        let limit = limit.min(MAX_SCAN_PAIRS);
        match self {
            KvStore::Embedded(store) => {
                let prefix = prefix.to_vec();
                store
                    .blocking(move |db| {
                        db.prefix(&prefix).take(limit).collect::<Result<Vec<_>, _>>()
                    })
                    .await
            }
            KvStore::Resp(store) => store.scan_prefix(prefix, limit).await,
        }
    }

    /// Checks that the backend answers (the embedded engine opens on the first check).
    pub async fn ping(&self) -> Result<(), KvStoreError> {
        match self {
            KvStore::Embedded(store) => store.blocking(|_| Ok(())).await,
            KvStore::Resp(store) => Ok(store.client.ping().await?),
        }
    }

    /// A secret-free description: the engine's directory or the redacted URL.
    pub fn describe(&self) -> String {
        match self {
            KvStore::Embedded(store) => format!("embedded lsm in {}", store.path.display()),
            KvStore::Resp(store) => store.client.url().to_owned(),
        }
    }
}

/// The embedded engine, opened on first use.
#[derive(Clone)]
pub struct EmbeddedKv {
    path: PathBuf,
    db: Arc<OnceCell<Arc<Db>>>,
}

impl EmbeddedKv {
    /// Runs `call` on the engine on the blocking pool (the engine is synchronous).
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Db) -> blueprint_lsm::Result<T> + Send + 'static,
    ) -> Result<T, KvStoreError> {
        let engine_error =
            |source| KvStoreError::Engine { path: self.path.display().to_string(), source };
        let db = self
            .db
            .get_or_try_init(|| {
                let path = self.path.clone();
                async move {
                    let opened =
                        tokio::task::spawn_blocking(move || Db::open(path, Options::default()))
                            .await
                            .map_err(|error| KvStoreError::Task(error.to_string()))?;
                    opened.map(Arc::new).map_err(engine_error)
                }
            })
            .await?;
        let db = Arc::clone(db);
        tokio::task::spawn_blocking(move || call(&db))
            .await
            .map_err(|error| KvStoreError::Task(error.to_string()))?
            .map_err(engine_error)
    }
}

/// A RESP endpoint with a key prefix.
#[derive(Clone)]
pub struct RespKv {
    client: RespClient,
    prefix: Vec<u8>,
}

impl RespKv {
    fn key(&self, key: &[u8]) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.prefix.len() + key.len());
        full.extend_from_slice(&self.prefix);
        full.extend_from_slice(key);
        full
    }

    async fn scan_prefix(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, KvStoreError> {
        let mut pattern = glob_escape(&self.key(prefix));
        pattern.push(b'*');
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut command = redis::cmd("SCAN");
            command.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(RESP_SCAN_COUNT);
            let (next, batch): (u64, Vec<Vec<u8>>) = self.client.run(&command).await?;
            keys.extend(batch);
            cursor = next;
            if cursor == 0 || keys.len() >= limit {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        keys.truncate(limit);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self.client.run(redis::cmd("MGET").arg(&keys)).await?;
        Ok(keys
            .into_iter()
            .zip(values)
            // A key deleted between SCAN and MGET is simply gone.
            .filter_map(|(key, value)| Some((key[self.prefix.len()..].to_vec(), value?)))
            .collect())
    }
}

/// `bytes` with Redis glob specials (`*?[]\`) escaped, for a literal `MATCH` prefix.
fn glob_escape(bytes: &[u8]) -> Vec<u8> {
    let mut escaped = Vec::with_capacity(bytes.len() + 4);
    for &byte in bytes {
        if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\') {
            escaped.push(b'\\');
        }
        escaped.push(byte);
    }
    escaped
}

/// The `/readyz` probe for the key-value store.
#[derive(Clone, Debug)]
pub struct KvStoreProbe(pub KvStore);

impl crate::http::Probe for KvStoreProbe {
    fn name(&self) -> String {
        "kvstore".into()
    }
    fn target(&self) -> String {
        self.0.describe()
    }
    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.ping().await.map_err(|e| e.to_string()) })
    }
}
