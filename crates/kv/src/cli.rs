//! `blueprint kv get|set|del|scan|stats`: a client of a running node over RESP (any
//! RESP endpoint, Redis included). The node's own `[kv] resp_host`/`resp_port` is the
//! default address; `--url` points elsewhere.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Subcommand;

/// Most keys `scan` prints unless `--limit` says otherwise.
pub const DEFAULT_SCAN_LIMIT: usize = 100;
/// Keys asked per `SCAN` round trip.
const SCAN_COUNT: usize = 1000;
/// A node that has not answered in this long is reported as unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The client subcommands (`serve` is the platform's).
#[derive(Debug, Clone, Subcommand)]
pub enum KvCommand {
    /// Print a key's value (exit 1 if the key does not exist)
    Get {
        /// The key.
        key: String,
        /// The node, e.g. redis://127.0.0.1:7379 (default: this config's RESP address).
        #[arg(long)]
        url: Option<String>,
    },
    /// Set a key to a value
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Expire after this many seconds.
        #[arg(long)]
        ex: Option<u64>,
        /// The node (default: this config's RESP address).
        #[arg(long)]
        url: Option<String>,
    },
    /// Delete keys; print how many existed
    Del {
        /// The keys.
        #[arg(required = true)]
        keys: Vec<String>,
        /// The node (default: this config's RESP address).
        #[arg(long)]
        url: Option<String>,
    },
    /// List keys matching a glob pattern, in key order, one per line
    Scan {
        /// Redis glob pattern.
        #[arg(long = "match", default_value = "*")]
        pattern: String,
        /// Print at most this many keys.
        #[arg(long, default_value_t = DEFAULT_SCAN_LIMIT)]
        limit: usize,
        /// The node (default: this config's RESP address).
        #[arg(long)]
        url: Option<String>,
    },
    /// Print the node's INFO: keys, SSTables, memory, durability, counters
    Stats {
        /// The node (default: this config's RESP address).
        #[arg(long)]
        url: Option<String>,
    },
}

impl KvCommand {
    fn url(&self) -> Option<&str> {
        match self {
            KvCommand::Get { url, .. }
            | KvCommand::Set { url, .. }
            | KvCommand::Del { url, .. }
            | KvCommand::Scan { url, .. }
            | KvCommand::Stats { url } => url.as_deref(),
        }
    }
}

/// Runs `command` against `--url`, or `default_url` when it has none.
pub async fn run(command: KvCommand, default_url: &str) -> anyhow::Result<()> {
    let url = command.url().unwrap_or(default_url).to_owned();
    let client = redis::Client::open(url.as_str()).with_context(|| format!("invalid URL {url}"))?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(RESPONSE_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .with_context(|| format!("cannot reach the kv node at {url}"))?;
    // Printed at the end: a stdout lock may not be held across the awaits.
    let mut stdout: Vec<u8> = Vec::new();
    match command {
        KvCommand::Get { key, .. } => {
            let value: Option<Vec<u8>> =
                query(&mut connection, redis::cmd("GET").arg(&key)).await?;
            let Some(value) = value else { bail!("key {key:?} does not exist") };
            stdout.write_all(&value)?;
            stdout.write_all(b"\n")?;
        }
        KvCommand::Set { key, value, ex, .. } => {
            let mut command = redis::cmd("SET");
            command.arg(&key).arg(&value);
            if let Some(seconds) = ex {
                command.arg("EX").arg(seconds);
            }
            query::<()>(&mut connection, &command).await?;
            writeln!(stdout, "OK")?;
        }
        KvCommand::Del { keys, .. } => {
            let deleted: i64 = query(&mut connection, redis::cmd("DEL").arg(&keys)).await?;
            writeln!(stdout, "{deleted}")?;
        }
        KvCommand::Scan { pattern, limit, .. } => {
            let mut cursor: u64 = 0;
            let mut printed = 0;
            while printed < limit {
                let mut command = redis::cmd("SCAN");
                command.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(SCAN_COUNT);
                let (next, keys): (u64, Vec<Vec<u8>>) = query(&mut connection, &command).await?;
                for key in keys.iter().take(limit - printed) {
                    stdout.write_all(key)?;
                    stdout.write_all(b"\n")?;
                    printed += 1;
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        KvCommand::Stats { .. } => {
            let info: String = query(&mut connection, &redis::cmd("INFO")).await?;
            stdout.write_all(info.replace("\r\n", "\n").as_bytes())?;
        }
    }
    std::io::stdout().lock().write_all(&stdout)?;
    Ok(())
}

async fn query<T: redis::FromRedisValue>(
    connection: &mut redis::aio::MultiplexedConnection,
    command: &redis::Cmd,
) -> anyhow::Result<T> {
    command.query_async(connection).await.context("the kv node answered with an error")
}
