//! A shared integer with Curator's `SharedCount` layout: one node whose data is the count as a
//! 4-byte big-endian int, so Rust and Java (Curator) processes can share it.
//!
//! [`SharedCount::start`] creates the node with the seed value when it is missing (parents as
//! containers), reads it and leaves a getData watch. A background task keeps the local value
//! current: every watch event reads the node again (re-arming the watch), and so does every
//! reconnection (Curator re-reads on each connected state). The local value only moves
//! forward (a read never replaces a newer version), and changes are published on a watch
//! channel ([`SharedCount::subscribe`], [`SharedCount::changes`]), so subscribers see the
//! latest value, not necessarily every intermediate one.
//!
//! [`SharedCount::try_set_count`] is Curator's compare-and-set: it fails at once when the
//! given value is not the current local one, otherwise it sets the node's data on the given
//! node version; on BadVersion it reads the node so the local value is fresh again.
//!
//! Curator's `SharedCountListener.stateChanged` has no counterpart here: read the session's
//! states with [`Client::state_stream`]. Beyond Curator, a deleted node is watched for
//! re-creation (Curator stops watching it), and the change stream ends when the count is
//! closed or its session ends (the value can no longer be kept current).

use std::sync::{Arc, Mutex as StdMutex};

use futures::{Stream, StreamExt};
use tokio::sync::{oneshot, watch};
use zk_core::{Client, CreateMode, CreateOptions, Error, EventType, OneshotWatcher, Stat};

use crate::protected::ensure_containers;
use crate::retry::RetryPolicy;
use crate::state::watch_stream;

/// A count and the node version it was read at (Curator's `VersionedValue<Integer>`). Only a
/// [`SharedCount`] hands these out; pass one back to [`SharedCount::try_set_count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionedCount {
    version: i32,
    count: i32,
}

impl VersionedCount {
    /// The node's data version this count was read at (-1 before the first read).
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The count.
    pub fn count(&self) -> i32 {
        self.count
    }
}

/// The count as Curator stores it: 4 bytes, big-endian.
pub fn to_bytes(count: i32) -> [u8; 4] {
    count.to_be_bytes()
}

/// The count in `data` as Curator reads it (`ByteBuffer.getInt`: the first 4 bytes,
/// big-endian); `None` when there are fewer than 4 bytes.
pub fn from_bytes(data: &[u8]) -> Option<i32> {
    let b: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Latent,
    Starting,
    Started,
    Closed,
}

/// A shared integer on one node; see the module docs. Clones share the local value and the
/// background task; the task stops when the last clone is dropped or on
/// [`SharedCount::close`].
#[derive(Debug, Clone)]
pub struct SharedCount {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    path: String,
    seed: i32,
    retry: RetryPolicy,
    value: Arc<Value>,
    rx: watch::Receiver<VersionedCount>,
    phase: StdMutex<Phase>,
    /// Dropping it stops the background task.
    stop: StdMutex<Option<oneshot::Sender<()>>>,
}

/// The local value, shared by the handles and the background task. The sender is taken out
/// when the count is closed or its session ends, which ends every subscriber's stream.
#[derive(Debug)]
struct Value {
    inner: StdMutex<ValueInner>,
}

#[derive(Debug)]
struct ValueInner {
    tx: Option<watch::Sender<VersionedCount>>,
    /// The czxid of the node the value was read from: a re-created node starts again at
    /// version 0, and is still newer.
    czxid: i64,
}

impl Value {
    /// Curator's `updateValue`: takes the value read or written with `stat` only if it is
    /// newer than the current one (a later version of the same node, or a re-created node);
    /// returns whether it did.
    fn update(&self, stat: &Stat, count: i32) -> bool {
        let mut inner = lock(&self.inner);
        let czxid = inner.czxid;
        let Some(tx) = inner.tx.as_ref() else {
            return false;
        };
        let newer = tx.send_if_modified(|cur| {
            let newer = stat.czxid > czxid || (stat.czxid == czxid && stat.version > cur.version);
            if newer {
                *cur = VersionedCount {
                    version: stat.version,
                    count,
                };
            }
            newer
        });
        if newer {
            inner.czxid = stat.czxid;
        }
        newer
    }

