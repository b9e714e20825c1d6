//! Golden bytes: every packet in `tests/fixtures/golden/` was produced by Apache ZooKeeper 3.8's
//! own Java code (see its INDEX.md). For each one we build the same Rust value from the field
//! values in `index.json`, and check both directions:
//!
//! - encode(value) is byte-for-byte the Java packet, and
//! - decode(Java packet) is exactly the value (with nothing left over).
//!
//! Every field of every fixture must be consumed by the builders (support/golden_values.rs), so
//! a field we fail to map is a failure, not a silent pass.

#[path = "support/golden_values.rs"]
mod golden_values;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;
use zk_core::proto::{
    decode_request, ConnectRequest, ConnectResponse, Decode, Encode, JuteError, MultiResponse,
    OpCode, Reader, ReplyHeader, Request, RequestHeader, Response, WatcherEvent,
};

use golden_values::{opcode, request, response, Fields};

const FIXTURES: usize = 88;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

fn index() -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join("index.json")).expect("read index.json");
    match serde_json::from_str(&text).expect("parse index.json") {
        Value::Array(v) => v,
        other => panic!("index.json is not an array: {other}"),
    }
}

fn fixture(file: &str) -> Bytes {
    Bytes::from(std::fs::read(dir().join(file)).unwrap_or_else(|e| panic!("read {file}: {e}")))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What a fixture holds, as Rust values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Packet {
    Connect(ConnectRequest),
    Connected(ConnectResponse),
    Request(RequestHeader, Request),
    Notification(ReplyHeader, WatcherEvent),
    /// A reply; `None` when the header carries an error (no body).
    Reply(ReplyHeader, Option<Response>),
}

impl Packet {
    fn encode(&self) -> Bytes {
        let mut w = BytesMut::new();
        match self {
            Packet::Connect(c) => c.encode(&mut w),
            Packet::Connected(c) => c.encode(&mut w),
            Packet::Request(h, r) => {
                h.encode(&mut w);
                r.encode(&mut w);
            }
            Packet::Notification(h, e) => {
                h.encode(&mut w);
                e.encode(&mut w);
            }
            Packet::Reply(h, r) => {
                h.encode(&mut w);
                if let Some(r) = r {
                    r.encode(&mut w);
                }
            }
        }
        w.freeze()
    }
}

/// Decodes a fixture the way its receiver would: a server reads requests with
/// `decode_request`; a client reads a reply header, then the body by the opcode it sent.
fn decode(kind: Option<&str>, op: Option<OpCode>, notification: bool, b: Bytes) -> Packet {
    match kind {
        Some("ConnectRequest") => {
            return Packet::Connect(ConnectRequest::from_bytes(b).expect("ConnectRequest"))
        }
        Some("ConnectResponse") => {
            return Packet::Connected(ConnectResponse::from_bytes(b).expect("ConnectResponse"))
        }
        _ => {}
    }
    let Some(op) = op else {
        // A request: the opcode is in its header.
        let (h, r) = decode_request(b).expect("decode_request");
        return Packet::Request(h, r);
    };
    let mut r = Reader::new(b.clone());
    let h = ReplyHeader::decode(&mut r).expect("ReplyHeader");
    let p = if notification {
        Packet::Notification(h, WatcherEvent::decode(&mut r).expect("WatcherEvent"))
    } else if h.err != 0 {
        Packet::Reply(h, None)
    } else {
        let resp = Response::decode(op, &mut r).expect("Response::decode");
        if let Response::Multi(m) | Response::MultiRead(m) = &resp {
            // The specific record agrees with the opcode-keyed decoder.
            let from_record = MultiResponse::from_bytes(b.slice(16..)).expect("MultiResponse");
            assert_eq!(
                &from_record, m,
                "MultiResponse::from_bytes vs Response::decode"
            );
        }
        Packet::Reply(h, Some(resp))
    };
    r.finish().expect("no trailing bytes after the reply");
    p
}

fn describe_diff(want: &[u8], got: &[u8]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    format!(
        "first difference at byte {at}\n java: {}\n rust: {}",
        hex(want),
        hex(got)
    )
}

/// Whether any string in a JSON value holds a character outside the BMP (which Java's jute
/// writes as CESU-8, see `supplementary_characters_*`).
fn has_non_bmp(v: &Value) -> bool {
    match v {
        Value::String(s) => s.chars().any(|c| u32::from(c) > 0xffff),
        Value::Array(a) => a.iter().any(has_non_bmp),
        Value::Object(o) => o.values().any(has_non_bmp),
        _ => false,
    }
}

/// Builds the Rust value for one index entry (all its fields consumed).
fn expected(e: &Value) -> Packet {
    let mut top = Fields::new("entry", e);
    let file = top.string("file");
    top.what = file.clone();
    let direction = top.string("direction");
    let kind = top.opt_string("kind");
    let op = match top.take("opcode") {
        Value::Null => None,
        v => Some(v.as_i64().unwrap_or_else(|| panic!("{file}: opcode {v}"))),
    };
    let op_name = top.string("opcode_name");
    let xid = top.take("xid").as_i64();
    let header = top.opt_obj("header");
    let body = top.opt_obj("fields");
    let size = top.i64("size");
    // Documentation only.
    for k in ["source", "notes", "live_check"] {
        top.take(k);
    }
    assert!(
        file.starts_with(&format!("{direction}_")),
        "{file}: direction {direction}"
    );
    assert_eq!(
        Ok(fixture(&file).len()),
        usize::try_from(size),
        "{file}: size"
    );
    let kind = kind.as_deref();
    match (direction.as_str(), kind) {
        ("req", Some("ConnectRequest")) => {
            assert!(op.is_none() && header.is_none() && op_name == "connect");
            let mut f = body.expect("fields");
            Packet::Connect(ConnectRequest {
                protocol_version: f.i32("protocolVersion"),
                last_zxid_seen: f.i64("lastZxidSeen"),
                timeout: f.i32("timeOut"),
                session_id: f.i64("sessionId"),
                passwd: f.buffer("passwd"),
                read_only: f.opt_bool("readOnly"),
            })
        }
        ("resp", Some("ConnectResponse")) => {
            assert!(op.is_none() && header.is_none() && op_name == "connect");
            let mut f = body.expect("fields");
            Packet::Connected(ConnectResponse {
                protocol_version: f.i32("protocolVersion"),
                timeout: f.i32("timeOut"),
                session_id: f.i64("sessionId"),
                passwd: f.buffer("passwd"),
                read_only: f.opt_bool("readOnly"),
            })
        }
        ("req", _) => {
            let mut h = header.expect("request header");
            let h = RequestHeader {
                xid: h.i32("xid"),
                op_type: h.i32("type"),
            };
            let op = opcode(op.expect("opcode"));
            assert_eq!(h.op_type, op.code(), "{file}: header type vs opcode");
            assert_eq!(xid, Some(i64::from(h.xid)), "{file}: xid");
            Packet::Request(h, request(op, kind, body))
        }
        ("resp", _) => {
            let mut h = header.expect("reply header");
            let h = ReplyHeader {
                xid: h.i32("xid"),
                zxid: h.i64("zxid"),
                err: h.i32("err"),
            };
            assert_eq!(xid, Some(i64::from(h.xid)), "{file}: xid");
            if op == Some(-1) {
                assert_eq!(h.xid, -1, "{file}: a notification has xid -1");
                let mut f = body.expect("WatcherEvent fields");
                assert_eq!(kind, Some("WatcherEvent"));
                return Packet::Notification(
                    h,
                    WatcherEvent {
                        event_type: f.i32("type"),
                        state: f.i32("state"),
                        path: f.string("path"),
                    },
                );
            }
            let op = opcode(op.expect("opcode"));
            if h.err != 0 {
                assert!(
                    kind.is_none() && body.is_none(),
                    "{file}: error with a body"
                );
                return Packet::Reply(h, None);
            }
            Packet::Reply(h, Some(response(op, kind, body)))
        }
        (d, _) => panic!("{file}: direction {d}"),
    }
}

/// Runs `check` on every entry (optionally filtered), collecting failures so one run reports
/// every broken fixture.
fn for_each_entry(filter: impl Fn(&Value) -> bool, check: impl Fn(&str, &Value)) -> usize {
    let mut failures = Vec::new();
    let mut n = 0;
    for e in index().iter().filter(|e| filter(e)) {
        n += 1;
        let file = e["file"].as_str().unwrap_or("?").to_string();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| check(&file, e))) {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{file}: {msg}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixture(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    n
}

fn check_both_directions(file: &str, e: &Value) {
    let want = expected(e);
    let bytes = fixture(file);
    let got = want.encode();
    assert!(
        got == bytes,
        "encoding differs from Java: {}",
        describe_diff(&bytes, &got)
    );
    let kind = e["kind"].as_str();
    let (op, notification) = match (&want, e["opcode"].as_i64()) {
        (Packet::Request(..), _) | (_, None) => (None, false),
        (_, Some(-1)) => (Some(OpCode::Notification), true),
        (_, Some(op)) => (Some(opcode(op)), false),
    };
    let back = decode(kind, op, notification, bytes);
    assert_eq!(back, want, "decoded value differs");
}

fn is_cesu(e: &Value) -> bool {
    has_non_bmp(&e["fields"])
}

#[test]
fn index_lists_exactly_the_fixture_files() {
    let listed: BTreeSet<String> = index()
        .iter()
        .map(|e| e["file"].as_str().expect("file").to_string())
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("fixture dir")
        .map(|d| d.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bin"))
        .collect();
    assert_eq!(listed, on_disk);
    assert_eq!(listed.len(), FIXTURES);
}

#[test]
fn requests_encode_to_the_java_bytes_and_decode_back() {
    let n = for_each_entry(
        |e| e["direction"] == "req" && !is_cesu(e),
        check_both_directions,
    );
    assert_eq!(n, 51, "request fixtures checked");
}

#[test]
fn replies_encode_to_the_java_bytes_and_decode_back() {
    let n = for_each_entry(
        |e| e["direction"] == "resp" && !is_cesu(e),
        check_both_directions,
    );
    assert_eq!(n, 36, "reply fixtures checked");
}

/// Java's jute writes each UTF-16 code unit separately (CESU-8), so a supplementary character
/// becomes two 3-byte surrogates. Our encoder writes standard UTF-8, and our decoder rejects
/// the surrogates as invalid UTF-8 (Java would decode them to two U+FFFD). Paths can never
/// hold these (Apache's path rules reject U+D800..U+F8FF), so the divergence only matters for
/// unvalidated strings such as ACL ids or auth schemes.
#[test]
fn supplementary_characters_are_cesu8_in_java_and_rejected_as_invalid_utf8() {
    let n = for_each_entry(is_cesu, |file, e| {
        let want = expected(e);
        let java = fixture(file);
        let Packet::Request(h, Request::GetData(req)) = &want else {
            panic!("expected a getData request, got {want:?}");
        };
        // The Java bytes are exactly our value with the path in CESU-8.
        let cesu: Vec<u8> = req
            .path
            .encode_utf16()
            .flat_map(|u| {
                // Every UTF-16 unit as its own 1-3 byte sequence, as Java's writeString does.
                let u = u32::from(u);
                match u {
                    0..=0x7f => vec![u as u8],
                    0x80..=0x7ff => vec![0xc0 | (u >> 6) as u8, 0x80 | (u & 0x3f) as u8],
                    _ => vec![
                        0xe0 | (u >> 12) as u8,
                        0x80 | ((u >> 6) & 0x3f) as u8,
                        0x80 | (u & 0x3f) as u8,
                    ],
                }
            })
            .collect();
        assert!(
            hex(&cesu).contains("eda0bdedb880"),
            "the emoji is a surrogate pair"
        );
        let mut w = BytesMut::new();
        h.encode(&mut w);
        w.put_i32(i32::try_from(cesu.len()).expect("short"));
        w.put_slice(&cesu);
        w.put_u8(u8::from(req.watch));
        assert_eq!(
            &w[..],
            &java[..],
            "Java bytes = our value with a CESU-8 path"
        );

        // We encode standard UTF-8 instead (2 bytes shorter: one 4-byte sequence, not 6).
        let ours = want.encode();
        assert_eq!(ours.len() + 2, java.len());
        assert!(hex(&ours).contains("f09f9880"), "UTF-8 emoji");
        assert_eq!(decode_request(ours).map(|(_, r)| r), Ok(want_req(&want)));

        // And the Java bytes are an error, not a panic and not a lossy decode.
        assert_eq!(decode_request(java.clone()), Err(JuteError::InvalidUtf8));
        let mut r = Reader::new(java.slice(8..));
        assert_eq!(String::decode(&mut r), Err(JuteError::InvalidUtf8));
    });
    assert_eq!(n, 1, "CESU-8 fixtures");
}

fn want_req(p: &Packet) -> Request {
    match p {
        Packet::Request(_, r) => r.clone(),
        other => panic!("not a request: {other:?}"),
    }
}

/// Session ids, zxids and TTLs above 2^53 survive the JSON (read as i64, never as f64).
#[test]
fn longs_above_two_pow_53_are_exact() {
    let e = index()
        .into_iter()
        .find(|e| e["file"] == "req_connect_reconnect_readonly.bin")
        .expect("fixture");
    let Packet::Connect(c) = expected(&e) else {
        panic!("not a connect")
    };
    assert_eq!(c.session_id, 0x0a1b_2c3d_4e5f_6071);
    assert!(c.session_id > 1 << 53);
    let e = index()
        .into_iter()
        .find(|e| e["file"] == "resp_getdata_null.bin")
        .expect("fixture");
    let Packet::Reply(_, Some(Response::GetData(g))) = expected(&e) else {
        panic!("not a getData reply")
    };
    assert_eq!(g.stat.ephemeral_owner, 0x8100_0000_0000_0001_u64 as i64);
}
