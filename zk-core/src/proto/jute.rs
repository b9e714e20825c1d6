//! Jute, ZooKeeper's binary record encoding.
//!
//! Records are their fields concatenated with no tags: `int` is 4 bytes big-endian, `long` 8,
//! `boolean` 1 byte, `buffer` and `ustring` an `int` length followed by the bytes (−1 = null),
//! `vector` an `int` count (−1 = null) followed by the elements.
//!
//! Decoding works on a [`Bytes`] frame: buffers are sliced out of it without copying, nothing is
//! ever allocated beyond the size of the frame, and every malformed input is a [`JuteError`],
//! never a panic.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JuteError {
    /// The frame ended before the record did.
    #[error("record truncated: needed {needed} more bytes for {what}, {remaining} left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left in the frame.
        remaining: usize,
    },
    /// A length or count was negative (other than −1 for null) or larger than the frame.
    #[error("invalid length {len} for {what}")]
    InvalidLength {
        /// What was being read.
        what: &'static str,
        /// The length found.
        len: i32,
    },
    /// A string was not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A field held a value outside its domain (unknown opcode, enum number, ...).
    #[error("invalid value {value} for {what}")]
    InvalidValue {
        /// What was being read.
        what: &'static str,
        /// The value found.
        value: i64,
    },
    /// Bytes were left over after the record ended.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
}

/// A cursor over one frame.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    /// A reader over `buf`.
    pub fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.remaining()
    }

    /// Fails with [`JuteError::TrailingBytes`] unless every byte was consumed.
    ///
    /// # Errors
    /// When bytes are left.
    pub fn finish(&self) -> Result<(), JuteError> {
        match self.buf.remaining() {
            0 => Ok(()),
            n => Err(JuteError::TrailingBytes(n)),
        }
    }

    fn need(&self, what: &'static str, n: usize) -> Result<(), JuteError> {
        if self.buf.remaining() < n {
            return Err(JuteError::Truncated {
                what,
                needed: n,
                remaining: self.buf.remaining(),
            });
        }
        Ok(())
    }

    /// Reads an `int`.
    ///
    /// # Errors
    /// When fewer than 4 bytes remain.
    pub fn read_i32(&mut self) -> Result<i32, JuteError> {
        self.need("int", 4)?;
        Ok(self.buf.get_i32())
    }

    /// Reads a `long`.
    ///
    /// # Errors
    /// When fewer than 8 bytes remain.
    pub fn read_i64(&mut self) -> Result<i64, JuteError> {
        self.need("long", 8)?;
        Ok(self.buf.get_i64())
    }

    /// Reads a `boolean` (any non-zero byte is true, as in Java).
    ///
    /// # Errors
    /// When no byte remains.
    pub fn read_bool(&mut self) -> Result<bool, JuteError> {
        self.need("boolean", 1)?;
        Ok(self.buf.get_u8() != 0)
    }

    /// Reads a length prefix: `None` for −1 (null), else a length that fits the frame.
    fn read_len(&mut self, what: &'static str) -> Result<Option<usize>, JuteError> {
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        match usize::try_from(len) {
            Ok(n) if n <= self.buf.remaining() => Ok(Some(n)),
            _ => Err(JuteError::InvalidLength { what, len }),
        }
    }

    /// Reads a `buffer`; null is `None`.
    ///
    /// # Errors
    /// When the length is invalid or the frame too short.
    pub fn read_buffer_opt(&mut self) -> Result<Option<Bytes>, JuteError> {
        Ok(self.read_len("buffer")?.map(|n| self.buf.split_to(n)))
    }

    /// Reads a `ustring`; null is `None`.
    ///
    /// # Errors
    /// When the length is invalid, the frame too short or the bytes not UTF-8.
    pub fn read_string_opt(&mut self) -> Result<Option<String>, JuteError> {
        match self.read_len("ustring")? {
            None => Ok(None),
            Some(n) => {
                let bytes = self.buf.split_to(n);
                String::from_utf8(bytes.to_vec())
                    .map(Some)
                    .map_err(|_| JuteError::InvalidUtf8)
            }
        }
    }

    /// Reads a `vector` count; null is `None`. The count is bounded by the bytes left, as
    /// every element takes at least one byte, so a hostile count cannot cause a large allocation.
    ///
    /// # Errors
    /// When the count is invalid.
    pub fn read_count(&mut self) -> Result<Option<usize>, JuteError> {
        self.read_len("vector")
    }
}

/// A value that can be written in jute.
pub trait Encode {
    /// Appends the encoding of `self` to `w`.
    fn encode(&self, w: &mut BytesMut);

