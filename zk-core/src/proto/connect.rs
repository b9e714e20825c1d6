//! The session handshake: ConnectRequest and ConnectResponse.
//!
//! Both carry an optional trailing `readOnly` byte: clients of 3.3 and older neither send nor
//! expect it, so a server answers without it when the request lacked it.

use bytes::{BufMut, Bytes, BytesMut};

use super::jute::{Decode, Encode, JuteError, Reader};

/// The first packet of every connection (no request header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Protocol version, 0.
    pub protocol_version: i32,
    /// The highest zxid the client has seen; a server behind it must refuse the connect.
    pub last_zxid_seen: i64,
    /// Requested session timeout in ms.
    pub timeout: i32,
    /// 0 for a new session, else the session to re-attach.
    pub session_id: i64,
    /// The session password (16 bytes), zeros for a new session.
    pub passwd: Bytes,
    /// Whether the client accepts a read-only server; `None` when the byte is absent.
    pub read_only: Option<bool>,
}

impl Encode for ConnectRequest {
    fn encode(&self, w: &mut BytesMut) {
        self.protocol_version.encode(w);
        self.last_zxid_seen.encode(w);
        self.timeout.encode(w);
        self.session_id.encode(w);
        self.passwd.encode(w);
        if let Some(ro) = self.read_only {
            w.put_u8(u8::from(ro));
        }
    }
}

impl Decode for ConnectRequest {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(Self {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: Bytes::decode(r)?,
            read_only: if r.remaining() > 0 {
                Some(r.read_bool()?)
            } else {
                None
            },
        })
    }
}

/// The server's answer to [`ConnectRequest`] (no reply header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Protocol version, 0.
    pub protocol_version: i32,
    /// Negotiated timeout in ms; 0 means the session is invalid or expired.
    pub timeout: i32,
    /// The session id; 0 means the session is invalid or expired.
    pub session_id: i64,
    /// The session password.
    pub passwd: Bytes,
    /// Whether the server is read-only; `None` when the byte is absent.
    pub read_only: Option<bool>,
}

impl Encode for ConnectResponse {
    fn encode(&self, w: &mut BytesMut) {
        self.protocol_version.encode(w);
        self.timeout.encode(w);
        self.session_id.encode(w);
        self.passwd.encode(w);
        if let Some(ro) = self.read_only {
            w.put_u8(u8::from(ro));
        }
    }
}

impl Decode for ConnectResponse {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        Ok(Self {
            protocol_version: r.read_i32()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: Bytes::decode(r)?,
            read_only: if r.remaining() > 0 {
                Some(r.read_bool()?)
            } else {
                None
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_byte_is_optional_both_ways() {
        let req = ConnectRequest {
            timeout: 30_000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: None,
            ..Default::default()
        };
        let b = req.to_bytes();
        assert_eq!(b.len(), 4 + 8 + 4 + 8 + 4 + 16);
        assert_eq!(ConnectRequest::from_bytes(b), Ok(req.clone()));
        let req = ConnectRequest {
            read_only: Some(true),
            ..req
        };
        let b = req.to_bytes();
        assert_eq!(b.len(), 45);
        assert_eq!(ConnectRequest::from_bytes(b), Ok(req));
    }
}
