//! Leader election with Curator's `LeaderLatch` layout.
//!
//! Each participant creates `{path}/_c_<uuid>-latch-<seq10>` (EPHEMERAL_SEQUENTIAL,
//! protected mode, container parents) holding its id (UTF-8). The leader is the participant
//! whose node sorts first **and** whose node's ephemeralOwner is our current session
//! (CURATOR-696); every other participant getData-watches its predecessor. Rust and Java
//! (Curator) participants can share a latch path.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use zk_core::{Client, Error, OneshotWatcher};

use crate::protected::{create_protected, guaranteed_delete, join, node_name, sort_children};
use crate::retry::RetryPolicy;
use crate::state::ErrorPolicy;

/// Curator's node name for latches.
pub const LATCH_NAME: &str = "latch-";

/// A change of leadership, as delivered by [`LeaderLatch::leadership_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadershipEvent {
    /// We are the leader; `token` is the fencing token (czxid of our latch node).
    Leader {
        /// The fencing token.
        token: i64,
    },
    /// We are not (or no longer) the leader.
    NotLeader,
}

/// How [`LeaderLatch::close`] treats listeners (Curator's `CloseMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloseMode {
    /// Event streams end without a final event.
    #[default]
    Silent,
    /// If we were the leader, event streams get a last [`LeadershipEvent::NotLeader`].
    NotifyLeader,
}

/// One participant of a latch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The id it registered (its node's data, UTF-8).
    pub id: String,
    /// Whether it is the leader (its node sorts first).
    pub is_leader: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status {
    /// The fencing token while leader.
    leader: Option<i64>,
    closed: bool,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    path: String,
    id: String,
    retry: RetryPolicy,
    policy: ErrorPolicy,
    status: watch::Sender<Status>,
    subscribers: StdMutex<Vec<mpsc::UnboundedSender<LeadershipEvent>>>,
    node: StdMutex<Option<String>>,
}

/// A leader latch on one path; see the module docs.
#[derive(Debug)]
pub struct LeaderLatch {
    inner: Arc<Inner>,
    task: StdMutex<Option<JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn set_leader(&self, token: Option<i64>) {
        let changed = self.status.send_if_modified(|s| {
            let changed = !s.closed && s.leader != token;
            if changed {
                s.leader = token;
            }
            changed
        });
        if changed {
            let ev = match token {
                Some(token) => LeadershipEvent::Leader { token },
                None => LeadershipEvent::NotLeader,
            };
            tracing::debug!(path = %self.path, id = %self.id, event = ?ev, "leadership changed");
            lock(&self.subscribers).retain(|s| s.send(ev).is_ok());
        }
    }

    fn node(&self) -> Option<String> {
        lock(&self.node).clone()
    }
}

/// What the latch loop waits for next.
enum Next {
    /// A watch that fires when something relevant changes.
    Watch(OneshotWatcher),
    /// Look again at once.
    Again,
    /// Our node is gone or not ours: make a new one.
    Reset,
}

impl LeaderLatch {
    /// A latch on `path` for participant `id`, using `client`'s session, with the default
    /// retry policy and [`ErrorPolicy::Standard`]. Nothing happens until [`LeaderLatch::start`].
    pub fn new(client: Client, path: impl Into<String>, id: impl Into<String>) -> Self {
        Self::build(
            client,
            path.into(),
            id.into(),
            RetryPolicy::default(),
            ErrorPolicy::default(),
        )
    }

    /// Like [`LeaderLatch::new`] with an explicit retry and error policy.
    ///
    /// Under [`ErrorPolicy::Session`] leadership survives a disconnection, and is lost when
    /// the session ends — or, as in Curator, once the client has been disconnected for a
    /// whole session timeout, by when the server has expired it (give or take a tick).
    pub fn with_policies(
        client: Client,
        path: impl Into<String>,
        id: impl Into<String>,
        retry: RetryPolicy,
        policy: ErrorPolicy,
    ) -> Self {
        Self::build(client, path.into(), id.into(), retry, policy)
    }

