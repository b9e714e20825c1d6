//! Record framing shared by the write-ahead log: `length | payload CRC | header CRC | payload`.
//!
//! ```text
//! offset 0   u32 LE  payload length n
//! offset 4   u32 LE  CRC32 of the payload
//! offset 8   u32 LE  CRC32 of bytes 0..8 (so a damaged length is caught before it is trusted)
//! offset 12  n bytes payload
//! ```
//!
//! Decoding never panics: every byte sequence maps to a [`Decoded`] value.

/// Bytes in a record header.
pub const HEADER_LEN: usize = 12;

/// Appends one framed record holding `payload` to `out`.
///
/// # Panics
/// Never for payloads below 4 GiB; callers bound payloads far below that (see
/// [`crate::storage::wal::WalOptions::max_record_bytes`]).
pub fn encode_into(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut header = [0u8; HEADER_LEN];
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let hcrc = crc32fast::hash(&header[0..8]);
    header[8..12].copy_from_slice(&hcrc.to_le_bytes());
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
}

/// The framed size of a payload of `payload_len` bytes.
pub fn framed_len(payload_len: usize) -> usize {
    HEADER_LEN + payload_len
}

/// What the bytes at some offset hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A complete record whose header and payload checksums match.
    Record {
        /// The payload.
        payload: &'a [u8],
        /// Total bytes consumed (header + payload).
        len: usize,
    },
    /// Fewer bytes than a header, or a valid header whose payload runs past the end of the
    /// buffer: a write that was cut short.
    Incomplete,
    /// The header checksum does not match: the length cannot be trusted.
    BadHeader,
    /// The header is valid but the payload checksum does not match.
    BadPayload {
        /// Total bytes the record claims (header + payload).
        len: usize,
    },
    /// The header is valid but claims a payload above the configured maximum.
    TooLarge {
        /// The claimed payload length.
        claimed: u64,
    },
}

/// Decodes the record at the start of `buf`.
pub fn decode(buf: &[u8], max_payload: usize) -> Decoded<'_> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Decoded::Incomplete;
    };
    let mut w = [0u8; 4];
    w.copy_from_slice(&header[0..4]);
    let len = u32::from_le_bytes(w) as usize;
    w.copy_from_slice(&header[4..8]);
    let pcrc = u32::from_le_bytes(w);
    w.copy_from_slice(&header[8..12]);
    let hcrc = u32::from_le_bytes(w);
    if crc32fast::hash(&header[0..8]) != hcrc {
        return Decoded::BadHeader;
    }
    if len > max_payload {
        return Decoded::TooLarge {
            claimed: len as u64,
        };
    }
    let total = HEADER_LEN + len;
    let Some(payload) = buf.get(HEADER_LEN..total) else {
        return Decoded::Incomplete;
    };
    if crc32fast::hash(payload) != pcrc {
        return Decoded::BadPayload { len: total };
    }
    Decoded::Record {
        payload,
        len: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_record_roundtrip_and_damage_is_classified() {
        let mut buf = Vec::new();
        encode_into(b"hello", &mut buf);
        encode_into(b"", &mut buf);
        assert_eq!(
            decode(&buf, 100),
            Decoded::Record {
                payload: b"hello",
                len: 17
            }
        );
        assert_eq!(
            decode(&buf[17..], 100),
            Decoded::Record {
                payload: b"",
                len: 12
            }
        );
        // Every strict prefix of the first record is incomplete (or, for a partial header,
        // incomplete too).
        for cut in 0..17 {
            assert_eq!(decode(&buf[..cut], 100), Decoded::Incomplete, "cut {cut}");
        }
        let mut bad = buf.clone();
        bad[14] ^= 0xff;
        assert_eq!(decode(&bad, 100), Decoded::BadPayload { len: 17 });
        let mut bad = buf.clone();
        bad[0] ^= 0x01;
        assert_eq!(decode(&bad, 100), Decoded::BadHeader);
        assert_eq!(decode(&buf, 3), Decoded::TooLarge { claimed: 5 });
    }

    #[test]
    fn storage_record_decode_never_panics_on_noise() {
        let mut x: u32 = 12345;
        for n in 0..2000usize {
            let mut v = Vec::with_capacity(n % 64);
            for _ in 0..(n % 64) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push(x as u8);
            }
            let _ = decode(&v, 1 << 20);
        }
    }
}
