//! Test helpers: an append-only list as the replicated state, cluster bootstrapping, and
//! bounded waits.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::raft::wire::{self, Request, Response};
use crate::raft::{ApplyTarget, Consensus, ConsensusConfig};

/// Connects to the peer port at `addr` and sends the handshake of node `from` to node `to`;
/// returns the connection and the answer.
pub(crate) async fn hello(
    addr: impl tokio::net::ToSocketAddrs,
    from: u64,
    to: u64,
) -> (TcpStream, Response) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let frame = wire::encode_frame(0, &Request::Hello { from, to }).expect("encode");
    s.write_all(&frame).await.expect("write");
    let body = wire::read_frame(&mut s)
        .await
        .expect("read")
        .expect("frame");
    let (_, resp) = wire::decode_body::<Response>(&body).expect("decode");
    (s, resp)
}

/// Every applied `(index, payload)`.
pub(crate) type Items = Vec<(u64, Vec<u8>)>;

/// The replicated state of the tests: every applied `(index, payload)` in order.
#[derive(Default)]
pub(crate) struct ListTarget {
    state: Mutex<(u64, Items)>,
    /// Set when `apply` saw an index that was not above the previous one.
    pub out_of_order: AtomicBool,
    /// Transactions each entry counts for toward the next snapshot (0 counts as 1).
    pub weight: AtomicU64,
    /// Makes `snapshot` fail (a full disk).
    pub fail_snapshots: AtomicBool,
}

impl ListTarget {
    pub(crate) fn items(&self) -> Items {
        self.state.lock().map(|g| g.1.clone()).unwrap_or_default()
    }
}

impl ApplyTarget for ListTarget {
    fn apply(&self, index: u64, payload: &[u8]) -> u64 {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if index <= g.0 && !(index == 0 && g.1.is_empty()) {
            self.out_of_order.store(true, Ordering::SeqCst);
        }
        g.0 = index;
        g.1.push((index, payload.to_vec()));
        self.weight.load(Ordering::SeqCst).max(1)
    }

    fn snapshot(&self, out: &mut dyn Write) -> io::Result<u64> {
        if self.fail_snapshots.load(Ordering::SeqCst) {
            return Err(io::Error::other("no space left on device (simulated)"));
        }
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = postcard::to_stdvec(&*g).map_err(io::Error::other)?;
        out.write_all(&bytes)?;
        Ok(g.0)
    }

    fn restore(&self, index: u64, data: &mut dyn Read) -> Result<(), String> {
        let mut buf = Vec::new();
        data.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        let (_, items): (u64, Items) = postcard::from_bytes(&buf).map_err(|e| e.to_string())?;
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *g = (index, items);
        Ok(())
    }
}

pub(crate) fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Test tick: heartbeats every 20 ms, elections after 100-200 ms.
pub(crate) const TICK_MS: u64 = 200;

pub(crate) fn config(id: u64, members: &BTreeMap<u64, String>, dir: &Path) -> ConsensusConfig {
    let mut c = ConsensusConfig::new(id, members.clone(), dir.join(format!("n{id}")));
    c.tick_ms = TICK_MS;
    c.tuning.request_timeout = Duration::from_secs(10);
    c.tuning.bootstrap_grace = Duration::from_secs(30);
    c.tuning.wal_segment_bytes = 16 << 10;
    c
}

/// Binds `n` listeners on 127.0.0.1 and returns them with the member map (ids 1..=n).
pub(crate) async fn listeners(n: u64) -> (BTreeMap<u64, String>, Vec<TcpListener>) {
    let mut members = BTreeMap::new();
    let mut ls = Vec::new();
    for id in 1..=n {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        members.insert(id, l.local_addr().expect("addr").to_string());
        ls.push(l);
    }
    (members, ls)
}

/// Polls `f` every 10 ms until it returns `Some`, or panics after `limit`.
pub(crate) async fn eventually<T>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until all `nodes` agree on one leader among them and returns its id.
pub(crate) async fn agreed_leader(nodes: &[&Consensus], limit: Duration) -> u64 {
    eventually("an agreed leader", limit, || {
        let first = nodes.first()?.leader_id()?;
        let ok = nodes.iter().all(|n| n.leader_id() == Some(first))
            && nodes.iter().any(|n| n.node_id() == first && n.is_leader());
        ok.then_some(first)
    })
    .await
}

pub(crate) type Node = (Consensus, Arc<ListTarget>);

pub(crate) async fn start(cfg: ConsensusConfig, listener: TcpListener) -> Node {
    let t = Arc::new(ListTarget::default());
    let c = Consensus::start_with_listener(cfg, t.clone(), listener)
        .await
        .expect("start");
    (c, t)
}
