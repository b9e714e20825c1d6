//! Snapshot files: written to a temporary file, fsynced, renamed into place, directory
//! fsynced; each file carries its own length and CRC so a damaged one is detected.
//!
//! ```text
//! "ZKRSSNP1"                     8-byte magic
//! data                           the state, streamed by the state machine
//! meta                           opaque bytes (the raft layer's snapshot metadata)
//! trailer (32 bytes):            data_len u64 LE | index u64 LE | meta_len u32 LE |
//!                                CRC32 of data+meta u32 LE | "ZKRSEND1"
//! ```
//!
//! Files are named `snapshot-<index, 20 digits>.snap`; temporaries end in `.part` and are
//! removed when the store is opened.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::fsutil::fsync_dir;

const MAGIC: &[u8; 8] = b"ZKRSSNP1";
const END_MAGIC: &[u8; 8] = b"ZKRSEND1";
const TRAILER_LEN: u64 = 32;
/// The largest metadata block believed when reading a file.
const MAX_META: u32 = 16 << 20;

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Snapshot store errors.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// An I/O error.
    #[error("snapshot I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A damaged snapshot file.
    #[error("snapshot corrupt: {} at byte offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the damage was detected.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl From<SnapshotError> for io::Error {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Io { path, source } => {
                io::Error::new(source.kind(), format!("{}: {source}", path.display()))
            }
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The file name of the snapshot at `index`.
pub fn file_name(index: u64) -> String {
    format!("snapshot-{index:020}.snap")
}

fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A directory of snapshot files.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
}

/// A complete snapshot file (its trailer was read; see [`SnapshotFile::verify`] for the CRC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Where it is.
    pub path: PathBuf,
    /// The last applied index it reflects.
    pub index: u64,
    /// The opaque metadata stored with it.
    pub meta: Vec<u8>,
    /// Bytes of state data.
    pub data_len: u64,
    /// Bytes of the whole file.
    pub file_len: u64,
}

