//! Test helper for `tests/crash.rs`: serves RESP with `durability = "always"` on an
//! ephemeral loopback port over the store in `<dir>`, prints `listening <port>`, and
//! serves until it is killed. Usage: `kv-crash-server <dir>`.

use std::io::Write;
use std::sync::Arc;

use blueprint_kv::{KvConfig, Store, run};
use blueprint_lsm::{Durability, Options};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: kv-crash-server <dir>")?;
    let options = Options {
        durability: Durability::Always,
        // Small memtables so flushes happen while the process is killed.
        memtable_bytes: 256 * 1024,
        ..Options::default()
    };
    let store = Arc::new(Store::open_with(&dir, options)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening {}", listener.local_addr()?.port())?;
    stdout.flush()?;
    run(listener, store, &KvConfig::default(), std::future::pending::<()>()).await;
    Ok(())
}
