//! The replicated session table (id → negotiated timeout) and the indexes of special nodes:
//! ephemerals per owning session, containers and TTL nodes.

use std::collections::BTreeMap;

use hashbrown::{HashMap, HashSet};

use super::node::NodeId;

/// Sessions and special-node indexes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sessions {
    /// Open sessions and their timeouts (ordered, so listings are deterministic).
    pub timeouts: BTreeMap<i64, i32>,
    /// Ephemeral nodes by owner. Kept apart from `timeouts`, as in Apache: a node's owner need
    /// not be an open session (e.g. a snapshot taken between a close and its deletes).
    pub ephemerals: HashMap<i64, HashSet<NodeId>>,
    /// Container nodes.
    pub containers: HashSet<NodeId>,
    /// TTL nodes.
    pub ttls: HashSet<NodeId>,
}

/// What an ephemeralOwner value means (Apache's `EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerKind {
    /// 0: a plain persistent node.
    Void,
    /// A session id: an ephemeral node.
    Normal(i64),
    /// `Long.MIN_VALUE`: a container.
    Container,
    /// High byte 0xFF (extended types enabled): a TTL node with this TTL in ms.
    Ttl(i64),
}

/// Classifies an ephemeralOwner; TTL encodings count only with extended types enabled, as in
/// Apache (without them such a value is a session id).
pub(crate) fn owner_kind(owner: i64, extended: bool) -> OwnerKind {
    if extended && (owner as u64) >> 56 == 0xff {
        if let Some(ttl) = zk_core::proto::ttl_from_ephemeral_owner(owner) {
            return OwnerKind::Ttl(ttl);
        }
    }
    if owner == zk_core::proto::CONTAINER_EPHEMERAL_OWNER {
        OwnerKind::Container
    } else if owner == 0 {
        OwnerKind::Void
    } else {
        OwnerKind::Normal(owner)
    }
}

impl Sessions {
    /// Indexes a new node by its owner.
    pub(crate) fn add_node(&mut self, id: NodeId, kind: OwnerKind) {
        match kind {
            OwnerKind::Void => {}
            OwnerKind::Normal(s) => {
                self.ephemerals.entry(s).or_default().insert(id);
            }
            OwnerKind::Container => {
                self.containers.insert(id);
            }
            OwnerKind::Ttl(_) => {
                self.ttls.insert(id);
            }
        }
    }

    /// Removes a deleted node from the indexes.
    pub(crate) fn remove_node(&mut self, id: NodeId, kind: OwnerKind) {
        match kind {
            OwnerKind::Void => {}
            OwnerKind::Normal(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            OwnerKind::Container => {
                self.containers.remove(&id);
            }
            OwnerKind::Ttl(_) => {
                self.ttls.remove(&id);
            }
        }
    }

    /// Total number of ephemeral nodes.
    pub(crate) fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(HashSet::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_kinds_follow_ephemeral_type() {
        let ttl = zk_core::proto::ttl_ephemeral_owner(5000).unwrap_or(0);
        assert_eq!(owner_kind(0, true), OwnerKind::Void);
        assert_eq!(owner_kind(i64::MIN, false), OwnerKind::Container);
        assert_eq!(owner_kind(ttl, true), OwnerKind::Ttl(5000));
        assert_eq!(owner_kind(ttl, false), OwnerKind::Normal(ttl));
        assert_eq!(
            owner_kind(0x0100_0000_0000_0001, true),
            OwnerKind::Normal(0x0100_0000_0000_0001)
        );
    }

    #[test]
    fn indexes_follow_adds_and_removes() {
        let mut s = Sessions::default();
        s.add_node(3, OwnerKind::Normal(7));
        s.add_node(4, OwnerKind::Normal(7));
        s.add_node(5, OwnerKind::Container);
        assert_eq!(s.ephemeral_count(), 2);
        s.remove_node(3, OwnerKind::Normal(7));
        s.remove_node(4, OwnerKind::Normal(7));
        assert!(s.ephemerals.is_empty());
        assert!(s.containers.contains(&5));
    }
}
