//! The segmented write-ahead log.
//!
//! Every operation — an entry, a vote, a committed marker, a truncation, a purge — is one
//! framed record (length + CRC, see [`super::record`]) appended to the current segment in the
//! order the operations were issued. Appends return as soon as the records are queued and
//! readable; a single background thread writes them and calls each operation's
//! [`Completion`] after the fsync that covers it, so concurrent appends share one fsync
//! (group commit). New segments start with a checkpoint of the small state (vote, committed,
//! purged) so old segments can be deleted once every entry they hold has been purged.
//!
//! Recovery ([`Wal::open`]) replays all segments; a torn last record is truncated with a
//! warning, any other damage refuses to open with an error naming the file and byte offset.
//!
//! The WAL knows nothing about raft: entries, votes and log ids are opaque bytes.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::record::{self, Decoded};
use super::segment;
pub use super::wal_flusher::Completion;
use super::wal_flusher::{self, Cmd, Progress};
use super::wal_record::WalRecord;
use super::wal_replay::{self, SegInfo};

/// WAL errors.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O error on a file or directory.
    #[error("WAL I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Damaged data that is not a torn tail: the WAL refuses to open.
    #[error("WAL corrupt: {} at byte offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// The byte offset of the damaged record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An earlier write or fsync failed; the WAL accepts nothing more.
    #[error("WAL failed earlier: {0}")]
    Failed(String),
    /// The WAL was closed.
    #[error("WAL closed")]
    Closed,
    /// The caller asked for something the log cannot do (e.g. a non-consecutive append).
    #[error("invalid WAL operation: {0}")]
    Invalid(String),
}

impl From<WalError> for io::Error {
    fn from(e: WalError) -> Self {
        match e {
            WalError::Io { source, path } => {
                io::Error::new(source.kind(), format!("{}: {source}", path.display()))
            }
            other => io::Error::other(other.to_string()),
        }
    }
}

/// An entry read back: its index and its bytes.
pub type ReadEntry = (u64, Arc<Vec<u8>>);

/// Tuning for a [`Wal`].
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// A new segment is started once the current one would exceed this many bytes.
    pub segment_bytes: u64,
    /// The largest record payload accepted (and believed on recovery).
    pub max_record_bytes: usize,
    /// Bytes of recent entry payloads kept in memory; older entries are read back from disk.
    /// The cache serves the state machine (entries are applied right after they are
    /// appended) and followers that are close behind; it is memory the server holds for good.
    pub cache_bytes: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 << 20,
            max_record_bytes: 64 << 20,
            // About a second of writes at full speed; RSS after a load counts every byte.
            cache_bytes: 16 << 20,
        }
    }
}

/// Counters for monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Entries appended since open.
    pub entries_appended: u64,
    /// fsync rounds since open (one round may cover many appends).
    pub fsyncs: u64,
    /// Durability requests answered since open.
    pub syncs_completed: u64,
    /// Bytes written since open.
    pub bytes_written: u64,
    /// Segment files currently retained.
    pub segments: u64,
    /// Torn tails repaired when the WAL was opened (human-readable).
    pub repaired_on_open: Vec<String>,
}

