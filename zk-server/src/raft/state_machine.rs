//! openraft's state machine: applies committed entries to the [`ApplyTarget`] and builds,
//! stores and installs snapshot files.
//!
//! The target is in memory; durability comes from snapshots plus the log (openraft installs
//! the newest snapshot at startup and re-applies the log up to the saved committed index).

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::{Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::EntryPayload;
use tokio::sync::{watch, Notify};

use super::apply::ApplyTarget;
use super::types::{LeaderId, LogId, Snapshot, SnapshotMeta, StoredMembership, TypeConfig};
use crate::storage::snapshot::PendingSnapshot;
use crate::storage::{SnapshotFile, SnapshotStore};

/// A snapshot as openraft passes it around: a stored file, or one just received from the
/// leader and not yet moved into place.
#[derive(Debug)]
pub(crate) enum SnapshotData {
    /// A file in the snapshot directory.
    Stored(SnapshotFile),
    /// A verified file received from the leader (removed if never installed).
    Received(PendingSnapshot),
    /// No data: what a failed policy snapshot reports when there is no earlier snapshot
    /// (its metadata has no log id, so openraft ignores it).
    Unavailable,
}

impl SnapshotData {
    pub(crate) fn file(&self) -> Option<&SnapshotFile> {
        match self {
            SnapshotData::Stored(f) => Some(f),
            SnapshotData::Received(p) => Some(&p.file),
            SnapshotData::Unavailable => None,
        }
    }
}

/// Counts snapshot builders that exist: openraft runs a build in a task of its own that its
/// shutdown does not wait for, so [`BuildTracker::idle`] lets the node's shutdown wait until no
/// snapshot file is still being written into the data directory.
#[derive(Debug, Default)]
pub(crate) struct BuildTracker {
    live: std::sync::atomic::AtomicUsize,
    changed: Notify,
}

impl BuildTracker {
    /// Resolves once no builder exists.
    ///
    /// # Cancellation safety
    /// Safe: it only waits.
    pub(crate) async fn idle(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.live.load(Ordering::Acquire) == 0 {
                return;
            }
            changed.await;
        }
    }
}

/// Held by a snapshot builder for as long as it exists.
struct BuildGuard(Arc<BuildTracker>);

impl BuildGuard {
    fn new(t: &Arc<BuildTracker>) -> Self {
        t.live.fetch_add(1, Ordering::AcqRel);
        BuildGuard(t.clone())
    }
}

impl Drop for BuildGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}

/// The state machine handle given to openraft (and cloned into snapshot builders).
#[derive(Clone)]
pub(crate) struct StateMachine {
    shared: Arc<Shared>,
}

struct Shared {
    target: Arc<dyn ApplyTarget>,
    snapshots: SnapshotStore,
    state: Mutex<SmState>,
    applied_tx: watch::Sender<u64>,
    /// Transactions between two snapshots (ZooKeeper's snapCount, drawn per start).
    snapshot_every: u64,
    /// Transactions applied since the last snapshot was asked for.
    since_snapshot: AtomicU64,
    /// Told when `snapshot_every` transactions were applied since the last request.
    want_snapshot: Arc<Notify>,
    /// The snapshot builders that exist.
    builds: Arc<BuildTracker>,
}

#[derive(Default)]
struct SmState {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// The leader of each run of applied entries, keyed by the run's first index, so a
    /// snapshot at any index since the last snapshot can name its log id.
    leaders: BTreeMap<u64, LeaderId>,
    /// Memberships by the index they took effect at.
    memberships: BTreeMap<u64, StoredMembership>,
    current: Option<SnapshotFile>,
    /// The highest index handed to (or restored into) the target.
    highest_given: u64,
    /// Indexes of applied entries that were not passed to the target (blank, membership)
    /// since the last snapshot: a snapshot the target reports at index `i` also covers the
    /// run of such entries right after `i`.
    non_app: std::collections::BTreeSet<u64>,
    /// When building a snapshot last failed.
    failed_at: Option<std::time::Instant>,
}

/// After a failed snapshot, policy-driven snapshots pause this long.
const SNAPSHOT_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(30);

impl StateMachine {
    /// `snapshot_every`: transactions between snapshots; when they were applied,
    /// [`StateMachine::snapshot_wanted`] is notified (whoever owns the raft handle then asks
    /// for a snapshot).
    pub(crate) fn new(
        target: Arc<dyn ApplyTarget>,
        snapshots: SnapshotStore,
        current: Option<SnapshotFile>,
        snapshot_every: u64,
    ) -> Self {
        let (applied_tx, _) = watch::channel(0);
        StateMachine {
            shared: Arc::new(Shared {
                target,
                snapshots,
                state: Mutex::new(SmState {
                    current,
                    ..Default::default()
                }),
                applied_tx,
                snapshot_every: snapshot_every.max(1),
                since_snapshot: AtomicU64::new(0),
                want_snapshot: Arc::new(Notify::new()),
                builds: Arc::default(),
            }),
        }
    }

