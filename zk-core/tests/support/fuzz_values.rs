//! Random valid records (`Gen`) and the heap audit of decoded values (`Heap`), for the fuzzer
//! in `fuzz.rs`. Both are implemented field by field and variant by variant with exhaustive
//! patterns, so a new field or variant in `zk_core::proto` is a compile error here, not a gap.

use std::ops::Range;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::Rng;
use zk_core::proto::{
    decode_request, AddWatchRequest, AuthPacket, CheckVersionRequest, CheckWatchesRequest,
    ClientInfo, ConnectRequest, ConnectResponse, Create2Response, CreateRequest, CreateResponse,
    CreateTtlRequest, Decode, DeleteRequest, Empty, Encode, ErrorResponse, ExistsRequest,
    ExistsResponse, GetAclRequest, GetAclResponse, GetAllChildrenNumberRequest,
    GetAllChildrenNumberResponse, GetChildren2Request, GetChildren2Response, GetChildrenRequest,
    GetChildrenResponse, GetDataRequest, GetDataResponse, GetEphemeralsRequest,
    GetEphemeralsResponse, MultiHeader, MultiOp, MultiRequest, MultiResponse, MultiResult, OpCode,
    Reader, ReconfigRequest, RemoveWatchesRequest, ReplyHeader, Request, RequestHeader, Response,
    SaslPacket, SetAclRequest, SetAclResponse, SetDataRequest, SetDataResponse, SetWatches,
    SetWatches2, SyncRequest, SyncResponse, WatcherEvent, WhoAmIResponse,
};
use zk_core::{Acl, Id, Stat};

use super::{hex, random_bytes, to_bytes_with};

// ---------------------------------------------------------------------------------------------
// Random valid records

/// A random value of a record type.
pub(super) trait Gen: Sized {
    fn gen(rng: &mut StdRng) -> Self;
}

impl Gen for i32 {
    fn gen(rng: &mut StdRng) -> Self {
        match rng.gen_range(0..8) {
            0 => 0,
            1 => -1,
            2 => i32::MIN,
            3 => i32::MAX,
            4 | 5 => rng.gen_range(-200..200),
            _ => rng.gen(),
        }
    }
}

impl Gen for i64 {
    fn gen(rng: &mut StdRng) -> Self {
        match rng.gen_range(0..6) {
            0 => 0,
            1 => -1,
            2 => i64::MIN,
            3 => i64::MAX,
            _ => rng.gen(),
        }
    }
}

impl Gen for bool {
    fn gen(rng: &mut StdRng) -> Self {
        rng.gen()
    }
}

impl Gen for String {
    fn gen(rng: &mut StdRng) -> Self {
        const CHARS: &[char] = &[
            'a', 'z', '/', '-', '0', '9', ' ', '.', 'é', 'ü', '日', '本', '😀', '\0',
        ];
        let n = if rng.gen_bool(0.05) {
            rng.gen_range(32..300)
        } else {
            rng.gen_range(0..10)
        };
        (0..n)
            .map(|_| CHARS[rng.gen_range(0..CHARS.len())])
            .collect()
    }
}

impl Gen for Bytes {
    fn gen(rng: &mut StdRng) -> Self {
        random_bytes(rng, 0..24)
    }
}

impl<T: Gen> Gen for Option<T> {
    fn gen(rng: &mut StdRng) -> Self {
        rng.gen_bool(0.75).then(|| T::gen(rng))
    }
}

impl<T: Gen> Gen for Vec<T> {
    fn gen(rng: &mut StdRng) -> Self {
        let n = if rng.gen_bool(0.05) {
            rng.gen_range(4..12)
        } else {
            rng.gen_range(0..4)
        };
        (0..n).map(|_| T::gen(rng)).collect()
    }
}

impl Gen for Empty {
    fn gen(_: &mut StdRng) -> Self {
        Empty
    }
}

/// `Gen` and `Heap` for structs: every field, by name (a new field is a compile error here).
macro_rules! records {
    ($($t:ident { $($f:ident),* $(,)? })*) => {$(
        impl Gen for $t {
            #[allow(unused_variables)]
            fn gen(rng: &mut StdRng) -> Self {
                Self { $($f: Gen::gen(rng)),* }
            }
        }
        impl Heap for $t {
            #[allow(unused_variables)]
            fn heap(&self, a: &mut Audit) {
                let $t { $($f),* } = self;
                $($f.heap(a);)*
            }
        }
    )*};
}

