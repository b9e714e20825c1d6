//! The façade the server uses: start a node, propose, read barriers, wait for local apply,
//! metrics, shutdown.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::error::{ClientWriteError, InitializeError, LinearizableReadError, RaftError};
use openraft::impls::ProgressResponder;
use openraft::{BasicNode, ReadPolicy, ServerState};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::apply::ApplyTarget;
use super::config::ConsensusConfig;
use super::contact::Contact;
use super::error::{ConsensusError, ProposeError};
use super::failover::Failover;
use super::log_store::LogStore;
use super::metrics::{ConsensusMetrics, Role};
use super::network::{Lane, NetworkFactory, PeerPool};
use super::peer_client::CallError;
use super::peer_server::{self, stopped, ServerCtx};
use super::state_machine::StateMachine;
use super::types::{AppPayload, LeaderId, Raft};
use super::wire::{ForwardError, Request, Response};
use crate::storage::{SnapshotStore, Wal, WalOptions};

/// A node of the replicated log. Cheap to clone; all clones drive the same node.
#[derive(Clone)]
pub struct Consensus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Consensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consensus")
            .field("node_id", &self.inner.id)
            .field("peer_addr", &self.inner.local_addr)
            .finish()
    }
}

struct Inner {
    id: u64,
    cfg: ConsensusConfig,
    raft: Raft,
    wal: Wal,
    snapshots: SnapshotStore,
    pool: Arc<PeerPool>,
    applied: watch::Receiver<u64>,
    shutdown_tx: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Snapshot builds in flight (shutdown waits for them).
    builds: Arc<super::state_machine::BuildTracker>,
    local_addr: SocketAddr,
    stopped: AtomicBool,
    /// When a leader's AppendEntries was last accepted here.
    contact: Arc<Contact>,
}

/// A leadership term of this node (opaque), from [`Consensus::leader_term`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderTerm(pub(in crate::raft) LeaderId);

/// A short pause between retries while the leader is unknown or unreachable.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// Longest the snapshotter waits for a snapshot it asked for before it takes the next request.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(60);

