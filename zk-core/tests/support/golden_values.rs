//! index.json values as Rust records: the Java field names (camelCase) mapped onto our structs.
//! Every key of every JSON object must be read, so a field we fail to map is a failure.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde_json::{Map, Value};
use zk_core::proto::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CheckWatchesRequest, ClientInfo,
    Create2Response, CreateRequest, CreateResponse, CreateTtlRequest, DeleteRequest, Empty,
    ErrorResponse, ExistsRequest, ExistsResponse, GetAclRequest, GetAclResponse,
    GetAllChildrenNumberRequest, GetAllChildrenNumberResponse, GetChildren2Request,
    GetChildren2Response, GetChildrenRequest, GetChildrenResponse, GetDataRequest, GetDataResponse,
    GetEphemeralsRequest, GetEphemeralsResponse, MultiOp, MultiRequest, MultiResponse, MultiResult,
    OpCode, ReconfigRequest, RemoveWatchesRequest, Request, Response, SetAclRequest,
    SetAclResponse, SetDataRequest, SetDataResponse, SetWatches, SetWatches2, SyncRequest,
    SyncResponse, WhoAmIResponse,
};
use zk_core::{Acl, Id, Stat};

pub fn unhex(s: &str) -> Bytes {
    assert!(s.len() % 2 == 0, "odd hex string {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("{s:?}: {e}")))
        .collect::<Vec<u8>>()
        .into()
}

/// A JSON object whose keys must all be read before it is dropped.
pub struct Fields<'a> {
    pub what: String,
    map: &'a Map<String, Value>,
    used: BTreeSet<String>,
}

impl<'a> Fields<'a> {
    pub fn new(what: impl Into<String>, v: &'a Value) -> Self {
        let what = what.into();
        let map = v
            .as_object()
            .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
        Self {
            what,
            map,
            used: BTreeSet::new(),
        }
    }

    pub fn take(&mut self, k: &str) -> &'a Value {
        self.used.insert(k.to_string());
        self.map
            .get(k)
            .unwrap_or_else(|| panic!("{}: missing field {k}", self.what))
    }

    pub fn obj(&mut self, k: &str) -> Fields<'a> {
        let what = format!("{}.{k}", self.what);
        Fields::new(what, self.take(k))
    }

    pub fn opt_obj(&mut self, k: &str) -> Option<Fields<'a>> {
        let what = format!("{}.{k}", self.what);
        let v = self.take(k);
        (!v.is_null()).then(|| Fields::new(what, v))
    }

    /// Longs are read as i64 directly (they may exceed 2^53).
    pub fn i64(&mut self, k: &str) -> i64 {
        let v = self.take(k);
        v.as_i64()
            .unwrap_or_else(|| panic!("{}.{k}: not an i64: {v}", self.what))
    }

    pub fn i32(&mut self, k: &str) -> i32 {
        let n = self.i64(k);
        i32::try_from(n).unwrap_or_else(|_| panic!("{}.{k}: {n} is not an int", self.what))
    }

    pub fn bool(&mut self, k: &str) -> bool {
        let v = self.take(k);
        v.as_bool()
            .unwrap_or_else(|| panic!("{}.{k}: not a bool: {v}", self.what))
    }

    pub fn opt_bool(&mut self, k: &str) -> Option<bool> {
        if self.take(k).is_null() {
            None
        } else {
            Some(self.bool(k))
        }
    }

    pub fn opt_string(&mut self, k: &str) -> Option<String> {
        match self.take(k) {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            v => panic!("{}.{k}: not a string: {v}", self.what),
        }
    }

    /// A ustring that must not be null (our `String` fields).
    pub fn string(&mut self, k: &str) -> String {
        let what = format!("{}.{k}", self.what);
        self.opt_string(k)
            .unwrap_or_else(|| panic!("{what}: null where a string is required"))
    }

    pub fn opt_buffer(&mut self, k: &str) -> Option<Bytes> {
        self.opt_string(k).map(|h| unhex(&h))
    }

    pub fn buffer(&mut self, k: &str) -> Bytes {
        let what = format!("{}.{k}", self.what);
        self.opt_buffer(k)
            .unwrap_or_else(|| panic!("{what}: null where a buffer is required"))
    }

    pub fn list(&mut self, k: &str) -> &'a Vec<Value> {
        let v = self.take(k);
        v.as_array()
            .unwrap_or_else(|| panic!("{}.{k}: not a list: {v}", self.what))
    }

    pub fn strings(&mut self, k: &str) -> Vec<String> {
        let what = format!("{}.{k}", self.what);
        self.list(k)
            .iter()
            .map(|v| {
                v.as_str()
                    .unwrap_or_else(|| panic!("{what}: not a string: {v}"))
                    .to_string()
            })
            .collect()
    }

    pub fn acl(&mut self, k: &str) -> Vec<Acl> {
        let what = format!("{}.{k}", self.what);
        self.list(k)
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut a = Fields::new(format!("{what}[{i}]"), v);
                let perms = a.i32("perms");
                let mut id = a.obj("id");
                Acl {
                    perms,
                    id: Id::new(id.string("scheme"), id.string("id")),
                }
            })
            .collect()
    }

    pub fn stat(&mut self, k: &str) -> Stat {
        let mut s = self.obj(k);
        Stat {
            czxid: s.i64("czxid"),
            mzxid: s.i64("mzxid"),
            ctime: s.i64("ctime"),
            mtime: s.i64("mtime"),
            version: s.i32("version"),
            cversion: s.i32("cversion"),
            aversion: s.i32("aversion"),
            ephemeral_owner: s.i64("ephemeralOwner"),
            data_length: s.i32("dataLength"),
            num_children: s.i32("numChildren"),
            pzxid: s.i64("pzxid"),
        }
    }
}

