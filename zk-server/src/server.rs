//! Assembling a server: data dirs → state → consensus → proposer → client port, plus the
//! leader's session-expiry and container/TTL reaper tasks. Shutdown is an input (a token).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::admin::stats::Stats;
use crate::clock::now_ms;
use crate::config::Config;
use crate::net::gate::Gate;
use crate::proposer::Proposer;
use crate::raft::{Consensus, ConsensusConfig, Tuning};
use crate::session::ids::initial_session_id;
use crate::state::ZkState;
use crate::tree::{DataTree, TreeConfig};
use crate::txn::{Origin, Txn, TxnOp};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The data directory is unusable.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// The replicated log could not start (corrupt log, unusable snapshot, ...).
    #[error("replicated log: {0}")]
    Consensus(String),
    /// The client port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What every part of a running server shares.
#[derive(Debug)]
pub struct Shared {
    /// This server's id (0 standalone, `myid` in an ensemble).
    pub server_id: u64,
    /// The configuration.
    pub config: Config,
    /// The replicated state as held here.
    pub state: Arc<ZkState>,
    /// The replicated log.
    pub consensus: Arc<Consensus>,
    /// Queues writes into the log.
    pub proposer: Proposer,
    /// Counters.
    pub stats: Stats,
    /// Open while this server serves clients (in contact with a quorum).
    pub gate: Gate,
    next_conn: AtomicU64,
    next_request: AtomicU64,
    next_session: AtomicI64,
    /// Sessions active here since the last report to the leader (followers only).
    touched: Mutex<HashSet<i64>>,
}

impl Shared {
    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh request id (unique per process; with the server id, names a waiting request).
    pub fn next_request_id(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh session id.
    pub fn next_session_id(&self) -> i64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// How long a client may take to finish its handshake (and a sync its barrier).
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(
            u64::from(self.config.tick_time_ms) * u64::from(self.config.init_limit.max(2)),
        )
    }

    /// Records activity of a session. The leader owns expiry: a follower also keeps the
    /// session for its next report to the leader (see `relay_touches`).
    pub fn touch(&self, session_id: i64) {
        self.state
            .sessions
            .touch(session_id, now_ms(), i64::from(self.config.tick_time_ms));
        if !self.config.peers.is_empty() && !self.consensus.is_leader() {
            self.touched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(session_id);
        }
    }

    fn internal_txn(&self, session_id: i64, op: TxnOp) -> Txn {
        Txn {
            origin: Origin {
                server_id: self.server_id,
                request_id: self.next_request_id(),
            },
            session_id,
            cxid: 0,
            time_ms: 0,
            auth: Default::default(),
            op,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    client_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound client address.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The shared state (for tests and admin).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops serving without waiting (used on drop).
    pub fn abort(self) {
        self.stop.cancel();
        for t in &self.tasks {
            t.abort();
        }
        let consensus = self.shared.consensus.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { consensus.shutdown().await });
        }
    }

    /// Stops abruptly, as a crash would look to clients: the client port and every connection
    /// drop at once, without the orderly task shutdown. Returns once the log has let go of its
    /// files, so the same data directory can be opened again right away.
    pub async fn kill(self) {
        self.stop.cancel();
        for t in &self.tasks {
            t.abort();
        }
        self.shared.consensus.shutdown().await;
    }

    /// Stops serving: closes the client port and every connection, stops the log.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        self.shared.consensus.shutdown().await;
    }
}