/// A handle to an open WAL; cheap to clone, all clones share the log.
#[derive(Clone)]
pub struct Wal {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

struct Shared {
    dir: PathBuf,
    opts: WalOptions,
    state: Mutex<State>,
    progress: Arc<Progress>,
    thread: Mutex<Option<JoinHandle<()>>>,
    appended: AtomicU64,
    repaired: Vec<String>,
}

/// Where one entry lives, and its payload while it is cached.
struct Loc {
    seq: u64,
    offset: u64,
    len: u32,
    end_lsn: u64,
    data: Option<Arc<Vec<u8>>>,
}

struct State {
    tx: Option<Sender<Cmd>>,
    segments: BTreeMap<u64, SegInfo>,
    cur_seq: u64,
    cur_file: Option<Arc<File>>,
    cur_len: u64,
    cur_base: u64,
    /// Entries `first_index ..` in order, no holes.
    entries: VecDeque<Loc>,
    first_index: u64,
    /// `entries[cache_from..]` hold their payloads.
    cache_from: usize,
    cached_bytes: usize,
    vote: Option<Vec<u8>>,
    committed: Option<Vec<u8>>,
    purged: Option<(u64, Vec<u8>)>,
    /// WAL bytes queued so far (a global byte sequence across segments).
    lsn: u64,
}

/// Bytes for the current segment accumulated by one operation, sent as one write.
#[derive(Default)]
struct Pending {
    file: Option<Arc<File>>,
    start: u64,
    bytes: Vec<u8>,
}

impl Wal {
    /// Opens (or creates) the WAL in `dir`, replaying it.
    ///
    /// # Errors
    /// [`WalError::Corrupt`] naming the file and byte offset when a record other than the
    /// last one of the last segment is damaged; [`WalError::Io`] on I/O errors.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal, WalError> {
        let rec = wal_replay::recover(dir, opts.max_record_bytes)?;
        let progress = Arc::new(Progress::default());
        let (tx, rx) = mpsc::channel();
        let thread = {
            let dir2 = dir.to_path_buf();
            let progress = progress.clone();
            std::thread::Builder::new()
                .name("wal-flusher".into())
                .spawn(move || wal_flusher::run(rx, dir2, progress))
                .map_err(|e| WalError::Io {
                    path: dir.to_path_buf(),
                    source: e,
                })?
        };
        let mut entries = VecDeque::with_capacity(rec.entries.len());
        let first_index = rec.entries.keys().next().copied().unwrap_or(0);
        for loc in rec.entries.values() {
            entries.push_back(Loc {
                seq: loc.seq,
                offset: loc.offset,
                len: loc.len,
                end_lsn: 0,
                data: None,
            });
        }
        let cache_from = entries.len();
        let last_seq = rec.segments.keys().next_back().copied().unwrap_or(0);
        let mut state = State {
            tx: Some(tx),
            segments: rec.segments,
            cur_seq: last_seq,
            cur_file: None,
            cur_len: 0,
            cur_base: 0,
            entries,
            first_index,
            cache_from,
            cached_bytes: 0,
            vote: rec.vote,
            committed: rec.committed,
            purged: rec.purged,
            lsn: 0,
        };
        // Always continue in a fresh segment that starts with a checkpoint of the recovered
        // state; the previous tail segment is left exactly as recovery found it.
        let mut pending = Pending::default();
        state.rotate(dir, &mut pending)?;
        state.send(Cmd::Sync(None))?;
        let wal = Wal {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                opts,
                state: Mutex::new(state),
                progress,
                thread: Mutex::new(Some(thread)),
                appended: AtomicU64::new(0),
                repaired: rec.repaired,
            }),
        };
        // Make the new segment durable before anything relies on it.
        wal.sync_blocking()?;
        Ok(wal)
    }

    /// The WAL's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, WalError> {
        if let Some(msg) = self.shared.progress.failure() {
            return Err(WalError::Failed(msg));
        }
        self.shared
            .state
            .lock()
            .map_err(|_| WalError::Failed("WAL state lock poisoned".into()))
    }

    /// Appends entries `(index, bytes)`; indexes must continue the log without a hole.
    /// Returns once they are queued and readable; `done` is called after they are durable.
    ///
    /// # Errors
    /// [`WalError::Invalid`] for a hole or an oversized entry; [`WalError::Failed`] /
    /// [`WalError::Closed`] when the WAL cannot write. `done` is not called on error.
    pub fn append(
        &self,
        entries: Vec<(u64, Vec<u8>)>,
        done: Option<Completion>,
    ) -> Result<(), WalError> {
        let mut st = self.lock()?;
        let mut expect = st.next_index();
        for (idx, data) in &entries {
            if let Some(e) = expect {
                if *idx != e {
                    return Err(WalError::Invalid(format!(
                        "append of entry {idx}, expected {e}"
                    )));
                }
            }
            if data.len() + 64 > self.shared.opts.max_record_bytes {
                return Err(WalError::Invalid(format!(
                    "entry {idx} of {} bytes is too large",
                    data.len()
                )));
            }
            expect = Some(idx + 1);
        }
        let n = entries.len() as u64;
        let mut pending = Pending::default();
        for (index, data) in entries {
            let payload = WalRecord::Entry { index, data: &data }.to_vec();
            let (seq, offset, len) =
                st.put(&self.shared.dir, &self.shared.opts, &payload, &mut pending)?;
            if let Some(seg) = st.segments.get_mut(&seq) {
                seg.max_entry = Some(seg.max_entry.map_or(index, |m| m.max(index)));
            }
            if st.entries.is_empty() {
                st.first_index = index;
                st.cache_from = 0;
            }
            st.cached_bytes += data.len();
            let end_lsn = st.lsn;
            st.entries.push_back(Loc {
                seq,
                offset,
                len,
                end_lsn,
                data: Some(Arc::new(data)),
            });
        }
        st.flush_pending(&mut pending)?;
        st.send(Cmd::Sync(done))?;
        let written = self.shared.progress.written_lsn.load(Ordering::Acquire);
        st.evict(self.shared.opts.cache_bytes, written);
        self.shared.appended.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Records a vote; `done` is called once it is durable (and everything queued before).
    ///
    /// # Errors
    /// When the WAL cannot write; `done` is not called then.
    pub fn save_vote(&self, vote: &[u8], done: Option<Completion>) -> Result<(), WalError> {
        let mut st = self.lock()?;
        st.record(&self.shared.dir, &self.shared.opts, &WalRecord::Vote(vote))?;
        st.vote = Some(vote.to_vec());
        st.send(Cmd::Sync(done))
    }

    /// Records a committed marker; it becomes durable with the next fsync.
    ///
    /// # Errors
    /// When the WAL cannot write.
    pub fn save_committed(&self, committed: &[u8]) -> Result<(), WalError> {
        let mut st = self.lock()?;
        st.record(
            &self.shared.dir,
            &self.shared.opts,
            &WalRecord::Committed(committed),
        )?;
        st.committed = Some(committed.to_vec());
        Ok(())
    }

    /// Removes the entries after `index` (all entries for `None`).
    ///
    /// # Errors
    /// When the WAL cannot write.
    pub fn truncate_after(&self, index: Option<u64>) -> Result<(), WalError> {
        let mut st = self.lock()?;
        st.record(
            &self.shared.dir,
            &self.shared.opts,
            &WalRecord::TruncateAfter(index),
        )?;
        let keep = match index {
            None => 0,
            Some(i) if i < st.first_index => 0,
            Some(i) => usize::try_from(i - st.first_index + 1).unwrap_or(usize::MAX),
        };
        while st.entries.len() > keep {
            if let Some(loc) = st.entries.pop_back() {
                if let Some(d) = loc.data {
                    st.cached_bytes -= d.len();
                }
            }
        }
        st.cache_from = st.cache_from.min(st.entries.len());
        st.send(Cmd::Sync(None))
    }

    /// Removes the entries up to and including `index`, remembering `log_id` as the last
    /// purged id; segments holding only purged entries are deleted after the purge record is
    /// durable.
    ///
    /// # Errors
    /// When the WAL cannot write.
    pub fn purge(&self, index: u64, log_id: &[u8]) -> Result<(), WalError> {
        let mut st = self.lock()?;
        if st.purged.as_ref().is_some_and(|(p, _)| *p >= index) {
            return Ok(());
        }
        st.record(
            &self.shared.dir,
            &self.shared.opts,
            &WalRecord::Purge { index, log_id },
        )?;
        st.purged = Some((index, log_id.to_vec()));
        while !st.entries.is_empty() && st.first_index <= index {
            if let Some(loc) = st.entries.pop_front() {
                if let Some(d) = loc.data {
                    st.cached_bytes -= d.len();
                }
            }
            st.first_index += 1;
            st.cache_from = st.cache_from.saturating_sub(1);
        }
        // Delete the longest prefix of sealed segments that hold no live entry and are
        // followed by a segment starting with a checkpoint.
        let mut doomed = Vec::new();
        let seqs: Vec<u64> = st.segments.keys().copied().collect();
        for w in seqs.windows(2) {
            let (s, next) = (w[0], w[1]);
            let seg_ok = st
                .segments
                .get(&s)
                .is_some_and(|g| g.max_entry.is_none_or(|m| m <= index));
            let next_ok = st.segments.get(&next).is_some_and(|g| g.has_checkpoint);
            if !(seg_ok && next_ok) {
                break;
            }
            if let Some(g) = st.segments.remove(&s) {
                doomed.push(g.path);
            }
        }
        st.send(Cmd::Sync(None))?;
        if !doomed.is_empty() {
            st.send(Cmd::Delete(doomed))?;
        }
        Ok(())
    }

    /// Calls `done` once everything queued so far is durable.
    ///
    /// # Errors
    /// When the WAL cannot write; `done` is not called then.
    pub fn sync(&self, done: Completion) -> Result<(), WalError> {
        let mut st = self.lock()?;
        st.send(Cmd::Sync(Some(done)))
    }

    /// Blocks the calling thread until everything queued so far is durable.
    ///
    /// # Errors
    /// When the WAL cannot write.
    pub fn sync_blocking(&self) -> Result<(), WalError> {
        let (tx, rx) = mpsc::channel();
        self.sync(Box::new(move |r| {
            let _ = tx.send(r);
        }))?;
        match rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(WalError::Failed(e.to_string())),
            Err(_) => Err(WalError::Closed),
        }
    }

    /// Reads entries with indexes in `start..end`, stopping early once `max_bytes` have been
    /// collected (at least one entry is returned when any is in range). Indexes outside the
    /// log are skipped.
    ///
    /// # Errors
    /// On I/O errors or a record that no longer passes its checksum.
    pub fn read(&self, start: u64, end: u64, max_bytes: usize) -> Result<Vec<ReadEntry>, WalError> {
        enum Src {
            Mem(Arc<Vec<u8>>),
            Disk(Arc<File>, PathBuf, u64, u32),
        }
        let mut plan = Vec::new();
        {
            let st = self.lock()?;
            let lo = start.max(st.first_index);
            let hi = end.min(st.first_index + st.entries.len() as u64);
            let mut bytes = 0usize;
            let mut idx = lo;
            while idx < hi {
                let Some(loc) = usize::try_from(idx - st.first_index)
                    .ok()
                    .and_then(|i| st.entries.get(i))
                else {
                    break;
                };
                let src = match &loc.data {
                    Some(d) => Src::Mem(d.clone()),
                    None => {
                        let seg = st.segments.get(&loc.seq).ok_or_else(|| {
                            WalError::Invalid(format!(
                                "entry {idx} refers to a deleted segment {}",
                                loc.seq
                            ))
                        })?;
                        Src::Disk(seg.file.clone(), seg.path.clone(), loc.offset, loc.len)
                    }
                };
                bytes += loc.len as usize;
                plan.push((idx, src));
                idx += 1;
                if bytes >= max_bytes {
                    break;
                }
            }
        }
        let mut out = Vec::with_capacity(plan.len());
        for (idx, src) in plan {
            let data = match src {
                Src::Mem(d) => d,
                Src::Disk(file, path, offset, len) => Arc::new(read_entry_at(
                    &file,
                    &path,
                    offset,
                    len,
                    idx,
                    self.shared.opts.max_record_bytes,
                )?),
            };
            out.push((idx, data));
        }
        Ok(out)
    }

    /// The first index held (after purges), if any entry is held.
    pub fn first_index(&self) -> Option<u64> {
        let st = self.shared.state.lock().ok()?;
        (!st.entries.is_empty()).then_some(st.first_index)
    }

    /// The last index held, if any entry is held.
    pub fn last_index(&self) -> Option<u64> {
        let st = self.shared.state.lock().ok()?;
        (!st.entries.is_empty()).then(|| st.first_index + st.entries.len() as u64 - 1)
    }

    /// The last saved vote.
    pub fn vote(&self) -> Option<Vec<u8>> {
        self.shared.state.lock().ok()?.vote.clone()
    }

    /// The last saved committed marker.
    pub fn committed(&self) -> Option<Vec<u8>> {
        self.shared.state.lock().ok()?.committed.clone()
    }

    /// The last purge: index and log id.
    pub fn purged(&self) -> Option<(u64, Vec<u8>)> {
        self.shared.state.lock().ok()?.purged.clone()
    }

    /// Counters for monitoring.
    pub fn stats(&self) -> WalStats {
        let p = &self.shared.progress;
        WalStats {
            entries_appended: self.shared.appended.load(Ordering::Relaxed),
            fsyncs: p.fsyncs.load(Ordering::Relaxed),
            syncs_completed: p.syncs_completed.load(Ordering::Relaxed),
            bytes_written: p.bytes_written.load(Ordering::Relaxed),
            segments: self
                .shared
                .state
                .lock()
                .map(|s| s.segments.len() as u64)
                .unwrap_or(0),
            repaired_on_open: self.shared.repaired.clone(),
        }
    }

    /// Flushes what is queued, stops the writer thread and refuses further operations.
    /// Idempotent.
    pub fn close(&self) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.tx = None;
        }
        let handle = self.shared.thread.lock().ok().and_then(|mut g| g.take());
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::error!("WAL writer thread panicked");
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Ok(mut st) = self.state.lock() {
            st.tx = None;
        }
        if let Some(h) = self.thread.lock().ok().and_then(|mut g| g.take()) {
            let _ = h.join();
        }
    }
}

