//! The client's error type: every server error code, plus what can go wrong on the client side.

use crate::proto::{ErrorCode, MultiResult, PathError};

/// Everything a client operation can fail with.
///
/// Server error codes map one-to-one onto variants (see [`Error::from_code`]); a code this
/// crate does not know is kept as [`Error::Unknown`] with its number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system or server-side error (−1).
    #[error("system error")]
    SystemError,
    /// A runtime inconsistency (−2); in a failed multi, the ops after the failing one.
    #[error("runtime inconsistency")]
    RuntimeInconsistency,
    /// A data inconsistency (−3).
    #[error("data inconsistency")]
    DataInconsistency,
    /// The connection was lost before the reply arrived (−4); the request may or may not have
    /// been applied.
    #[error("connection lost")]
    ConnectionLoss,
    /// Marshalling error (−5).
    #[error("marshalling error")]
    MarshallingError,
    /// The server does not implement the operation (−6).
    #[error("operation unimplemented by the server")]
    Unimplemented,
    /// Operation timeout (−7).
    #[error("operation timeout")]
    OperationTimeout,
    /// Invalid arguments (−8).
    #[error("bad arguments")]
    BadArguments,
    /// Unknown session (−12).
    #[error("unknown session")]
    UnknownSession,
    /// No quorum of the new config is up to date (−13).
    #[error("new config has no quorum")]
    NewConfigNoQuorum,
    /// Another reconfiguration is in progress (−14).
    #[error("reconfig in progress")]
    ReconfigInProgress,
    /// Generic API error (−100).
    #[error("API error")]
    ApiError,
    /// The node does not exist (−101).
    #[error("no node")]
    NoNode,
    /// Not authorized by the node's ACL (−102).
    #[error("not authorized")]
    NoAuth,
    /// The version did not match (−103).
    #[error("bad version")]
    BadVersion,
    /// Ephemeral nodes may not have children (−108).
    #[error("ephemeral nodes may not have children")]
    NoChildrenForEphemerals,
    /// The node already exists (−110).
    #[error("node exists")]
    NodeExists,
    /// The node has children (−111).
    #[error("node not empty")]
    NotEmpty,
    /// The session expired (−112); the client is dead and a new one must be made.
    #[error("session expired")]
    SessionExpired,
    /// Invalid callback (−113).
    #[error("invalid callback")]
    InvalidCallback,
    /// Invalid ACL (−114).
    #[error("invalid ACL")]
    InvalidAcl,
    /// Authentication failed (−115).
    #[error("authentication failed")]
    AuthFailed,
    /// The session moved to another server (−118).
    #[error("session moved")]
    SessionMoved,
    /// A write was sent to a read-only server (−119).
    #[error("server is read-only")]
    NotReadOnly,
    /// Ephemeral on a local session (−120).
    #[error("ephemeral on local session")]
    EphemeralOnLocalSession,
    /// No such watcher (−121).
    #[error("no watcher")]
    NoWatcher,
    /// Request timeout (−122).
    #[error("request timeout")]
    RequestTimeout,
    /// Reconfiguration is disabled (−123).
    #[error("reconfig disabled")]
    ReconfigDisabled,
    /// The session requires SASL authentication (−124).
    #[error("session closed: SASL authentication required")]
    SessionClosedRequireSaslAuth,
    /// Quota exceeded (−125).
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The operation was throttled (−127).
    #[error("throttled")]
    ThrottledOp,
    /// A server error code this crate does not know.
    #[error("unknown server error code {0}")]
    Unknown(i32),
    /// A multi failed: the op at `index` failed with `error`; nothing was applied.
    #[error("multi op {index} failed: {error}")]
    Multi {
        /// Index of the first failing op.
        index: usize,
        /// Its error.
        error: Box<Error>,
        /// Every op's result as the server reported it.
        results: Vec<MultiResult>,
    },
    /// A path broke the path rules; nothing was sent.
    #[error(transparent)]
    InvalidPath(#[from] PathError),
    /// The connect string could not be parsed or resolved.
    #[error("bad connect string: {0}")]
    BadConnectString(String),
    /// An argument was rejected before sending (e.g. a TTL out of range).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The server broke the protocol (malformed reply, wrong xid); the connection was reset.
    #[error("protocol violation by the server: {0}")]
    Protocol(String),
    /// The client was closed.
    #[error("client closed")]
    Closed,
}

