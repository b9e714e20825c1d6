//! Applying log entries: client writes (validated by [`super::prep`], then committed), multi,
//! sessions, reaping, no-ops.

use bytes::Bytes;
use zk_core::proto::{
    Create2Response, CreateMode, CreateRequest, CreateResponse, CreateTtlRequest, Empty, ErrorCode,
    MultiOp, MultiRequest, MultiResponse, MultiResult, OpCode, Reader, Request, Response,
    SetAclResponse, SetDataResponse, Stat,
};

use super::acl::Asker;
use super::prep::{Change, CreateArgs, CreateOp, Ctx, Prep};
use super::{Applied, DataTree, NodeEvent};
use crate::txn::{Txn, TxnOp};

/// What a committed change produced.
enum Outcome {
    Created { path: String, stat: Stat },
    Deleted,
    Stat(Stat),
}

fn create_args(r: CreateRequest) -> CreateArgs {
    CreateArgs {
        path: r.path,
        data: r.data,
        acl: r.acl,
        flags: r.flags,
        ttl: -1,
    }
}

fn ttl_args(r: CreateTtlRequest) -> CreateArgs {
    CreateArgs {
        path: r.path,
        data: r.data,
        acl: r.acl,
        flags: r.flags,
        ttl: r.ttl,
    }
}

/// A multi's create as Apache 3.8 re-reads it (`MultiOperationRecord` → `Op.create`): the opcode
/// follows the flags, not the header. create/create2/createContainer: container flags make a
/// createContainer, anything else a plain create (create2 answers like create), TTL flags are a
/// MarshallingError for the whole multi. createTTL: TTL flags keep it, container flags make a
/// createContainer, anything else (unknown flags included) a plain persistent create.
fn normalize_multi_create(op: &MultiOp) -> Result<Option<(CreateOp, CreateArgs)>, ErrorCode> {
    let lenient = |flags: i32| CreateMode::from_code(flags).unwrap_or(CreateMode::Persistent);
    Ok(Some(match op {
        MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
            let mode = lenient(r.flags);
            if mode.is_ttl() {
                return Err(ErrorCode::MarshallingError);
            }
            let kind = if mode.is_container() {
                CreateOp::Container
            } else {
                CreateOp::Create
            };
            (kind, create_args(r.clone()))
        }
        MultiOp::CreateTtl(r) => {
            let mode = lenient(r.flags);
            if mode.is_ttl() {
                (CreateOp::Ttl, ttl_args(r.clone()))
            } else {
                let kind = if mode.is_container() {
                    CreateOp::Container
                } else {
                    CreateOp::Create
                };
                let mut a = ttl_args(r.clone());
                a.flags = mode.code();
                a.ttl = -1;
                (kind, a)
            }
        }
        _ => return Ok(None),
    }))
}

impl DataTree {
    /// Applies one log entry at `zxid`. Deterministic: time comes from `txn.time_ms`. Never
    /// panics on any entry; undecodable client bodies answer MarshallingError.
    pub fn apply(&mut self, zxid: i64, txn: &Txn) -> Applied {
        let mut events = Vec::new();
        let reply = match &txn.op {
            TxnOp::Client { op, body } => self.apply_client(zxid, txn, *op, body, &mut events),
            TxnOp::CreateSession { timeout_ms } => {
                self.sessions.timeouts.insert(txn.session_id, *timeout_ms);
                Ok(Response::Ping(Empty))
            }
            TxnOp::CloseSession => {
                self.close_session(txn.session_id, zxid, &mut events);
                Ok(Response::CloseSession(Empty))
            }
            TxnOp::Reap { path } => self.reap(path, zxid, txn.time_ms, &mut events),
            TxnOp::Noop => Ok(Response::Ping(Empty)),
        };
        if zxid > self.last_zxid {
            self.last_zxid = zxid;
        }
        Applied { reply, events }
    }

    fn close_session(&mut self, session_id: i64, zxid: i64, events: &mut Vec<NodeEvent>) {
        for path in self.ephemerals(session_id) {
            // An ephemeral has no children, so this cannot fail but for a vanished node.
            let _ = self.delete_node(&path, zxid, events);
        }
        self.sessions.ephemerals.remove(&session_id);
        self.sessions.timeouts.remove(&session_id);
    }

