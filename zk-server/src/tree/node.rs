//! Compact node storage: a slab of nodes addressed by [`NodeId`], each node's name and data
//! one record in an arena of pages ([`Blobs`]), and children kept as hash tables of ids
//! (hashed by the child's name, so a child costs its parent a few bytes, not a second copy of
//! its name).
//!
//! A 1M-node tree of 100-byte nodes costs about 80 bytes of slab per node, its name and data
//! plus 7 bytes of record header in the arena, and ~8 bytes in the parent's table.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

use super::blobs::{BlobRef, Blobs};
use super::chunked::Chunked;

/// Index of a node in the slab.
pub(crate) type NodeId = u32;

/// The root's id (always slot 0).
pub(crate) const ROOT: NodeId = 0;

/// "No node" (the root's parent, "no children table").
pub(crate) const NONE: u32 = u32::MAX;

/// The persisted part of a stat (Apache's `StatPersisted`): `cversion` counts child *creates*;
/// the client sees `cversion * 2 - numChildren` (see [`Node::stat`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StoredStat {
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub ephemeral_owner: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
}

/// One znode. Fields are flat (no nested struct padding) to keep it at 80 bytes; the name
/// and data live in the store's [`Blobs`].
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Name and data, in the store's arena.
    blob: BlobRef,
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub ephemeral_owner: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    /// Index into the ACL table.
    pub acl: u32,
    pub parent: NodeId,
    /// Index of this node's children table, [`NONE`] when it has no children.
    children: u32,
}

impl Node {
    /// A node with `acl` and stat `s`; its name and data are given to [`NodeStore::insert`].
    pub(crate) fn new(acl: u32, s: StoredStat) -> Self {
        Self {
            blob: BlobRef::NONE,
            czxid: s.czxid,
            mzxid: s.mzxid,
            pzxid: s.pzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            ephemeral_owner: s.ephemeral_owner,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            acl,
            parent: NONE,
            children: NONE,
        }
    }
}

/// A node taken out of the store, with the length of the data its arena record held.
#[derive(Debug)]
pub(crate) struct Removed {
    pub node: Node,
    pub data_len: usize,
}

/// The slab, the children tables and the hasher for names.
///
/// Slots and children tables are [`Chunked`], so a clone (what a snapshot serializes) is
/// cheap and later writes copy only the chunks they touch.
#[derive(Debug, Clone)]
pub(crate) struct NodeStore {
    slots: Chunked<Option<Node>>,
    blobs: Blobs,
    free: Vec<NodeId>,
    tables: Chunked<Option<HashTable<NodeId>>>,
    free_tables: Vec<u32>,
    hasher: DefaultHashBuilder,
    live: usize,
}

impl NodeStore {
    /// A store holding only `root`, with data `data`.
    pub(crate) fn new(root: Node, data: Option<&[u8]>) -> Self {
        Self::with_capacity(root, data, 0)
    }

    /// A store holding only `root` (with data `data`), with room for `n` nodes.
    pub(crate) fn with_capacity(mut root: Node, data: Option<&[u8]>, n: usize) -> Self {
        let mut blobs = Blobs::default();
        root.blob = blobs.alloc(ROOT, b"", data);
        let mut slots = Chunked::with_capacity(n.max(1));
        slots.push(Some(root));
        Self {
            slots,
            blobs,
            free: Vec::new(),
            tables: Chunked::default(),
            free_tables: Vec::new(),
            hasher: DefaultHashBuilder::default(),
            live: 1,
        }
    }

