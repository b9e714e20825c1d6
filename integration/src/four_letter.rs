//! Four-letter-word (`ruok`, `srvr`, `mntr`, ...) client and `srvr` parsing.
//!
//! Works against any server speaking the ZooKeeper 4lw protocol, so the same helpers serve the
//! Apache harness and our own server.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Default bound for one 4lw exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends the four-letter word `cmd` to `addr` and returns the full response (the server closes
/// the connection after answering). The whole exchange is bounded by `timeout`.
pub async fn four_letter_word(
    addr: SocketAddr,
    cmd: &str,
    timeout: Duration,
) -> io::Result<String> {
    if cmd.len() != 4 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("four-letter word must be 4 bytes, got {cmd:?}"),
        ));
    }
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(cmd.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("4lw {cmd} to {addr} timed out after {timeout:?}"),
        )
    })?
}

/// The role a server reports in the `Mode:` line of `srvr` / `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Single server, no quorum.
    Standalone,
    /// Quorum leader.
    Leader,
    /// Quorum follower.
    Follower,
    /// Non-voting observer.
    Observer,
    /// Read-only mode (partitioned server with `readonlymode.enabled`).
    ReadOnly,
}

impl Mode {
    /// Extracts the mode from a `srvr`/`stat` response; `None` if there is no `Mode:` line
    /// (e.g. "This ZooKeeper instance is not currently serving requests").
    pub fn from_srvr(response: &str) -> Option<Mode> {
        response
            .lines()
            .find_map(|line| line.trim().strip_prefix("Mode:"))
            .and_then(|mode| mode.trim().parse().ok())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standalone" => Ok(Mode::Standalone),
            "leader" => Ok(Mode::Leader),
            "follower" => Ok(Mode::Follower),
            "observer" => Ok(Mode::Observer),
            "read-only" => Ok(Mode::ReadOnly),
            other => Err(format!("unknown mode {other:?}")),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Standalone => "standalone",
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
            Mode::ReadOnly => "read-only",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_srvr() {
        let srvr = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n";
        assert_eq!(Mode::from_srvr(srvr), Some(Mode::Follower));
        assert_eq!(
            Mode::from_srvr("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
    }
}