impl Error {
    /// The error for a server error code (`Ok` has none).
    pub fn from_code(code: i32) -> Option<Error> {
        let Some(c) = ErrorCode::from_code(code) else {
            return Some(Error::Unknown(code));
        };
        Some(match c {
            ErrorCode::Ok => return None,
            ErrorCode::SystemError => Error::SystemError,
            ErrorCode::RuntimeInconsistency => Error::RuntimeInconsistency,
            ErrorCode::DataInconsistency => Error::DataInconsistency,
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::MarshallingError => Error::MarshallingError,
            ErrorCode::Unimplemented => Error::Unimplemented,
            ErrorCode::OperationTimeout => Error::OperationTimeout,
            ErrorCode::BadArguments => Error::BadArguments,
            ErrorCode::UnknownSession => Error::UnknownSession,
            ErrorCode::NewConfigNoQuorum => Error::NewConfigNoQuorum,
            ErrorCode::ReconfigInProgress => Error::ReconfigInProgress,
            ErrorCode::ApiError => Error::ApiError,
            ErrorCode::NoNode => Error::NoNode,
            ErrorCode::NoAuth => Error::NoAuth,
            ErrorCode::BadVersion => Error::BadVersion,
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals,
            ErrorCode::NodeExists => Error::NodeExists,
            ErrorCode::NotEmpty => Error::NotEmpty,
            ErrorCode::SessionExpired => Error::SessionExpired,
            ErrorCode::InvalidCallback => Error::InvalidCallback,
            ErrorCode::InvalidAcl => Error::InvalidAcl,
            ErrorCode::AuthFailed => Error::AuthFailed,
            ErrorCode::SessionMoved => Error::SessionMoved,
            ErrorCode::NotReadOnly => Error::NotReadOnly,
            ErrorCode::EphemeralOnLocalSession => Error::EphemeralOnLocalSession,
            ErrorCode::NoWatcher => Error::NoWatcher,
            ErrorCode::RequestTimeout => Error::RequestTimeout,
            ErrorCode::ReconfigDisabled => Error::ReconfigDisabled,
            ErrorCode::SessionClosedRequireSaslAuth => Error::SessionClosedRequireSaslAuth,
            ErrorCode::QuotaExceeded => Error::QuotaExceeded,
            ErrorCode::ThrottledOp => Error::ThrottledOp,
        })
    }

    /// The server error code this error stands for, if it is one.
    pub fn code(&self) -> Option<i32> {
        if let Error::Unknown(c) = self {
            return Some(*c);
        }
        ErrorCode::ALL
            .iter()
            .map(|c| c.code())
            .find(|&c| Error::from_code(c).as_ref() == Some(self))
    }

    /// Whether retrying the operation could succeed (connection loss, operation timeout,
    /// session moved), as Curator's `RetryPolicy.isRetryException` minus session expiry.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss | Error::OperationTimeout | Error::SessionMoved
        )
    }
}

/// The result type of client operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_code_maps_and_back() {
        for &c in ErrorCode::ALL {
            match Error::from_code(c.code()) {
                None => assert_eq!(c, ErrorCode::Ok),
                Some(e) => assert_eq!(e.code(), Some(c.code()), "{c:?}"),
            }
        }
        assert_eq!(Error::from_code(-4242), Some(Error::Unknown(-4242)));
        assert_eq!(Error::Unknown(-4242).code(), Some(-4242));
        assert_eq!(Error::Closed.code(), None);
    }
}