impl SnapshotStore {
    /// Opens (or creates) the store in `dir`, removing temporaries left by a crash.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn open(dir: &Path) -> Result<SnapshotStore, SnapshotError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        for ent in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let ent = ent.map_err(io_err(dir))?;
            let name = ent.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with("snapshot") && name.ends_with(".part") {
                tracing::info!(path = %ent.path().display(), "removing unfinished snapshot file");
                std::fs::remove_file(ent.path()).map_err(io_err(&ent.path()))?;
            }
        }
        Ok(SnapshotStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn temp_path(&self) -> PathBuf {
        let n = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
        self.dir
            .join(format!("snapshot-{}-{n}.part", std::process::id()))
    }

    /// Starts writing a new snapshot; write the state data into the returned writer.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn create(&self) -> Result<SnapshotWriter, SnapshotError> {
        let path = self.temp_path();
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC).map_err(io_err(&path))?;
        Ok(SnapshotWriter {
            out: Some(out),
            path,
            dir: self.dir.clone(),
            crc: crc32fast::Hasher::new(),
            data_len: 0,
            unsynced: 0,
        })
    }

    /// Starts receiving a snapshot file's raw bytes (as produced by
    /// [`SnapshotFile::raw_reader`] on another node).
    ///
    /// # Errors
    /// On I/O errors.
    pub fn import(&self) -> Result<SnapshotImport, SnapshotError> {
        let path = self.temp_path();
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(SnapshotImport {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            path,
            dir: self.dir.clone(),
            len: 0,
        })
    }

    /// Snapshot files by index, oldest first.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn list(&self) -> Result<Vec<(u64, PathBuf)>, SnapshotError> {
        let mut out = Vec::new();
        for ent in std::fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let ent = ent.map_err(io_err(&self.dir))?;
            if let Some(idx) = ent.file_name().to_str().and_then(parse_name) {
                out.push((idx, ent.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The newest snapshot, if any.
    ///
    /// # Errors
    /// When the newest file is damaged (it is not skipped: the log may depend on it).
    pub fn latest(&self) -> Result<Option<SnapshotFile>, SnapshotError> {
        match self.list()?.pop() {
            None => Ok(None),
            Some((idx, path)) => {
                let f = SnapshotFile::open(&path)?;
                if f.index != idx {
                    return Err(SnapshotError::Corrupt {
                        offset: f.file_len.saturating_sub(TRAILER_LEN),
                        reason: format!("trailer says index {}, file name says {idx}", f.index),
                        path,
                    });
                }
                Ok(Some(f))
            }
        }
    }

    /// Moves a verified imported snapshot into place (replacing a file of the same index).
    ///
    /// # Errors
    /// On I/O errors.
    pub fn install(&self, mut pending: PendingSnapshot) -> Result<SnapshotFile, SnapshotError> {
        let dst = self.dir.join(file_name(pending.file.index));
        std::fs::rename(&pending.file.path, &dst).map_err(io_err(&dst))?;
        fsync_dir(&self.dir).map_err(io_err(&self.dir))?;
        pending.installed = true;
        let mut file = pending.file.clone();
        file.path = dst;
        Ok(file)
    }

    /// Deletes the oldest snapshots so that at most `keep` (at least 1) remain. Returns how
    /// many were deleted.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn retain(&self, keep: usize) -> Result<usize, SnapshotError> {
        let list = self.list()?;
        let keep = keep.max(1);
        if list.len() <= keep {
            return Ok(0);
        }
        let n = list.len() - keep;
        for (_, path) in &list[..n] {
            std::fs::remove_file(path).map_err(io_err(path))?;
            tracing::info!(path = %path.display(), "purged old snapshot");
        }
        fsync_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(n)
    }

    /// Deletes snapshots newer than `index` (used when an older snapshot is installed, so the
    /// newest file is always the current state).
    ///
    /// # Errors
    /// On I/O errors.
    pub fn remove_above(&self, index: u64) -> Result<(), SnapshotError> {
        let mut any = false;
        for (i, path) in self.list()? {
            if i > index {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                any = true;
            }
        }
        if any {
            fsync_dir(&self.dir).map_err(io_err(&self.dir))?;
        }
        Ok(())
    }
}

/// Streams a new snapshot's data to a temporary file.
#[derive(Debug)]
pub struct SnapshotWriter {
    out: Option<BufWriter<File>>,
    path: PathBuf,
    dir: PathBuf,
    crc: crc32fast::Hasher,
    data_len: u64,
    /// Bytes written since the file was last synced.
    unsynced: u64,
}

/// A snapshot being written is synced every so many bytes. One fsync of a whole large file at
/// the end floods the disk queue at once, and the log's fsyncs (every client write waits on
/// one) queue behind it; syncing as it goes spreads that writeback out.
const SNAPSHOT_SYNC_EVERY: u64 = 4 << 20;

impl Write for SnapshotWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("snapshot writer finished"))?;
        let n = out.write(buf)?;
        self.crc.update(&buf[..n]);
        self.data_len += n as u64;
        self.unsynced += n as u64;
        if self.unsynced >= SNAPSHOT_SYNC_EVERY {
            out.flush()?;
            out.get_ref().sync_data()?;
            self.unsynced = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(o) => o.flush(),
            None => Ok(()),
        }
    }
}

impl SnapshotWriter {
    /// Writes the metadata and trailer, fsyncs, renames the file to its final name and fsyncs
    /// the directory.
    ///
    /// # Errors
    /// On I/O errors (the temporary file is removed).
    pub fn finish(mut self, index: u64, meta: &[u8]) -> Result<SnapshotFile, SnapshotError> {
        let res = self.finish_inner(index, meta);
        if res.is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
        res
    }