    /// Notified each time another `snapshot_every` transactions were applied.
    pub(crate) fn snapshot_wanted(&self) -> Arc<Notify> {
        self.shared.want_snapshot.clone()
    }

    /// The snapshot builders in existence (for shutdown).
    pub(crate) fn builds(&self) -> Arc<BuildTracker> {
        self.shared.builds.clone()
    }

    /// A receiver of the last applied log index.
    pub(crate) fn applied(&self) -> watch::Receiver<u64> {
        self.shared.applied_tx.subscribe()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SmState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Builds a snapshot file from the target (blocking: serializes the whole state).
    fn build_blocking(&self) -> io::Result<Snapshot> {
        let started = std::time::Instant::now();
        let mut w = self.snapshots.create()?;
        let reported = self.target.snapshot(&mut w)?;
        let (index, meta) = {
            let st = self.lock();
            if reported > st.highest_given {
                return Err(io::Error::other(format!(
                    "state machine reports index {reported} beyond the last entry given to it ({})",
                    st.highest_given
                )));
            }
            let index = st.covered_through(reported);
            let last_log_id = match st.leaders.range(..=index).next_back() {
                Some((_, l)) => Some(LogId::new(*l, index)),
                // Nothing applied at all: a snapshot of the empty state.
                None if st.leaders.is_empty() && st.last_applied.is_none() && reported == 0 => None,
                None => {
                    return Err(io::Error::other(format!(
                        "snapshot at index {index}: no applied entry at or before it"
                    )))
                }
            };
            let meta = SnapshotMeta {
                last_log_id,
                last_membership: st
                    .memberships
                    .range(..=index)
                    .next_back()
                    .map(|(_, m)| m.clone())
                    .unwrap_or_default(),
            };
            (index, meta)
        };
        let meta_bytes = postcard::to_stdvec(&meta).map_err(io::Error::other)?;
        let file = w.finish(index, &meta_bytes)?;
        {
            let mut st = self.lock();
            st.failed_at = None;
            st.current = Some(file.clone());
            st.prune_below(index);
        }
        tracing::info!(
            index,
            path = %file.path.display(),
            bytes = file.file_len,
            ms = started.elapsed().as_millis() as u64,
            "snapshot written"
        );
        Ok(Snapshot {
            meta,
            snapshot: SnapshotData::Stored(file),
        })
    }

    /// Installs a snapshot (received, or the stored one at startup) into the target.
    fn install_blocking(&self, meta: &SnapshotMeta, data: SnapshotData) -> io::Result<()> {
        let index = meta.last_log_id.map_or(0, |l| l.index);
        let file = match data {
            SnapshotData::Stored(f) if f.path.parent() == Some(self.snapshots.dir()) => f,
            SnapshotData::Stored(f) => {
                // A file from elsewhere: copy it into this store first.
                let mut imp = self.snapshots.import()?;
                let mut r = f.raw_reader()?;
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = io::Read::read(&mut r, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    imp.write_chunk(&buf[..n])?;
                }
                let f = self.snapshots.install(imp.finish()?)?;
                self.snapshots.remove_above(index)?;
                f
            }
            SnapshotData::Unavailable => {
                return Err(io::Error::other("cannot install a snapshot without data"));
            }
            SnapshotData::Received(p) => {
                let f = self.snapshots.install(p)?;
                self.snapshots.remove_above(index)?;
                f
            }
        };
        file.verify()?;
        let mut reader = file.data_reader()?;
        self.target
            .restore(index, &mut reader)
            .map_err(|e| io::Error::other(format!("restoring {}: {e}", file.path.display())))?;
        let mut st = self.lock();
        st.last_applied = meta.last_log_id;
        st.membership = meta.last_membership.clone();
        st.leaders.clear();
        st.memberships.clear();
        if let Some(l) = meta.last_log_id {
            st.leaders.insert(l.index, l.leader_id);
        }
        let mi = meta.last_membership.log_id().map_or(0, |l| l.index);
        st.memberships.insert(mi, meta.last_membership.clone());
        st.current = Some(file);
        st.highest_given = index;
        st.non_app.clear();
        drop(st);
        self.applied_tx.send_replace(index);
        tracing::info!(index, "state restored from snapshot");
        Ok(())
    }
}

impl SmState {
    /// The highest index whose state equals the target's state at `reported`: `reported`
    /// extended over the following entries the target never saw.
    fn covered_through(&self, reported: u64) -> u64 {
        let first_applied = self.leaders.keys().next().copied();
        let mut k = match first_applied {
            // The target has seen nothing that raft applied here (e.g. a fresh state whose
            // first entries were all membership / blank entries).
            Some(f) if reported < f && f > 0 => f - 1,
            _ => reported,
        };
        while self.non_app.contains(&(k + 1)) {
            k += 1;
        }
        k
    }

