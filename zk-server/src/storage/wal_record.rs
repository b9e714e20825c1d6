//! The kinds of WAL records (the payload inside a framed record), encoded with postcard.
//!
//! The WAL is a log of operations: entries, votes, commits, truncations and purges are all
//! appended in the order they happen, and recovery replays them. Every segment starts with a
//! [`WalRecord::Checkpoint`] of the small state (vote, committed, purged), so a prefix of old
//! segments can be deleted without losing it.

use serde::{Deserialize, Serialize};

/// One WAL operation. Byte fields are opaque to the WAL (the raft layer encodes them).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum WalRecord<'a> {
    /// The small state as of the start of a segment.
    Checkpoint {
        /// The last saved vote.
        #[serde(borrow)]
        vote: Option<&'a [u8]>,
        /// The last saved committed marker.
        #[serde(borrow)]
        committed: Option<&'a [u8]>,
        /// The last purge: index and opaque log id.
        #[serde(borrow)]
        purged: Option<(u64, &'a [u8])>,
    },
    /// A log entry.
    Entry {
        /// Its index.
        index: u64,
        /// Its opaque bytes (one byte string, not a sequence of `u8`s: same postcard bytes,
        /// written in one copy).
        #[serde(serialize_with = "crate::bytes_serde::serialize")]
        data: &'a [u8],
    },
    /// A vote.
    Vote(&'a [u8]),
    /// A committed marker.
    Committed(&'a [u8]),
    /// Entries after this index are gone (`None`: all entries).
    TruncateAfter(Option<u64>),
    /// Entries up to and including `index` are gone.
    Purge {
        /// The last purged index.
        index: u64,
        /// Its opaque log id.
        log_id: &'a [u8],
    },
}

impl WalRecord<'_> {
    /// Encodes the payload.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let hint = match self {
            WalRecord::Entry { data, .. } => data.len() + 16,
            _ => 64,
        };
        // postcard cannot fail on these types (no maps with non-string keys, no unsized
        // sequences); an empty payload would fail to decode and be reported, never ignored.
        postcard::to_extend(self, Vec::with_capacity(hint)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_wal_record_roundtrip() {
        let recs = [
            WalRecord::Checkpoint {
                vote: Some(b"v"),
                committed: None,
                purged: Some((7, b"id")),
            },
            WalRecord::Entry {
                index: 9,
                data: b"abc",
            },
            WalRecord::Vote(b"x"),
            WalRecord::Committed(b"c"),
            WalRecord::TruncateAfter(None),
            WalRecord::TruncateAfter(Some(3)),
            WalRecord::Purge {
                index: 2,
                log_id: b"l",
            },
        ];
        for r in recs {
            let b = r.to_vec();
            let back: WalRecord<'_> = postcard::from_bytes(&b).expect("decode");
            assert_eq!(back, r);
        }
    }

    #[test]
    fn storage_wal_entry_bytes_unchanged_by_the_byte_string_encoding() {
        // Logs written when entry data was serialized as a sequence of u8s must still decode:
        // postcard writes both forms as the variant, the index, a varint length and the bytes.
        let data: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        let rec = WalRecord::Entry {
            index: 9,
            data: &data,
        };
        let mut expected = vec![1u8, 9, 0xac, 0x02];
        expected.extend_from_slice(&data);
        assert_eq!(rec.to_vec(), expected);
        let back: WalRecord<'_> = postcard::from_bytes(&expected).expect("decode");
        assert_eq!(back, rec);
    }
}