impl Drop for Fields<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let unused: Vec<_> = self
            .map
            .keys()
            .filter(|k| !self.used.contains(*k))
            .collect();
        assert!(
            unused.is_empty(),
            "{}: unmapped fields {unused:?}",
            self.what
        );
    }
}

pub fn opcode(n: i64) -> OpCode {
    i32::try_from(n)
        .ok()
        .and_then(OpCode::from_code)
        .unwrap_or_else(|| panic!("unknown opcode {n}"))
}

fn create_request(f: &mut Fields) -> CreateRequest {
    CreateRequest {
        path: f.string("path"),
        data: f.opt_buffer("data"),
        acl: f.acl("acl"),
        flags: f.i32("flags"),
    }
}

fn create_ttl_request(f: &mut Fields) -> CreateTtlRequest {
    CreateTtlRequest {
        path: f.string("path"),
        data: f.opt_buffer("data"),
        acl: f.acl("acl"),
        flags: f.i32("flags"),
        ttl: f.i64("ttl"),
    }
}

fn delete_request(f: &mut Fields) -> DeleteRequest {
    DeleteRequest {
        path: f.string("path"),
        version: f.i32("version"),
    }
}

fn set_data_request(f: &mut Fields) -> SetDataRequest {
    SetDataRequest {
        path: f.string("path"),
        data: f.opt_buffer("data"),
        version: f.i32("version"),
    }
}

fn check_request(f: &mut Fields) -> CheckVersionRequest {
    CheckVersionRequest {
        path: f.string("path"),
        version: f.i32("version"),
    }
}

fn get_data_request(f: &mut Fields) -> GetDataRequest {
    GetDataRequest {
        path: f.string("path"),
        watch: f.bool("watch"),
    }
}

fn get_children_request(f: &mut Fields) -> GetChildrenRequest {
    GetChildrenRequest {
        path: f.string("path"),
        watch: f.bool("watch"),
    }
}

