//! The harness error type.

use std::io;
use std::process::ExitStatus;

/// Errors from starting, stopping or probing test servers.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The implementation under test is not installed (tests should skip, not fail).
    #[error("Apache ZooKeeper unavailable: {0}")]
    Unavailable(String),
    /// An I/O operation failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A server process exited while it was expected to run.
    #[error("server {index} exited unexpectedly ({status})\n{log}")]
    Exited {
        /// Index of the server in its ensemble.
        index: usize,
        /// Its exit status.
        status: ExitStatus,
        /// Tail of its log.
        log: String,
    },
    /// A readiness condition was not met in time; the message carries the observed state and
    /// the tails of the server logs.
    #[error("{0}")]
    NotReady(String),
}

impl HarnessError {
    /// Wraps an I/O error with a description of what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias for harness operations.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
