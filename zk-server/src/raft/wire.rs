//! The peer protocol: postcard-encoded messages in length-prefixed frames over TCP.
//!
//! A frame is a 4-byte big-endian length (at most [`MAX_FRAME`]) followed by the postcard
//! encoding of `(request id, message)`. The connecting side sends [`Request::Hello`] first;
//! afterwards requests are multiplexed: the server answers each request id once, in any
//! order (snapshot chunks are one-way and processed in order).

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::types::{SnapshotMeta, TypeConfig, Vote};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};

/// The largest frame accepted or sent.
pub(crate) const MAX_FRAME: usize = 64 << 20;

/// Bytes of snapshot file per chunk frame.
pub(crate) const SNAPSHOT_CHUNK: usize = 1 << 20;

/// A request from one peer to another.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// The first frame on a connection: who connects to whom.
    Hello {
        /// The connecting node.
        from: u64,
        /// The node it means to reach.
        to: u64,
    },
    /// Raft AppendEntries.
    Append(AppendEntriesRequest<TypeConfig>),
    /// Raft RequestVote.
    Vote(VoteRequest<TypeConfig>),
    /// Raft Pre-Vote.
    PreVote(VoteRequest<TypeConfig>),
    /// A piece of a snapshot file (one-way; no response).
    SnapshotChunk {
        /// Identifies the transfer on this connection.
        transfer: u64,
        /// Raw file bytes.
        #[serde(with = "crate::bytes_serde")]
        data: Vec<u8>,
    },
    /// The end of a snapshot transfer: install it.
    SnapshotEnd {
        /// Identifies the transfer on this connection.
        transfer: u64,
        /// The leader's vote.
        vote: Vote,
        /// The snapshot's metadata.
        meta: SnapshotMeta,
    },
    /// The leader hands leadership to a node.
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// Propose this payload (sent to the leader by a follower).
    Forward {
        /// The payload.
        #[serde(with = "crate::bytes_serde")]
        payload: Vec<u8>,
    },
    /// Return a linearizable read index (sent to the leader by a follower).
    ReadIndex,
    /// Sessions with activity on the sending follower since its last report (the leader
    /// alone expires sessions). Answered with `Index(Ok(count))`.
    Touch {
        /// The session ids.
        sessions: Vec<i64>,
    },
}

/// Why the leader did not take a forwarded request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) enum ForwardError {
    /// The receiver is not the leader.
    NotLeader {
        /// Whom it believes to be the leader.
        leader: Option<u64>,
    },
    /// The request may or may not have been committed.
    Indeterminate(String),
    /// The receiver could not confirm its leadership in time (read index).
    Unavailable(String),
}

/// A response to a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Response {
    /// Handshake result.
    Hello(Result<(), String>),
    /// AppendEntries result.
    Append(Result<AppendEntriesResponse<TypeConfig>, String>),
    /// Vote or Pre-Vote result.
    Vote(Result<VoteResponse<TypeConfig>, String>),
    /// Snapshot install result.
    Snapshot(Result<SnapshotResponse<TypeConfig>, String>),
    /// Leadership transfer acknowledgement.
    TransferLeader(Result<TransferLeaderResponse<TypeConfig>, String>),
    /// Forward / ReadIndex result: a log index.
    Index(Result<u64, ForwardError>),
}

/// Encodes `(id, msg)` as a frame (length prefix included).
pub(crate) fn encode_frame<T: Serialize>(id: u64, msg: &T) -> std::io::Result<Vec<u8>> {
    let out = vec![0u8; 4];
    let out = postcard::to_extend(&(id, msg), out).map_err(std::io::Error::other)?;
    let len = out.len() - 4;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "frame of {len} bytes exceeds the limit"
        )));
    }
    let mut out = out;
    out[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// Decodes a frame body.
pub(crate) fn decode_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> std::io::Result<(u64, T)> {
    postcard::from_bytes(body).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Reads one frame body; `Ok(None)` on a clean end of stream before a frame starts.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("peer frame of {len} bytes exceeds the limit"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// Writes a frame produced by [`encode_frame`].
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    frame: &[u8],
) -> std::io::Result<()> {
    w.write_all(frame).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_wire_frames_roundtrip_and_reject_garbage() {
        let f = encode_frame(
            7,
            &Request::Forward {
                payload: vec![1, 2, 3],
            },
        )
        .expect("encode");
        assert_eq!(
            u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize,
            f.len() - 4
        );
        let (id, r): (u64, Request) = decode_body(&f[4..]).expect("decode");
        assert_eq!(id, 7);
        assert!(matches!(r, Request::Forward { payload } if payload == vec![1, 2, 3]));
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            let _ = decode_body::<Request>(&junk);
            let _ = decode_body::<Response>(&junk);
        }
    }
}