/// Starts a server from `config`.
///
/// # Errors
/// [`StartError`] naming what is wrong: the data directory, the config, the log, the port.
pub async fn start(config: Config) -> Result<ServerHandle, StartError> {
    for dir in [config.data_dir.clone(), config.log_dir().to_path_buf()] {
        check_dir(&dir)?;
    }
    // A standalone server is a cluster of one (raft node 1, session ids with server id 0, as
    // Apache's standalone); its peer port is an ephemeral loopback port nobody else uses.
    let (server_id, node_id, members, peer_listener) = if config.peers.is_empty() {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| StartError::Bind {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                source,
            })?;
        let addr = l
            .local_addr()
            .map_err(|e| StartError::Config(format!("peer listener: {e}")))?;
        (0, 1, BTreeMap::from([(1, addr.to_string())]), Some(l))
    } else {
        let id = config
            .read_myid()
            .map_err(|e| StartError::Config(e.to_string()))?;
        if !config.peers.iter().any(|p| p.id == id) {
            return Err(StartError::Config(format!(
                "myid {id} is not among the server.N lines"
            )));
        }
        if config.peers.iter().any(|p| p.observer) {
            return Err(StartError::Config("observers are not supported yet".into()));
        }
        let members = config.peers.iter().map(|p| (p.id, p.peer_addr())).collect();
        (id, id, members, None)
    };
    let tick = i64::from(config.tick_time_ms);
    let tree = DataTree::new(tree_config(&config));
    let state = Arc::new(ZkState::new(server_id, tree, tick));
    let cfg = ConsensusConfig {
        node_id,
        members,
        log_dir: config.log_dir().join("log"),
        snapshot_dir: config.data_dir.join("snapshots"),
        snap_count: config.snap_count,
        snap_retain_count: config.snap_retain_count as usize,
        purge_interval_hours: u64::from(config.purge_interval_hours),
        tick_ms: u64::from(config.tick_time_ms),
        sync_limit: u64::from(config.sync_limit),
        tuning: Tuning::default(),
    };
    let target: Arc<dyn crate::raft::ApplyTarget> = state.clone();
    let consensus = match peer_listener {
        Some(l) => Consensus::start_with_listener(cfg, target, l).await,
        None => Consensus::start(cfg, target).await,
    }
    .map_err(|e| StartError::Consensus(e.to_string()))?;
    let consensus = Arc::new(consensus);
    let addr = config.client_addr();
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(source) => {
            consensus.shutdown().await;
            return Err(StartError::Bind { addr, source });
        }
    };
    let client_addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    // `conf` and friends report the port actually bound (clientPort=0 picks one).
    let mut config = config;
    config.client_port = client_addr.port();
    let stop = CancellationToken::new();
    let proposer = Proposer::start(consensus.clone(), state.clone(), stop.clone());
    let shared = Arc::new(Shared {
        server_id,
        config: config.clone(),
        state: state.clone(),
        consensus,
        proposer,
        stats: Stats::default(),
        // A member of an ensemble serves once it is in contact with a quorum.
        gate: Gate::new(config.peers.is_empty()),
        next_conn: AtomicU64::new(1),
        next_request: AtomicU64::new(1),
        next_session: AtomicI64::new(initial_session_id(now_ms(), server_id)),
        touched: Mutex::new(HashSet::new()),
    });
    // Sessions survive a restart: every known session gets a fresh full timeout.
    {
        let tree = state.read();
        let now = now_ms();
        for (id, timeout) in tree.sessions() {
            state.sessions.track(id, timeout, now, tick);
        }
    }
    info!(%client_addr, server_id, data_dir = %config.data_dir.display(), "zk-server started");
    let mut tasks = vec![
        tokio::spawn(crate::net::accept_loop(
            listener,
            shared.clone(),
            stop.clone(),
        )),
        tokio::spawn(crate::net::gate::watch_quorum(shared.clone(), stop.clone())),
        tokio::spawn(expire_sessions(shared.clone(), stop.clone())),
        tokio::spawn(relay_touches(shared.clone(), stop.clone())),
        tokio::spawn(reap_nodes(shared.clone(), stop.clone())),
    ];
    match crate::admin::metrics::bind(&shared).await {
        Ok(Some(l)) => tasks.push(tokio::spawn(crate::admin::metrics::serve(
            l,
            shared.clone(),
            stop.clone(),
        ))),
        Ok(None) => {}
        Err(source) => {
            stop.cancel();
            let addr = SocketAddr::new(
                config
                    .metrics_host
                    .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
                config.metrics_port.unwrap_or(0),
            );
            return Err(StartError::Bind { addr, source });
        }
    }
    Ok(ServerHandle {
        client_addr,
        shared,
        stop,
        tasks,
    })
}