fn multi_request(f: &mut Fields) -> MultiRequest {
    let what = f.what.clone();
    let ops = f
        .list("ops")
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut op = Fields::new(format!("{what}.ops[{i}]"), v);
            let mut h = op.obj("header");
            let (ty, done, err) = (h.i64("type"), h.bool("done"), h.i32("err"));
            assert!(!done && err == -1, "{what}.ops[{i}]: request header {h:?}");
            let kind = op.opt_string("kind");
            let mut b = op.obj("fields");
            match (opcode(ty), kind.as_deref()) {
                (OpCode::Create, Some("CreateRequest")) => MultiOp::Create(create_request(&mut b)),
                (OpCode::Create2, Some("CreateRequest")) => {
                    MultiOp::Create2(create_request(&mut b))
                }
                (OpCode::CreateContainer, Some("CreateRequest")) => {
                    MultiOp::CreateContainer(create_request(&mut b))
                }
                (OpCode::CreateTtl, Some("CreateTTLRequest")) => {
                    MultiOp::CreateTtl(create_ttl_request(&mut b))
                }
                (OpCode::Delete, Some("DeleteRequest")) => MultiOp::Delete(delete_request(&mut b)),
                (OpCode::SetData, Some("SetDataRequest")) => {
                    MultiOp::SetData(set_data_request(&mut b))
                }
                (OpCode::Check, Some("CheckVersionRequest")) => {
                    MultiOp::Check(check_request(&mut b))
                }
                (OpCode::GetData, Some("GetDataRequest")) => {
                    MultiOp::GetData(get_data_request(&mut b))
                }
                (OpCode::GetChildren, Some("GetChildrenRequest")) => {
                    MultiOp::GetChildren(get_children_request(&mut b))
                }
                (op, k) => panic!("{what}.ops[{i}]: no multi op for {op:?} / {k:?}"),
            }
        })
        .collect();
    check_end(f);
    MultiRequest { ops }
}

/// The multi terminator is always `{type: -1, done: true, err: -1}` (our encoder writes that).
fn check_end(f: &mut Fields) {
    let mut end = f.obj("end");
    let got = (end.i64("type"), end.bool("done"), end.i64("err"));
    assert_eq!(got, (-1, true, -1), "{}: multi terminator", f.what);
}

impl std::fmt::Debug for Fields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {:?}", self.what, self.map)
    }
}

fn multi_response(f: &mut Fields) -> MultiResponse {
    let what = f.what.clone();
    let results = f
        .list("results")
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let ctx = format!("{what}.results[{i}]");
            let mut res = Fields::new(ctx.clone(), v);
            let mut h = res.obj("header");
            let (ty, done, err) = (h.i64("type"), h.bool("done"), h.i32("err"));
            assert!(!done, "{ctx}: done on a result");
            let kind = res.opt_string("kind");
            let body = res.opt_obj("fields");
            let r = match (ty, kind.as_deref(), body) {
                (-1, Some("ErrorResponse"), Some(mut b)) => {
                    let e = b.i32("err");
                    // Our encoder writes the code in both places, as Java does.
                    assert_eq!(err, e, "{ctx}: header err vs body err");
                    MultiResult::Error { err: e }
                }
                (1, Some("CreateResponse"), Some(mut b)) => MultiResult::Create {
                    path: b.string("path"),
                },
                (15 | 19 | 21, Some("Create2Response"), Some(mut b)) => MultiResult::Create2 {
                    op: opcode(ty),
                    path: b.string("path"),
                    stat: b.stat("stat"),
                },
                (2, None, None) => MultiResult::Delete,
                (13, None, None) => MultiResult::Check,
                (5, Some("SetDataResponse"), Some(mut b)) => MultiResult::SetData {
                    stat: b.stat("stat"),
                },
                (4, Some("GetDataResponse"), Some(mut b)) => MultiResult::GetData {
                    data: b.opt_buffer("data"),
                    stat: b.stat("stat"),
                },
                (8, Some("GetChildrenResponse"), Some(mut b)) => MultiResult::GetChildren {
                    children: b.strings("children"),
                },
                (t, k, _) => panic!("{ctx}: no multi result for type {t} / {k:?}"),
            };
            if !matches!(r, MultiResult::Error { .. }) {
                assert_eq!(err, 0, "{ctx}: a success carries err 0");
            }
            r
        })
        .collect();
    check_end(f);
    MultiResponse { results }
}

