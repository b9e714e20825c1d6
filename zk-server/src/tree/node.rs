//! Compact node storage: a slab of nodes addressed by [`NodeId`], each node's name and data in
//! one allocation, and children kept as hash tables of ids (hashed by the child's name, so a
//! child costs its parent a few bytes, not a second copy of its name).
//!
//! A 1M-node tree of 100-byte nodes costs about 88 bytes of slab per node, one allocation of
//! name + data, and ~8 bytes in the parent's table.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

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

/// One znode. Fields are flat (no nested struct padding) to keep it at 88 bytes.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `varint(name_len << 1 | data_is_null)`, the name bytes, the data bytes.
    blob: Box<[u8]>,
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

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes the blob header: (name length, data is null, header length). Blobs are built only
/// by [`make_blob`], so the header is always well formed.
fn blob_header(b: &[u8]) -> (usize, bool, usize) {
    let mut v: u64 = 0;
    let mut shift = 0;
    let mut i = 0;
    while i < b.len() && i < 10 {
        let byte = b[i];
        v |= u64::from(byte & 0x7f) << shift;
        i += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    ((v >> 1) as usize, v & 1 == 1, i)
}

fn make_blob(name: &str, data: Option<&[u8]>) -> Box<[u8]> {
    let d = data.unwrap_or(&[]);
    let mut v = Vec::with_capacity(name.len() + d.len() + 5);
    put_varint(
        &mut v,
        ((name.len() as u64) << 1) | u64::from(data.is_none()),
    );
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(d);
    v.into_boxed_slice()
}

impl Node {
    pub(crate) fn new(name: &str, data: Option<&[u8]>, acl: u32, s: StoredStat) -> Self {
        Self {
            blob: make_blob(name, data),
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

    /// The node's name (last path component; empty for the root).
    pub(crate) fn name(&self) -> &str {
        // Built from a &str, so always valid UTF-8 at these bounds.
        std::str::from_utf8(self.name_bytes()).unwrap_or("")
    }

    /// The name's bytes (no UTF-8 check: for hashing and comparing).
    pub(crate) fn name_bytes(&self) -> &[u8] {
        let (n, _, h) = blob_header(&self.blob);
        self.blob.get(h..h + n).unwrap_or(&[])
    }

    /// The data, `None` when the node was given null data.
    pub(crate) fn data(&self) -> Option<&[u8]> {
        let (n, null, h) = blob_header(&self.blob);
        if null {
            None
        } else {
            Some(self.blob.get(h + n..).unwrap_or(&[]))
        }
    }

    /// Length of the data (0 for null).
    pub(crate) fn data_len(&self) -> usize {
        let (n, _, h) = blob_header(&self.blob);
        self.blob.len().saturating_sub(h + n)
    }

    /// Replaces the data.
    pub(crate) fn set_data(&mut self, data: Option<&[u8]>) {
        let blob = make_blob(self.name(), data);
        self.blob = blob;
    }
}

/// The slab, the children tables and the hasher for names.
///
/// Slots and children tables are [`Chunked`], so a clone (what a snapshot serializes) is
/// cheap and later writes copy only the chunks they touch.
#[derive(Debug, Clone)]
pub(crate) struct NodeStore {
    slots: Chunked<Option<Node>>,
    free: Vec<NodeId>,
    tables: Chunked<Option<HashTable<NodeId>>>,
    free_tables: Vec<u32>,
    hasher: DefaultHashBuilder,
    live: usize,
}

impl NodeStore {
    /// A store holding only `root`.
    pub(crate) fn new(root: Node) -> Self {
        Self::with_capacity(root, 0)
    }

    /// A store holding only `root`, with room for `n` nodes.
    pub(crate) fn with_capacity(root: Node, n: usize) -> Self {
        let mut slots = Chunked::with_capacity(n.max(1));
        slots.push(Some(root));
        Self {
            slots,
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

    fn name_of(slots: &Chunked<Option<Node>>, id: NodeId) -> &[u8] {
        slots
            .get(id as usize)
            .and_then(Option::as_ref)
            .map_or(&[], Node::name_bytes)
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
            .find(h, |&id| Self::name_of(&self.slots, id) == name)
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
            .map(|n| n.name().to_string())
            .collect();
        v.sort_unstable();
        v
    }

    /// Adds `node` as a child of `parent` (the caller checked the name is free).
    pub(crate) fn insert(&mut self, parent: NodeId, mut node: Node) -> NodeId {
        node.parent = parent;
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
            tables,
            hasher,
            ..
        } = self;
        let h = hasher.hash_one(Self::name_of(slots, child));
        if let Some(Some(table)) = tables.get_mut(ti as usize) {
            table.insert_unique(h, child, |&id| hasher.hash_one(Self::name_of(slots, id)));
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
            tables,
            hasher,
            ..
        } = self;
        if let Some(Some(table)) = ti.and_then(|ti| tables.get_mut(ti as usize)) {
            table.reserve(n, |&c| hasher.hash_one(Self::name_of(slots, c)));
        }
    }

    /// Removes a childless node and unlinks it from its parent; returns it.
    pub(crate) fn remove(&mut self, id: NodeId) -> Option<Node> {
        if id == ROOT {
            return None;
        }
        let (parent, name_hash) = {
            let n = self.get(id)?;
            (n.parent, self.hasher.hash_one(n.name_bytes()))
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
        self.free.push(id);
        self.live -= 1;
        Some(node)
    }

    /// The full path of `id` ("/" for the root).
    pub(crate) fn path_of(&self, id: NodeId) -> String {
        let mut parts = Vec::new();
        let mut cur = id;
        while cur != ROOT {
            match self.get(cur) {
                Some(n) => {
                    parts.push(n.name());
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

    fn leaf(name: &str, data: Option<&[u8]>) -> Node {
        Node::new(name, data, 0, StoredStat::default())
    }

    #[test]
    fn node_is_compact() {
        assert!(
            std::mem::size_of::<Node>() <= 88,
            "{}",
            std::mem::size_of::<Node>()
        );
        assert_eq!(
            std::mem::size_of::<Option<Node>>(),
            std::mem::size_of::<Node>()
        );
    }

    #[test]
    fn blob_keeps_null_data_distinct_from_empty() {
        let a = leaf("a", None);
        let b = leaf("b", Some(b""));
        assert_eq!(a.data(), None);
        assert_eq!(b.data(), Some(&b""[..]));
        let mut c = leaf(&"x".repeat(300), Some(b"hello"));
        assert_eq!(c.name().len(), 300);
        assert_eq!(c.data(), Some(&b"hello"[..]));
        c.set_data(None);
        assert_eq!(c.data(), None);
        assert_eq!(c.data_len(), 0);
        assert_eq!(c.name().len(), 300);
    }

    #[test]
    fn insert_lookup_remove_reuses_slots() {
        let mut s = NodeStore::new(leaf("", Some(b"")));
        let a = s.insert(ROOT, leaf("a", None));
        let b = s.insert(a, leaf("b", Some(b"x")));
        assert_eq!(s.lookup("/a/b"), Some(b));
        assert_eq!(s.lookup(""), Some(ROOT));
        assert_eq!(s.lookup("/a/"), None);
        assert_eq!(s.lookup("a"), None);
        assert_eq!(s.path_of(b), "/a/b");
        assert_eq!(s.child_count(a), 1);
        assert!(s.remove(b).is_some());
        assert_eq!(s.child_count(a), 0);
        assert_eq!(s.lookup("/a/b"), None);
        let c = s.insert(a, leaf("c", None));
        assert_eq!(c, b, "freed slot reused");
        assert_eq!(s.len(), 3);
        assert_eq!(s.descendant_count(ROOT), 2);
    }
}