/// The tree settings every replica must share, from the configuration.
pub fn tree_config(config: &Config) -> TreeConfig {
    TreeConfig {
        extended_types_enabled: config.extended_types_enabled,
        super_digest: config.super_digest.clone(),
        container_max_never_used_ms: config.container_max_never_used_ms,
        skip_acl: config.skip_acl,
        enforce_quota: config.enforce_quota,
    }
}

fn check_dir(dir: &std::path::Path) -> Result<(), StartError> {
    let err = |source| StartError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "exists but is not a directory",
        )));
    }
    std::fs::create_dir_all(dir).map_err(err)?;
    let probe = dir.join(".zk-write-test");
    std::fs::write(&probe, b"ok").map_err(err)?;
    std::fs::remove_file(&probe).map_err(err)?;
    Ok(())
}

/// A follower reports the sessions active on it to the leader every half tick, as Apache's
/// followers do with their pings; the leader alone expires sessions, so without this a session
/// that only pings a follower would expire. A report that does not reach a leader is kept for
/// the next one.
async fn relay_touches(shared: Arc<Shared>, stop: CancellationToken) {
    if shared.config.peers.is_empty() {
        return;
    }
    let half_tick = Duration::from_millis(u64::from(shared.config.tick_time_ms / 2).max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(half_tick) => {}
            _ = stop.cancelled() => return,
        }
        let sessions: Vec<i64> = {
            let mut t = shared.touched.lock().unwrap_or_else(|e| e.into_inner());
            t.drain().collect()
        };
        if sessions.is_empty() {
            continue;
        }
        let sent = tokio::select! {
            ok = shared.consensus.report_touches(sessions.clone(), half_tick * 2) => ok,
            _ = stop.cancelled() => return,
        };
        if !sent {
            shared
                .touched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(sessions);
        }
    }
}

/// The leader expires sessions not touched within their timeout, through the log.
async fn expire_sessions(shared: Arc<Shared>, stop: CancellationToken) {
    let tick = Duration::from_millis(u64::from(shared.config.tick_time_ms));
    let mut proposed: HashMap<i64, i64> = HashMap::new();
    let mut leading = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.cancelled() => return,
        }
        if !shared.consensus.is_leader() {
            leading = false;
            continue;
        }
        let now = now_ms();
        if !leading {
            // Just elected: the activity of sessions on other servers went to the old leader.
            leading = true;
            shared
                .state
                .sessions
                .renew_all(now, i64::from(shared.config.tick_time_ms));
        }
        let retry_after = 10 * i64::from(shared.config.tick_time_ms);
        for id in shared.state.sessions.expired(now) {
            if proposed.get(&id).is_some_and(|at| now - at < retry_after) {
                continue;
            }
            info!(session_id = format_args!("{id:#x}"), "session expired");
            proposed.insert(id, now);
            shared
                .proposer
                .submit(shared.internal_txn(id, TxnOp::CloseSession));
        }
        proposed.retain(|id, _| shared.state.read().session_exists(*id));
    }
}

/// The leader deletes empty containers and expired TTL nodes, through the log.
async fn reap_nodes(shared: Arc<Shared>, stop: CancellationToken) {
    let every = Duration::from_millis(shared.config.container_check_interval_ms);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        if !shared.consensus.is_leader() {
            continue;
        }
        let candidates = shared.state.read().reap_candidates(now_ms(), 10_000);
        for path in candidates {
            if !shared
                .proposer
                .submit(shared.internal_txn(0, TxnOp::Reap { path }))
            {
                warn!("proposer stopped");
                return;
            }
        }
    }
}