    /// The encoding of `self` as a new buffer.
    fn to_bytes(&self) -> Bytes {
        let mut w = BytesMut::new();
        self.encode(&mut w);
        w.freeze()
    }
}

/// A value that can be read from jute.
pub trait Decode: Sized {
    /// Reads one value.
    ///
    /// # Errors
    /// When the input is not a valid encoding.
    fn decode(r: &mut Reader) -> Result<Self, JuteError>;

    /// Decodes a whole frame, failing if bytes are left over.
    ///
    /// # Errors
    /// When the input is not exactly one valid encoding.
    fn from_bytes(buf: Bytes) -> Result<Self, JuteError> {
        let mut r = Reader::new(buf);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

impl Encode for i32 {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i32(*self);
    }
}
impl Decode for i32 {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_i32()
    }
}
impl Encode for i64 {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i64(*self);
    }
}
impl Decode for i64 {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_i64()
    }
}
impl Encode for bool {
    fn encode(&self, w: &mut BytesMut) {
        w.put_u8(u8::from(*self));
    }
}
impl Decode for bool {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_bool()
    }
}

/// Writes a length-prefixed byte string.
pub fn write_bytes(w: &mut BytesMut, b: &[u8]) {
    w.put_i32(len_i32(b.len()));
    w.put_slice(b);
}

/// Converts a length to jute's `int`, saturating (a frame can never get near `i32::MAX`).
pub fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Encode for String {
    fn encode(&self, w: &mut BytesMut) {
        write_bytes(w, self.as_bytes());
    }
}
/// A null `ustring` decodes as the empty string.
impl Decode for String {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(r.read_string_opt()?.unwrap_or_default())
    }
}
impl Encode for Bytes {
    fn encode(&self, w: &mut BytesMut) {
        write_bytes(w, self);
    }
}
/// A null `buffer` decodes as empty.
impl Decode for Bytes {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(r.read_buffer_opt()?.unwrap_or_default())
    }
}
/// `None` is jute's null buffer (length −1).
impl Encode for Option<Bytes> {
    fn encode(&self, w: &mut BytesMut) {
        match self {
            Some(b) => b.encode(w),
            None => w.put_i32(-1),
        }
    }
}
impl Decode for Option<Bytes> {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_buffer_opt()
    }
}
impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, w: &mut BytesMut) {
        w.put_i32(len_i32(self.len()));
        for v in self {
            v.encode(w);
        }
    }
}
/// A null `vector` decodes as empty.
impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        let n = r.read_count()?.unwrap_or(0);
        // The count is only a claim until the elements are read: reserve at most as many bytes
        // as the frame has left (an element takes as little as 1 byte on the wire but
        // `size_of::<T>()` in memory), and let the vector grow with what actually decodes.
        let mut v = Vec::with_capacity(n.min(r.remaining() / std::mem::size_of::<T>().max(1)));
        for _ in 0..n {
            v.push(T::decode(r)?);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip_big_endian() {
        let mut w = BytesMut::new();
        0x0102_0304_i32.encode(&mut w);
        (-2_i64).encode(&mut w);
        true.encode(&mut w);
        String::from("ab").encode(&mut w);
        None::<Bytes>.encode(&mut w);
        vec![String::from("x")].encode(&mut w);
        assert_eq!(
            &w[..],
            &[
                1, 2, 3, 4, 255, 255, 255, 255, 255, 255, 255, 254, 1, 0, 0, 0, 2, b'a', b'b', 255,
                255, 255, 255, 0, 0, 0, 1, 0, 0, 0, 1, b'x'
            ]
        );
        let mut r = Reader::new(w.freeze());
        assert_eq!(r.read_i32(), Ok(0x0102_0304));
        assert_eq!(r.read_i64(), Ok(-2));
        assert_eq!(r.read_bool(), Ok(true));
        assert_eq!(String::decode(&mut r).as_deref(), Ok("ab"));
        assert_eq!(Option::<Bytes>::decode(&mut r), Ok(None));
        assert_eq!(Vec::<String>::decode(&mut r), Ok(vec!["x".to_string()]));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        let mut r = Reader::new(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]));
        assert!(matches!(
            Vec::<i64>::decode(&mut r),
            Err(JuteError::InvalidLength { .. })
        ));
        let mut r = Reader::new(Bytes::from_static(&[0xff, 0xff, 0xff, 0xfe]));
        assert!(matches!(
            String::decode(&mut r),
            Err(JuteError::InvalidLength { .. })
        ));
        let mut r = Reader::new(Bytes::from_static(&[0, 0]));
        assert!(matches!(r.read_i32(), Err(JuteError::Truncated { .. })));
    }
}