    fn prune_below(&mut self, index: u64) {
        self.non_app = self.non_app.split_off(&(index + 1));
        if let Some((&k, _)) = self.leaders.range(..=index).next_back() {
            self.leaders = self.leaders.split_off(&k);
        }
        if let Some((&k, _)) = self.memberships.range(..=index).next_back() {
            self.memberships = self.memberships.split_off(&k);
        }
    }
}

fn decode_meta(file: &SnapshotFile) -> io::Result<SnapshotMeta> {
    postcard::from_bytes(&file.meta).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: undecodable snapshot metadata: {e}",
                file.path.display()
            ),
        )
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("blocking task failed: {e}")))?
}

/// Builds one snapshot; handed to a spawned task by openraft.
pub(crate) struct SnapshotBuilder {
    shared: Arc<Shared>,
    /// Openraft needs this snapshot (e.g. for a follower): failures must be reported.
    forced: bool,
    _live: BuildGuard,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let shared = self.shared.clone();
        let res = blocking(move || shared.build_blocking()).await;
        match res {
            Ok(s) => Ok(s),
            Err(e) => {
                // A failed snapshot (e.g. a full disk) must not stop the node: keep the log,
                // report the previous snapshot (openraft ignores one that is not newer), and
                // pause policy-driven snapshots for a while.
                tracing::error!(error = %e, "building a snapshot failed; the log is kept and the snapshot retried later");
                let current = {
                    let mut st = self.shared.lock();
                    st.failed_at = Some(std::time::Instant::now());
                    st.current.clone()
                };
                match current {
                    _ if self.forced => Err(e),
                    Some(file) => Ok(Snapshot {
                        meta: decode_meta(&file)?,
                        snapshot: SnapshotData::Stored(file),
                    }),
                    None => Ok(Snapshot {
                        meta: SnapshotMeta::default(),
                        snapshot: SnapshotData::Unavailable,
                    }),
                }
            }
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let st = self.shared.lock();
        Ok((st.last_applied, st.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + Send,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id;
            let index = log_id.index;
            {
                let mut st = self.shared.lock();
                let same = st
                    .leaders
                    .iter()
                    .next_back()
                    .is_some_and(|(_, l)| *l == log_id.leader_id);
                if !same {
                    st.leaders.insert(index, log_id.leader_id);
                }
                st.highest_given = st.highest_given.max(index);
                if !matches!(entry.payload, EntryPayload::Normal(_)) {
                    st.non_app.insert(index);
                }
                if let EntryPayload::Membership(m) = &entry.payload {
                    let sm = StoredMembership::new(Some(log_id), m.clone());
                    st.memberships.insert(index, sm.clone());
                    st.membership = sm;
                }
            }
            let weight = match &entry.payload {
                EntryPayload::Normal(data) => self.shared.target.apply(index, &data.0),
                _ => 1,
            };
            let since = self
                .shared
                .since_snapshot
                .fetch_add(weight, Ordering::Relaxed)
                + weight;
            if since >= self.shared.snapshot_every {
                self.shared.since_snapshot.store(0, Ordering::Relaxed);
                self.shared.want_snapshot.notify_one();
            }
            self.shared.lock().last_applied = Some(log_id);
            self.shared.applied_tx.send_replace(index);
            if let Some(r) = responder {
                r.send(());
            }
        }
        Ok(())
    }

    async fn try_create_snapshot_builder(&mut self, force: bool) -> Option<Self::SnapshotBuilder> {
        let recently_failed = self
            .shared
            .lock()
            .failed_at
            .is_some_and(|t| t.elapsed() < SNAPSHOT_RETRY_PAUSE);
        if recently_failed && !force {
            return None;
        }
        Some(SnapshotBuilder {
            shared: self.shared.clone(),
            forced: force,
            _live: BuildGuard::new(&self.shared.builds),
        })
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            shared: self.shared.clone(),
            forced: true,
            _live: BuildGuard::new(&self.shared.builds),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        let shared = self.shared.clone();
        let meta = meta.clone();
        blocking(move || shared.install_blocking(&meta, snapshot)).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let current = self.shared.lock().current.clone();
        match current {
            None => Ok(None),
            Some(file) => Ok(Some(Snapshot {
                meta: decode_meta(&file)?,
                snapshot: SnapshotData::Stored(file),
            })),
        }
    }
}
