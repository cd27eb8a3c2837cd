//! The store's errors, each mapped to the RESP error text Redis uses for the same case.

/// What can go wrong executing a command.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The engine failed (I/O, corruption, a key or value beyond its limits).
    #[error("storage engine: {source}")]
    Engine {
        /// The engine's error.
        #[from]
        source: blueprint_lsm::Error,
    },
    /// `INCR` on a value that is not a decimal 64-bit integer.
    #[error("value is not an integer or out of range")]
    NotAnInteger,
    /// `INCR` past `i64::MAX` or `DECR` past `i64::MIN`.
    #[error("increment or decrement would overflow")]
    Overflow,
}

impl KvError {
    /// The RESP error line (without the leading `-`).
    pub fn resp_message(&self) -> String {
        match self {
            KvError::Engine { source } => match source {
                blueprint_lsm::Error::KeyTooLarge { .. }
                | blueprint_lsm::Error::ValueTooLarge { .. }
                | blueprint_lsm::Error::BatchTooLarge { .. }
                | blueprint_lsm::Error::TtlOverflow { .. } => format!("ERR {source}"),
                _ => {
                    tracing::error!(error = %source, "storage engine error");
                    "ERR internal storage error".to_owned()
                }
            },
            other => format!("ERR {other}"),
        }
    }
}