fn read_entry_at(
    file: &File,
    path: &Path,
    offset: u64,
    len: u32,
    index: u64,
    max: usize,
) -> Result<Vec<u8>, WalError> {
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| WalError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
    let corrupt = |reason: String| WalError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    match record::decode(&buf, max) {
        Decoded::Record { payload, .. } => match postcard::from_bytes::<WalRecord<'_>>(payload) {
            Ok(WalRecord::Entry { index: i, data }) if i == index => Ok(data.to_vec()),
            Ok(_) => Err(corrupt(format!("record is not entry {index}"))),
            Err(e) => Err(corrupt(format!("undecodable record: {e}"))),
        },
        other => Err(corrupt(format!(
            "entry {index} no longer readable: {other:?}"
        ))),
    }
}

impl State {
    fn send(&mut self, cmd: Cmd) -> Result<(), WalError> {
        match &self.tx {
            Some(tx) => tx.send(cmd).map_err(|_| WalError::Closed),
            None => Err(WalError::Closed),
        }
    }

    fn next_index(&self) -> Option<u64> {
        if !self.entries.is_empty() {
            Some(self.first_index + self.entries.len() as u64)
        } else {
            self.purged.as_ref().map(|(p, _)| p + 1)
        }
    }

    /// Queues one non-entry record as its own write.
    fn record(
        &mut self,
        dir: &Path,
        opts: &WalOptions,
        rec: &WalRecord<'_>,
    ) -> Result<(), WalError> {
        let mut pending = Pending::default();
        let payload = rec.to_vec();
        self.put(dir, opts, &payload, &mut pending)?;
        self.flush_pending(&mut pending)
    }

