//! Test helper for `tests/crash.rs`: opens a database and writes keys as fast as it can
//! from several threads, printing `ack <key>` after each write is acknowledged, until
//! it is killed. Usage: `lsm-crash-writer <dir> <always|everysec|no> <threads>`.

use std::io::Write;
use std::sync::Arc;

use blueprint_lsm::{Db, Durability, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("missing <dir>")?;
    let durability = match args.next().as_deref() {
        Some("always") => Durability::Always,
        Some("everysec") => Durability::EverySec,
        Some("no") => Durability::No,
        other => return Err(format!("unknown durability {other:?}").into()),
    };
    let threads: usize = args.next().ok_or("missing <threads>")?.parse()?;
    let options = Options {
        durability,
        // Small memtables so flushes and compactions happen while the process is killed.
        memtable_bytes: 256 * 1024,
        ..Options::default()
    };
    let db = Arc::new(Db::open(&dir, options)?);
    let stdout = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let db = Arc::clone(&db);
            let stdout = Arc::clone(&stdout);
            std::thread::spawn(move || -> Result<(), String> {
                for index in 0u64.. {
                    let key = format!("t{thread}-{index:010}");
                    db.put(&key, key.repeat(4)).map_err(|error| error.to_string())?;
                    let mut out = stdout.lock().map_err(|error| error.to_string())?;
                    writeln!(out, "ack {key}").map_err(|error| error.to_string())?;
                    out.flush().map_err(|error| error.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "writer thread panicked")??;
    }
    Ok(())
}
