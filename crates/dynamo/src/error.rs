//! The cluster's error type: one enum with named fields, each with a stable code that the
//! RESP (`-CODE message`) and HTTP (`{"error":{"code","message"}}`) front ends expose.

use crate::version::ContextError;

/// Why a cluster operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DynamoError {
    /// Fewer replicas answered (or could be asked) than the quorum needs. Nothing was
    /// acknowledged; the write may still be present on the replicas that did answer and
    /// will then spread by anti-entropy (Dynamo's semantics for a failed write).
    #[error("{op} needs {required} replicas, {available} answered")]
    Unavailable {
        /// `read` or `write`.
        op: &'static str,
        /// The quorum (R or W).
        required: usize,
        /// How many answered (or were reachable).
        available: usize,
    },
    /// A causal context that does not decode.
    #[error("bad causal context: {source}")]
    BadContext {
        /// Why.
        #[from]
        source: ContextError,
    },
    /// A request the cluster refuses (bad quorum numbers, key too large, ...).
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
    },
    /// The local storage failed.
    #[error("storage: {message}")]
    Storage {
        /// The engine's error.
        message: String,
    },
    /// Invalid configuration.
    #[error("config: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// An I/O error while starting (binding a listener).
    #[error("io: {message}")]
    Io {
        /// The error.
        message: String,
    },
    /// The node is shutting down.
    #[error("node is shutting down")]
    ShuttingDown,
}

impl DynamoError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DynamoError::Unavailable { .. } => "UNAVAILABLE",
            DynamoError::BadContext { .. } => "BAD_CONTEXT",
            DynamoError::BadRequest { .. } => "BAD_REQUEST",
            DynamoError::Storage { .. } => "STORAGE",
            DynamoError::Config { .. } => "CONFIG",
            DynamoError::Io { .. } => "IO",
            DynamoError::ShuttingDown => "SHUTTING_DOWN",
        }
    }

    /// The HTTP status for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            DynamoError::BadContext { .. } | DynamoError::BadRequest { .. } => 400,
            DynamoError::Unavailable { .. } | DynamoError::ShuttingDown => 503,
            _ => 500,
        }
    }

    /// Rebuilds an error sent over RPC as `(code, message)`.
    pub fn from_remote(code: &str, message: String) -> DynamoError {
        match code {
            "UNAVAILABLE" => {
                let numbers: Vec<usize> = message
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|part| part.parse().ok())
                    .collect();
                DynamoError::Unavailable {
                    op: if message.starts_with("read") { "read" } else { "write" },
                    required: numbers.first().copied().unwrap_or(0),
                    available: numbers.get(1).copied().unwrap_or(0),
                }
            }
            "BAD_REQUEST" | "BAD_CONTEXT" => DynamoError::BadRequest { message },
            "SHUTTING_DOWN" => DynamoError::ShuttingDown,
            _ => DynamoError::Storage { message },
        }
    }
}

/// A failure of the local storage engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StorageError {
    /// The engine's message.
    pub message: String,
}

impl From<StorageError> for DynamoError {
    fn from(error: StorageError) -> DynamoError {
        DynamoError::Storage { message: error.message }
    }
}