    /// Frames `payload` into `pending`, starting a new segment first when the current one is
    /// full. Returns where the record will live.
    fn put(
        &mut self,
        dir: &Path,
        opts: &WalOptions,
        payload: &[u8],
        pending: &mut Pending,
    ) -> Result<(u64, u64, u32), WalError> {
        let framed = record::framed_len(payload.len()) as u64;
        if self.cur_len + framed > opts.segment_bytes && self.cur_len > self.cur_base {
            self.rotate(dir, pending)?;
        }
        if pending.bytes.is_empty() {
            pending.file = self.cur_file.clone();
            pending.start = self.cur_len;
        }
        let offset = self.cur_len;
        record::encode_into(payload, &mut pending.bytes);
        self.cur_len += framed;
        self.lsn += framed;
        let len =
            u32::try_from(framed).map_err(|_| WalError::Invalid("record too large".into()))?;
        Ok((self.cur_seq, offset, len))
    }

    fn flush_pending(&mut self, pending: &mut Pending) -> Result<(), WalError> {
        if pending.bytes.is_empty() {
            return Ok(());
        }
        let Some(file) = pending.file.take() else {
            return Ok(());
        };
        let bytes = std::mem::take(&mut pending.bytes);
        let end_lsn = self.lsn;
        self.send(Cmd::Write {
            file,
            offset: pending.start,
            bytes,
            end_lsn,
        })
    }

