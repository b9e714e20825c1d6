//! The WAL's background writer: one OS thread that performs every write, fsync and segment
//! removal in the order the WAL issued them, and shares one fsync among all the requests
//! that queued up while the previous fsync ran (group commit).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

use super::fsutil::fsync_dir;

/// Called once with the outcome when the operations queued before it are durable.
pub type Completion = Box<dyn FnOnce(io::Result<()>) + Send + 'static>;

/// Commands for the flusher, executed in order.
pub(crate) enum Cmd {
    /// Positional write of `bytes` at `offset`; `end_lsn` is the WAL byte sequence after it.
    Write {
        file: Arc<File>,
        offset: u64,
        bytes: Vec<u8>,
        end_lsn: u64,
    },
    /// A segment file was created: the directory needs an fsync.
    Created,
    /// Make everything before durable, then call `done`.
    Sync(Option<Completion>),
    /// Make everything before durable, then remove these files.
    Delete(Vec<PathBuf>),
}

/// Counters shared with the WAL handle.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The WAL byte sequence written so far (readable via pread, maybe not yet durable).
    pub written_lsn: AtomicU64,
    /// fsync rounds completed.
    pub fsyncs: AtomicU64,
    /// Sync requests completed (each append, vote ... asks for one).
    pub syncs_completed: AtomicU64,
    /// Bytes written.
    pub bytes_written: AtomicU64,
    /// Set after the first I/O failure; the WAL refuses all further work.
    pub failed: Mutex<Option<String>>,
}

impl Progress {
    pub(crate) fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn fail(&self, msg: String) {
        let mut g = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            tracing::error!(error = %msg, "WAL I/O failed; the log refuses further writes");
            *g = Some(msg);
        }
    }
}

const MAX_BATCH: usize = 4096;

/// Runs the flusher loop until the command channel closes.
pub(crate) fn run(rx: Receiver<Cmd>, dir: PathBuf, progress: Arc<Progress>) {
    let mut batch = Vec::with_capacity(64);
    // Files written but not yet fsynced; kept across rounds so that writes nobody waits for
    // (committed markers) are made durable by the next requested sync, not by their own.
    let mut round = Round::default();
    loop {
        let first = match rx.recv() {
            Ok(c) => c,
            Err(_) => {
                // Closing: make the last unrequested writes durable too.
                round.need_sync = !round.dirty.is_empty();
                round.finish(&dir, &progress);
                return;
            }
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        for cmd in batch.drain(..) {
            round.exec(cmd, &dir, &progress);
        }
        round.finish(&dir, &progress);
    }
}

#[derive(Default)]
struct Round {
    dirty: Vec<Arc<File>>,
    dir_dirty: bool,
    need_sync: bool,
    waiters: Vec<Completion>,
}

impl Round {
    fn exec(&mut self, cmd: Cmd, dir: &std::path::Path, progress: &Progress) {
        if let Some(msg) = progress.failure() {
            if let Cmd::Sync(Some(done)) = cmd {
                done(Err(io::Error::other(msg)));
            }
            return;
        }
        match cmd {
            Cmd::Write {
                file,
                offset,
                bytes,
                end_lsn,
            } => {
                if let Err(e) = file.write_all_at(&bytes, offset) {
                    progress.fail(format!("write to WAL in {}: {e}", dir.display()));
                    return;
                }
                progress
                    .bytes_written
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                progress.written_lsn.store(end_lsn, Ordering::Release);
                if !self.dirty.iter().any(|f| Arc::ptr_eq(f, &file)) {
                    self.dirty.push(file);
                }
            }
            Cmd::Created => self.dir_dirty = true,
            Cmd::Sync(done) => {
                self.need_sync = true;
                if let Some(d) = done {
                    self.waiters.push(d);
                }
            }
            Cmd::Delete(paths) => {
                self.finish(dir, progress);
                if progress.failure().is_some() {
                    return;
                }
                for p in paths {
                    match std::fs::remove_file(&p) {
                        Ok(()) => {
                            tracing::debug!(path = %p.display(), "removed purged WAL segment")
                        }
                        Err(e) => {
                            tracing::warn!(path = %p.display(), error = %e, "could not remove purged WAL segment")
                        }
                    }
                }
                self.dir_dirty = true;
            }
        }
    }

    /// Fsyncs what this round touched and answers the waiters.
    fn finish(&mut self, dir: &std::path::Path, progress: &Progress) {
        if self.need_sync || self.dir_dirty {
            if progress.failure().is_none() {
                let mut res: io::Result<()> = Ok(());
                for f in self.dirty.drain(..) {
                    if let Err(e) = f.sync_data() {
                        res = Err(e);
                        break;
                    }
                }
                if res.is_ok() && self.dir_dirty {
                    res = fsync_dir(dir);
                }
                match res {
                    Ok(()) => {
                        progress.fsyncs.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => progress.fail(format!("fsync of WAL in {}: {e}", dir.display())),
                }
            }
            self.dirty.clear();
            self.dir_dirty = false;
            self.need_sync = false;
        }
        let failure = progress.failure();
        let n = self.waiters.len() as u64;
        for w in self.waiters.drain(..) {
            match &failure {
                None => w(Ok(())),
                Some(msg) => w(Err(io::Error::other(msg.clone()))),
            }
        }
        progress.syncs_completed.fetch_add(n, Ordering::Relaxed);
    }
}