records! {
    Id { scheme, id }
    Acl { perms, id }
    Stat { czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeral_owner, data_length, num_children, pzxid }
    ClientInfo { auth_scheme, user }
    SetWatches { relative_zxid, data_watches, exist_watches, child_watches }
    SetWatches2 { relative_zxid, data_watches, exist_watches, child_watches, persistent_watches, persistent_recursive_watches }
    RequestHeader { xid, op_type }
    ReplyHeader { xid, zxid, err }
    CheckWatchesRequest { path, watcher_type }
    RemoveWatchesRequest { path, watcher_type }
    GetAclRequest { path }
    GetDataRequest { path, watch }
    SetDataRequest { path, data, version }
    ReconfigRequest { joining_servers, leaving_servers, new_members, cur_config_id }
    SetDataResponse { stat }
    SaslPacket { token }
    AuthPacket { auth_type, scheme, auth }
    GetDataResponse { data, stat }
    GetChildrenRequest { path, watch }
    GetChildren2Request { path, watch }
    CheckVersionRequest { path, version }
    SyncRequest { path }
    SyncResponse { path }
    GetAclResponse { acl, stat }
    SetAclRequest { path, acl, version }
    SetAclResponse { stat }
    AddWatchRequest { path, mode }
    WatcherEvent { event_type, state, path }
    ErrorResponse { err }
    CreateResponse { path }
    Create2Response { path, stat }
    ExistsRequest { path, watch }
    ExistsResponse { stat }
    GetChildrenResponse { children }
    GetChildren2Response { children, stat }
    CreateRequest { path, data, acl, flags }
    CreateTtlRequest { path, data, acl, flags, ttl }
    DeleteRequest { path, version }
    GetEphemeralsRequest { prefix_path }
    GetEphemeralsResponse { ephemerals }
    GetAllChildrenNumberRequest { path }
    GetAllChildrenNumberResponse { total_number }
    WhoAmIResponse { client_info }
    MultiHeader { op_type, done, err }
    ConnectRequest { protocol_version, last_zxid_seen, timeout, session_id, passwd, read_only }
    ConnectResponse { protocol_version, timeout, session_id, passwd, read_only }
    MultiRequest { ops }
    MultiResponse { results }
}

/// `Gen` and `Heap` for enums of one-field variants (a new variant is a compile error here).
macro_rules! variants {
    ($($t:ident { $($v:ident),* $(,)? })*) => {$(
        impl Gen for $t {
            fn gen(rng: &mut StdRng) -> Self {
                let all: &[fn(&mut StdRng) -> $t] = &[$(|r| $t::$v(Gen::gen(r))),*];
                all[rng.gen_range(0..all.len())](rng)
            }
        }
        impl Heap for $t {
            fn heap(&self, a: &mut Audit) {
                match self { $($t::$v(x) => x.heap(a)),* }
            }
        }
    )*};
}

variants! {
    Request {
        Create, Delete, Exists, GetData, SetData, GetAcl, SetAcl, GetChildren, Sync, Ping,
        GetChildren2, Check, Multi, Create2, Reconfig, CheckWatches, RemoveWatches,
        CreateContainer, CreateTtl, MultiRead, Auth, SetWatches, Sasl, GetEphemerals,
        GetAllChildrenNumber, SetWatches2, AddWatch, WhoAmI, CloseSession,
    }
    Response {
        Create, Delete, Exists, GetData, SetData, GetAcl, SetAcl, GetChildren, Sync, Ping,
        GetChildren2, Check, Multi, Create2, Reconfig, CheckWatches, RemoveWatches,
        CreateContainer, CreateTtl, MultiRead, Auth, SetWatches, Sasl, GetEphemerals,
        GetAllChildrenNumber, SetWatches2, AddWatch, WhoAmI, CloseSession,
    }
    MultiOp {
        Create, Create2, CreateContainer, CreateTtl, Delete, SetData, Check, GetData, GetChildren,
    }
}

impl Gen for MultiResult {
    fn gen(rng: &mut StdRng) -> Self {
        match rng.gen_range(0..8) {
            0 => MultiResult::Create {
                path: Gen::gen(rng),
            },
            1 => MultiResult::Create2 {
                op: [OpCode::Create2, OpCode::CreateContainer, OpCode::CreateTtl]
                    [rng.gen_range(0..3)],
                path: Gen::gen(rng),
                stat: Gen::gen(rng),
            },
            2 => MultiResult::Delete,
            3 => MultiResult::SetData {
                stat: Gen::gen(rng),
            },
            4 => MultiResult::Check,
            5 => MultiResult::GetData {
                data: Gen::gen(rng),
                stat: Gen::gen(rng),
            },
            6 => MultiResult::GetChildren {
                children: Gen::gen(rng),
            },
            _ => MultiResult::Error { err: Gen::gen(rng) },
        }
    }
}

