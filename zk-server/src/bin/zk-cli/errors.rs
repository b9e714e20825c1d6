//! Command failures and the messages zkCli 3.8 prints for them (`CliWrapperException`,
//! `KeeperException.getMessage`, `MalformedPathException`), with zkCli's exit codes.

use zk_core::proto::PathError;
use zk_core::Error;

/// A failed command: the message printed on stderr and the process exit code it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// Printed on stderr.
    pub message: String,
    /// 1 for every command failure, 127 for an unknown command (as zkCli).
    pub exit_code: i32,
}

impl CliError {
    /// A command failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 1,
        }
    }

    /// An unknown command (exit code 127).
    pub fn command_not_found(cmd: &str) -> Self {
        Self {
            message: format!("Command not found: Command not found {cmd}"),
            exit_code: 127,
        }
    }

    /// The failure of a ZooKeeper operation on `path`, worded as zkCli's `CliWrapperException`.
    pub fn keeper(e: &Error, path: &str) -> Self {
        Self::new(wrapper_message(e, Some(path)))
    }

    /// As [`CliError::keeper`] for an operation without a path (or Java's `null` path).
    pub fn keeper_no_path(e: &Error) -> Self {
        Self::new(wrapper_message(e, None))
    }
}

/// `CliWrapperException.getMessage`: friendly text for the common codes, else the
/// `KeeperException` message.
fn wrapper_message(e: &Error, path: Option<&str>) -> String {
    let p = path.unwrap_or("null");
    match e {
        Error::NoNode => format!("Node does not exist: {p}"),
        Error::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {p}"),
        Error::NodeExists => format!("Node already exists: {p}"),
        Error::NotEmpty => format!("Node not empty: {p}"),
        Error::NotReadOnly => format!("Not a read-only call: {p}"),
        Error::InvalidAcl => format!("Acl is not valid : {p}"),
        Error::NoAuth => format!("Insufficient permission : {p}"),
        Error::BadArguments => format!("Arguments are not valid : {p}"),
        Error::BadVersion => format!("version No is not valid : {p}"),
        Error::QuotaExceeded => format!("Quota has exceeded : {p}"),
        Error::ReconfigInProgress => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .into()
        }
        Error::NewConfigNoQuorum => "No quorum of new config is connected and up-to-date with \
             the leader of last committed config - try invoking reconfiguration after new \
             servers are connected and synced"
            .into(),
        Error::InvalidPath(pe) => path_message(pe),
        Error::Multi { error, .. } => wrapper_message(error, path),
        other => keeper_message(other, path),
    }
}

/// `KeeperException.getMessage`: `KeeperErrorCode = <code message>[ for <path>]`.
pub fn keeper_message(e: &Error, path: Option<&str>) -> String {
    let code = match e {
        Error::SystemError => "SystemError",
        Error::RuntimeInconsistency => "RuntimeInconsistency",
        Error::DataInconsistency => "DataInconsistency",
        Error::ConnectionLoss | Error::Closed => "ConnectionLoss",
        Error::MarshallingError => "MarshallingError",
        Error::Unimplemented => "Unimplemented",
        Error::OperationTimeout => "OperationTimeout",
        Error::BadArguments => "BadArguments",
        Error::UnknownSession => "Unknown session",
        Error::NewConfigNoQuorum => "NewConfigNoQuorum",
        Error::ReconfigInProgress => "ReconfigInProgress",
        Error::ApiError => "APIError",
        Error::NoNode => "NoNode",
        Error::NoAuth => "NoAuth",
        Error::BadVersion => "BadVersion",
        Error::NoChildrenForEphemerals => "NoChildrenForEphemerals",
        Error::NodeExists => "NodeExists",
        Error::NotEmpty => "Directory not empty",
        Error::SessionExpired => "Session expired",
        Error::InvalidCallback => "Invalid callback",
        Error::InvalidAcl => "InvalidACL",
        Error::AuthFailed => "AuthFailed",
        Error::SessionMoved => "Session moved",
        Error::NotReadOnly => "Not a read-only call",
        Error::EphemeralOnLocalSession => "Ephemeral node on local session",
        Error::NoWatcher => "No such watcher",
        Error::RequestTimeout => "Request timeout",
        Error::ReconfigDisabled => "Reconfig is disabled",
        Error::SessionClosedRequireSaslAuth => {
            "Session closed because client failed to authenticate"
        }
        Error::QuotaExceeded => "Quota has exceeded",
        Error::ThrottledOp => "Op throttled due to high load",
        Error::Multi { error, .. } => return keeper_message(error, path),
        Error::InvalidPath(pe) => return path_message(pe),
        Error::Unknown(c) => {
            return with_path(format!("KeeperErrorCode = Unknown error {c}"), path)
        }
        other => return other.to_string(),
    };
    with_path(format!("KeeperErrorCode = {code}"), path)
}

fn with_path(msg: String, path: Option<&str>) -> String {
    match path {
        Some(p) => format!("{msg} for {p}"),
        None => msg,
    }
}

/// The message of Java's `PathUtils.validatePath`: the simple rules are reported bare, the
/// others as `Invalid path string "..." caused by ...`.
pub fn path_message(e: &PathError) -> String {
    match e.reason.as_str() {
        r @ ("Path length must be > 0"
        | "Path must start with / character"
        | "Path must not end with / character") => r.to_string(),
        _ => e.to_string(),
    }
}

/// Maps an operation result on `path` to a command result.
pub trait OnPath<T> {
    /// The zkCli error for a failure on `path`.
    fn on(self, path: &str) -> Result<T, CliError>;
}

impl<T> OnPath<T> for Result<T, Error> {
    fn on(self, path: &str) -> Result<T, CliError> {
        self.map_err(|e| CliError::keeper(&e, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_zkcli() {
        assert_eq!(
            CliError::keeper(&Error::NoNode, "/x").message,
            "Node does not exist: /x"
        );
        assert_eq!(
            CliError::keeper(&Error::NoAuth, "/x").message,
            "Insufficient permission : /x"
        );
        assert_eq!(
            CliError::keeper(&Error::NoWatcher, "/w").message,
            "KeeperErrorCode = No such watcher for /w"
        );
        assert_eq!(
            CliError::keeper_no_path(&Error::InvalidAcl).message,
            "Acl is not valid : null"
        );
        assert_eq!(
            keeper_message(&Error::InvalidAcl, None),
            "KeeperErrorCode = InvalidACL"
        );
        let pe = zk_core::proto::validate_path("a").expect_err("invalid");
        assert_eq!(path_message(&pe), "Path must start with / character");
        let pe = zk_core::proto::validate_path("/a/../b").expect_err("invalid");
        assert_eq!(
            path_message(&pe),
            "Invalid path string \"/a/../b\" caused by relative paths not allowed @4"
        );
    }
}
