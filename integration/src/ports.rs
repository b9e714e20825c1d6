//! Free loopback port allocation for test servers.
//!
//! Ports come from the kernel (binding `127.0.0.1:0`), and every port handed out is remembered
//! for the life of the process so two harnesses in the same test binary (tests run on parallel
//! threads) never get the same port, even after the first one released it: a killed server
//! keeps "owning" its ports so that a later `restart` can rebind them.
//!
//! There is an unavoidable window between probing a port and the child process binding it, in
//! which another process on the host may take it; the Apache harness detects the resulting
//! `BindException` and retries the start with fresh ports.

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Mutex, OnceLock};

/// How many kernel-assigned ports to try before giving up on finding a fresh one.
const MAX_ATTEMPTS: usize = 256;

fn used_ports() -> &'static Mutex<HashSet<u16>> {
    static USED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    USED.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Returns a loopback TCP port that is free right now and that this process has never handed
/// out before.
pub fn free_port() -> io::Result<u16> {
    for _ in 0..MAX_ATTEMPTS {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        // A poisoned lock only means another test panicked while holding it; the set itself is
        // still consistent (insert is the only mutation).
        let mut used = used_ports()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if used.insert(port) {
            return Ok(port);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrNotAvailable,
        format!("no fresh loopback port after {MAX_ATTEMPTS} attempts"),
    ))
}

/// Returns `n` distinct fresh loopback ports (see [`free_port`]).
pub fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    (0..n).map(|_| free_port()).collect()
}

/// Returns `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let ports = free_ports(32).expect("allocate ports");
        let unique: HashSet<_> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len());
        for port in ports {
            TcpListener::bind(loopback(port)).expect("allocated port is bindable");
        }
    }
}