    fn build(
        client: Client,
        path: String,
        id: String,
        retry: RetryPolicy,
        policy: ErrorPolicy,
    ) -> Self {
        let (status, _) = watch::channel(Status {
            leader: None,
            closed: false,
        });
        let (stop, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                client,
                path,
                id,
                retry,
                policy,
                status,
                subscribers: StdMutex::new(Vec::new()),
                node: StdMutex::new(None),
            }),
            task: StdMutex::new(None),
            stop,
        }
    }

    /// Creates our latch node and starts taking part in the election in a background task.
    ///
    /// # Errors
    /// The create failed (session gone, or connection errors after the retry policy gave
    /// up); InvalidArgument when already started or closed.
    pub async fn start(&self) -> Result<(), Error> {
        if lock(&self.task).is_some() || self.inner.status.borrow().closed {
            return Err(Error::InvalidArgument("latch already started".into()));
        }
        let inner = &self.inner;
        let (node, _) = create_protected(
            &inner.client,
            &inner.path,
            LATCH_NAME,
            inner.id.as_bytes(),
            &inner.retry,
        )
        .await?;
        *lock(&inner.node) = Some(node);
        let (run_stop, timer_stop) = (self.stop.subscribe(), self.stop.subscribe());
        let (run_inner, timer_inner) = (inner.clone(), inner.clone());
        let task = tokio::spawn(async move {
            tokio::join!(
                run(run_inner, run_stop),
                session_timer(timer_inner, timer_stop)
            );
        });
        *lock(&self.task) = Some(task);
        Ok(())
    }

    /// Our participant id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The latch's directory.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The full path of our latch node, once created.
    pub fn our_path(&self) -> Option<String> {
        self.inner.node()
    }

    /// Whether we are the leader now.
    pub fn has_leadership(&self) -> bool {
        self.inner.status.borrow().leader.is_some()
    }

    /// The fencing token while we lead: the czxid of our latch node. Successive leaders of a
    /// latch path get strictly increasing tokens.
    pub fn fencing_token(&self) -> Option<i64> {
        self.inner.status.borrow().leader
    }

    /// Waits until we are the leader.
    ///
    /// # Errors
    /// Closed when the latch is closed (or its session ends) first.
    pub async fn await_leadership(&self) -> Result<(), Error> {
        let mut rx = self.inner.status.subscribe();
        let leader = match rx.wait_for(|s| s.leader.is_some() || s.closed).await {
            Ok(s) => s.leader.is_some(),
            Err(_) => false,
        };
        if leader {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// Waits at most `timeout` for leadership; `Ok(false)` if we do not lead by then.
    ///
    /// # Errors
    /// As [`LeaderLatch::await_leadership`].
    pub async fn await_leadership_timeout(&self, timeout: Duration) -> Result<bool, Error> {
        match tokio::time::timeout(timeout, self.await_leadership()).await {
            Ok(r) => r.map(|()| true),
            Err(_) => Ok(false),
        }
    }

    /// Every leadership change, starting with the current state; ends when the latch closes.
    pub fn leadership_events(&self) -> impl Stream<Item = LeadershipEvent> + Send + Unpin {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = *self.inner.status.borrow();
        if !status.closed {
            let first = match status.leader {
                Some(token) => LeadershipEvent::Leader { token },
                None => LeadershipEvent::NotLeader,
            };
            let _ = tx.send(first);
            lock(&self.inner.subscribers).push(tx);
        }
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|e| (e, rx))
        }))
    }

    /// Every participant, leader first, read from the latch's nodes.
    ///
    /// # Errors
    /// Connection or session errors.
    pub async fn participants(&self) -> Result<Vec<Participant>, Error> {
        participants(&self.inner.client, &self.inner.path).await
    }

    /// The current leader, if any participant exists.
    ///
    /// # Errors
    /// Connection or session errors.
    pub async fn leader(&self) -> Result<Option<Participant>, Error> {
        Ok(self.participants().await?.into_iter().next())
    }

    /// Leaves the election: stops the background task, deletes our node (retried until
    /// confirmed or the session is gone) and gives up leadership.
    ///
    /// # Errors
    /// A non-retryable delete error, or the terminal session error (then the server removes
    /// the node with the session).
    pub async fn close(&self, mode: CloseMode) -> Result<(), Error> {
        let _ = self.stop.send(true);
        let task = lock(&self.task).take();
        if let Some(t) = task {
            let _ = t.await;
        }
        let inner = &self.inner;
        if mode == CloseMode::NotifyLeader {
            inner.set_leader(None);
        }
        inner.status.send_modify(|s| {
            s.leader = None;
            s.closed = true;
        });
        lock(&inner.subscribers).clear();
        let node = lock(&inner.node).take();
        match node {
            Some(n) => guaranteed_delete(&inner.client, &n, &inner.retry).await,
            None => Ok(()),
        }
    }
}

impl Drop for LeaderLatch {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
        if let Some(n) = lock(&self.inner.node).take() {
            crate::protected::spawn_guaranteed_delete(
                self.inner.client.clone(),
                n,
                self.inner.retry.clone(),
            );
        }
    }
}

