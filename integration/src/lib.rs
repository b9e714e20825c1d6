//! Cross-process test harnesses.
//!
//! - [`apache`]: real Apache ZooKeeper (standalone or quorum) as child processes, for
//!   compatibility tests; skipped cleanly with [`require_apache!`] when it is not installed.
//! - [`ZkTarget`]: the small interface a client test suite needs from "some ZooKeeper", so the
//!   same suite can run against Apache and against our own server.
//! - [`four_letter`]: 4lw client (`ruok`, `srvr`, `mntr`, ...) and `Mode` parsing.
//! - [`ports`]: fresh loopback ports.

pub mod apache;
pub mod error;
pub mod four_letter;
pub mod ports;

use std::net::SocketAddr;

pub use error::{HarnessError, Result};
pub use four_letter::Mode;

/// A running ZooKeeper-compatible service that client tests can target.
pub trait ZkTarget {
    /// Human-readable description for test output, e.g. "Apache ZooKeeper 3.8.0 (3-node ensemble)".
    fn name(&self) -> String;

    /// Client connect string: `host:port,host:port,...`.
    fn connect_string(&self) -> String;

    /// Client address of every server, in index order.
    fn server_addrs(&self) -> Vec<SocketAddr>;
}

/// Returns the [`apache::Installation`] if Apache ZooKeeper is available; otherwise prints
/// `SKIPPED: <reason>` to stderr and returns from the calling function (with `()` or the given
/// value, e.g. `require_apache!(Ok(()))`).
///
/// When the environment variable `APACHE_ZK_REQUIRED` is set (e.g. in CI), a missing
/// installation panics instead, so tests cannot silently skip.
#[macro_export]
macro_rules! require_apache {
    () => {
        $crate::require_apache!(())
    };
    ($ret:expr) => {
        match $crate::apache::ApacheZk::available() {
            ::std::result::Result::Ok(installation) => installation,
            ::std::result::Result::Err(reason) => {
                if $crate::apache::ApacheZk::required() {
                    panic!(
                        "Apache ZooKeeper required ({}) but unavailable: {reason}",
                        $crate::apache::ENV_REQUIRED
                    );
                }
                eprintln!("SKIPPED: {reason}");
                return $ret;
            }
        }
    };
}
