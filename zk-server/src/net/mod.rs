//! The client port: accept (per-address connection limits) → per-connection task (framing,
//! four-letter words, handshake, requests).

pub mod connection;
pub mod dispatch;
pub mod gate;
pub mod handshake;
pub mod reply;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::server::Shared;

/// Counts connections per client address, so one address cannot take them all.
#[derive(Debug, Default)]
pub struct ConnLimits {
    per_ip: Mutex<HashMap<IpAddr, u32>>,
}

impl ConnLimits {
    /// Takes a slot for `ip`, or None when it already has `max` (0 = unlimited).
    fn acquire(self: &Arc<Self>, ip: IpAddr, max: u32) -> Option<ConnSlot> {
        let mut m = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_insert(0);
        if max != 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(ConnSlot {
            limits: self.clone(),
            ip,
        })
    }
}

/// A taken connection slot, given back on drop.
#[derive(Debug)]
pub struct ConnSlot {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut m = self.limits.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Accepts clients until `stop`.
pub async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    let limits = Arc::new(ConnLimits::default());
    let local: Option<SocketAddr> = listener.local_addr().ok();
    info!(addr = ?local, "serving clients");
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let Some(slot) = limits.acquire(peer.ip(), shared.config.max_client_cnxns) else {
            warn!(%peer, max = shared.config.max_client_cnxns, "too many connections from this address; closing");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            connection::serve(stream, peer, shared, stop).await;
            drop(slot);
        });
    }
}
