//! DataTree tests, by topic. Each test asserts an Apache ZooKeeper 3.8 behaviour; the ones
//! marked "checked on 3.8.0" were verified by hand against a real Apache server (raw requests
//! over a socket, or zkCli).

mod acl;
mod create;
mod multi;
mod quota;
mod reads;
mod reap;
mod sessions;
mod snapshot;
mod system;
mod write;

use bytes::Bytes;
use zk_core::proto::{
    Acl, CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, Encode, ErrorCode,
    EventType, MultiOp, MultiRequest, MultiResponse, Request, Response, SetAclRequest,
    SetDataRequest, Stat,
};

use super::{Applied, DataTree, NodeEvent, TreeConfig};
use crate::txn::{AuthId, Origin, Txn, TxnOp};

/// The session most tests write with.
pub(super) const S: i64 = 0x100;

/// A tree plus a zxid counter and a clock, applying entries as a log would.
pub(super) struct T {
    pub tree: DataTree,
    pub zxid: i64,
    pub time: i64,
    pub auth: Vec<AuthId>,
}

pub(super) fn id(scheme: &str, id: &str) -> AuthId {
    AuthId {
        scheme: scheme.into(),
        id: id.into(),
    }
}

pub(super) fn ev(path: &str, t: EventType) -> NodeEvent {
    NodeEvent::new(path, t)
}

pub(super) fn cr(path: &str, data: &[u8], flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags,
    }
}

impl T {
    pub fn new() -> Self {
        Self::with(TreeConfig::default())
    }

    pub fn with(config: TreeConfig) -> Self {
        let mut t = Self {
            tree: DataTree::new(config),
            zxid: 0,
            time: 1_000_000,
            auth: vec![id("ip", "127.0.0.1")],
        };
        t.open(S, 30_000);
        t
    }

    pub fn extended() -> Self {
        Self::with(TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        })
    }

    pub fn entry(&mut self, session_id: i64, op: TxnOp) -> Applied {
        self.zxid += 1;
        self.time += 10;
        let txn = Txn {
            origin: Origin {
                server_id: 1,
                request_id: self.zxid as u64,
            },
            session_id,
            cxid: 0,
            time_ms: self.time,
            auth: std::sync::Arc::new(self.auth.clone()),
            op,
        };
        self.tree.apply(self.zxid, &txn)
    }

    pub fn open(&mut self, session: i64, timeout_ms: i32) -> Applied {
        self.entry(session, TxnOp::CreateSession { timeout_ms })
    }

    pub fn close(&mut self, session: i64) -> Applied {
        self.entry(session, TxnOp::CloseSession)
    }

    pub fn req_as(&mut self, session: i64, req: &Request) -> Applied {
        let body = req.to_bytes();
        self.entry(
            session,
            TxnOp::Client {
                op: req.op_code().code(),
                body,
            },
        )
    }

    pub fn req(&mut self, req: &Request) -> Result<Response, ErrorCode> {
        self.req_as(S, req).reply
    }

    pub fn create(&mut self, path: &str, flags: i32) -> Result<String, ErrorCode> {
        match self.req(&Request::Create(cr(path, b"d", flags)))? {
            Response::Create(c) => Ok(c.path),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn create2(&mut self, path: &str, flags: i32) -> Result<(String, Stat), ErrorCode> {
        match self.req(&Request::Create2(cr(path, b"d", flags)))? {
            Response::Create2(c) => Ok((c.path, c.stat)),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn create_acl(&mut self, path: &str, acl: Vec<Acl>) -> Result<Response, ErrorCode> {
        self.req(&Request::Create(CreateRequest {
            acl,
            ..cr(path, b"d", 0)
        }))
    }

    pub fn create_ttl(&mut self, path: &str, flags: i32, ttl: i64) -> Result<Response, ErrorCode> {
        self.req(&Request::CreateTtl(CreateTtlRequest {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags,
            ttl,
        }))
    }

    pub fn delete(&mut self, path: &str, version: i32) -> Result<Response, ErrorCode> {
        self.req(&Request::Delete(DeleteRequest {
            path: path.into(),
            version,
        }))
    }

    pub fn set(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
    ) -> Result<Stat, ErrorCode> {
        match self.req(&Request::SetData(SetDataRequest {
            path: path.into(),
            data: data.map(Bytes::copy_from_slice),
            version,
        }))? {
            Response::SetData(s) => Ok(s.stat),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn set_acl(&mut self, path: &str, acl: Vec<Acl>, version: i32) -> Result<Stat, ErrorCode> {
        match self.req(&Request::SetAcl(SetAclRequest {
            path: path.into(),
            acl,
            version,
        }))? {
            Response::SetAcl(s) => Ok(s.stat),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn check(&mut self, path: &str, version: i32) -> Result<Response, ErrorCode> {
        self.req(&Request::Check(CheckVersionRequest {
            path: path.into(),
            version,
        }))
    }

    pub fn multi(&mut self, ops: Vec<MultiOp>) -> Result<MultiResponse, ErrorCode> {
        match self.req(&Request::Multi(MultiRequest { ops }))? {
            Response::Multi(m) => Ok(m),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn stat(&self, path: &str) -> Stat {
        self.tree
            .stat(path)
            .unwrap_or_else(|| panic!("no node {path}"))
    }

    pub fn read(&self, req: &Request) -> Result<Response, ErrorCode> {
        self.tree.read(req, S, &self.auth)
    }
}
