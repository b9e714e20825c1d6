//! Validation of writes, as Apache's `PrepRequestProcessor` does it: the same checks in the same
//! order with the same codes, against the tree plus the pending changes of the same entry (so
//! the ops of a multi see each other, and nothing touches the tree until every op passed).
//!
//! Orders (Apache 3.8.0, `pRequest2Txn`):
//! - create: flags → BadArguments; TTL mode without extended types → Unimplemented; TTL out of
//!   range (or a TTL with a non-TTL mode) → BadArguments; session; no `/` or a NUL →
//!   BadArguments; fixupACL → InvalidACL; parent → NoNode; CREATE on parent → NoAuth; sequence
//!   suffix from the parent's stored cversion; full path rules → BadArguments; NodeExists;
//!   ephemeral parent → NoChildrenForEphemerals.
//! - delete: session; no `/`, NUL or a system path → BadArguments; parent → NoNode; DELETE on
//!   parent → NoAuth; node → NoNode; version → BadVersion; children → NotEmpty.
//!   With quotas enforced, a hard quota limit → QuotaExceeded last.
//! - setData: session; path rules → BadArguments; node → NoNode; WRITE → NoAuth; quota →
//!   QuotaExceeded; version → BadVersion.
//! - setACL: session; path rules; fixupACL → InvalidACL; node → NoNode; ADMIN → NoAuth;
//!   aclVersion → BadVersion.
//! - check: session; path rules; node → NoNode; READ → NoAuth; version → BadVersion.
//!
//! Versions increase as Java ints (wrapping at `i32::MAX`), as 3.8.0 does.

use bytes::Bytes;
use hashbrown::HashMap;
use zk_core::proto::path::{sequence_suffix, validate_path};
use zk_core::proto::{
    perms, ttl_ephemeral_owner, Acl, CreateMode, ErrorCode, CONTAINER_EPHEMERAL_OWNER,
};

use super::acl::{fixup_acl, Asker};
use super::node::NodeId;
use super::sessions::{owner_kind, OwnerKind};
use super::{is_special_path, DataTree};

/// The kind of create request (decides the owner of the new node and the reply shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateOp {
    /// create (1): path only in the reply.
    Create,
    /// create2 (15).
    Create2,
    /// createContainer (19): the node is a container whatever the flags say.
    Container,
    /// createTTL (21).
    Ttl,
}

/// The arguments of any create.
#[derive(Debug, Clone)]
pub(crate) struct CreateArgs {
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    /// −1 for the requests without a TTL field, as Apache passes it.
    pub ttl: i64,
}

/// A validated change, ready to commit.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Create {
        path: String,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        owner: i64,
        parent_cversion: i32,
    },
    Delete {
        path: String,
    },
    SetData {
        path: String,
        data: Option<Bytes>,
        version: i32,
        /// The node's slot when the pending view read it from the tree (saves the commit a
        /// second path lookup); `None` for a node created earlier in the same multi.
        id: Option<NodeId>,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        aversion: i32,
    },
    Check {
        path: String,
    },
}

#[derive(Debug, Clone)]
enum AclRef {
    Stored(u32),
    New(Vec<Acl>),
}

/// A node as the pending changes see it (Apache's `ChangeRecord`).
#[derive(Debug, Clone)]
struct Rec {
    version: i32,
    cversion: i32,
    aversion: i32,
    owner: i64,
    child_count: i32,
    data_len: i64,
    acl: AclRef,
    /// The tree's slot of the node, when this record was read from the tree.
    id: Option<NodeId>,
}

/// The requester.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub session_id: i64,
    pub asker: Asker<'a>,
}

/// The pending view: the tree plus the changes validated so far in this entry.
#[derive(Debug)]
pub(crate) struct Prep<'t> {
    tree: &'t DataTree,
    overlay: HashMap<String, Option<Rec>>,
    ctx: Ctx<'t>,
    /// Whether later ops must see this op's changes (a multi); a single op is committed right
    /// after it is validated, so it keeps no pending view.
    keep_view: bool,
}

