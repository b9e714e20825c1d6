//! Reads served from the local tree, as Apache's `FinalRequestProcessor` answers them:
//! exists (no ACL check; a NUL in the path is BadArguments), getData / getChildren /
//! getChildren2 / getAllChildrenNumber (READ), getACL (READ or ADMIN; digest hashes masked
//! without ADMIN), getEphemerals (this session's, by path prefix string), multiRead (per-op
//! errors). Paths are not validated: a malformed one simply names no node (NoNode), and `""` is
//! the root, as in Apache.
//!
//! Watches are not registered here: the caller does it under the same lock (see
//! [`crate::watch::WatchManager::register_read`]).

use zk_core::proto::{
    perms, ErrorCode, ExistsResponse, GetAclResponse, GetAllChildrenNumberResponse,
    GetChildren2Response, GetChildrenResponse, GetDataResponse, GetEphemeralsResponse, MultiOp,
    MultiRequest, MultiResponse, MultiResult, Request, Response,
};

use super::acl::{mask_digests, Asker};
use super::node::{NodeId, ROOT};
use super::DataTree;
use crate::txn::AuthId;

impl DataTree {
    /// Whether a connection with `auth` may be told of a change under `acl`: Apache 3.8
    /// delivers a watch event only to watchers with READ on the node (super users and
    /// `skipACL` always).
    pub fn may_read(&self, acl: &[zk_core::proto::Acl], auth: &[AuthId]) -> bool {
        self.asker_for(auth)
            .check(acl, zk_core::proto::perms::READ)
            .is_ok()
    }

    fn asker_for<'a>(&'a self, auth: &'a [AuthId]) -> Asker<'a> {
        Asker {
            auth,
            super_digest: self.config.super_digest.as_deref(),
            skip_acl: self.config.skip_acl,
        }
    }

    fn readable(&self, path: &str, auth: &[AuthId], perm: i32) -> Result<NodeId, ErrorCode> {
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        let n = self.nodes.get(id).ok_or(ErrorCode::NoNode)?;
        self.asker_for(auth).check(self.acls.get(n.acl), perm)?;
        Ok(id)
    }

    fn get_data(&self, path: &str, auth: &[AuthId]) -> Result<GetDataResponse, ErrorCode> {
        let id = self.readable(path, auth, perms::READ)?;
        let n = self.nodes.get(id).ok_or(ErrorCode::NoNode)?;
        Ok(GetDataResponse {
            data: self.nodes.data(n).map(bytes::Bytes::copy_from_slice),
            stat: self.stat_of(id),
        })
    }

    fn get_children(
        &self,
        path: &str,
        auth: &[AuthId],
    ) -> Result<(Vec<String>, NodeId), ErrorCode> {
        let id = self.readable(path, auth, perms::READ)?;
        Ok((self.nodes.child_names(id), id))
    }

    /// Answers a read request for `session_id` with the connection's `auth` ids.
    ///
    /// Handles exists, getData, getChildren, getChildren2, getACL, getAllChildrenNumber,
    /// getEphemerals and multiRead.
    ///
    /// # Errors
    /// The request's error code (NoNode, NoAuth, BadArguments, MarshallingError for a multiRead
    /// holding a write op); Unimplemented for requests that are not reads.
    pub fn read(
        &self,
        req: &Request,
        session_id: i64,
        auth: &[AuthId],
    ) -> Result<Response, ErrorCode> {
        match req {
            Request::Exists(r) => {
                if r.path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                let stat = self.stat(&r.path).ok_or(ErrorCode::NoNode)?;
                Ok(Response::Exists(ExistsResponse { stat }))
            }
            Request::GetData(r) => Ok(Response::GetData(self.get_data(&r.path, auth)?)),
            Request::GetChildren(r) => {
                let (children, _) = self.get_children(&r.path, auth)?;
                Ok(Response::GetChildren(GetChildrenResponse { children }))
            }
            Request::GetChildren2(r) => {
                let (children, id) = self.get_children(&r.path, auth)?;
                Ok(Response::GetChildren2(GetChildren2Response {
                    children,
                    stat: self.stat_of(id),
                }))
            }
            Request::GetAcl(r) => {
                let id = self.readable(&r.path, auth, perms::READ | perms::ADMIN)?;
                let n = self.nodes.get(id).ok_or(ErrorCode::NoNode)?;
                let acl = self.acls.get(n.acl);
                let acl = match self.asker_for(auth).check(acl, perms::ADMIN) {
                    Ok(()) => acl.to_vec(),
                    Err(_) => mask_digests(acl),
                };
                Ok(Response::GetAcl(GetAclResponse {
                    acl,
                    stat: self.stat_of(id),
                }))
            }
            Request::GetAllChildrenNumber(r) => {
                let id = self.readable(&r.path, auth, perms::READ)?;
                // Apache counts map keys: "/" → all nodes but the root; "" → every key starting
                // with "/", the root included; otherwise the descendants.
                let total = match r.path.as_str() {
                    "/" => self.nodes.len() - 1,
                    "" => self.nodes.len(),
                    _ if id == ROOT => self.nodes.len() - 1,
                    _ => self.nodes.descendant_count(id),
                };
                Ok(Response::GetAllChildrenNumber(
                    GetAllChildrenNumberResponse {
                        total_number: i32::try_from(total).unwrap_or(i32::MAX),
                    },
                ))
            }
            Request::GetEphemerals(r) => {
                let all = self.ephemerals(session_id);
                // Java's trim(): strips chars <= ' ' at both ends.
                let trimmed = r.prefix_path.trim_matches(|c: char| c <= ' ');
                let ephemerals = if trimmed.is_empty() || trimmed == "/" {
                    all
                } else {
                    all.into_iter()
                        .filter(|p| p.starts_with(r.prefix_path.as_str()))
                        .collect()
                };
                Ok(Response::GetEphemerals(GetEphemeralsResponse {
                    ephemerals,
                }))
            }
            Request::MultiRead(m) => Ok(Response::MultiRead(self.multi_read(m, auth)?)),
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    fn multi_read(&self, m: &MultiRequest, auth: &[AuthId]) -> Result<MultiResponse, ErrorCode> {
        let mut results = Vec::with_capacity(m.ops.len());
        for op in &m.ops {
            let res = match op {
                MultiOp::GetData(r) => self.get_data(&r.path, auth).map(|g| MultiResult::GetData {
                    data: g.data,
                    stat: g.stat,
                }),
                MultiOp::GetChildren(r) => self
                    .get_children(&r.path, auth)
                    .map(|(children, _)| MultiResult::GetChildren { children }),
                // Apache: "Invalid type of readOp" → MarshallingError for the whole request.
                _ => return Err(ErrorCode::MarshallingError),
            };
            results.push(res.unwrap_or_else(|e| MultiResult::Error { err: e.code() }));
        }
        Ok(MultiResponse { results })
    }
}