    /// Number of live nodes (the root included).
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn get(&self, id: NodeId) -> Option<&Node> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.slots.get_mut(id as usize).and_then(Option::as_mut)
    }

    fn name_of<'a>(slots: &Chunked<Option<Node>>, blobs: &'a Blobs, id: NodeId) -> &'a [u8] {
        slots
            .get(id as usize)
            .and_then(Option::as_ref)
            .map_or(&[], |n| blobs.get(n.blob).0)
    }

    /// The node's name (last path component; empty for the root).
    pub(crate) fn name(&self, n: &Node) -> &str {
        // Stored from a &str, so always valid UTF-8 at these bounds.
        std::str::from_utf8(self.name_bytes(n)).unwrap_or("")
    }

    /// The name's bytes (no UTF-8 check: for hashing and comparing).
    pub(crate) fn name_bytes(&self, n: &Node) -> &[u8] {
        self.blobs.get(n.blob).0
    }

    /// The data, `None` when the node was given null data.
    pub(crate) fn data(&self, n: &Node) -> Option<&[u8]> {
        self.blobs.get(n.blob).1
    }

    /// Length of the data (0 for null).
    pub(crate) fn data_len(&self, n: &Node) -> usize {
        self.data(n).map_or(0, <[u8]>::len)
    }

    /// Replaces the data of `id`; returns the old data's length.
    pub(crate) fn set_data(&mut self, id: NodeId, data: Option<&[u8]>) -> Option<usize> {
        let old = self.get(id)?.blob;
        let old_len = self.blobs.get(old).1.map_or(0, <[u8]>::len);
        let new = self.blobs.replace_data(old, id, data);
        if let Some(n) = self.get_mut(id) {
            n.blob = new;
        }
        self.compact();
        Some(old_len)
    }

    /// Moves the live records of sparse arena pages to the tail (see [`Blobs::sparse_pages`]).
    fn compact(&mut self) {
        for page in self.blobs.sparse_pages() {
            for (r, owner) in self.blobs.records(page) {
                let live = self
                    .slots
                    .get(owner as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|n| n.blob == r);
                if live {
                    let moved = self.blobs.relocate(r);
                    if let Some(Some(n)) = self.slots.get_mut(owner as usize) {
                        n.blob = moved;
                    }
                }
            }
        }
    }

    /// Bytes the arena holds for names and data (live records and holes).
    #[cfg(test)]
    pub(crate) fn blob_bytes(&self) -> u64 {
        self.blobs.held_bytes()
    }

    /// The child of `parent` named `name`.
    pub(crate) fn child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        self.child_bytes(parent, name.as_bytes())
    }

    fn child_bytes(&self, parent: NodeId, name: &[u8]) -> Option<NodeId> {
        let p = self.get(parent)?;
        let table = self.tables.get(p.children as usize)?.as_ref()?;
        let h = self.hasher.hash_one(name);
        table
            .find(h, |&id| Self::name_of(&self.slots, &self.blobs, id) == name)
            .copied()
    }

    /// The node at `path`; `""` is the root, as in Apache (whose map holds the root under both).
    pub(crate) fn lookup(&self, path: &str) -> Option<NodeId> {
        if path.is_empty() || path == "/" {
            return Some(ROOT);
        }
        let rest = path.strip_prefix('/')?;
        let mut cur = ROOT;
        // '/' is one byte in UTF-8 and never part of another character: split the bytes.
        for comp in rest.as_bytes().split(|&b| b == b'/') {
            cur = self.child_bytes(cur, comp)?;
        }
        Some(cur)
    }

    /// Number of children of `id`.
    pub(crate) fn child_count(&self, id: NodeId) -> usize {
        self.get(id)
            .and_then(|n| self.tables.get(n.children as usize))
            .and_then(Option::as_ref)
            .map_or(0, HashTable::len)
    }

    /// The ids of `id`'s children, in table order.
    pub(crate) fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.get(id)
            .and_then(|n| self.tables.get(n.children as usize))
            .and_then(Option::as_ref)
            .into_iter()
            .flat_map(|t| t.iter().copied())
    }

    /// The names of `id`'s children, sorted.
    pub(crate) fn child_names(&self, id: NodeId) -> Vec<String> {
        let mut v: Vec<String> = self
            .children(id)
            .filter_map(|c| self.get(c))
            .map(|n| self.name(n).to_string())
            .collect();
        v.sort_unstable();
        v
    }

    /// Adds `node`, named `name` with data `data`, as a child of `parent` (the caller checked
    /// the name is free).
    pub(crate) fn insert(
        &mut self,
        parent: NodeId,
        name: &str,
        data: Option<&[u8]>,
        mut node: Node,
    ) -> NodeId {
        node.parent = parent;
        let id = self
            .free
            .last()
            .copied()
            .unwrap_or(self.slots.len() as NodeId);
        node.blob = self.blobs.alloc(id, name.as_bytes(), data);
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.slots.get_mut(id as usize) {
                    *slot = Some(node);
                }
                id
            }
            None => {
                self.slots.push(Some(node));
                (self.slots.len() - 1) as NodeId
            }
        };
        self.live += 1;
        self.link(parent, id);
        id
    }

    fn link(&mut self, parent: NodeId, child: NodeId) {
        let Some(ti) = self.table_of(parent) else {
            return;
        };
        let Self {
            slots,
            blobs,
            tables,
            hasher,
            ..
        } = self;
        let h = hasher.hash_one(Self::name_of(slots, blobs, child));
        if let Some(Some(table)) = tables.get_mut(ti as usize) {
            table.insert_unique(h, child, |&id| {
                hasher.hash_one(Self::name_of(slots, blobs, id))
            });
        }
    }

    /// The children table of `parent`, created if it has none.
    fn table_of(&mut self, parent: NodeId) -> Option<u32> {
        Some(match self.get(parent).map(|p| p.children)? {
            NONE => {
                let ti = match self.free_tables.pop() {
                    Some(ti) => {
                        if let Some(t) = self.tables.get_mut(ti as usize) {
                            *t = Some(HashTable::new());
                        }
                        ti
                    }
                    None => {
                        self.tables.push(Some(HashTable::new()));
                        (self.tables.len() - 1) as u32
                    }
                };
                if let Some(p) = self.get_mut(parent) {
                    p.children = ti;
                }
                ti
            }
            ti => ti,
        })
    }

    /// Makes room for `n` more children of `id` (snapshot loading knows the counts).
    pub(crate) fn reserve_children(&mut self, id: NodeId, n: usize) {
        if n == 0 {
            return;
        }
        let ti = self.table_of(id);
        let Self {
            slots,
            blobs,
            tables,
            hasher,
            ..
        } = self;
        if let Some(Some(table)) = ti.and_then(|ti| tables.get_mut(ti as usize)) {
            table.reserve(n, |&c| hasher.hash_one(Self::name_of(slots, blobs, c)));
        }
    }

    /// Removes a childless node and unlinks it from its parent; returns it with the length
    /// of its data (its name and data are freed).
    pub(crate) fn remove(&mut self, id: NodeId) -> Option<Removed> {
        if id == ROOT {
            return None;
        }
        let (parent, name_hash) = {
            let n = self.get(id)?;
            (n.parent, self.hasher.hash_one(self.name_bytes(n)))
        };
        if let Some(ti) = self.get(parent).map(|p| p.children) {
            let mut now_empty = false;
            if let Some(Some(table)) = self.tables.get_mut(ti as usize) {
                if let Ok(entry) = table.find_entry(name_hash, |&c| c == id) {
                    entry.remove();
                }
                now_empty = table.is_empty();
            }
            if now_empty {
                if let Some(t) = self.tables.get_mut(ti as usize) {
                    *t = None;
                }
                self.free_tables.push(ti);
                if let Some(p) = self.get_mut(parent) {
                    p.children = NONE;
                }
            }
        }
        let node = self.slots.get_mut(id as usize)?.take()?;
        let removed = Removed {
            data_len: self.data_len(&node),
            node,
        };
        self.blobs.free(removed.node.blob);
        self.free.push(id);
        self.live -= 1;
        self.compact();
        Some(removed)
    }

    /// The full path of `id` ("/" for the root).
    pub(crate) fn path_of(&self, id: NodeId) -> String {
        let mut parts = Vec::new();
        let mut cur = id;
        while cur != ROOT {
            match self.get(cur) {
                Some(n) => {
                    parts.push(self.name(n));
                    cur = n.parent;
                }
                None => break,
            }
        }
        if parts.is_empty() {
            return "/".to_string();
        }
        let mut s = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for p in parts.iter().rev() {
            s.push('/');
            s.push_str(p);
        }
        s
    }

    /// Number of nodes below `id` (not counting it).
    pub(crate) fn descendant_count(&self, id: NodeId) -> usize {
        let mut count = 0;
        let mut stack = vec![id];
        while let Some(cur) = stack.pop() {
            for c in self.children(cur) {
                count += 1;
                stack.push(c);
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> Node {
        Node::new(0, StoredStat::default())
    }

    #[test]
    fn node_is_compact() {
        assert!(
            std::mem::size_of::<Node>() <= 80,
            "{}",
            std::mem::size_of::<Node>()
        );
        assert_eq!(
            std::mem::size_of::<Option<Node>>(),
            std::mem::size_of::<Node>()
        );
    }

    #[test]
    fn null_data_stays_distinct_from_empty() {
        let mut s = NodeStore::new(leaf(), Some(b""));
        let a = s.insert(ROOT, "a", None, leaf());
        let b = s.insert(ROOT, "b", Some(b""), leaf());
        let long = "x".repeat(300);
        let c = s.insert(ROOT, &long, Some(b"hello"), leaf());
        let node = |id| s.get(id).cloned().expect("node");
        assert_eq!(s.data(&node(a)), None);
        assert_eq!(s.data(&node(b)), Some(&b""[..]));
        assert_eq!(s.name(&node(c)).len(), 300);
        assert_eq!(s.data(&node(c)), Some(&b"hello"[..]));
        assert_eq!(s.set_data(c, None), Some(5));
        let n = s.get(c).cloned().expect("node");
        assert_eq!(s.data(&n), None);
        assert_eq!(s.data_len(&n), 0);
        assert_eq!(s.name(&n), long);
        assert_eq!(s.lookup(&format!("/{long}")), Some(c));
    }

    #[test]
    fn insert_lookup_remove_reuses_slots() {
        let mut s = NodeStore::new(leaf(), Some(b""));
        let a = s.insert(ROOT, "a", None, leaf());
        let b = s.insert(a, "b", Some(b"x"), leaf());
        assert_eq!(s.lookup("/a/b"), Some(b));
        assert_eq!(s.lookup(""), Some(ROOT));
        assert_eq!(s.lookup("/a/"), None);
        assert_eq!(s.lookup("a"), None);
        assert_eq!(s.path_of(b), "/a/b");
        assert_eq!(s.child_count(a), 1);
        assert_eq!(s.get(b).map(|n| s.name(n)), Some("b"));
        let r = s.remove(b).expect("removed");
        assert_eq!(r.data_len, 1);
        assert_eq!(s.child_count(a), 0);
        assert_eq!(s.lookup("/a/b"), None);
        let c = s.insert(a, "c", None, leaf());
        assert_eq!(c, b, "freed slot reused");
        assert_eq!(s.len(), 3);
        assert_eq!(s.descendant_count(ROOT), 2);
    }

    /// Random creates, data changes and deletes, with snapshot clones taken along the way,
    /// against a plain map: every name and value reads back, in the store and in each clone,
    /// through page releases and compactions.
    #[test]
    fn random_churn_with_clones_matches_a_model() {
        use std::collections::BTreeMap;
        let mut s = NodeStore::new(leaf(), Some(b""));
        type Model = BTreeMap<String, (NodeId, Option<Vec<u8>>)>;
        let mut model = Model::new();
        let mut clones: Vec<(NodeStore, Model)> = Vec::new();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let held_peak = |s: &NodeStore| s.blob_bytes();
        let mut peak = 0;
        for step in 0..200_000u64 {
            let r = next();
            let key = format!("n{}", r % 10_000);
            let value = |r: u64| -> Option<Vec<u8>> {
                match r % 100 {
                    0..=4 => None,
                    5..=9 => Some(Vec::new()),
                    10 => Some(vec![(r >> 8) as u8; 70_000 + (r % 5000) as usize]),
                    _ => Some(vec![(r >> 8) as u8; 100 + (r % 2000) as usize]),
                }
            };
            match (r >> 32) % 3 {
                0 | 1 => match model.get(&key).map(|(id, _)| *id) {
                    None => {
                        let v = value(next());
                        let id = s.insert(ROOT, &key, v.as_deref(), leaf());
                        model.insert(key, (id, v));
                    }
                    Some(id) => {
                        let v = value(next());
                        s.set_data(id, v.as_deref());
                        model.insert(key, (id, v));
                    }
                },
                _ => {
                    if let Some((id, v)) = model.remove(&key) {
                        assert_eq!(s.get(id).map(|n| s.name(n)), Some(key.as_str()));
                        let removed = s.remove(id).expect("present");
                        assert_eq!(removed.data_len, v.map_or(0, |v| v.len()));
                    }
                }
            }
            peak = peak.max(held_peak(&s));
            if step % 40_000 == 0 {
                clones.push((s.clone(), model.clone()));
            }
        }
        let check = |s: &NodeStore, model: &Model| {
            assert_eq!(s.len(), model.len() + 1);
            for (k, (id, v)) in model {
                assert_eq!(s.lookup(&format!("/{k}")), Some(*id), "{k}");
                let n = s.get(*id).expect("node");
                assert_eq!(s.name(n), k);
                assert_eq!(s.data(n), v.as_deref(), "{k}");
            }
        };
        check(&s, &model);
        for (c, m) in &clones {
            check(c, m);
        }
        // Holes are reclaimed: what the arena holds stays within 2x of the live bytes plus
        // the compaction floor.
        let live: u64 = model
            .iter()
            .map(|(k, (_, v))| (k.len() + 12 + v.as_ref().map_or(0, Vec::len)) as u64)
            .sum();
        assert!(
            s.blob_bytes() <= 2 * live + (16 << 20),
            "held {} for {live} live",
            s.blob_bytes()
        );
        assert!(peak > 0);
    }
}
