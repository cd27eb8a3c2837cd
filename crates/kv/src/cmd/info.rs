//! `INFO [section …]`: Redis's `field:value` text for the sections that mean something
//! here: server, clients, memory, persistence, stats, keyspace (`all`, `everything` and
//! `default` give them all). The keyspace count is a full scan, O(keys).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::hello::REDIS_COMPATIBLE_VERSION;
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

const SECTIONS: [&str; 6] = ["server", "clients", "memory", "persistence", "stats", "keyspace"];

/// `INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    sections: Vec<&'static str>,
}

impl Info {
    pub(crate) fn parse(args: &[Bytes]) -> Info {
        let mut sections = Vec::new();
        for arg in args {
            let arg = String::from_utf8_lossy(arg).to_ascii_lowercase();
            if matches!(arg.as_str(), "all" | "everything" | "default") {
                return Info { sections: SECTIONS.to_vec() };
            }
            // Unknown sections are skipped, as Redis does.
            if let Some(&known) = SECTIONS.iter().find(|&&section| section == arg) {
                sections.push(known);
            }
        }
        if args.is_empty() {
            sections = SECTIONS.to_vec();
        }
        Info { sections }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let mut text = String::new();
        for section in self.sections {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            section_text(section, store, &mut text)?;
        }
        Ok(Frame::bulk(text))
    }
}

fn section_text(section: &str, store: &Store, out: &mut String) -> Result<(), KvError> {
    let counters = store.counters();
    let stats = store.stats();
    // Writing to a String cannot fail.
    let _ = match section {
        "server" => write!(
            out,
            "# Server\r\nredis_version:{REDIS_COMPATIBLE_VERSION}\r\nblueprint_version:{}\r\n\
             redis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nprocess_id:{}\r\n\
             uptime_in_seconds:{}\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::process::id(),
            counters.started.elapsed().as_secs(),
        ),
        "clients" => write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\n",
            counters.connected_clients.load(Ordering::Relaxed)
        ),
        "memory" => write!(
            out,
            "# Memory\r\nused_memory_memtables:{}\r\nused_memory_block_cache:{}\r\n\
             used_memory_table_indexes:{}\r\n",
            stats.active_memtable_bytes, stats.block_cache_bytes, stats.table_resident_bytes
        ),
        "persistence" => write!(
            out,
            "# Persistence\r\naof_enabled:1\r\nappendfsync:{}\r\nsstables:{}\r\n\
             sstable_bytes:{}\r\nimmutable_memtables:{}\r\n",
            super::config::appendfsync(store.durability()),
            stats.table_count,
            stats.table_bytes,
            stats.immutable_memtables
        ),
        "stats" => write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n",
            counters.connections_received.load(Ordering::Relaxed),
            counters.commands_processed.load(Ordering::Relaxed)
        ),
        _ => {
            let keys = store.count_keys()?;
            out.push_str("# Keyspace\r\n");
            if keys > 0 {
                let _ = write!(out, "db0:keys={keys}\r\n");
            }
            Ok(())
        }
    };
    Ok(())
}