impl Consensus {
    /// Starts this node: opens the log and snapshots (restoring `target` from the newest
    /// snapshot and the log), listens for peers on this node's member address, and joins
    /// the cluster. A pristine cluster is formed by its lowest-id member (others offer the
    /// same membership after [`super::Tuning::bootstrap_grace`] if it never shows up); a
    /// cluster of one elects itself at once.
    ///
    /// `target` must be empty: it receives the snapshot (if any) and every later entry.
    ///
    /// # Errors
    /// A bad configuration, an unusable data directory (including a corrupt log or snapshot,
    /// reported with file and offset), or a peer port that cannot be bound.
    pub async fn start(
        cfg: ConsensusConfig,
        target: Arc<dyn ApplyTarget>,
    ) -> Result<Consensus, ConsensusError> {
        cfg.validate()?;
        let addr = cfg.members.get(&cfg.node_id).cloned().unwrap_or_default();
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ConsensusError::Listen { addr, source })?;
        Self::start_with_listener(cfg, target, listener).await
    }

    /// Like [`Consensus::start`], with the peer listener already bound (tests and embedders
    /// that reserve ports up front).
    ///
    /// # Errors
    /// As [`Consensus::start`].
    pub async fn start_with_listener(
        cfg: ConsensusConfig,
        target: Arc<dyn ApplyTarget>,
        listener: TcpListener,
    ) -> Result<Consensus, ConsensusError> {
        cfg.validate()?;
        let raft_config = Arc::new(cfg.openraft_config()?);
        let local_addr = listener
            .local_addr()
            .map_err(|source| ConsensusError::Listen {
                addr: cfg.members.get(&cfg.node_id).cloned().unwrap_or_default(),
                source,
            })?;
        let wal_dir = cfg.log_dir.clone();
        let snap_dir = cfg.snapshot_dir.clone();
        let wal_opts = WalOptions {
            segment_bytes: cfg.tuning.wal_segment_bytes,
            ..WalOptions::default()
        };
        let (wal, snapshots, latest) = tokio::task::spawn_blocking(move || {
            let wal = Wal::open(&wal_dir, wal_opts)?;
            let snapshots = match SnapshotStore::open(&snap_dir) {
                Ok(s) => s,
                Err(e) => {
                    wal.close();
                    return Err(ConsensusError::from(e));
                }
            };
            match snapshots.latest() {
                Ok(latest) => Ok((wal, snapshots, latest)),
                Err(e) => {
                    wal.close();
                    Err(ConsensusError::from(e))
                }
            }
        })
        .await
        .map_err(|e| ConsensusError::Raft(e.to_string()))??;

        let sm = StateMachine::new(
            target.clone(),
            snapshots.clone(),
            latest,
            cfg.snapshot_interval(),
        );
        let applied = sm.applied();
        let want_snapshot = sm.snapshot_wanted();
        let builds = sm.builds();
        let pool = Arc::new(PeerPool::new(cfg.node_id, cfg.members.clone()));
        let network = NetworkFactory { pool: pool.clone() };
        let raft = match Raft::new(
            cfg.node_id,
            raft_config,
            network,
            LogStore::new(wal.clone()),
            sm,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                wal.close();
                return Err(ConsensusError::Raft(e.to_string()));
            }
        };

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let contact = Arc::new(Contact::default());
        let server = Arc::new(ServerCtx {
            my_id: cfg.node_id,
            members: cfg.members.keys().copied().collect::<BTreeSet<_>>(),
            raft: raft.clone(),
            snapshots: snapshots.clone(),
            read_timeout: Duration::from_millis(cfg.timing().election_max_ms * 2),
            failover: Failover::new(
                cfg.node_id,
                cfg.members.clone(),
                Duration::from_millis(cfg.timing().heartbeat_ms),
                raft.clone(),
            ),
            target,
            contact: contact.clone(),
        });
        let mut tasks = vec![tokio::spawn(peer_server::serve(
            listener,
            server,
            shutdown_rx.clone(),
        ))];

        let inner = Arc::new(Inner {
            id: cfg.node_id,
            cfg,
            raft,
            wal,
            snapshots,
            pool,
            applied,
            shutdown_tx,
            tasks: Mutex::new(Vec::new()),
            builds,
            local_addr,
            stopped: AtomicBool::new(false),
            contact,
        });
        let this = Consensus { inner };
        tasks.push(this.spawn_snapshotter(want_snapshot, shutdown_rx.clone()));
        if this.inner.cfg.purge_interval_hours > 0 {
            tasks.push(this.spawn_purger(shutdown_rx));
        }
        if let Ok(mut g) = this.inner.tasks.lock() {
            g.extend(tasks);
        }
        match this.bootstrap().await {
            Ok(Some(t)) => {
                if let Ok(mut g) = this.inner.tasks.lock() {
                    g.push(t);
                }
                Ok(this)
            }
            Ok(None) => Ok(this),
            Err(e) => {
                this.shutdown().await;
                Err(e)
            }
        }
    }

    /// Forms the cluster if it never was: the lowest id at once, the others after a grace
    /// period if nobody contacted them.
    async fn bootstrap(&self) -> Result<Option<JoinHandle<()>>, ConsensusError> {
        let raft = &self.inner.raft;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        if initialized {
            return Ok(None);
        }
        let nodes: BTreeMap<u64, BasicNode> = self
            .inner
            .cfg
            .members
            .iter()
            .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
            .collect();
        let lowest = self.inner.cfg.members.keys().next().copied();
        if lowest == Some(self.inner.id) {
            initialize(raft, nodes).await?;
            return Ok(None);
        }
        let raft = raft.clone();
        let grace = self.inner.cfg.tuning.bootstrap_grace;
        let mut shutdown = self.inner.shutdown_tx.subscribe();
        Ok(Some(tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = stopped(&mut shutdown) => return,
            }
            let pristine = matches!(raft.is_initialized().await, Ok(false));
            if pristine {
                tracing::warn!("no contact from the cluster within the bootstrap grace; offering the initial membership");
                if let Err(e) = initialize(&raft, nodes).await {
                    tracing::warn!(error = %e, "late initialization failed");
                }
            }
        })))
    }

    /// Asks openraft for a snapshot whenever the state machine has applied another
    /// `snapCount` transactions (openraft's own policy counts log entries, and one entry may
    /// hold thousands of transactions).
    fn spawn_snapshotter(
        &self,
        want: Arc<tokio::sync::Notify>,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let raft = self.inner.raft.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = want.notified() => {}
                    _ = stopped(&mut shutdown) => return,
                }
                let mut m = raft.metrics();
                let applied = m.borrow_watched().last_applied.map(|l| l.index);
                if let Err(e) = raft.trigger().snapshot().await {
                    tracing::warn!(error = %e, "could not ask for a snapshot");
                    return;
                }
                // openraft drops a request made while a snapshot is being built. Wait (bounded:
                // a failed build reports the older snapshot) until this one covers what was
                // applied when it was asked for; a request notified meanwhile is kept by the
                // Notify and served next, not lost.
                let built = tokio::time::timeout(SNAPSHOT_WAIT, async {
                    while m.borrow_watched().snapshot.map(|l| l.index) < applied {
                        if m.changed().await.is_err() {
                            return;
                        }
                    }
                });
                tokio::select! {
                    _ = built => {}
                    _ = stopped(&mut shutdown) => return,
                }
            }
        })
    }

    fn spawn_purger(&self, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let period = Duration::from_secs(self.inner.cfg.purge_interval_hours.saturating_mul(3600));
        let keep = self.inner.cfg.snap_retain_count.max(3);
        let store = self.inner.snapshots.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(Instant::now() + period, period);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped(&mut shutdown) => return,
                }
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store.retain(keep)).await {
                    Ok(Ok(n)) => tracing::info!(deleted = n, keep, "snapshot purge done"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "snapshot purge failed"),
                    Err(e) => tracing::warn!(error = %e, "snapshot purge task failed"),
                }
            }
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> u64 {
        self.inner.id
    }

    /// The address the peer server listens on.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    fn check_running(&self) -> Result<(), ProposeError> {
        if self.inner.stopped.load(Ordering::Acquire) {
            return Err(ProposeError::Shutdown);
        }
        Ok(())
    }

    fn fatal(&self, e: impl std::fmt::Display) -> ProposeError {
        if self.inner.stopped.load(Ordering::Acquire) {
            ProposeError::Shutdown
        } else {
            ProposeError::Fatal(e.to_string())
        }
    }

    /// Appends `payload` to the replicated log and returns its index once it is committed
    /// (on the leader: once applied there). On a follower the request is forwarded to the
    /// leader. While no leader is known or reachable, retries for
    /// [`super::Tuning::request_timeout`]. The caller then waits for its own replica to
    /// apply the index ([`Consensus::wait_applied`]) before answering its client.
    ///
    /// # Errors
    /// [`ProposeError::NoLeader`] / [`ProposeError::NotLeader`] after the bounded retry;
    /// [`ProposeError::Indeterminate`] when the entry may or may not commit (the connection
    /// to the leader broke after sending, or the leader changed after appending);
    /// [`ProposeError::Fatal`]; [`ProposeError::Shutdown`].
    ///
    /// # Cancellation safety
    /// Dropping the future does not withdraw a proposal that was already sent.
    pub async fn propose(&self, payload: Vec<u8>) -> Result<u64, ProposeError> {
        let deadline = Instant::now() + self.inner.cfg.tuning.request_timeout;
        loop {
            self.check_running()?;
            let leader = self.leader_id();
            match leader {
                Some(l) if l == self.inner.id => {
                    // Bounded: a leader cut off from its quorum never commits, and a client
                    // must learn that (ConnectionLoss) instead of waiting for the cut to heal.
                    let write = self.inner.raft.client_write(AppPayload(payload.clone()));
                    match tokio::time::timeout(self.call_bound(deadline), write).await {
                        Ok(Ok(resp)) => return Ok(resp.log_id.index),
                        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {}
                        Ok(Err(RaftError::APIError(e))) => {
                            return Err(ProposeError::Indeterminate(e.to_string()))
                        }
                        Ok(Err(RaftError::Fatal(e))) => return Err(self.fatal(e)),
                        Err(_) => {
                            return Err(ProposeError::Indeterminate(format!(
                                "not committed within {:?} (no quorum?)",
                                self.inner.cfg.contact_limit()
                            )))
                        }
                    }
                }
                Some(l) => {
                    let forward = Request::Forward {
                        payload: payload.clone(),
                    };
                    match self.call_leader_while_it_leads(l, forward, deadline).await {
                        Ok(Ok(i)) => return Ok(i),
                        Ok(Err(ForwardError::NotLeader { .. }))
                        | Ok(Err(ForwardError::Unavailable(_))) => {}
                        Ok(Err(ForwardError::Indeterminate(e))) => {
                            return Err(ProposeError::Indeterminate(e))
                        }
                        Err(e) if e.not_sent() => {}
                        Err(e) => return Err(ProposeError::Indeterminate(e.to_string())),
                    }
                }
                None => {}
            }
            self.pause_or_give_up(deadline, leader).await?;
        }
    }

    /// This node's leadership term, if it is the leader now. Proposals pipelined with
    /// [`Consensus::submit_as_leader`] under one term commit as a prefix: if a later one
    /// commits, every earlier one of the same term did.
    pub fn leader_term(&self) -> Option<LeaderTerm> {
        self.inner
            .raft
            .as_leader()
            .ok()
            .map(|l| LeaderTerm(l.to_committed_leader_id()))
    }

    /// Hands `payload` to the local raft core as the leader of `term` and returns at once with
    /// a future of its index (resolved when the entry is committed and applied here). Calls
    /// made one after another append their entries in that order, so a caller can keep several
    /// proposals in flight without reordering them; if this node is no longer the leader of
    /// `term` the entry is not appended and the future fails with
    /// [`ProposeError::NotLeader`].
    ///
    /// # Errors
    /// [`ProposeError::Fatal`] / [`ProposeError::Shutdown`] when the core is gone (nothing
    /// was appended). The returned future fails with [`ProposeError::NotLeader`] (not
    /// appended) or [`ProposeError::Indeterminate`] (appended, then leadership was lost).
    ///
    /// # Cancellation safety
    /// Dropping the returned future does not withdraw the proposal; dropping this call's own
    /// future before it returns may or may not have submitted it.
    pub async fn submit_as_leader(
        &self,
        payload: Vec<u8>,
        term: &LeaderTerm,
    ) -> Result<
        impl std::future::Future<Output = Result<u64, ProposeError>> + Send + 'static,
        ProposeError,
    > {
        self.check_running()?;
        let (responder, rx) = ProgressResponder::complete_only();
        self.inner
            .raft
            .write(AppPayload(payload))
            .with_leader(term.0)
            .responder(responder)
            .await
            .map_err(|e| self.fatal(e))?;
        let this = self.clone();
        Ok(async move {
            match rx.await {
                Ok(Ok(resp)) => Ok(resp.log_id.index),
                Ok(Err(ClientWriteError::ForwardToLeader(f))) => Err(ProposeError::NotLeader {
                    leader: f.leader_id,
                }),
                Ok(Err(e)) => Err(ProposeError::Indeterminate(e.to_string())),
                Err(_) => Err(this.fatal("raft core dropped a pending write")),
            }
        })
    }

    /// Returns an index such that once this node has applied it, local reads are
    /// linearizable. The leader confirms its leadership with a quorum (openraft's read
    /// index); a follower asks the leader. Retries like [`Consensus::propose`].
    ///
    /// # Errors
    /// As [`Consensus::propose`], except that reads are never indeterminate.
    ///
    /// # Cancellation safety
    /// Safe to drop: nothing is written.
    pub async fn read_barrier(&self) -> Result<u64, ProposeError> {
        let deadline = Instant::now() + self.inner.cfg.tuning.request_timeout;
        loop {
            self.check_running()?;
            let leader = self.leader_id();
            match leader {
                Some(l) if l == self.inner.id => {
                    let lin = self.inner.raft.get_read_linearizer(ReadPolicy::ReadIndex);
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(remaining, lin).await {
                        Ok(Ok(lin)) => return Ok(lin.read_log_id().index()),
                        Ok(Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(_)))) => {
                        }
                        Ok(Err(RaftError::APIError(LinearizableReadError::QuorumNotEnough(_)))) => {
                        }
                        Ok(Err(RaftError::Fatal(e))) => return Err(self.fatal(e)),
                        Err(_) => {}
                    }
                }
                Some(l) => {
                    // Reads are idempotent: any failure is retried.
                    if let Ok(Ok(i)) = self
                        .call_leader_while_it_leads(l, Request::ReadIndex, deadline)
                        .await
                    {
                        return Ok(i);
                    }
                }
                None => {}
            }
            self.pause_or_give_up(deadline, leader).await?;
        }
    }

    /// Reports session activity seen here to the leader (see
    /// [`ApplyTarget::touch_sessions`]); on the leader itself there is nothing to report.
    /// Returns false when the report did not reach a leader (the caller keeps the sessions
    /// for the next report).
    ///
    /// # Cancellation safety
    /// Dropping the future may leave the report delivered or not; reports are idempotent.
    pub async fn report_touches(&self, sessions: Vec<i64>, timeout: Duration) -> bool {
        match self.leader_id() {
            Some(l) if l == self.inner.id => true,
            Some(l) => matches!(
                self.call_leader(l, Request::Touch { sessions }, timeout)
                    .await,
                Ok(Ok(_))
            ),
            None => false,
        }
    }

    /// How long one call to the leader may take: until `deadline`, but never longer than
    /// `syncLimit × tickTime` (a leader that does not answer within it has lost its quorum or
    /// is being replaced).
    fn call_bound(&self, deadline: Instant) -> Duration {
        deadline
            .saturating_duration_since(Instant::now())
            .min(self.inner.cfg.contact_limit())
    }

    /// Calls `leader` (bounded by [`Consensus::call_bound`]) and gives up as soon as this node
    /// learns of another leader or of an election: a silent leader must not hold a request,
    /// and the whole server's forwarding behind it, until it answers again.
    ///
    /// A call given up after it was sent is reported as [`CallError::Timeout`] (its fate is
    /// unknown).
    async fn call_leader_while_it_leads(
        &self,
        leader: u64,
        req: Request,
        deadline: Instant,
    ) -> Result<Result<u64, ForwardError>, CallError> {
        let bound = self.call_bound(deadline);
        let mut m = self.inner.raft.metrics();
        let deposed = async {
            loop {
                {
                    let w = m.borrow_watched();
                    if w.current_leader != Some(leader) || w.vote.leader_id.node_id != leader {
                        return;
                    }
                }
                if m.changed().await.is_err() {
                    return std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            r = self.call_leader(leader, req, bound) => r,
            _ = deposed => {
                tracing::info!(leader, "leader changed while a call to it was in flight; giving it up");
                Err(CallError::Timeout(leader, bound))
            }
        }
    }

    /// Whether this node is in contact with a quorum now (see the `contact` module): only
    /// then may it serve clients.
    pub fn quorum_contact(&self) -> bool {
        if self.inner.stopped.load(Ordering::Acquire) {
            return false;
        }
        if self.inner.cfg.members.len() <= 1 {
            return true;
        }
        let limit = self.inner.cfg.contact_limit();
        let m = self.inner.raft.metrics();
        let m = m.borrow_watched();
        // A leader's quorum acks start with its first heartbeat round; until then (a few ms
        // after its election) the contact it had as a follower still counts, so winning an
        // election does not close its clients' connections.
        let follower_contact = self.inner.contact.heard_within(limit);
        if m.state == ServerState::Leader && m.current_leader == Some(self.inner.id) {
            follower_contact
                || m.last_quorum_acked
                    .as_ref()
                    .is_some_and(|t| openraft::Instant::elapsed(&**t) <= limit)
        } else {
            follower_contact
        }
    }

    async fn call_leader(
        &self,
        leader: u64,
        req: Request,
        timeout: Duration,
    ) -> Result<Result<u64, ForwardError>, CallError> {
        let client = self.inner.pool.get(leader, "", Lane::Client);
        match client
            .call(req, timeout.max(Duration::from_millis(1)))
            .await?
        {
            Response::Index(r) => Ok(r),
            other => Err(CallError::Closed(leader, format!("unexpected {other:?}"))),
        }
    }

    async fn pause_or_give_up(
        &self,
        deadline: Instant,
        leader: Option<u64>,
    ) -> Result<(), ProposeError> {
        let now = Instant::now();
        if now >= deadline {
            return Err(match leader {
                Some(l) => ProposeError::NotLeader { leader: Some(l) },
                None => ProposeError::NoLeader,
            });
        }
        let mut m = self.inner.raft.metrics();
        let wake = (now + RETRY_PAUSE).min(deadline);
        // Wake early when the leader changes.
        let _ = tokio::time::timeout_at(wake, async {
            loop {
                if m.changed().await.is_err() {
                    return;
                }
                if m.borrow_watched().current_leader != leader {
                    return;
                }
            }
        })
        .await;
        Ok(())
    }

    /// Waits until this node has applied `index` (or more) and returns the applied index.
    ///
    /// # Errors
    /// [`ProposeError::Timeout`], or [`ProposeError::Shutdown`] when the node stops.
    ///
    /// # Cancellation safety
    /// Safe to drop.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<u64, ProposeError> {
        let mut rx = self.inner.applied.clone();
        let res = tokio::time::timeout(timeout, async {
            rx.wait_for(|a| *a >= index).await.map(|v| *v)
        })
        .await;
        match res {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ProposeError::Shutdown),
            Err(_) => Err(ProposeError::Timeout),
        }
    }

    /// A watch of the locally applied index.
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.inner.applied.clone()
    }

    /// Whether this node currently believes it is the leader.
    pub fn is_leader(&self) -> bool {
        let m = self.inner.raft.metrics();
        let m = m.borrow_watched();
        m.state == ServerState::Leader && m.current_leader == Some(self.inner.id)
    }

    /// The leader this node currently follows, if known.
    pub fn leader_id(&self) -> Option<u64> {
        self.inner.raft.metrics().borrow_watched().current_leader
    }

    /// The highest log index applied locally.
    pub fn applied_index(&self) -> u64 {
        *self.inner.applied.borrow()
    }

    /// The highest log index known to be committed.
    pub fn committed_index(&self) -> u64 {
        self.inner
            .raft
            .metrics()
            .borrow_watched()
            .local_committed
            .map_or(0, |l| l.index)
    }

    /// A metrics snapshot for `mntr` / `srvr`.
    pub fn metrics(&self) -> ConsensusMetrics {
        let m = self.inner.raft.metrics().borrow_watched().clone();
        let role = if self.inner.stopped.load(Ordering::Acquire) || m.running_state.is_err() {
            Role::Shutdown
        } else {
            match m.state {
                ServerState::Leader => Role::Leader,
                ServerState::Follower => Role::Follower,
                ServerState::Candidate => Role::Candidate,
                ServerState::Learner => Role::Learner,
                ServerState::Shutdown => Role::Shutdown,
            }
        };
        let followers = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(id, _)| **id != self.inner.id)
                    .map(|(id, l)| (*id, l.map(|l| l.index)))
                    .collect()
            })
            .unwrap_or_default();
        ConsensusMetrics {
            node_id: self.inner.id,
            role,
            term: m.current_term,
            leader_id: m.current_leader,
            last_log_index: m.last_log_index.unwrap_or(0),
            committed_index: m.local_committed.map_or(0, |l| l.index),
            applied_index: self.applied_index(),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            followers,
            voters: m.membership_config.membership().voter_ids().count(),
            wal: self.inner.wal.stats(),
        }
    }

    /// Asks the leader (this node) to hand leadership to member `to` (rolling restarts,
    /// admin). Returns once the request is submitted; watch [`Consensus::leader_id`].
    ///
    /// # Errors
    /// [`ProposeError::NotLeader`] when this node is not the leader; [`ProposeError::Fatal`].
    pub async fn transfer_leadership(&self, to: u64) -> Result<(), ProposeError> {
        self.check_running()?;
        if !self.is_leader() {
            return Err(ProposeError::NotLeader {
                leader: self.leader_id(),
            });
        }
        self.inner
            .raft
            .trigger()
            .transfer_leader(to)
            .await
            .map_err(|e| self.fatal(e))
    }

    /// Asks openraft to take a snapshot now (tests, admin).
    ///
    /// # Errors
    /// [`ProposeError::Fatal`] / [`ProposeError::Shutdown`] when raft has stopped.
    pub async fn trigger_snapshot(&self) -> Result<(), ProposeError> {
        self.inner
            .raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| self.fatal(e))
    }

    /// Deletes all but the newest `keep` snapshot files now (what the periodic purge does).
    ///
    /// # Errors
    /// On I/O errors.
    pub fn purge_snapshots(&self, keep: usize) -> Result<usize, crate::storage::SnapshotError> {
        self.inner.snapshots.retain(keep)
    }

    /// Stops the node: raft, the peer server and connections, then flushes and closes the
    /// log. Idempotent.
    pub async fn shutdown(&self) {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.inner.shutdown_tx.send(true);
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        let tasks = self
            .inner
            .tasks
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default();
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        // A snapshot openraft started building is still writing its file: let it finish, so
        // nothing writes into the data directory once shutdown has returned.
        if tokio::time::timeout(SNAPSHOT_WAIT, self.inner.builds.idle())
            .await
            .is_err()
        {
            tracing::warn!("a snapshot build did not finish within {SNAPSHOT_WAIT:?} of shutdown");
        }
        self.inner.pool.clear();
        let wal = self.inner.wal.clone();
        let _ = tokio::task::spawn_blocking(move || wal.close()).await;
    }
}

async fn initialize(raft: &Raft, nodes: BTreeMap<u64, BasicNode>) -> Result<(), ConsensusError> {
    match raft.initialize(nodes).await {
        Ok(()) => Ok(()),
        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
        Err(e) => Err(ConsensusError::Raft(e.to_string())),
    }
}