    fn finish_inner(&mut self, index: u64, meta: &[u8]) -> Result<SnapshotFile, SnapshotError> {
        let path = self.path.clone();
        let mut out = self.out.take().ok_or_else(|| SnapshotError::Io {
            path: path.clone(),
            source: io::Error::other("snapshot writer finished twice"),
        })?;
        let meta_len = u32::try_from(meta.len())
            .ok()
            .filter(|l| *l <= MAX_META)
            .ok_or_else(|| SnapshotError::Io {
                path: path.clone(),
                source: io::Error::other("snapshot metadata too large"),
            })?;
        self.crc.update(meta);
        let crc = std::mem::take(&mut self.crc).finalize();
        out.write_all(meta).map_err(io_err(&path))?;
        out.write_all(&trailer(self.data_len, index, meta_len, crc))
            .map_err(io_err(&path))?;
        let file = out.into_inner().map_err(|e| SnapshotError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io_err(&path))?;
        drop(file);
        let dst = self.dir.join(file_name(index));
        std::fs::rename(&path, &dst).map_err(io_err(&dst))?;
        fsync_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(SnapshotFile {
            path: dst,
            index,
            meta: meta.to_vec(),
            data_len: self.data_len,
            file_len: MAGIC.len() as u64 + self.data_len + meta.len() as u64 + TRAILER_LEN,
        })
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn trailer(data_len: u64, index: u64, meta_len: u32, crc: u32) -> [u8; TRAILER_LEN as usize] {
    let mut t = [0u8; TRAILER_LEN as usize];
    t[0..8].copy_from_slice(&data_len.to_le_bytes());
    t[8..16].copy_from_slice(&index.to_le_bytes());
    t[16..20].copy_from_slice(&meta_len.to_le_bytes());
    t[20..24].copy_from_slice(&crc.to_le_bytes());
    t[24..32].copy_from_slice(END_MAGIC);
    t
}

/// Receives a snapshot file's raw bytes into a temporary file.
#[derive(Debug)]
pub struct SnapshotImport {
    out: Option<BufWriter<File>>,
    path: PathBuf,
    dir: PathBuf,
    len: u64,
}

impl SnapshotImport {
    /// Appends raw bytes.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn write_chunk(&mut self, buf: &[u8]) -> Result<(), SnapshotError> {
        let out = self.out.as_mut().ok_or_else(|| SnapshotError::Io {
            path: self.path.clone(),
            source: io::Error::other("snapshot import finished"),
        })?;
        out.write_all(buf).map_err(io_err(&self.path))?;
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was received yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fsyncs and verifies the received file (trailer and CRC).
    ///
    /// # Errors
    /// On I/O errors or a damaged file (the temporary file is removed).
    pub fn finish(mut self) -> Result<PendingSnapshot, SnapshotError> {
        let path = self.path.clone();
        let res = (|| {
            let out = self.out.take().ok_or_else(|| SnapshotError::Io {
                path: path.clone(),
                source: io::Error::other("snapshot import finished twice"),
            })?;
            let file = out.into_inner().map_err(|e| SnapshotError::Io {
                path: path.clone(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(io_err(&path))?;
            drop(file);
            let f = SnapshotFile::open(&path)?;
            f.verify()?;
            Ok(f)
        })();
        match res {
            Ok(file) => Ok(PendingSnapshot {
                file,
                dir: self.dir.clone(),
                installed: false,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }
}

impl Drop for SnapshotImport {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A received, verified snapshot in a temporary file; removed on drop unless installed with
/// [`SnapshotStore::install`].
#[derive(Debug)]
pub struct PendingSnapshot {
    /// The file (at its temporary path).
    pub file: SnapshotFile,
    dir: PathBuf,
    installed: bool,
}

impl PendingSnapshot {
    /// The store directory it belongs to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PendingSnapshot {
    fn drop(&mut self) {
        if !self.installed {
            let _ = std::fs::remove_file(&self.file.path);
        }
    }
}

impl SnapshotFile {
    /// Reads a snapshot file's trailer and metadata.
    ///
    /// # Errors
    /// When the file is not a complete snapshot file.
    pub fn open(path: &Path) -> Result<SnapshotFile, SnapshotError> {
        let corrupt = |offset: u64, reason: &str| SnapshotError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason: reason.to_string(),
        };
        let mut f = File::open(path).map_err(io_err(path))?;
        let file_len = f.metadata().map_err(io_err(path))?.len();
        let min = MAGIC.len() as u64 + TRAILER_LEN;
        if file_len < min {
            return Err(corrupt(
                0,
                "file shorter than a snapshot header and trailer",
            ));
        }
        let mut magic = [0u8; 8];
        f.read_exact(&mut magic).map_err(io_err(path))?;
        if &magic != MAGIC {
            return Err(corrupt(0, "bad snapshot magic"));
        }
        let toff = file_len - TRAILER_LEN;
        let mut t = [0u8; TRAILER_LEN as usize];
        f.seek(SeekFrom::Start(toff)).map_err(io_err(path))?;
        f.read_exact(&mut t).map_err(io_err(path))?;
        if &t[24..32] != END_MAGIC {
            return Err(corrupt(toff, "bad snapshot trailer (file incomplete?)"));
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&t[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let u32_at = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&t[i..i + 4]);
            u32::from_le_bytes(b)
        };
        let (data_len, index, meta_len) = (u64_at(0), u64_at(8), u32_at(16));
        if meta_len > MAX_META
            || (MAGIC.len() as u64)
                .checked_add(data_len)
                .and_then(|x| x.checked_add(u64::from(meta_len)))
                .and_then(|x| x.checked_add(TRAILER_LEN))
                != Some(file_len)
        {
            return Err(corrupt(
                toff,
                "snapshot trailer lengths do not match the file size",
            ));
        }
        let moff = MAGIC.len() as u64 + data_len;
        let mut meta = vec![0u8; meta_len as usize];
        f.seek(SeekFrom::Start(moff)).map_err(io_err(path))?;
        f.read_exact(&mut meta).map_err(io_err(path))?;
        Ok(SnapshotFile {
            path: path.to_path_buf(),
            index,
            meta,
            data_len,
            file_len,
        })
    }

    /// Reads the whole file and checks its CRC.
    ///
    /// # Errors
    /// On I/O errors or a CRC mismatch.
    pub fn verify(&self) -> Result<(), SnapshotError> {
        let path = &self.path;
        let mut f = BufReader::with_capacity(1 << 20, File::open(path).map_err(io_err(path))?);
        f.seek(SeekFrom::Start(MAGIC.len() as u64))
            .map_err(io_err(path))?;
        let mut left = self.data_len + self.meta.len() as u64;
        let mut h = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            let n = f.read(&mut buf[..want]).map_err(io_err(path))?;
            if n == 0 {
                return Err(SnapshotError::Corrupt {
                    path: path.clone(),
                    offset: self.file_len - left,
                    reason: "unexpected end of file".into(),
                });
            }
            h.update(&buf[..n]);
            left -= n as u64;
        }
        let mut t = [0u8; TRAILER_LEN as usize];
        f.read_exact(&mut t).map_err(io_err(path))?;
        let mut c = [0u8; 4];
        c.copy_from_slice(&t[20..24]);
        if h.finalize() != u32::from_le_bytes(c) {
            return Err(SnapshotError::Corrupt {
                path: path.clone(),
                offset: MAGIC.len() as u64,
                reason: "snapshot CRC mismatch".into(),
            });
        }
        Ok(())
    }

    /// A reader of the state data (call [`Self::verify`] first).
    ///
    /// # Errors
    /// On I/O errors.
    pub fn data_reader(&self) -> Result<io::Take<BufReader<File>>, SnapshotError> {
        let mut f =
            BufReader::with_capacity(1 << 20, File::open(&self.path).map_err(io_err(&self.path))?);
        f.seek(SeekFrom::Start(MAGIC.len() as u64))
            .map_err(io_err(&self.path))?;
        Ok(f.take(self.data_len))
    }

    /// The whole file, for sending to another node.
    ///
    /// # Errors
    /// On I/O errors.
    pub fn raw_reader(&self) -> Result<File, SnapshotError> {
        File::open(&self.path).map_err(io_err(&self.path))
    }
}
