//! Building reply frames: 4-byte length, ReplyHeader, body.

use bytes::{Bytes, BytesMut};
use zk_core::proto::frame::{finish_packet, start_packet};
use zk_core::proto::{xid, Encode, ErrorCode, ReplyHeader, Response, WatcherEvent};

/// A reply: header with `err`, then the body when there is one.
pub fn frame(xid: i32, zxid: i64, result: &Result<Response, ErrorCode>) -> Bytes {
    // Room for the header and a Stat (most write replies) without growing.
    let mut w = BytesMut::with_capacity(128);
    frame_into(&mut w, xid, zxid, result);
    w.freeze()
}

/// [`frame`], appended to `w` (a connection's output buffer: no allocation of its own).
pub fn frame_into(w: &mut BytesMut, xid: i32, zxid: i64, result: &Result<Response, ErrorCode>) {
    let at = start_packet(w);
    match result {
        Ok(resp) => {
            ReplyHeader { xid, zxid, err: 0 }.encode(w);
            resp.encode(w);
        }
        Err(code) => ReplyHeader {
            xid,
            zxid,
            err: code.code(),
        }
        .encode(w),
    }
    finish_packet(w, at);
}

/// A header-only reply.
pub fn header(xid: i32, zxid: i64, err: ErrorCode) -> Bytes {
    let mut w = BytesMut::with_capacity(20);
    let at = start_packet(&mut w);
    ReplyHeader {
        xid,
        zxid,
        err: err.code(),
    }
    .encode(&mut w);
    finish_packet(&mut w, at);
    w.freeze()
}

/// A watch notification (xid −1, zxid −1 as Apache sends them).
pub fn notification(ev: &WatcherEvent) -> Bytes {
    let mut w = BytesMut::with_capacity(32 + ev.path.len());
    let at = start_packet(&mut w);
    ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    }
    .encode(&mut w);
    ev.encode(&mut w);
    finish_packet(&mut w, at);
    w.freeze()
}

/// Any record as a frame without a header (ConnectResponse).
pub fn bare(rec: &impl Encode) -> Bytes {
    let mut w = BytesMut::with_capacity(64);
    let at = start_packet(&mut w);
    rec.encode(&mut w);
    finish_packet(&mut w, at);
    w.freeze()
}
