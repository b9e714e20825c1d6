//! Crash recovery: scans the segments, repairs a torn tail, and replays the records into the
//! WAL's in-memory state. Damage anywhere but the tail of the last segment is an error that
//! names the file and byte offset: nothing is dropped silently.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fsutil::{fsync_dir, with_path};
use super::segment::{self, HeaderCheck};
use super::wal::WalError;
use super::wal_record::WalRecord;

/// A retained segment.
#[derive(Debug)]
pub(crate) struct SegInfo {
    pub path: PathBuf,
    pub file: Arc<File>,
    /// The highest entry index any record in this segment holds (including later-truncated).
    pub max_entry: Option<u64>,
    /// Whether the segment's first record is a checkpoint.
    pub has_checkpoint: bool,
}

/// Where an entry's record lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecLoc {
    pub seq: u64,
    pub offset: u64,
    pub len: u32,
}

/// The recovered state.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub segments: BTreeMap<u64, SegInfo>,
    /// Contiguous entries, by index.
    pub entries: BTreeMap<u64, RecLoc>,
    pub vote: Option<Vec<u8>>,
    pub committed: Option<Vec<u8>>,
    pub purged: Option<(u64, Vec<u8>)>,
    /// Warnings about repaired torn tails (also logged).
    pub repaired: Vec<String>,
}

fn io_err(path: &Path, e: std::io::Error) -> WalError {
    WalError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Recovers the WAL in `dir` (created if missing).
pub(crate) fn recover(dir: &Path, max_payload: usize) -> Result<Recovered, WalError> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let mut segs = segment::list(dir).map_err(|e| io_err(dir, e))?;
    let mut out = Recovered::default();

    // Segments are removed only as a prefix, so the sequence numbers must be consecutive.
    for w in segs.windows(2) {
        if w[1].0 != w[0].0 + 1 {
            return Err(WalError::Corrupt {
                path: dir.join(segment::file_name(w[0].0 + 1)),
                offset: 0,
                reason: format!(
                    "segment missing between {} and {}",
                    w[0].1.display(),
                    w[1].1.display()
                ),
            });
        }
    }

    // A trailing segment whose creation was cut short holds nothing: remove it.
    while let Some((seq, path)) = segs.last().cloned() {
        let data = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        match segment::check_header(&data, seq) {
            HeaderCheck::Unwritten => {
                let msg = format!(
                    "removing WAL segment {} whose header was never completely written",
                    path.display()
                );
                tracing::warn!(path = %path.display(), "{msg}");
                out.repaired.push(msg);
                std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
                fsync_dir(dir).map_err(|e| io_err(dir, e))?;
                segs.pop();
            }
            _ => break,
        }
    }

    let mut replay = Replay::default();
    let n = segs.len();
    for (i, (seq, path)) in segs.into_iter().enumerate() {
        let is_last = i + 1 == n;
        let data = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        match segment::check_header(&data, seq) {
            HeaderCheck::Ok => {}
            HeaderCheck::Unwritten => {
                return Err(WalError::Corrupt {
                    path,
                    offset: 0,
                    reason: "segment header missing".into(),
                })
            }
            HeaderCheck::Bad(reason) => {
                return Err(WalError::Corrupt {
                    path,
                    offset: 0,
                    reason,
                })
            }
        }
        let scan = segment::scan(&path, &data, is_last, max_payload)?;
        let mut info = SegInfo {
            path: path.clone(),
            file: Arc::new(File::open(&path).map_err(|e| io_err(&path, e))?),
            max_entry: None,
            has_checkpoint: false,
        };
        for (k, rec) in scan.records.iter().enumerate() {
            let start = rec.offset as usize + super::record::HEADER_LEN;
            let end = rec.offset as usize + rec.len as usize;
            let payload = data.get(start..end).unwrap_or_default();
            let decoded: WalRecord<'_> =
                postcard::from_bytes(payload).map_err(|e| WalError::Corrupt {
                    path: path.clone(),
                    offset: rec.offset,
                    reason: format!("undecodable record: {e}"),
                })?;
            if k == 0 && matches!(decoded, WalRecord::Checkpoint { .. }) {
                info.has_checkpoint = true;
            }
            if let WalRecord::Entry { index, .. } = decoded {
                info.max_entry = Some(info.max_entry.map_or(index, |m| m.max(index)));
            }
            replay.apply(
                decoded,
                RecLoc {
                    seq,
                    offset: rec.offset,
                    len: rec.len,
                },
            );
        }
        if let Some(reason) = scan.torn {
            let msg = format!(
                "WAL {}: torn tail at byte offset {} ({reason}); truncating it — the write was never acknowledged",
                path.display(),
                scan.valid_len
            );
            tracing::warn!(path = %path.display(), offset = scan.valid_len, "{msg}");
            out.repaired.push(msg);
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| io_err(&path, e))?;
            f.set_len(scan.valid_len)
                .map_err(|e| io_err(&path, with_path(&path, e)))?;
            f.sync_all().map_err(|e| io_err(&path, e))?;
        }
        out.segments.insert(seq, info);
    }

    let Replay {
        entries,
        vote,
        committed,
        purged,
    } = replay;
    let mut entries = entries;
    if let Some((p, _)) = &purged {
        entries = entries.split_off(&(p + 1));
    }
    let mut expect = purged.as_ref().map(|(p, _)| p + 1);
    for (idx, loc) in &entries {
        if let Some(e) = expect {
            if *idx != e {
                let path = out
                    .segments
                    .get(&loc.seq)
                    .map(|s| s.path.clone())
                    .unwrap_or_else(|| dir.to_path_buf());
                return Err(WalError::Corrupt {
                    path,
                    offset: loc.offset,
                    reason: format!(
                        "log entry {idx} found where entry {e} was expected: entries are missing"
                    ),
                });
            }
        }
        expect = Some(idx + 1);
    }
    out.entries = entries;
    out.vote = vote;
    out.committed = committed;
    out.purged = purged;
    Ok(out)
}

#[derive(Default)]
struct Replay {
    entries: BTreeMap<u64, RecLoc>,
    vote: Option<Vec<u8>>,
    committed: Option<Vec<u8>>,
    purged: Option<(u64, Vec<u8>)>,
}

impl Replay {
    fn apply(&mut self, rec: WalRecord<'_>, loc: RecLoc) {
        match rec {
            WalRecord::Checkpoint {
                vote,
                committed,
                purged,
            } => {
                if let Some(v) = vote {
                    self.vote = Some(v.to_vec());
                }
                if let Some(c) = committed {
                    self.committed = Some(c.to_vec());
                }
                if let Some((i, id)) = purged {
                    self.purge(i, id);
                }
            }
            WalRecord::Entry { index, .. } => {
                // Appending at `index` replaces everything from `index` on.
                let _ = self.entries.split_off(&index);
                self.entries.insert(index, loc);
            }
            WalRecord::Vote(v) => self.vote = Some(v.to_vec()),
            WalRecord::Committed(c) => self.committed = Some(c.to_vec()),
            WalRecord::TruncateAfter(None) => self.entries.clear(),
            WalRecord::TruncateAfter(Some(i)) => {
                let _ = self.entries.split_off(&(i + 1));
            }
            WalRecord::Purge { index, log_id } => self.purge(index, log_id),
        }
    }

    fn purge(&mut self, index: u64, log_id: &[u8]) {
        if self.purged.as_ref().is_some_and(|(p, _)| *p >= index) {
            return;
        }
        self.purged = Some((index, log_id.to_vec()));
        self.entries = self.entries.split_off(&(index + 1));
    }
}