fn key(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

impl<'t> Prep<'t> {
    /// A pending view for the ops of one multi: each op sees the changes of the ops before it.
    pub(crate) fn new(tree: &'t DataTree, ctx: Ctx<'t>) -> Self {
        Self {
            tree,
            overlay: HashMap::new(),
            ctx,
            keep_view: true,
        }
    }

    /// Validation of one op that is committed right after (no pending view is kept).
    pub(crate) fn single(tree: &'t DataTree, ctx: Ctx<'t>) -> Self {
        Self {
            keep_view: false,
            ..Self::new(tree, ctx)
        }
    }

    fn record(&self, path: &str) -> Result<Rec, ErrorCode> {
        if let Some(r) = self.overlay.get(key(path)) {
            return r.clone().ok_or(ErrorCode::NoNode);
        }
        let id = self.tree.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        let n = self.tree.nodes.get(id).ok_or(ErrorCode::NoNode)?;
        Ok(Rec {
            version: n.version,
            cversion: n.cversion,
            aversion: n.aversion,
            owner: n.ephemeral_owner,
            child_count: self.tree.nodes.child_count(id) as i32,
            data_len: self.tree.nodes.data_len(n) as i64,
            acl: AclRef::Stored(n.acl),
            id: Some(id),
        })
    }

    fn put(&mut self, path: &str, rec: Option<Rec>) {
        // Every op puts only after its last read, so a single op never needs its own puts.
        if self.keep_view {
            self.overlay.insert(key(path).to_string(), rec);
        }
    }

    fn check_acl(&self, rec: &Rec, perm: i32) -> Result<(), ErrorCode> {
        let acl: &[Acl] = match &rec.acl {
            AclRef::Stored(i) => self.tree.acls.get(*i),
            AclRef::New(v) => v,
        };
        self.ctx.asker.check(acl, perm)
    }

    /// Apache's `checkSession`: the session must be open. Apache answers UnknownSession for an
    /// id it never saw and SessionExpired for a closing one; here a session not in the table
    /// was closed (sessions only come from createSession entries), so: SessionExpired.
    fn check_session(&self) -> Result<(), ErrorCode> {
        if self.tree.session_exists(self.ctx.session_id) {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    fn is_normal_ephemeral(&self, owner: i64) -> bool {
        matches!(
            owner_kind(owner, self.tree.config.extended_types_enabled),
            OwnerKind::Normal(_)
        )
    }

    /// create / create2 / createContainer / createTTL.
    pub(crate) fn create(&mut self, op: CreateOp, a: CreateArgs) -> Result<Change, ErrorCode> {
        let mode = CreateMode::from_code(a.flags).ok_or(ErrorCode::BadArguments)?;
        // validateCreateRequest
        if mode.is_ttl() && !self.tree.config.extended_types_enabled {
            return Err(ErrorCode::Unimplemented);
        }
        if mode.is_ttl() {
            if ttl_ephemeral_owner(a.ttl).is_none() {
                return Err(ErrorCode::BadArguments);
            }
        } else if a.ttl >= 0 || op == CreateOp::Ttl {
            // Apache: "ttl not valid for mode". A createTTL with a non-TTL mode and a negative
            // TTL passes there and then crashes the server when applied (seen on 3.8.0):
            // refused here.
            return Err(ErrorCode::BadArguments);
        }
        self.check_session()?;
        // validatePathForCreate
        let Some(last_slash) = a.path.rfind('/') else {
            return Err(ErrorCode::BadArguments);
        };
        if a.path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = a.path[..last_slash].to_string();
        let acl = fixup_acl(&a.acl, self.ctx.asker.auth)?;
        let mut parent = self.record(&parent_path)?;
        self.check_acl(&parent, perms::CREATE)?;
        let mut path = a.path;
        if mode.is_sequential() {
            path.push_str(&sequence_suffix(parent.cversion));
        }
        validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
        if self.record(&path).is_ok() {
            return Err(ErrorCode::NodeExists);
        }
        if self.is_normal_ephemeral(parent.owner) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let data_len = a.data.as_ref().map_or(0, |d| d.len() as i64);
        // Against the applied tree, not the pending changes, as Apache does.
        self.tree.check_quota(&path, 1, data_len)?;
        let parent_cversion = parent.cversion.wrapping_add(1);
        let owner = match op {
            CreateOp::Container => CONTAINER_EPHEMERAL_OWNER,
            CreateOp::Ttl => ttl_ephemeral_owner(a.ttl).ok_or(ErrorCode::BadArguments)?,
            CreateOp::Create | CreateOp::Create2 if mode.is_ephemeral() => self.ctx.session_id,
            CreateOp::Create | CreateOp::Create2 => 0,
        };
        parent.child_count += 1;
        parent.cversion = parent_cversion;
        self.put(&parent_path, Some(parent));
        // Only a multi reads the new node back: a single create skips copying its ACL.
        if self.keep_view {
            self.put(
                &path,
                Some(Rec {
                    version: 0,
                    cversion: 0,
                    aversion: 0,
                    owner,
                    child_count: 0,
                    data_len,
                    acl: AclRef::New(acl.clone()),
                    id: None,
                }),
            );
        }
        Ok(Change::Create {
            path,
            data: a.data,
            acl,
            owner,
            parent_cversion,
        })
    }

    /// delete.
    pub(crate) fn delete(&mut self, path: String, version: i32) -> Result<Change, ErrorCode> {
        self.check_session()?;
        let Some(last_slash) = path.rfind('/') else {
            return Err(ErrorCode::BadArguments);
        };
        if path.contains('\0') || is_special_path(&path) {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = path[..last_slash].to_string();
        let mut parent = self.record(&parent_path)?;
        self.check_acl(&parent, perms::DELETE)?;
        let node = self.record(&path)?;
        check_version(node.version, version)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        parent.child_count -= 1;
        self.put(&parent_path, Some(parent));
        self.put(&path, None);
        Ok(Change::Delete { path })
    }

    /// setData.
    pub(crate) fn set_data(
        &mut self,
        path: String,
        data: Option<Bytes>,
        version: i32,
    ) -> Result<Change, ErrorCode> {
        self.check_session()?;
        validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
        let mut node = self.record(&path)?;
        self.check_acl(&node, perms::WRITE)?;
        let data_len = data.as_ref().map_or(0, |d| d.len() as i64);
        self.tree.check_quota(&path, 0, data_len - node.data_len)?;
        let new_version = check_version(node.version, version)?;
        node.version = new_version;
        node.data_len = data_len;
        let id = node.id;
        self.put(&path, Some(node));
        Ok(Change::SetData {
            path,
            data,
            version: new_version,
            id,
        })
    }

    /// setACL.
    pub(crate) fn set_acl(
        &mut self,
        path: String,
        acl: &[Acl],
        version: i32,
    ) -> Result<Change, ErrorCode> {
        self.check_session()?;
        validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
        let acl = fixup_acl(acl, self.ctx.asker.auth)?;
        let mut node = self.record(&path)?;
        self.check_acl(&node, perms::ADMIN)?;
        let aversion = check_version(node.aversion, version)?;
        node.aversion = aversion;
        node.acl = AclRef::New(acl.clone());
        self.put(&path, Some(node));
        Ok(Change::SetAcl {
            path,
            acl,
            aversion,
        })
    }

    /// check (version check).
    pub(crate) fn check(&mut self, path: String, version: i32) -> Result<Change, ErrorCode> {
        self.check_session()?;
        validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.record(&path)?;
        self.check_acl(&node, perms::READ)?;
        check_version(node.version, version)?;
        Ok(Change::Check { path })
    }
}
