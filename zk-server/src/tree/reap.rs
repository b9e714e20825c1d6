//! Container and TTL reaping (Apache's `ContainerManager`, run by the leader): candidates are
//! listed from the leader's tree, proposed as `Reap` entries, and re-checked when applied (with
//! the entry's time), so a node that gained a child or was touched in between survives.
//!
//! Rules (3.8.0 `ContainerManager.getCandidates`): a container with no children is deleted when
//! its stored cversion is > 0 (it had a child once), or — if `container_max_never_used_ms` is
//! not 0 — when it never had one and `now − mtime` exceeds that; a TTL node with no children is
//! deleted when `now − mtime` exceeds its TTL.

use zk_core::proto::{Empty, ErrorCode, Response};

use super::node::NodeId;
use super::sessions::OwnerKind;
use super::{DataTree, NodeEvent};

impl DataTree {
    fn reapable(&self, id: NodeId, now_ms: i64) -> Result<(), ErrorCode> {
        let n = self.nodes.get(id).ok_or(ErrorCode::NoNode)?;
        if self.nodes.child_count(id) > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        let elapsed = now_ms.saturating_sub(n.mtime);
        let eligible = match self.kind(n.ephemeral_owner) {
            OwnerKind::Container => {
                n.cversion > 0
                    || (self.config.container_max_never_used_ms != 0
                        && elapsed > self.config.container_max_never_used_ms)
            }
            OwnerKind::Ttl(ttl) => ttl != 0 && elapsed > ttl,
            OwnerKind::Void | OwnerKind::Normal(_) => false,
        };
        if eligible {
            Ok(())
        } else {
            Err(ErrorCode::BadVersion)
        }
    }

    /// Paths of the containers and TTL nodes that may be reaped at `now_ms` (sorted, at most
    /// `max`). The leader proposes a `Reap` entry for each.
    pub fn reap_candidates(&self, now_ms: i64, max: usize) -> Vec<String> {
        let mut v: Vec<String> = self
            .sessions
            .containers
            .iter()
            .chain(self.sessions.ttls.iter())
            .filter(|&&id| self.reapable(id, now_ms).is_ok())
            .map(|&id| self.nodes.path_of(id))
            .collect();
        v.sort_unstable();
        v.truncate(max);
        v
    }

    /// Applies a `Reap`: deletes `path` if it is still eligible at `now_ms` (events as for a
    /// delete). Otherwise nothing changes and the reply says why: NoNode, NotEmpty, or
    /// BadVersion (not a container/TTL node, or not expired).
    pub(crate) fn reap(
        &mut self,
        path: &str,
        zxid: i64,
        now_ms: i64,
        events: &mut Vec<NodeEvent>,
    ) -> Result<Response, ErrorCode> {
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        if super::is_special_path(path) || path.is_empty() {
            return Err(ErrorCode::BadArguments);
        }
        self.reapable(id, now_ms)?;
        self.delete_node(path, zxid, events)?;
        Ok(Response::Delete(Empty))
    }
}
