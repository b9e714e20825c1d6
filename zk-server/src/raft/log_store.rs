//! openraft's log storage on top of the [`Wal`]: entries, the vote and the committed log id
//! are postcard-encoded into WAL records; durability callbacks come from the WAL's
//! group-commit writer.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader};
use serde::de::DeserializeOwned;

use super::types::{Entry, LogId, TypeConfig, Vote};
use crate::storage::Wal;

/// Replication reads at most this many bytes of entries per batch.
const MAX_BATCH_BYTES: usize = 8 << 20;

/// The log store and reader handed to openraft (clones share the WAL).
#[derive(Clone, Debug)]
pub(crate) struct LogStore {
    wal: Wal,
}

impl LogStore {
    pub(crate) fn new(wal: Wal) -> Self {
        LogStore { wal }
    }

    fn read(&self, start: u64, end: u64, max_bytes: usize) -> io::Result<Vec<Entry>> {
        let raw = self.wal.read(start, end, max_bytes)?;
        raw.into_iter()
            .map(|(idx, bytes)| {
                let e: Entry = decode(&bytes, "log entry")?;
                if e.log_id.index != idx {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("WAL entry {idx} holds log id index {}", e.log_id.index),
                    ));
                }
                Ok(e)
            })
            .collect()
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> io::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("undecodable {what} in the WAL: {e}"),
        )
    })
}

fn encode<T: serde::Serialize>(v: &T) -> io::Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(io::Error::other)
}

fn bounds<RB: RangeBounds<u64>>(range: &RB) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(x) => *x,
        Bound::Excluded(x) => x.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(x) => x.saturating_add(1),
        Bound::Excluded(x) => *x,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let (start, end) = bounds(&range);
        self.read(start, end, usize::MAX)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        self.wal.vote().map(|b| decode(&b, "vote")).transpose()
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, io::Error> {
        self.read(start, end, MAX_BATCH_BYTES)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let purged: Option<LogId> = self
            .wal
            .purged()
            .map(|(_, b)| decode(&b, "purged log id"))
            .transpose()?;
        let last = match self.wal.last_index() {
            Some(i) => self.read(i, i + 1, usize::MAX)?.pop().map(|e| e.log_id),
            None => None,
        };
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last.or(purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.wal.save_vote(
            &encode(vote)?,
            Some(Box::new(move |r| {
                let _ = tx.send(r);
            })),
        )?;
        rx.await
            .map_err(|_| io::Error::other("WAL closed before the vote was durable"))?
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        if let Some(c) = committed {
            self.wal.save_committed(&encode(&c)?)?;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        self.wal
            .committed()
            .map(|b| decode(&b, "committed log id"))
            .transpose()
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let batch = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index, encode(&e)?)))
            .collect::<io::Result<Vec<_>>>()?;
        self.wal
            .append(batch, Some(Box::new(move |r| callback.io_completed(r))))
            .map_err(io::Error::from)
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        self.wal
            .truncate_after(last_log_id.map(|l| l.index))
            .map_err(io::Error::from)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        self.wal
            .purge(log_id.index, &encode(&log_id)?)
            .map_err(io::Error::from)
    }
}