/// Every participant of the latch at `path`, leader first.
///
/// # Errors
/// Connection or session errors.
pub async fn participants(client: &Client, path: &str) -> Result<Vec<Participant>, Error> {
    let mut children = match client.get_children(path).await {
        Ok(c) => c,
        Err(Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    sort_children(&mut children, LATCH_NAME);
    let mut out = Vec::with_capacity(children.len());
    for c in &children {
        match client.get_data(&join(path, c)).await {
            Ok((data, _)) => out.push(Participant {
                id: String::from_utf8_lossy(&data).into_owned(),
                is_leader: out.is_empty(),
            }),
            Err(Error::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// One look at the latch: become leader or watch the predecessor.
async fn check(inner: &Inner, node: &str) -> Result<Next, Error> {
    let client = &inner.client;
    let mut children = match client.get_children(&inner.path).await {
        Ok(c) => c,
        Err(Error::NoNode) => return Ok(Next::Reset), // CURATOR-724
        Err(e) => return Err(e),
    };
    sort_children(&mut children, LATCH_NAME);
    let ours = node_name(node);
    let Some(idx) = children.iter().position(|c| c == ours) else {
        return Ok(Next::Reset);
    };
    if idx == 0 {
        let (stat, w) = client.exists_w(node).await?;
        match stat {
            Some(stat) if stat.ephemeral_owner == client.session_id() => {
                inner.set_leader(Some(stat.czxid));
                Ok(Next::Watch(w))
            }
            Some(_) => {
                // First, but not our session's node (CURATOR-696): never lead on it.
                inner.set_leader(None);
                Ok(Next::Reset)
            }
            None => Ok(Next::Reset),
        }
    } else {
        inner.set_leader(None);
        let pred = join(&inner.path, &children[idx - 1]);
        match client.get_data_w(&pred).await {
            Ok((_, _, w)) => Ok(Next::Watch(w)),
            Err(Error::NoNode) => Ok(Next::Again),
            Err(e) => Err(e),
        }
    }
}

/// The latch's background task: look, wait, repeat, until stopped or the session ends.
async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let client = inner.client.clone();
    let mut states = client.state_stream();
    let mut delays = inner.retry.delays();
    loop {
        if *stop.borrow() {
            return;
        }
        let node = match inner.node() {
            Some(n) => n,
            None => {
                match create_protected(
                    &client,
                    &inner.path,
                    LATCH_NAME,
                    inner.id.as_bytes(),
                    &inner.retry,
                )
                .await
                {
                    Ok((n, _)) => {
                        *lock(&inner.node) = Some(n.clone());
                        n
                    }
                    Err(e) => {
                        if client.state().is_terminal() {
                            return end(&inner);
                        }
                        tracing::warn!(path = %inner.path, error = %e, "latch: create failed");
                        backoff(&mut delays).await;
                        continue;
                    }
                }
            }
        };
        let next = match check(&inner, &node).await {
            Ok(n) => {
                delays = inner.retry.delays();
                n
            }
            Err(e) => {
                if client.state().is_terminal() {
                    return end(&inner);
                }
                tracing::debug!(path = %inner.path, error = %e, "latch: check failed");
                if inner.policy.is_lost(client.state()) {
                    inner.set_leader(None);
                }
                // Wait for a state change or a short pause, then look again.
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = backoff(&mut delays) => {}
                }
                continue;
            }
        };
        let watcher = match next {
            Next::Again => continue,
            Next::Reset => {
                inner.set_leader(None);
                let old = lock(&inner.node).take();
                if let Some(old) = old {
                    let _ = guaranteed_delete(&client, &old, &inner.retry).await;
                }
                continue;
            }
            Next::Watch(w) => w,
        };
        // Wait for the watch, a session state change, or stop.
        let mut watcher = watcher;
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = &mut watcher => break,
                s = states.next() => match s {
                    None => return end(&inner),
                    Some(s) if s.is_terminal() => return end(&inner),
                    Some(s) => {
                        if inner.policy.is_lost(s) {
                            inner.set_leader(None);
                        }
                        if s.is_connected() {
                            break; // re-check after (re)connecting
                        }
                    }
                },
            }
        }
    }
}

/// Under [`ErrorPolicy::Session`], gives leadership up once the client has been disconnected
/// for a whole (negotiated) session timeout: the server has expired the session by then (or
/// will at its next tick) even though the client cannot hear it, so leading on would overlap
/// the next leader for as long as the partition lasts. Curator injects a session expiration
/// at the same point. If the client gets through again with its session alive, the latch's
/// next check leads again on the same node (nobody can have passed it meanwhile).
async fn session_timer(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    if inner.policy != ErrorPolicy::Session {
        return;
    }
    let mut states = inner.client.state_stream();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            s = states.next() => match s {
                None => return,
                Some(s) if s.is_terminal() => return,
                Some(s) if s.is_connected() => deadline = None,
                Some(_) => {
                    if deadline.is_none() {
                        let t = inner.client.session_timeout();
                        deadline = Some(tokio::time::Instant::now() + t);
                    }
                }
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() => {
                tracing::warn!(path = %inner.path, id = %inner.id,
                    "latch: disconnected for a whole session timeout; leadership lost");
                inner.set_leader(None);
                deadline = None;
            }
        }
    }
}

/// The session is gone: leadership is lost for good.
fn end(inner: &Inner) {
    inner.set_leader(None);
    lock(&inner.node).take();
    inner.status.send_modify(|s| s.closed = true);
    lock(&inner.subscribers).clear();
}

async fn backoff(delays: &mut Box<dyn Iterator<Item = Duration> + Send>) {
    let d = delays.next().unwrap_or(Duration::from_secs(1));
    tokio::time::sleep(d).await;
}
