//! The DataTree: the replicated state machine (znodes, ACLs, sessions) with Apache ZooKeeper
//! 3.8's semantics.
//!
//! - [`DataTree::apply`] applies one log entry deterministically (time comes from the entry) and
//!   returns the reply and the node events in Apache's firing order; every replica computes the
//!   same result. A write is validated the way Apache's `PrepRequestProcessor` does it (same
//!   checks, same order, same codes) against the tree plus the pending changes of the same
//!   entry, then committed, so a failing multi leaves nothing behind.
//! - [`DataTree::read`] answers reads from the local tree, with Apache's ACL checks.
//! - Sessions: [`DataTree::sessions`], [`DataTree::session_exists`], [`DataTree::ephemerals`].
//! - Reaping: [`DataTree::reap_candidates`] (the leader proposes `Reap` entries for them).
//! - Snapshots: [`DataTree::write_snapshot`] / [`DataTree::read_snapshot`].
//! - Quotas: `zookeeper_limits` / `zookeeper_stats` nodes under `/zookeeper/quota` are tracked
//!   and, with [`TreeConfig::enforce_quota`], enforced, as Apache 3.8 does.
//!
//! Apache facts this follows (checked against a real 3.8.0 server where noted in tests):
//! the stored `cversion` counts child creates and the client sees `cversion * 2 - numChildren`;
//! sequential suffixes use the stored value; containers and TTL nodes show ephemeralOwner 0;
//! the root is also reachable as `""`; `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`
//! exist from the start (so `/` shows cversion −1 and `/zookeeper` −2).
//!
//! Storage: `node` (a slab of 80-byte nodes and per-parent children tables, `chunked` so a
//! snapshot's clone is cheap) and `blobs` (every node's name and data in an arena of shared
//! pages).

mod acl;
mod apply;
mod blobs;
mod chunked;
mod node;
mod prep;
mod quota;
mod read;
mod reap;
mod sessions;
mod snapshot;

#[cfg(test)]
mod tests;

use bytes::Bytes;
use zk_core::proto::{Acl, ErrorCode, EventType, Response, Stat};

use node::{Node, NodeId, NodeStore, StoredStat, ROOT};
use sessions::{owner_kind, OwnerKind, Sessions};

pub use snapshot::SnapshotError;