/// The request for an opcode and a Java record kind.
pub fn request(op: OpCode, kind: Option<&str>, body: Option<Fields>) -> Request {
    let Some(mut f) = body else {
        return match (op, kind) {
            (OpCode::Ping, None) => Request::Ping(Empty),
            (OpCode::WhoAmI, None) => Request::WhoAmI(Empty),
            (OpCode::CloseSession, None) => Request::CloseSession(Empty),
            (op, k) => panic!("no body-less request for {op:?} / {k:?}"),
        };
    };
    let f = &mut f;
    match (op, kind.unwrap_or_default()) {
        (OpCode::Create, "CreateRequest") => Request::Create(create_request(f)),
        (OpCode::Create2, "CreateRequest") => Request::Create2(create_request(f)),
        (OpCode::CreateContainer, "CreateRequest") => Request::CreateContainer(create_request(f)),
        (OpCode::CreateTtl, "CreateTTLRequest") => Request::CreateTtl(create_ttl_request(f)),
        (OpCode::Delete, "DeleteRequest") => Request::Delete(delete_request(f)),
        (OpCode::Exists, "ExistsRequest") => Request::Exists(ExistsRequest {
            path: f.string("path"),
            watch: f.bool("watch"),
        }),
        (OpCode::GetData, "GetDataRequest") => Request::GetData(get_data_request(f)),
        (OpCode::SetData, "SetDataRequest") => Request::SetData(set_data_request(f)),
        (OpCode::GetAcl, "GetACLRequest") => Request::GetAcl(GetAclRequest {
            path: f.string("path"),
        }),
        (OpCode::SetAcl, "SetACLRequest") => Request::SetAcl(SetAclRequest {
            path: f.string("path"),
            acl: f.acl("acl"),
            version: f.i32("version"),
        }),
        (OpCode::GetChildren, "GetChildrenRequest") => {
            Request::GetChildren(get_children_request(f))
        }
        (OpCode::GetChildren2, "GetChildren2Request") => {
            Request::GetChildren2(GetChildren2Request {
                path: f.string("path"),
                watch: f.bool("watch"),
            })
        }
        (OpCode::Sync, "SyncRequest") => Request::Sync(SyncRequest {
            path: f.string("path"),
        }),
        (OpCode::Check, "CheckVersionRequest") => Request::Check(check_request(f)),
        (OpCode::Multi, "MultiOperationRecord") => Request::Multi(multi_request(f)),
        (OpCode::MultiRead, "MultiOperationRecord") => Request::MultiRead(multi_request(f)),
        (OpCode::Reconfig, "ReconfigRequest") => Request::Reconfig(ReconfigRequest {
            joining_servers: f.opt_string("joiningServers"),
            leaving_servers: f.opt_string("leavingServers"),
            new_members: f.opt_string("newMembers"),
            cur_config_id: f.i64("curConfigId"),
        }),
        (OpCode::CheckWatches, "CheckWatchesRequest") => {
            Request::CheckWatches(CheckWatchesRequest {
                path: f.string("path"),
                watcher_type: f.i32("type"),
            })
        }
        (OpCode::RemoveWatches, "RemoveWatchesRequest") => {
            Request::RemoveWatches(RemoveWatchesRequest {
                path: f.string("path"),
                watcher_type: f.i32("type"),
            })
        }
        (OpCode::Auth, "AuthPacket") => Request::Auth(AuthPacket {
            auth_type: f.i32("type"),
            scheme: f.string("scheme"),
            auth: f.buffer("auth"),
        }),
        (OpCode::SetWatches, "SetWatches") => Request::SetWatches(SetWatches {
            relative_zxid: f.i64("relativeZxid"),
            data_watches: f.strings("dataWatches"),
            exist_watches: f.strings("existWatches"),
            child_watches: f.strings("childWatches"),
        }),
        (OpCode::SetWatches2, "SetWatches2") => Request::SetWatches2(SetWatches2 {
            relative_zxid: f.i64("relativeZxid"),
            data_watches: f.strings("dataWatches"),
            exist_watches: f.strings("existWatches"),
            child_watches: f.strings("childWatches"),
            persistent_watches: f.strings("persistentWatches"),
            persistent_recursive_watches: f.strings("persistentRecursiveWatches"),
        }),
        (OpCode::GetEphemerals, "GetEphemeralsRequest") => {
            Request::GetEphemerals(GetEphemeralsRequest {
                prefix_path: f.string("prefixPath"),
            })
        }
        (OpCode::GetAllChildrenNumber, "GetAllChildrenNumberRequest") => {
            Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
                path: f.string("path"),
            })
        }
        (OpCode::AddWatch, "AddWatchRequest") => Request::AddWatch(AddWatchRequest {
            path: f.string("path"),
            mode: f.i32("mode"),
        }),
        (op, k) => panic!("no request mapping for {op:?} / {k:?}"),
    }
}

