//! WAL segment files: naming, the 16-byte header, and the recovery scan of one segment.
//!
//! A segment is `wal-<seq, 20 digits>.log`: the magic `ZKRSWAL1`, the segment's sequence
//! number (u64 LE), then framed records (see [`super::record`]).

use std::path::{Path, PathBuf};

use super::record::{self, Decoded};
use super::wal::WalError;

/// The segment header magic.
pub(crate) const MAGIC: &[u8; 8] = b"ZKRSWAL1";
/// Bytes in a segment header.
pub(crate) const HEADER_LEN: u64 = 16;

/// The file name of segment `seq`.
pub(crate) fn file_name(seq: u64) -> String {
    format!("wal-{seq:020}.log")
}

/// Parses a segment file name back into its sequence number.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header bytes of segment `seq`.
pub(crate) fn header(seq: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..].copy_from_slice(&seq.to_le_bytes());
    h
}

/// A record found by [`scan`]: its offset in the file and its payload range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FoundRecord {
    /// Byte offset of the record header in the file.
    pub offset: u64,
    /// Total framed length.
    pub len: u32,
}

/// The result of scanning one segment.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The complete, checksum-valid records in file order.
    pub records: Vec<FoundRecord>,
    /// Bytes of the file that hold the header and those records.
    pub valid_len: u64,
    /// `Some(reason)` when a torn tail was found after `valid_len` (only in the last segment).
    pub torn: Option<String>,
}

/// The outcome of checking a segment's header.
pub(crate) enum HeaderCheck {
    /// Magic and sequence match.
    Ok,
    /// Shorter than a header, or only zero bytes: a segment whose creation was cut short.
    Unwritten,
    /// Anything else.
    Bad(String),
}

/// Checks the header of segment `seq` held in `data`.
pub(crate) fn check_header(data: &[u8], seq: u64) -> HeaderCheck {
    if data.iter().all(|b| *b == 0) || data.len() < HEADER_LEN as usize {
        if data.len() < HEADER_LEN as usize && !data.iter().all(|b| *b == 0) {
            // A partial header: only a prefix of the magic may be present.
            let n = data.len().min(8);
            if data[..n] != MAGIC[..n] {
                return HeaderCheck::Bad("bad segment magic".into());
            }
        }
        return HeaderCheck::Unwritten;
    }
    if &data[..8] != MAGIC {
        return HeaderCheck::Bad("bad segment magic".into());
    }
    let mut s = [0u8; 8];
    s.copy_from_slice(&data[8..16]);
    let found = u64::from_le_bytes(s);
    if found != seq {
        return HeaderCheck::Bad(format!(
            "segment header says sequence {found}, file name says {seq}"
        ));
    }
    HeaderCheck::Ok
}

/// Scans the records of a segment whose header was already checked.
///
/// In the last segment (`is_last`), a damaged record that is the last thing in the file — a
/// partial header or payload, a payload checksum mismatch with nothing after it, or zero
/// fill to the end — is reported as a torn tail. Any other damage is an error naming the file
/// and byte offset.
pub(crate) fn scan(
    path: &Path,
    data: &[u8],
    is_last: bool,
    max_payload: usize,
) -> Result<Scan, WalError> {
    let mut records = Vec::new();
    let mut off = HEADER_LEN as usize;
    let corrupt = |offset: usize, reason: String| WalError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    loop {
        let rest = &data[off..];
        if rest.is_empty() {
            return Ok(Scan {
                records,
                valid_len: off as u64,
                torn: None,
            });
        }
        let zero_tail = rest.iter().all(|b| *b == 0);
        match record::decode(rest, max_payload) {
            Decoded::Record { len, .. } => {
                records.push(FoundRecord {
                    offset: off as u64,
                    len: u32::try_from(len).map_err(|_| corrupt(off, "record too long".into()))?,
                });
                off += len;
            }
            Decoded::Incomplete if is_last => {
                return Ok(torn(records, off, rest.len(), "record cut short"));
            }
            Decoded::BadPayload { len }
                if is_last && (len == rest.len() || rest[len..].iter().all(|b| *b == 0)) =>
            {
                return Ok(torn(
                    records,
                    off,
                    rest.len(),
                    "checksum mismatch in the last record",
                ));
            }
            Decoded::BadHeader
                if is_last
                    && rest
                        .get(record::HEADER_LEN..)
                        .is_none_or(|r| r.iter().all(|b| *b == 0)) =>
            {
                return Ok(torn(
                    records,
                    off,
                    rest.len(),
                    "damaged header of the last record",
                ));
            }
            _ if is_last && zero_tail => {
                return Ok(torn(records, off, rest.len(), "zero-filled tail"));
            }
            Decoded::Incomplete => {
                return Err(corrupt(off, "record cut short in a sealed segment".into()))
            }
            Decoded::BadHeader => {
                return Err(corrupt(off, "record header checksum mismatch".into()))
            }
            Decoded::BadPayload { .. } => {
                return Err(corrupt(off, "record payload checksum mismatch".into()))
            }
            Decoded::TooLarge { claimed } => {
                return Err(corrupt(
                    off,
                    format!("record claims {claimed} bytes, above the maximum"),
                ));
            }
        }
    }
}

fn torn(records: Vec<FoundRecord>, off: usize, dropped: usize, what: &str) -> Scan {
    Scan {
        records,
        valid_len: off as u64,
        torn: Some(format!("{what} ({dropped} bytes)")),
    }
}

/// Lists the segments in `dir` by sequence number.
pub(crate) fn list(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for ent in std::fs::read_dir(dir)? {
        let ent = ent?;
        let name = ent.file_name();
        if let Some(seq) = name.to_str().and_then(parse_name) {
            out.push((seq, ent.path()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_segment_names_roundtrip() {
        assert_eq!(parse_name(&file_name(42)), Some(42));
        assert_eq!(parse_name("wal-1.log"), None);
        assert_eq!(parse_name("wal-0000000000000000000x.log"), None);
    }
}