    /// Seals the current segment and starts the next one with a checkpoint record.
    fn rotate(&mut self, dir: &Path, pending: &mut Pending) -> Result<(), WalError> {
        self.flush_pending(pending)?;
        let seq = self.cur_seq + 1;
        let path = dir.join(segment::file_name(seq));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| WalError::Io {
                path: path.clone(),
                source: e,
            })?;
        let file = Arc::new(file);
        let mut bytes = segment::header(seq).to_vec();
        let ckpt = WalRecord::Checkpoint {
            vote: self.vote.as_deref(),
            committed: self.committed.as_deref(),
            purged: self.purged.as_ref().map(|(i, id)| (*i, id.as_slice())),
        }
        .to_vec();
        record::encode_into(&ckpt, &mut bytes);
        let len = bytes.len() as u64;
        self.segments.insert(
            seq,
            SegInfo {
                path,
                file: file.clone(),
                max_entry: None,
                has_checkpoint: true,
            },
        );
        self.cur_seq = seq;
        self.cur_file = Some(file.clone());
        self.cur_len = len;
        self.cur_base = len;
        self.lsn += len;
        self.send(Cmd::Created)?;
        let end_lsn = self.lsn;
        self.send(Cmd::Write {
            file,
            offset: 0,
            bytes,
            end_lsn,
        })
    }

    /// Drops cached payloads of written entries, oldest first, while over budget.
    fn evict(&mut self, budget: usize, written_lsn: u64) {
        while self.cached_bytes > budget && self.cache_from < self.entries.len() {
            let Some(loc) = self.entries.get_mut(self.cache_from) else {
                break;
            };
            if loc.end_lsn > written_lsn {
                break;
            }
            if let Some(d) = loc.data.take() {
                self.cached_bytes -= d.len();
            }
            self.cache_from += 1;
        }
    }
}
