//! Framing: every packet is a 4-byte big-endian length followed by that many bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// jute.maxbuffer's default: 1 MiB − 1.
pub const DEFAULT_MAX_FRAME: usize = 0xfffff;

/// Why a frame was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix was negative or above the maximum.
    #[error("packet length {len} is out of range (max {max})")]
    BadLength {
        /// The length found.
        len: i32,
        /// The configured maximum.
        max: usize,
    },
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// A tokio codec that splits a byte stream into frames and prefixes outgoing ones.
///
/// The decoder never reserves more than the announced length, which is bounded by `max`.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max: usize,
}

impl FrameCodec {
    /// A codec accepting frames of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self { max }
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        let n = match usize::try_from(len) {
            Ok(n) if n <= self.max => n,
            _ => return Err(FrameError::BadLength { len, max: self.max }),
        };
        if src.len() < 4 + n {
            src.reserve(4 + n - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(n).freeze()))
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(4 + item.len());
        dst.put_i32(super::jute::len_i32(item.len()));
        dst.put_slice(&item);
        Ok(())
    }
}

/// Starts a packet in `w`: reserves the 4-byte length, to be filled by [`finish_packet`].
pub fn start_packet(w: &mut BytesMut) -> usize {
    let at = w.len();
    w.put_i32(0);
    at
}

/// Writes the length of the packet started at `at` by [`start_packet`].
pub fn finish_packet(w: &mut BytesMut, at: usize) {
    let len = super::jute::len_i32(w.len() - at - 4);
    w[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_rejects() {
        let mut c = FrameCodec::new(8);
        let mut b = BytesMut::from(&[0, 0, 0, 2, 7][..]);
        assert!(matches!(c.decode(&mut b), Ok(None)));
        b.put_u8(9);
        assert_eq!(
            c.decode(&mut b).ok().flatten().as_deref(),
            Some(&[7u8, 9][..])
        );
        let mut b = BytesMut::from(&[0, 0, 0, 9][..]);
        assert!(matches!(
            c.decode(&mut b),
            Err(FrameError::BadLength { len: 9, .. })
        ));
        let mut b = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            c.decode(&mut b),
            Err(FrameError::BadLength { len: -1, .. })
        ));
    }
}