    fn asker<'a>(&'a self, txn: &'a Txn) -> Ctx<'a> {
        Ctx {
            session_id: txn.session_id,
            asker: Asker {
                auth: &txn.auth,
                super_digest: self.config.super_digest.as_deref(),
                skip_acl: self.config.skip_acl,
            },
        }
    }

    fn apply_client(
        &mut self,
        zxid: i64,
        txn: &Txn,
        op: i32,
        body: &Bytes,
        events: &mut Vec<NodeEvent>,
    ) -> Result<Response, ErrorCode> {
        let code = OpCode::from_code(op).ok_or(ErrorCode::Unimplemented)?;
        if !matches!(
            code,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
        ) {
            return Err(ErrorCode::Unimplemented);
        }
        // Shares the body's buffer: decoded data are views of it, not copies (paths are
        // decoded into strings).
        let mut r = Reader::new(body.clone());
        let req = Request::decode(op, &mut r).map_err(|_| ErrorCode::MarshallingError)?;
        if let Request::Multi(m) = req {
            return Ok(Response::Multi(self.apply_multi(zxid, txn, m, events)?));
        }
        let change = {
            let mut prep = Prep::single(self, self.asker(txn));
            match req {
                Request::Create(r) => prep.create(CreateOp::Create, create_args(r)),
                Request::Create2(r) => prep.create(CreateOp::Create2, create_args(r)),
                Request::CreateContainer(r) => prep.create(CreateOp::Container, create_args(r)),
                Request::CreateTtl(r) => prep.create(CreateOp::Ttl, ttl_args(r)),
                Request::Delete(r) => prep.delete(r.path, r.version),
                Request::SetData(r) => prep.set_data(r.path, r.data, r.version),
                Request::SetAcl(r) => prep.set_acl(r.path, &r.acl, r.version),
                Request::Check(r) => prep.check(r.path, r.version),
                // Reconfiguration is not supported (Apache's default: reconfigEnabled=false).
                Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
                _ => Err(ErrorCode::Unimplemented),
            }
        }?;
        let outcome = self.commit(change, zxid, txn.time_ms, events)?;
        Ok(match (code, outcome) {
            (OpCode::Create, Outcome::Created { path, .. }) => {
                Response::Create(CreateResponse { path })
            }
            (OpCode::Create2, Outcome::Created { path, stat }) => {
                Response::Create2(Create2Response { path, stat })
            }
            (OpCode::CreateContainer, Outcome::Created { path, stat }) => {
                Response::CreateContainer(Create2Response { path, stat })
            }
            (OpCode::CreateTtl, Outcome::Created { path, stat }) => {
                Response::CreateTtl(Create2Response { path, stat })
            }
            (OpCode::Delete, _) => Response::Delete(Empty),
            (OpCode::SetData, Outcome::Stat(stat)) => Response::SetData(SetDataResponse { stat }),
            (OpCode::SetAcl, Outcome::Stat(stat)) => Response::SetAcl(SetAclResponse { stat }),
            // Apache 3.8 fails here (NPE, no reply); 3.9 answers the node's stat.
            (OpCode::Check, Outcome::Stat(stat)) => Response::Check(SetDataResponse { stat }),
            _ => return Err(ErrorCode::SystemError),
        })
    }

