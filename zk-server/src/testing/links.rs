//! Fault-injecting peer links for [`super::TestingCluster`].
//!
//! Every ordered pair of members (i, j) gets a relay on 127.0.0.1 that member i uses as j's
//! peer address; it forwards bytes to j's real peer port. The state of the pair {i, j} (cut,
//! delay) applies to both relays and both directions:
//!
//! - **cut**: like a firewall dropping packets, not like a closed socket. Nothing is closed;
//!   bytes read are held until the cut heals, new connections are accepted and held too, so
//!   both ends see silence and must rely on their timeouts. After the heal the held bytes flow
//!   (as TCP's retransmissions would deliver them).
//! - **delay**: every chunk waits this long before it is forwarded.
//! - **pause** of a member: every link of the member and its client relay hold everything, as
//!   if its process were stopped (SIGSTOP); independent of cuts, so a heal does not end it.
//!
//! Every member also gets a client relay in front of its client port (what the cluster's
//! connect string names), so a paused member's clients see silence too.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The state of the link between two members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LinkState {
    /// Nothing passes.
    pub cut: bool,
    /// Paused ends of the link (0, 1 or 2): nothing passes while any is.
    pub paused: u8,
    /// Each chunk is held this long.
    pub delay: Duration,
}

impl LinkState {
    fn open(&self) -> bool {
        !self.cut && self.paused == 0
    }
}

/// The relays and the state of every pair.
#[derive(Debug)]
pub(crate) struct Links {
    pairs: BTreeMap<(u64, u64), watch::Sender<LinkState>>,
    /// (from, to) → the relay's address.
    relays: BTreeMap<(u64, u64), SocketAddr>,
    /// Member → the state and address of the relay in front of its client port.
    clients: BTreeMap<u64, (watch::Sender<LinkState>, SocketAddr)>,
    closed: CancellationToken,
}

fn pair(a: u64, b: u64) -> (u64, u64) {
    (a.min(b), a.max(b))
}

impl Links {
    /// Starts a relay for every ordered pair of `targets` (id → real peer address) and one in
    /// front of every member's client port (`client_targets`: id → real client address).
    pub(crate) async fn start(
        targets: &BTreeMap<u64, SocketAddr>,
        client_targets: &BTreeMap<u64, SocketAddr>,
    ) -> std::io::Result<Self> {
        let closed = CancellationToken::new();
        let mut pairs = BTreeMap::new();
        let mut relays = BTreeMap::new();
        for &a in targets.keys() {
            for &b in targets.keys().filter(|&&b| b > a) {
                pairs.insert((a, b), watch::channel(LinkState::default()).0);
            }
        }
        for &from in targets.keys() {
            for (&to, &target) in targets.iter().filter(|(&to, _)| to != from) {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                relays.insert((from, to), listener.local_addr()?);
                let state = pairs
                    .get(&pair(from, to))
                    .map(watch::Sender::subscribe)
                    .ok_or_else(|| std::io::Error::other("no such pair"))?;
                tokio::spawn(relay(listener, target, state, closed.clone()));
            }
        }
        let mut clients = BTreeMap::new();
        for (&id, &target) in client_targets {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let tx = watch::channel(LinkState::default()).0;
            tokio::spawn(relay(listener, target, tx.subscribe(), closed.clone()));
            clients.insert(id, (tx, addr));
        }
        Ok(Links {
            pairs,
            relays,
            clients,
            closed,
        })
    }

    /// The address of the relay in front of member `id`'s client port.
    pub(crate) fn client_relay(&self, id: u64) -> Option<SocketAddr> {
        self.clients.get(&id).map(|(_, a)| *a)
    }

    /// Pauses (or resumes) every link of member `id` and its client relay.
    pub(crate) fn set_paused(&self, id: u64, paused: bool) {
        let change = |s: &mut LinkState| {
            s.paused = if paused {
                s.paused.saturating_add(1)
            } else {
                s.paused.saturating_sub(1)
            }
        };
        if let Some((tx, _)) = self.clients.get(&id) {
            let was = tx.borrow().paused > 0;
            if was == paused {
                return;
            }
            tx.send_modify(change);
        }
        for (a, b) in self.pairs() {
            if a == id || b == id {
                self.set(a, b, change);
            }
        }
    }

    /// The address member `from` uses to reach member `to`.
    pub(crate) fn relay(&self, from: u64, to: u64) -> Option<SocketAddr> {
        self.relays.get(&(from, to)).copied()
    }

    /// Changes the link between `a` and `b`.
    pub(crate) fn set(&self, a: u64, b: u64, f: impl FnOnce(&mut LinkState)) {
        if let Some(tx) = self.pairs.get(&pair(a, b)) {
            tx.send_modify(f);
        }
    }

    /// Every pair.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.pairs.keys().copied()
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

async fn relay(
    listener: TcpListener,
    target: SocketAddr,
    state: watch::Receiver<LinkState>,
    closed: CancellationToken,
) {
    loop {
        let inbound = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = closed.cancelled() => return,
        };
        let state = state.clone();
        let closed = closed.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = connection(inbound, target, state) => {}
                _ = closed.cancelled() => {}
            }
        });
    }
}

/// Relays one connection: held while the link is cut, even before it reaches the target.
async fn connection(inbound: TcpStream, target: SocketAddr, mut state: watch::Receiver<LinkState>) {
    if state.wait_for(|s| s.open()).await.is_err() {
        return;
    }
    let Ok(outbound) = TcpStream::connect(target).await else {
        // The member is down: its peer sees a refused connection, as it would directly.
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (ir, iw) = inbound.into_split();
    let (or, ow) = outbound.into_split();
    tokio::join!(pump(ir, ow, state.clone()), pump(or, iw, state));
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let delay = match state.wait_for(|s| s.open()).await {
            Ok(s) => s.delay,
            Err(_) => break,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    // A close is news too: it crosses only when the link does.
    let _ = state.wait_for(|s| s.open()).await;
    let _ = to.shutdown().await;
}
