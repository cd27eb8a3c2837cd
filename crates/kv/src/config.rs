//! The `[kv]` config section.

use std::net::{IpAddr, Ipv4Addr};

use blueprint_lsm::Durability;
use serde::{Deserialize, Serialize};

/// Default RESP port: 7379, beside (not on) Redis's 6379, so a local Redis keeps working.
pub const DEFAULT_RESP_PORT: u16 = 7379;
/// Default connection cap: like Redis's order of magnitude for one small node, and a
/// bound on the blocking threads and request buffers in use at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default largest request: 64 MiB. With [`DEFAULT_MAX_CONNECTIONS`] connections this
/// bounds buffered requests; raise it (up to 512 MiB, [`crate::frame::MAX_BULK_BYTES`])
/// to store larger values.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// When acknowledged writes reach the disk, named as Redis's `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilitySetting {
    /// `fsync` before every reply: nothing acknowledged is lost, even on power failure.
    Always,
    /// `fsync` once a second: a crash of the machine loses at most about a second; a
    /// crash of the process alone loses nothing already handed to the OS.
    #[default]
    Everysec,
    /// Never `fsync`: the OS decides.
    No,
}

impl From<DurabilitySetting> for Durability {
    fn from(setting: DurabilitySetting) -> Durability {
        match setting {
            DurabilitySetting::Always => Durability::Always,
            DurabilitySetting::Everysec => Durability::EverySec,
            DurabilitySetting::No => Durability::No,
        }
    }
}

/// `[kv]`: the RESP listener, its limits and the engine's durability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvConfig {
    /// RESP port; 0 disables the RESP listener (the HTTP API stays). When the HTTP server
    /// itself binds port 0 (an ephemeral port, as tests do), RESP binds an ephemeral port
    /// too, so parallel servers never collide.
    pub resp_port: u16,
    /// RESP address: loopback by default, since RESP has no authentication here.
    pub resp_host: IpAddr,
    /// Most RESP connections at once; more wait for a slot.
    pub max_connections: usize,
    /// Largest request (one RESP frame, or one HTTP value) in bytes.
    pub max_request_bytes: usize,
    /// When writes are forced to disk.
    pub durability: DurabilitySetting,
    /// Directory under the server's data dir holding the engine's files.
    pub data_subdir: String,
    /// `[kv.cluster]`: one node of the Dynamo-style cluster, for `blueprint kv cluster
    /// node` (the fields are `blueprint_dynamo::ClusterConfig`'s; the binary checks them
    /// at startup). Kept opaque here: this crate is the single-node server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<serde_json::Value>,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            resp_port: DEFAULT_RESP_PORT,
            resp_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            durability: DurabilitySetting::Everysec,
            data_subdir: "kv".to_owned(),
            cluster: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn durability_is_spelled_as_redis_appendfsync() {
        let config: KvConfig = serde_json::from_str(r#"{"durability":"always"}"#).unwrap();
        assert_eq!(config.durability, DurabilitySetting::Always);
        assert_eq!(Durability::from(config.durability), Durability::Always);
        assert_eq!(config.resp_port, DEFAULT_RESP_PORT);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(serde_json::from_str::<KvConfig>(r#"{"resp_prot":1}"#).is_err());
    }
}