    /// multi: every op validated against the pending view; on the first failure nothing is
    /// applied and the results are Error{0} before it, its code, RuntimeInconsistency after.
    fn apply_multi(
        &mut self,
        zxid: i64,
        txn: &Txn,
        m: MultiRequest,
        events: &mut Vec<NodeEvent>,
    ) -> Result<MultiResponse, ErrorCode> {
        // Read ops in a write multi, and TTL flags on a plain create, fail the whole request
        // (Apache 3.8: MarshallingError, nothing applied).
        let mut ops = Vec::with_capacity(m.ops.len());
        for op in &m.ops {
            if matches!(op, MultiOp::GetData(_) | MultiOp::GetChildren(_)) {
                return Err(ErrorCode::MarshallingError);
            }
            ops.push((op, normalize_multi_create(op)?));
        }
        let mut changes = Vec::with_capacity(ops.len());
        let mut failure = None;
        {
            let mut prep = Prep::new(self, self.asker(txn));
            for (i, (op, create)) in ops.into_iter().enumerate() {
                let result = match (create, op) {
                    (Some((kind, args)), _) => prep.create(kind, args).map(|c| (c, Some(kind))),
                    (None, MultiOp::Delete(r)) => {
                        prep.delete(r.path.clone(), r.version).map(|c| (c, None))
                    }
                    (None, MultiOp::SetData(r)) => prep
                        .set_data(r.path.clone(), r.data.clone(), r.version)
                        .map(|c| (c, None)),
                    (None, MultiOp::Check(r)) => {
                        prep.check(r.path.clone(), r.version).map(|c| (c, None))
                    }
                    (None, _) => Err(ErrorCode::MarshallingError),
                };
                match result {
                    Ok(c) => changes.push(c),
                    // Where Apache throws something else than a KeeperException (a malformed
                    // quota record, a create mode it cannot convert): the whole request fails.
                    Err(ErrorCode::MarshallingError) => return Err(ErrorCode::MarshallingError),
                    Err(e) => {
                        failure = Some((i, e));
                        break;
                    }
                }
            }
        }
        if let Some((failed, code)) = failure {
            let results = (0..m.ops.len())
                .map(|i| MultiResult::Error {
                    err: match i.cmp(&failed) {
                        std::cmp::Ordering::Less => 0,
                        std::cmp::Ordering::Equal => code.code(),
                        std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency.code(),
                    },
                })
                .collect();
            return Ok(MultiResponse { results });
        }
        let mut results = Vec::with_capacity(changes.len());
        for (change, create_kind) in changes {
            let is_check = matches!(change, Change::Check { .. });
            let is_set = matches!(change, Change::SetData { .. });
            // Validated against the same state: committing cannot fail.
            let outcome = self.commit(change, zxid, txn.time_ms, events)?;
            results.push(match (outcome, create_kind) {
                (Outcome::Created { path, .. }, Some(CreateOp::Create | CreateOp::Create2)) => {
                    MultiResult::Create { path }
                }
                // Apache answers container and TTL creates in a multi with a create2 header.
                (Outcome::Created { path, stat }, _) => MultiResult::Create2 {
                    op: OpCode::Create2,
                    path,
                    stat,
                },
                (Outcome::Deleted, _) => MultiResult::Delete,
                (Outcome::Stat(stat), _) if is_set => MultiResult::SetData { stat },
                (Outcome::Stat(_), _) if is_check => MultiResult::Check,
                (Outcome::Stat(stat), _) => MultiResult::SetData { stat },
            });
        }
        Ok(MultiResponse { results })
    }

    fn commit(
        &mut self,
        change: Change,
        zxid: i64,
        time: i64,
        events: &mut Vec<NodeEvent>,
    ) -> Result<Outcome, ErrorCode> {
        Ok(match change {
            Change::Create {
                path,
                data,
                acl,
                owner,
                parent_cversion,
            } => {
                let stat = self.create_node(
                    &path,
                    data.as_deref(),
                    &acl,
                    owner,
                    parent_cversion,
                    zxid,
                    time,
                    events,
                )?;
                Outcome::Created { path, stat }
            }
            Change::Delete { path } => {
                self.delete_node(&path, zxid, events)?;
                Outcome::Deleted
            }
            Change::SetData {
                path,
                data,
                version,
                id,
            } => Outcome::Stat(self.set_node_data(
                &path,
                id,
                data.as_deref(),
                version,
                zxid,
                time,
                events,
            )?),
            Change::SetAcl {
                path,
                acl,
                aversion,
            } => Outcome::Stat(self.set_node_acl(&path, &acl, aversion)?),
            Change::Check { path } => Outcome::Stat(self.stat(&path).ok_or(ErrorCode::NoNode)?),
        })
    }
}