/// Server settings the tree's semantics depend on. Fixed for the life of a tree (they decide
/// how stored values are interpreted), so every replica must use the same ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL nodes are allowed (otherwise createTTL and TTL
    /// create modes answer Unimplemented).
    pub extended_types_enabled: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest`, as `super:<base64 sha1>`: a
    /// connection whose `digest` id equals it is a super user (Apache adds a `super` id for it
    /// at addAuth; an `AuthId { scheme: "super" }` in the entry is honoured as well).
    pub super_digest: Option<String>,
    /// `znode.container.maxNeverUsedIntervalMs`: a container that never had a child is reaped
    /// when it is older than this; 0 (Apache 3.8's default) disables that rule.
    pub container_max_never_used_ms: i64,
    /// `zookeeper.skipACL`: no ACL checks (ACLs are still validated on create/setACL).
    pub skip_acl: bool,
    /// `zookeeper.enforceQuota`: creates and setData past a hard quota limit fail with
    /// QuotaExceeded (quota stats are kept up to date either way).
    pub enforce_quota: bool,
}

/// A node change, for the watch manager.
#[derive(Debug, Clone)]
pub struct NodeEvent {
    /// The node (for NodeChildrenChanged, the parent; `/` for the root).
    pub path: String,
    /// What happened.
    pub event_type: EventType,
    /// The ACL a watcher needs READ in to be told (the node's; the parent's for
    /// NodeChildrenChanged; the deleted node's for NodeDeleted), as Apache 3.8 checks at
    /// delivery. `None`: no check.
    pub acl: Option<std::sync::Arc<[Acl]>>,
}

/// Events are equal when they say the same thing; the ACL is delivery context.
impl PartialEq for NodeEvent {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.event_type == other.event_type
    }
}
impl Eq for NodeEvent {}

impl NodeEvent {
    fn new(path: impl Into<String>, event_type: EventType) -> Self {
        Self {
            path: path.into(),
            event_type,
            acl: None,
        }
    }

    fn with_acl(mut self, acl: Option<std::sync::Arc<[Acl]>>) -> Self {
        self.acl = acl;
        self
    }
}

/// The outcome of applying one log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The reply for the client (a failed multi is `Ok(Response::Multi)` with error results,
    /// as Apache answers it).
    pub reply: Result<Response, ErrorCode>,
    /// Node events in Apache's firing order: create → NodeCreated(path),
    /// NodeChildrenChanged(parent); delete → NodeDeleted(path), NodeChildrenChanged(parent);
    /// setData → NodeDataChanged(path).
    pub events: Vec<NodeEvent>,
}

/// The replicated state: znodes, ACLs and sessions. See the module docs.
///
/// A clone is cheap (the node slab is shared in chunks, copied on write), which is how a
/// snapshot gets a consistent view without holding the tree's lock while it writes.
#[derive(Debug, Clone)]
pub struct DataTree {
    config: TreeConfig,
    nodes: NodeStore,
    acls: acl::AclTable,
    sessions: Sessions,
    quotas: quota::QuotaTrie,
    last_zxid: i64,
    /// Σ (path length in UTF-16 units + data length), as Apache's `approximateDataSize`.
    data_size: i64,
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new(TreeConfig::default())
    }
}

/// The paths Apache refuses to delete (`isSpecialPath`).
pub(crate) fn is_special_path(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

fn utf16_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

/// The parent of a path as Apache computes it (`path.substring(0, lastIndexOf('/'))`), with the
/// root's `""` turned into `/` (as Apache does for event paths).
fn parent_path(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` (world:anyone cdrwa) and
    /// `/zookeeper/config` (world:anyone r, aclVersion −1), all empty with zero stats.
    pub fn new(config: TreeConfig) -> Self {
        let mut acls = acl::AclTable::default();
        let open = acls.intern(&Acl::open_unsafe());
        let root = Node::new(open, StoredStat::default());
        let mut nodes = NodeStore::new(root, Some(b""));
        let zk = nodes.insert(
            ROOT,
            "zookeeper",
            Some(b""),
            Node::new(acls.intern(&Acl::open_unsafe()), StoredStat::default()),
        );
        nodes.insert(
            zk,
            "quota",
            Some(b""),
            Node::new(acls.intern(&Acl::open_unsafe()), StoredStat::default()),
        );
        let config_stat = StoredStat {
            aversion: -1,
            ..StoredStat::default()
        };
        nodes.insert(
            zk,
            "config",
            Some(b""),
            Node::new(acls.intern(&Acl::read_unsafe()), config_stat),
        );
        let mut tree = Self {
            config,
            nodes,
            acls,
            sessions: Sessions::default(),
            quotas: quota::QuotaTrie::default(),
            last_zxid: 0,
            data_size: 0,
        };
        tree.data_size = tree.compute_data_size();
        tree
    }

    /// The settings this tree was built with.
    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    /// The zxid of the last applied entry (Apache's `lastProcessedZxid`).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    fn compute_data_size(&self) -> i64 {
        let mut total = 0;
        let mut stack = vec![(ROOT, 1i64)];
        while let Some((id, plen)) = stack.pop() {
            let Some(n) = self.nodes.get(id) else {
                continue;
            };
            total += plen + self.nodes.data_len(n) as i64;
            for c in self.nodes.children(id) {
                if let Some(cn) = self.nodes.get(c) {
                    let sep = i64::from(id != ROOT);
                    stack.push((c, plen + sep + utf16_len(self.nodes.name(cn))));
                }
            }
        }
        total
    }

    // ---- stats -------------------------------------------------------------------------

    fn kind(&self, owner: i64) -> OwnerKind {
        owner_kind(owner, self.config.extended_types_enabled)
    }

    /// The client-visible stat of a node (Apache's `DataNode.copyStat`).
    fn stat_of(&self, id: NodeId) -> Stat {
        let Some(n) = self.nodes.get(id) else {
            return Stat::default();
        };
        let num_children = self.nodes.child_count(id) as i32;
        Stat {
            czxid: n.czxid,
            mzxid: n.mzxid,
            ctime: n.ctime,
            mtime: n.mtime,
            version: n.version,
            cversion: n.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: n.aversion,
            ephemeral_owner: match self.kind(n.ephemeral_owner) {
                OwnerKind::Normal(s) => s,
                _ => 0,
            },
            data_length: self.nodes.data_len(n) as i32,
            num_children,
            pzxid: n.pzxid,
        }
    }

    /// The stat of the node at `path` (`""` is the root), `None` if there is none.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.nodes.lookup(path).map(|id| self.stat_of(id))
    }

    /// The data of the node at `path`.
    pub fn data(&self, path: &str) -> Option<Option<Bytes>> {
        let id = self.nodes.lookup(path)?;
        let n = self.nodes.get(id)?;
        Some(self.nodes.data(n).map(Bytes::copy_from_slice))
    }

    /// The ACL of the node at `path`.
    pub fn acl(&self, path: &str) -> Option<Vec<Acl>> {
        let id = self.nodes.lookup(path)?;
        Some(self.acls.get(self.nodes.get(id)?.acl).to_vec())
    }

    /// The sorted child names of the node at `path`.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.nodes.lookup(path).map(|id| self.nodes.child_names(id))
    }

    /// The stored ephemeralOwner of the node at `path` (container: `i64::MIN`; TTL: the
    /// encoded TTL), unlike [`DataTree::stat`] which shows 0 for those, as Apache does.
    pub fn ephemeral_owner(&self, path: &str) -> Option<i64> {
        let id = self.nodes.lookup(path)?;
        Some(self.nodes.get(id)?.ephemeral_owner)
    }

    // ---- metrics -----------------------------------------------------------------------

    /// Number of znodes, the root and the system nodes included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Apache's `zk_znode_count`: [`DataTree::node_count`] + 1, because Apache's node map holds
    /// the root twice (under `""` and `/`); a fresh server reports 5.
    pub fn znode_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Apache's `zk_approximate_data_size`: Σ over nodes of path length (UTF-16 units) + data
    /// length; a fresh server reports 44.
    pub fn approximate_data_size(&self) -> i64 {
        self.data_size
    }

    /// Number of ephemeral nodes (`zk_ephemerals_count`).
    pub fn ephemeral_count(&self) -> usize {
        self.sessions.ephemeral_count()
    }

    /// Number of distinct ACL lists in use.
    pub fn acl_count(&self) -> usize {
        self.acls.len()
    }

    // ---- sessions ----------------------------------------------------------------------

    /// Open sessions with their negotiated timeouts (ms), by id.
    pub fn sessions(&self) -> impl Iterator<Item = (i64, i32)> + '_ {
        self.sessions.timeouts.iter().map(|(&id, &t)| (id, t))
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.timeouts.len()
    }

    /// Whether `session_id` is open (created and not closed).
    pub fn session_exists(&self, session_id: i64) -> bool {
        self.sessions.timeouts.contains_key(&session_id)
    }

    /// The negotiated timeout of an open session.
    pub fn session_timeout(&self, session_id: i64) -> Option<i32> {
        self.sessions.timeouts.get(&session_id).copied()
    }

    /// The paths of the ephemeral nodes owned by `session_id`, sorted.
    pub fn ephemerals(&self, session_id: i64) -> Vec<String> {
        let mut v: Vec<String> = self
            .sessions
            .ephemerals
            .get(&session_id)
            .into_iter()
            .flatten()
            .map(|&id| self.nodes.path_of(id))
            .collect();
        v.sort_unstable();
        v
    }

    /// Sessions owning ephemeral nodes (sorted), open or not.
    pub fn ephemeral_owners(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.sessions.ephemerals.keys().copied().collect();
        v.sort_unstable();
        v
    }

    // ---- mutation primitives (validated by the caller) ----------------------------------

    /// Creates a node; the caller checked the parent exists and the name is free.
    /// Returns the new node's stat.
    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
        events: &mut Vec<NodeEvent>,
    ) -> Result<Stat, ErrorCode> {
        let parent_path = parent_path(path);
        let parent = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        let name = path.rsplit('/').next().unwrap_or("");
        if self.nodes.child(parent, name).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if let Some(p) = self.nodes.get_mut(parent) {
            p.cversion = parent_cversion;
            p.pzxid = zxid;
        }
        let acl_idx = self.acls.intern(acl);
        let stat = StoredStat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            ephemeral_owner: owner,
            ..StoredStat::default()
        };
        let id = self
            .nodes
            .insert(parent, name, data, Node::new(acl_idx, stat));
        let kind = self.kind(owner);
        self.sessions.add_node(id, kind);
        let len = data.map_or(0, |d| d.len() as i64);
        self.data_size += utf16_len(path) + len;
        // Apache's parent name: "" for top-level nodes.
        let raw_parent = &path[..path.rfind('/').unwrap_or(0)];
        self.quota_on_create(path, raw_parent, name, len);
        let parent_acl = self.nodes.get(parent).and_then(|p| self.acls.shared(p.acl));
        events
            .push(NodeEvent::new(path, EventType::NodeCreated).with_acl(self.acls.shared(acl_idx)));
        events
            .push(NodeEvent::new(parent_path, EventType::NodeChildrenChanged).with_acl(parent_acl));
        Ok(self.stat_of(id))
    }

    /// Deletes a childless node (no ACL or version checks: the caller did them).
    fn delete_node(
        &mut self,
        path: &str,
        zxid: i64,
        events: &mut Vec<NodeEvent>,
    ) -> Result<(), ErrorCode> {
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        if id == ROOT {
            return Err(ErrorCode::BadArguments);
        }
        if self.nodes.child_count(id) > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        let parent = self.nodes.get(id).map_or(ROOT, |n| n.parent);
        if let Some(p) = self.nodes.get_mut(parent) {
            if zxid > p.pzxid {
                p.pzxid = zxid;
            }
        }
        let parent_acl = self.nodes.get(parent).and_then(|p| self.acls.shared(p.acl));
        let removed = self.nodes.remove(id).ok_or(ErrorCode::NoNode)?;
        let node = &removed.node;
        let node_acl = self.acls.shared(node.acl);
        self.acls.release(node.acl);
        let kind = self.kind(node.ephemeral_owner);
        self.sessions.remove_node(id, kind);
        let data_len = removed.data_len as i64;
        self.data_size -= utf16_len(path) + data_len;
        let raw_parent = &path[..path.rfind('/').unwrap_or(0)];
        let name = zk_core::proto::path::basename(path);
        self.quota_on_delete(path, raw_parent, name, data_len);
        events.push(NodeEvent::new(path, EventType::NodeDeleted).with_acl(node_acl));
        events.push(
            NodeEvent::new(parent_path(path), EventType::NodeChildrenChanged).with_acl(parent_acl),
        );
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn set_node_data(
        &mut self,
        path: &str,
        hint: Option<NodeId>,
        data: Option<&[u8]>,
        version: i32,
        zxid: i64,
        time: i64,
        events: &mut Vec<NodeEvent>,
    ) -> Result<Stat, ErrorCode> {
        // The slot the pending view read is still this path's node (a node deleted or created
        // since then would have been read from the view instead); the name check is a guard.
        let id = match hint {
            Some(id)
                if self.nodes.get(id).is_some_and(|n| {
                    self.nodes.name_bytes(n) == zk_core::proto::path::basename(path).as_bytes()
                }) =>
            {
                id
            }
            _ => self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?,
        };
        let old = self.nodes.set_data(id, data).ok_or(ErrorCode::NoNode)? as i64;
        let n = self.nodes.get_mut(id).ok_or(ErrorCode::NoNode)?;
        n.mtime = time;
        n.mzxid = zxid;
        n.version = version;
        let diff = data.map_or(0, |d| d.len() as i64) - old;
        self.data_size += diff;
        self.quota_on_set(path, diff);
        let acl = self.nodes.get(id).and_then(|n| self.acls.shared(n.acl));
        events.push(NodeEvent::new(path, EventType::NodeDataChanged).with_acl(acl));
        Ok(self.stat_of(id))
    }

    fn set_node_acl(&mut self, path: &str, acl: &[Acl], aversion: i32) -> Result<Stat, ErrorCode> {
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        let new_idx = self.acls.intern(acl);
        let n = self.nodes.get_mut(id).ok_or(ErrorCode::NoNode)?;
        let old_idx = std::mem::replace(&mut n.acl, new_idx);
        n.aversion = aversion;
        self.acls.release(old_idx);
        Ok(self.stat_of(id))
    }
}