impl Heap for MultiResult {
    fn heap(&self, a: &mut Audit) {
        match self {
            MultiResult::Create { path } => path.heap(a),
            MultiResult::Create2 { op: _, path, stat } => {
                path.heap(a);
                stat.heap(a);
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData { stat } => stat.heap(a),
            MultiResult::GetData { data, stat } => {
                data.heap(a);
                stat.heap(a);
            }
            MultiResult::GetChildren { children } => children.heap(a),
            MultiResult::Error { err } => err.heap(a),
        }
    }
}

/// A random valid packet and the decoder it is meant for.
#[derive(Debug)]
pub(super) enum Sample {
    Request(RequestHeader, Request),
    Reply(ReplyHeader, Response),
    Notification(ReplyHeader, WatcherEvent),
    Connect(ConnectRequest),
    Connected(ConnectResponse),
}

impl Sample {
    pub(super) fn gen(rng: &mut StdRng) -> Self {
        match rng.gen_range(0..10) {
            0..=3 => {
                // Multis are the most intricate bodies: make them a quarter of the requests.
                let req = match rng.gen_range(0..8) {
                    0 => Request::Multi(Gen::gen(rng)),
                    1 => Request::MultiRead(Gen::gen(rng)),
                    _ => Request::gen(rng),
                };
                let h = RequestHeader {
                    xid: Gen::gen(rng),
                    op_type: req.op_code().code(),
                };
                Sample::Request(h, req)
            }
            4..=7 => {
                let h = ReplyHeader {
                    xid: Gen::gen(rng),
                    zxid: Gen::gen(rng),
                    err: 0,
                };
                let resp = match rng.gen_range(0..8) {
                    0 => Response::Multi(Gen::gen(rng)),
                    1 => Response::MultiRead(Gen::gen(rng)),
                    _ => Response::gen(rng),
                };
                Sample::Reply(h, resp)
            }
            8 => Sample::Notification(
                ReplyHeader {
                    xid: -1,
                    zxid: -1,
                    err: 0,
                },
                Gen::gen(rng),
            ),
            _ if rng.gen() => Sample::Connect(Gen::gen(rng)),
            _ => Sample::Connected(Gen::gen(rng)),
        }
    }

    pub(super) fn encode(&self) -> Bytes {
        match self {
            Sample::Request(h, r) => to_bytes_with(&[h, r]),
            Sample::Reply(h, r) => to_bytes_with(&[h, r]),
            Sample::Notification(h, e) => to_bytes_with(&[h, e]),
            Sample::Connect(c) => c.to_bytes(),
            Sample::Connected(c) => c.to_bytes(),
        }
    }

    /// Decodes `b` with the decoder this packet is meant for: it must be exactly `self`.
    pub(super) fn check(&self, b: &Bytes) -> Result<(), String> {
        let same = match self {
            Sample::Request(h, r) => decode_request(b.clone()) == Ok((*h, r.clone())),
            Sample::Reply(h, resp) => {
                let mut r = Reader::new(b.clone());
                ReplyHeader::decode(&mut r).as_ref() == Ok(h)
                    && Response::decode(resp.op_code(), &mut r).as_ref() == Ok(resp)
                    && r.finish().is_ok()
            }
            Sample::Notification(h, e) => {
                let mut r = Reader::new(b.clone());
                ReplyHeader::decode(&mut r).as_ref() == Ok(h)
                    && WatcherEvent::decode(&mut r).as_ref() == Ok(e)
                    && r.finish().is_ok()
            }
            Sample::Connect(c) => ConnectRequest::from_bytes(b.clone()).as_ref() == Ok(c),
            Sample::Connected(c) => ConnectResponse::from_bytes(b.clone()).as_ref() == Ok(c),
        };
        if same {
            Ok(())
        } else {
            Err(format!(
                "a valid record did not decode to itself: {}",
                hex(b)
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Heap audit

/// What a decoded value holds on the heap, and anything over-allocated or copied.
pub(super) struct Audit {
    frame: Range<usize>,
    pub(super) heap: usize,
    pub(super) problems: Vec<String>,
}

impl Audit {
    pub(super) fn new(frame: &Bytes) -> Self {
        let start = frame.as_ptr() as usize;
        Self {
            frame: start..start + frame.len(),
            heap: 0,
            problems: Vec::new(),
        }
    }
}

/// Walks a decoded value's heap.
pub(super) trait Heap {
    fn heap(&self, _a: &mut Audit) {}
}

impl Heap for i32 {}
impl Heap for i64 {}
impl Heap for bool {}
impl Heap for Empty {}

impl Heap for String {
    fn heap(&self, a: &mut Audit) {
        a.heap += self.capacity();
        if self.capacity() > (2 * self.len()).max(8) {
            a.problems.push(format!(
                "a {}-byte string with capacity {}",
                self.len(),
                self.capacity()
            ));
        }
    }
}

/// Buffers must be slices of the frame, not copies.
impl Heap for Bytes {
    fn heap(&self, a: &mut Audit) {
        let p = self.as_ptr() as usize;
        if !self.is_empty() && (p < a.frame.start || p + self.len() > a.frame.end) {
            a.problems.push(format!(
                "a {}-byte buffer copied out of the frame",
                self.len()
            ));
        }
    }
}

impl<T: Heap> Heap for Option<T> {
    fn heap(&self, a: &mut Audit) {
        if let Some(v) = self {
            v.heap(a);
        }
    }
}

impl<T: Heap> Heap for Vec<T> {
    fn heap(&self, a: &mut Audit) {
        a.heap += self.capacity() * std::mem::size_of::<T>();
        if self.capacity() > (2 * self.len()).max(4) {
            a.problems.push(format!(
                "a vector of {} elements with capacity {}",
                self.len(),
                self.capacity()
            ));
        }
        for v in self {
            v.heap(a);
        }
    }
}

impl<A: Heap, B: Heap> Heap for (A, B) {
    fn heap(&self, a: &mut Audit) {
        self.0.heap(a);
        self.1.heap(a);
    }
}