/// The successful reply body for an opcode and a Java record kind.
pub fn response(op: OpCode, kind: Option<&str>, body: Option<Fields>) -> Response {
    let Some(mut f) = body else {
        return match (op, kind) {
            (OpCode::Delete, None) => Response::Delete(Empty),
            (OpCode::Ping, None) => Response::Ping(Empty),
            (OpCode::Auth, None) => Response::Auth(Empty),
            (OpCode::SetWatches, None) => Response::SetWatches(Empty),
            (OpCode::SetWatches2, None) => Response::SetWatches2(Empty),
            (OpCode::CloseSession, None) => Response::CloseSession(Empty),
            (op, k) => panic!("no body-less response for {op:?} / {k:?}"),
        };
    };
    let f = &mut f;
    let get_data = |f: &mut Fields| GetDataResponse {
        data: f.opt_buffer("data"),
        stat: f.stat("stat"),
    };
    let set_data = |f: &mut Fields| SetDataResponse {
        stat: f.stat("stat"),
    };
    match (op, kind.unwrap_or_default()) {
        (OpCode::Create, "CreateResponse") => Response::Create(CreateResponse {
            path: f.string("path"),
        }),
        (OpCode::Create2, "Create2Response") => Response::Create2(Create2Response {
            path: f.string("path"),
            stat: f.stat("stat"),
        }),
        (OpCode::Exists, "ExistsResponse") => Response::Exists(ExistsResponse {
            stat: f.stat("stat"),
        }),
        (OpCode::GetData, "GetDataResponse") => Response::GetData(get_data(f)),
        (OpCode::Reconfig, "GetDataResponse") => Response::Reconfig(get_data(f)),
        (OpCode::SetData, "SetDataResponse") => Response::SetData(set_data(f)),
        (OpCode::Check, "SetDataResponse") => Response::Check(set_data(f)),
        (OpCode::GetAcl, "GetACLResponse") => Response::GetAcl(GetAclResponse {
            acl: f.acl("acl"),
            stat: f.stat("stat"),
        }),
        (OpCode::SetAcl, "SetACLResponse") => Response::SetAcl(SetAclResponse {
            stat: f.stat("stat"),
        }),
        (OpCode::GetChildren, "GetChildrenResponse") => {
            Response::GetChildren(GetChildrenResponse {
                children: f.strings("children"),
            })
        }
        (OpCode::GetChildren2, "GetChildren2Response") => {
            Response::GetChildren2(GetChildren2Response {
                children: f.strings("children"),
                stat: f.stat("stat"),
            })
        }
        (OpCode::Sync, "SyncResponse") => Response::Sync(SyncResponse {
            path: f.string("path"),
        }),
        (OpCode::Multi, "MultiResponse") => Response::Multi(multi_response(f)),
        (OpCode::MultiRead, "MultiResponse") => Response::MultiRead(multi_response(f)),
        (OpCode::GetEphemerals, "GetEphemeralsResponse") => {
            Response::GetEphemerals(GetEphemeralsResponse {
                ephemerals: f.strings("ephemerals"),
            })
        }
        (OpCode::GetAllChildrenNumber, "GetAllChildrenNumberResponse") => {
            Response::GetAllChildrenNumber(GetAllChildrenNumberResponse {
                total_number: f.i32("totalNumber"),
            })
        }
        (OpCode::WhoAmI, "WhoAmIResponse") => {
            let what = f.what.clone();
            Response::WhoAmI(WhoAmIResponse {
                client_info: f
                    .list("clientInfo")
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let mut c = Fields::new(format!("{what}.clientInfo[{i}]"), v);
                        ClientInfo {
                            auth_scheme: c.string("authScheme"),
                            user: c.string("user"),
                        }
                    })
                    .collect(),
            })
        }
        (OpCode::AddWatch, "ErrorResponse") => {
            Response::AddWatch(ErrorResponse { err: f.i32("err") })
        }
        (op, k) => panic!("no response mapping for {op:?} / {k:?}"),
    }
}