    fn close(&self) {
        lock(&self.inner).tx.take();
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SharedCount {
    /// A shared count on `path` using `client`'s session; `seed` is the value the node is
    /// created with if it does not exist yet. Nothing is sent until [`SharedCount::start`].
    pub fn new(client: Client, path: impl Into<String>, seed: i32) -> Self {
        let initial = VersionedCount {
            version: -1,
            count: seed,
        };
        let (tx, rx) = watch::channel(initial);
        Self {
            inner: Arc::new(Inner {
                client,
                path: path.into(),
                seed,
                retry: RetryPolicy::default(),
                value: Arc::new(Value {
                    inner: StdMutex::new(ValueInner {
                        tx: Some(tx),
                        czxid: 0,
                    }),
                }),
                rx,
                phase: StdMutex::new(Phase::Latent),
                stop: StdMutex::new(None),
            }),
        }
    }

    /// Sets the retry policy for reads, creates and unconditional sets that fail with
    /// connection loss.
    ///
    /// # Panics
    /// When another clone of this handle exists.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("configured before cloning")
            .retry = retry;
        self
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Whether [`SharedCount::start`] succeeded (and [`SharedCount::close`] was not called).
    pub fn is_started(&self) -> bool {
        *lock(&self.inner.phase) == Phase::Started
    }

    /// Creates the node with the seed value if it is missing (missing parents as containers),
    /// reads it with a watch, and starts keeping the local value current.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when started before (or closed), or when the node's data
    /// is not a 4-byte count; create or read errors (NoAuth, connection errors once the
    /// retry policy gives up, session errors). After an error the count can be started again.
    ///
    /// # Cancellation safety
    /// Safe: a cancelled start leaves the count unstarted (the node may have been created).
    pub async fn start(&self) -> Result<(), Error> {
        {
            let mut phase = lock(&self.inner.phase);
            if *phase != Phase::Latent {
                return Err(Error::InvalidArgument(
                    "a SharedCount can be started only once".into(),
                ));
            }
            *phase = Phase::Starting;
        }
        // Back to Latent unless we get to Started (error or cancellation).
        struct Unstart<'a>(&'a StdMutex<Phase>);
        impl Drop for Unstart<'_> {
            fn drop(&mut self) {
                let mut phase = lock(self.0);
                if *phase == Phase::Starting {
                    *phase = Phase::Latent;
                }
            }
        }
        let _unstart = Unstart(&self.inner.phase);
        let watcher = self.start_inner().await?;
        let mut phase = lock(&self.inner.phase);
        if *phase != Phase::Starting {
            // Closed meanwhile.
            return Err(Error::Closed);
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        *lock(&self.inner.stop) = Some(stop_tx);
        *phase = Phase::Started;
        tokio::spawn(refresh(
            self.inner.client.clone(),
            self.inner.path.clone(),
            self.inner.retry.clone(),
            self.inner.value.clone(),
            Some(watcher),
            stop_rx,
        ));
        Ok(())
    }

    async fn start_inner(&self) -> Result<OneshotWatcher, Error> {
        let (client, path, retry) = (&self.inner.client, &self.inner.path, &self.inner.retry);
        let seed = to_bytes(self.inner.seed);
        let opts = CreateOptions::new(CreateMode::Persistent);
        loop {
            match retry.run(|| client.create(path, &seed, &opts)).await {
                Ok(_) | Err(Error::NodeExists) => break,
                Err(Error::NoNode) => match path.rsplit_once('/') {
                    Some((parent, _)) if !parent.is_empty() => {
                        retry.run(|| ensure_containers(client, parent)).await?;
                    }
                    _ => return Err(Error::NoNode),
                },
                Err(e) => return Err(e),
            }
        }
        match read(client, path, retry, &self.inner.value).await? {
            Read::Value(w) => Ok(w),
            Read::Malformed(w) => {
                drop(w);
                Err(Error::InvalidArgument(format!(
                    "{path} does not hold a 4-byte count"
                )))
            }
            // Deleted between our create and read: a later start may find it again.
            Read::Missing(_) => Err(Error::NoNode),
        }
    }

    /// Stops keeping the value current and ends every change stream; the last value stays
    /// readable. Sets fail afterwards.
    pub fn close(&self) {
        *lock(&self.inner.phase) = Phase::Closed;
        lock(&self.inner.stop).take();
        self.inner.value.close();
    }

    /// The current count as last seen (the seed before the first read).
    pub fn count(&self) -> i32 {
        self.inner.rx.borrow().count
    }

    /// The current count with the node version it was read at, for
    /// [`SharedCount::try_set_count`].
    pub fn versioned(&self) -> VersionedCount {
        *self.inner.rx.borrow()
    }

    /// A receiver of the value: it is marked changed whenever a newer version is seen, and
    /// closed when the count is closed or its session ends.
    pub fn subscribe(&self) -> watch::Receiver<VersionedCount> {
        self.inner.rx.clone()
    }

    /// The current value, then every newer value seen (latest-value semantics: quick
    /// successive changes may show only the last); ends when the count is closed or its
    /// session ends.
    pub fn changes(&self) -> impl Stream<Item = VersionedCount> + Send + Unpin {
        watch_stream(self.inner.rx.clone())
    }

    /// Waits until `pred` holds for the local value and returns that value.
    ///
    /// # Errors
    /// [`Error::Closed`] when the count is closed or its session ends first.
    ///
    /// # Cancellation safety
    /// Safe.
    pub async fn wait_for(
        &self,
        mut pred: impl FnMut(VersionedCount) -> bool,
    ) -> Result<VersionedCount, Error> {
        let mut rx = self.inner.rx.clone();
        let v = rx.wait_for(|v| pred(*v)).await.map_err(|_| Error::Closed)?;
        Ok(*v)
    }

    fn check_started(&self) -> Result<(), Error> {
        if self.is_started() {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the SharedCount is not started".into(),
            ))
        }
    }

    /// Sets the count whatever its current value (Curator's `setCount`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when not started; NoNode when the node was deleted; NoAuth;
    /// connection errors once the retry policy gives up; session errors.
    ///
    /// # Cancellation safety
    /// The request is sent when called; cancelling only loses the answer (the local value
    /// then catches up through the watch).
    pub async fn set_count(&self, count: i32) -> Result<(), Error> {
        self.check_started()?;
        let (client, path) = (&self.inner.client, &self.inner.path);
        let data = to_bytes(count);
        let stat = self
            .inner
            .retry
            .run(|| client.set_data(path, &data, None))
            .await?;
        self.inner.value.update(&stat, count);
        Ok(())
    }

    /// Sets the count to `count` only if the node is still at `previous` (Curator's
    /// `trySetCount(VersionedValue, int)`): `Ok(false)` at once when `previous` is not the
    /// current local value, and `Ok(false)` when the node's version moved on (then the local
    /// value is read again, so [`SharedCount::versioned`] shows the newer value).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when not started; NoNode, NoAuth, session errors, and
    /// connection loss. Unlike Curator, a connection loss is not retried: the set may have
    /// been applied or not, and a retry could report a lost race for our own write. Read the
    /// value again (it catches up through the watch) and decide.
    ///
    /// # Cancellation safety
    /// The request is sent when called; cancelling loses the answer, as a connection loss.
    pub async fn try_set_count(&self, previous: VersionedCount, count: i32) -> Result<bool, Error> {
        self.check_started()?;
        if previous != self.versioned() {
            return Ok(false);
        }
        let (client, path) = (&self.inner.client, &self.inner.path);
        match client
            .set_data(path, &to_bytes(count), Some(previous.version))
            .await
        {
            Ok(stat) => {
                self.inner.value.update(&stat, count);
                Ok(true)
            }
            Err(Error::BadVersion) => {
                let (data, stat) = self.inner.retry.run(|| client.get_data(path)).await?;
                if let Some(c) = from_bytes(&data) {
                    self.inner.value.update(&stat, c);
                }
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.value.close();
    }
}

enum Read {
    /// Read and taken (if newer); the watch fires on the next change or deletion.
    Value(OneshotWatcher),
    /// Read, but not a count: kept the old value; the watch is armed.
    Malformed(OneshotWatcher),
    /// The node does not exist; an exists watch fires when it is created.
    Missing(OneshotWatcher),
}

/// Reads the node with a watch and takes its value if newer.
async fn read(
    client: &Client,
    path: &str,
    retry: &RetryPolicy,
    value: &Value,
) -> Result<Read, Error> {
    loop {
        match retry.run(|| client.get_data_w(path)).await {
            Ok((data, stat, w)) => {
                return Ok(match from_bytes(&data) {
                    Some(c) => {
                        value.update(&stat, c);
                        Read::Value(w)
                    }
                    None => {
                        tracing::warn!(%path, len = data.len(), "not a 4-byte count; ignored");
                        Read::Malformed(w)
                    }
                });
            }
            Err(Error::NoNode) => match retry.run(|| client.exists_w(path)).await? {
                (None, w) => return Ok(Read::Missing(w)),
                // Created in between: read it.
                (Some(_), _) => continue,
            },
            Err(e) => return Err(e),
        }
    }
}

/// Keeps the local value current: reads again (re-arming the watch) on every watch event and
/// on every reconnection, until stopped or the session ends.
async fn refresh(
    client: Client,
    path: String,
    retry: RetryPolicy,
    value: Arc<Value>,
    mut watcher: Option<OneshotWatcher>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut states = client.state_stream();
    let mut connected = true;
    let mut need_read = false;
    let mut backoff = retry.delays();
    loop {
        if need_read && connected {
            match read(&client, &path, &retry, &value).await {
                Ok(Read::Value(w) | Read::Malformed(w) | Read::Missing(w)) => {
                    watcher = Some(w);
                    need_read = false;
                    backoff = retry.delays();
                }
                Err(e) if client.state().is_terminal() => {
                    tracing::debug!(%path, error = %e, "session over; count no longer kept");
                    return value.close();
                }
                Err(e) => tracing::warn!(%path, error = %e, "could not read the count"),
            }
        }
        // After a failed read while still connected, try again after a pause.
        let pause = (need_read && connected)
            .then(|| backoff.next().unwrap_or(std::time::Duration::from_secs(1)));
        tokio::select! {
            _ = &mut stop => return,
            s = states.next() => match s {
                Some(s) if !s.is_terminal() => {
                    // Curator reads again on every connected state.
                    if s.is_connected() && !connected {
                        need_read = true;
                    }
                    connected = s.is_connected();
                }
                _ => return value.close(),
            },
            ev = async { watcher.as_mut().expect("guarded").await }, if watcher.is_some() => {
                watcher = None;
                if ev.event_type == EventType::None {
                    return value.close();
                }
                need_read = true;
            }
            _ = async { tokio::time::sleep(pause.unwrap_or_default()).await }, if pause.is_some() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_curators() {
        assert_eq!(to_bytes(1), [0, 0, 0, 1]);
        assert_eq!(to_bytes(-2), [0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(to_bytes(0x0102_0304), [1, 2, 3, 4]);
        assert_eq!(from_bytes(&[0, 0, 1, 0]), Some(256));
        assert_eq!(from_bytes(&[0, 0, 0, 7, 9]), Some(7));
        assert_eq!(from_bytes(&[0, 0, 7]), None);
        assert_eq!(from_bytes(&[]), None);
    }
}
