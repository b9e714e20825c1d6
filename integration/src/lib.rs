//! Cross-process test harnesses.
//!
//! - [`apache`]: real Apache ZooKeeper (standalone or quorum) as child processes, for
//!   compatibility tests; skipped cleanly with [`require_apache!`] when it is not installed.
//! - [`ZkTarget`]: the small interface a client test suite needs from "some ZooKeeper", so the
//!   same suite can run against Apache and against our own server.
//! - [`four_letter`]: 4lw client (`ruok`, `srvr`, `mntr`, ...) and `Mode` parsing.
//! - [`observe`]: when a client was told it is disconnected, when its node disappeared.
//! - [`ours`]: zk-server (in process) as a suite target.
//! - [`bins`]: the workspace's binaries, built on demand, for process-level tests.
//! - [`chaos`]: `ZK_CHAOS_SECS` / `ZK_CHAOS_SEED` for the chaos tests.
//! - [`docker`]: a zk-server image built locally, and faults on containers (pause, kill,
//!   firewall rules, network disconnects) for tests on real networks.
//! - [`linearizability`]: history recorder and Wing & Gong / Lowe (Porcupine-style)
//!   linearizability checker for one register per znode.
//! - [`ports`]: fresh loopback ports.
//! - [`proxy`]: a TCP relay for network faults (silence, refusal, cut connections).
//! - [`suite`]: the live client test suite, written against [`ZkTarget`] / [`ZkCluster`].

pub mod apache;
pub mod bins;
pub mod chaos;
pub mod docker;
pub mod error;
pub mod four_letter;
pub mod linearizability;
pub mod observe;
pub mod ours;
pub mod ports;
pub mod proxy;
pub mod suite;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

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

/// A boxed future, for the async methods of the object-safe harness traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A [`ZkTarget`] made of several servers whose processes a test can crash and restart, for
/// failover tests. Servers are indexed like [`ZkTarget::server_addrs`].
pub trait ZkCluster: ZkTarget {
    /// Crashes server `i` at once (SIGKILL or equivalent: no goodbye to clients or peers).
    fn kill_server(&mut self, i: usize) -> Result<()>;

    /// Freezes server `i` (SIGSTOP or equivalent): its connections stay open but nothing is
    /// answered, until [`ZkCluster::thaw_server`] or [`ZkCluster::kill_server`].
    fn freeze_server(&mut self, i: usize) -> Result<()>;

    /// Resumes a frozen server `i`.
    fn thaw_server(&mut self, i: usize) -> Result<()>;

    /// Starts server `i` again (same address and data) if it is not running, and waits until
    /// every running server serves and a leader is elected.
    fn restart_server(&mut self, i: usize) -> BoxFuture<'_, Result<()>>;

    /// Waits until every running server serves and exactly one leads.
    fn wait_for_quorum(&mut self, timeout: Duration) -> BoxFuture<'_, Result<()>>;

    /// Whether server `i`'s process is running.
    fn is_server_running(&mut self, i: usize) -> bool;

    /// Sends a four-letter word (e.g. `cons`, `srvr`) to server `i`.
    fn four_letter_word(&self, i: usize, cmd: &str) -> BoxFuture<'_, Result<String>>;
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
