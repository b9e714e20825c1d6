//! `#[serde(with = "crate::bytes_serde")]` for `Vec<u8>` fields: serialized as one byte
//! string instead of a sequence of `u8`s.
//!
//! In postcard both forms are the same bytes on the wire (a varint length, then the bytes),
//! so logs and peer frames written before this change still decode; the difference is speed:
//! serde's default serializes and deserializes a `Vec<u8>` one element at a time.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

/// Serializes `v` as a byte string.
///
/// # Errors
/// Whatever the serializer reports.
pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(v)
}

/// Deserializes a byte string (or, from formats without one, a sequence of `u8`s).
///
/// # Errors
/// Whatever the deserializer reports, or a type mismatch.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_byte_buf(BytesVisitor)
}

/// Deserializes a byte string into [`bytes::Bytes`] (for `#[serde(deserialize_with)]` on a
/// `Bytes` field, with [`serialize`] as its `serialize_with`). The buffer is allocated with
/// exactly the string's length, so the conversion to `Bytes` does not copy it again.
///
/// # Errors
/// As [`deserialize`].
pub fn deserialize_shared<'de, D: Deserializer<'de>>(d: D) -> Result<bytes::Bytes, D::Error> {
    deserialize(d).map(bytes::Bytes::from)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        // Cap the pre-allocation: the hint comes from the input.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Plain(Vec<u8>);

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Fast(#[serde(with = "super")] Vec<u8>);

    #[test]
    fn same_postcard_bytes_as_a_u8_sequence_both_ways() {
        for n in [0usize, 1, 127, 128, 300, 70_000] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            let plain = postcard::to_stdvec(&Plain(data.clone())).expect("encode");
            let fast = postcard::to_stdvec(&Fast(data.clone())).expect("encode");
            assert_eq!(plain, fast, "n = {n}");
            let back: Fast = postcard::from_bytes(&plain).expect("decode");
            assert_eq!(back.0, data);
            let back: Plain = postcard::from_bytes(&fast).expect("decode");
            assert_eq!(back.0, data);
        }
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Shared(
        #[serde(
            serialize_with = "super::serialize",
            deserialize_with = "super::deserialize_shared"
        )]
        bytes::Bytes,
    );

    #[test]
    fn bytes_fields_encode_like_vec_fields() {
        let data: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        let vec = postcard::to_stdvec(&Fast(data.clone())).expect("encode");
        let shared =
            postcard::to_stdvec(&Shared(bytes::Bytes::from(data.clone()))).expect("encode");
        assert_eq!(vec, shared);
        let back: Shared = postcard::from_bytes(&vec).expect("decode");
        assert_eq!(back.0, data);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let enc = postcard::to_stdvec(&Fast(vec![7; 300])).expect("encode");
        assert!(postcard::from_bytes::<Fast>(&enc[..enc.len() - 1]).is_err());
    }

    #[test]
    fn json_round_trip_uses_the_sequence_form() {
        let j = serde_json::to_string(&Fast(vec![1, 2, 3])).expect("json");
        assert_eq!(j, "[1,2,3]");
        let back: Fast = serde_json::from_str(&j).expect("json");
        assert_eq!(back.0, vec![1, 2, 3]);
    }
}
