//! Snapshots of the whole tree: a compact, streamed, checksummed format.
//!
//! ```text
//! magic "ZKRSNAP" 0x01
//! config: extended_types, flags (skip_acl | enforce_quota << 1), container_max_never_used_ms,
//!   super_digest (0, or 1 and the string)
//! last_zxid, node_count, session_count, (session id, timeout)*, acl_count,
//! (acl index, entry count, (perms, scheme, id)*)*,
//! nodes in pre-order from the root: name, data (0 = null, else len + 1, then bytes),
//!   czxid, mzxid − czxid, pzxid − czxid, ctime, mtime − ctime, ephemeralOwner,
//!   version, cversion, aversion, acl index, child count
//! crc32 (LE u32) of everything above, then "ZKRSEND" 0x01
//! ```
//! Integers are LEB128 varints (signed ones zigzag-encoded), strings and byte strings are a
//! varint length and the bytes. Reading checks every length, index and count against what was
//! declared and the CRC at the end: a corrupt snapshot is an error, never a panic, and no
//! allocation is sized from an unchecked number.

use std::io::{self, Read, Write};

use zk_core::proto::{Acl, Id};

use super::acl::AclTable;
use super::node::{Node, NodeId, NodeStore, StoredStat, ROOT};
use super::sessions::Sessions;
use super::{utf16_len, DataTree, TreeConfig};

const MAGIC: &[u8; 8] = b"ZKRSNAP\x01";
const END: &[u8; 8] = b"ZKRSEND\x01";
/// Longest name, id or scheme accepted (jute.maxbuffer is ~1 MB; leave room).
const MAX_STR: u64 = 16 << 20;
/// Largest data accepted.
const MAX_DATA: u64 = 1 << 31;
/// Most nodes reserved up front, whatever the header says.
const MAX_RESERVE: u64 = 1 << 22;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Reading failed (including a snapshot cut short).
    #[error("snapshot I/O: {0}")]
    Io(#[from] io::Error),
    /// Not a snapshot of this format.
    #[error("not a zk-server tree snapshot (bad magic)")]
    BadMagic,
    /// The content is inconsistent.
    #[error("corrupt snapshot: {0}")]
    Corrupt(&'static str),
    /// The checksum does not match.
    #[error("snapshot checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        /// The CRC in the file.
        stored: u32,
        /// The CRC of the bytes read.
        computed: u32,
    },
}

/// A buffered writer that checksums what it writes in large chunks.
struct Out<'w, W: Write> {
    w: &'w mut W,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
}

const CHUNK: usize = 1 << 16;

impl<W: Write> Out<'_, W> {
    fn flush_chunk(&mut self) -> io::Result<()> {
        self.crc.update(&self.buf);
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        if self.buf.len() + b.len() > CHUNK {
            self.flush_chunk()?;
        }
        if b.len() > CHUNK {
            self.crc.update(b);
            return self.w.write_all(b);
        }
        self.buf.extend_from_slice(b);
        Ok(())
    }

    fn u(&mut self, mut v: u64) -> io::Result<()> {
        let mut tmp = [0u8; 10];
        let mut n = 0;
        while v >= 0x80 {
            tmp[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        tmp[n] = v as u8;
        self.bytes(&tmp[..=n])
    }

    fn i(&mut self, v: i64) -> io::Result<()> {
        self.u(((v << 1) ^ (v >> 63)) as u64)
    }

    fn str(&mut self, s: &[u8]) -> io::Result<()> {
        self.u(s.len() as u64)?;
        self.bytes(s)
    }

    /// Writes what is buffered, then the checksum of everything and the end marker.
    fn finish(mut self) -> io::Result<()> {
        self.flush_chunk()?;
        let crc = self.crc.clone().finalize();
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.write_all(END)?;
        self.w.flush()
    }
}

/// A buffered reader that checksums the bytes it hands out.
struct In<'r, R: Read> {
    r: &'r mut R,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes of `buf` before this index are already in `crc`.
    hashed: usize,
    crc: crc32fast::Hasher,
}

impl<R: Read> In<'_, R> {
    /// Makes at least one unread byte available; false at end of input.
    fn fill(&mut self) -> Result<bool, SnapshotError> {
        if self.pos < self.buf.len() {
            return Ok(true);
        }
        self.crc.update(&self.buf[self.hashed..]);
        self.buf.resize(CHUNK, 0);
        let n = loop {
            match self.r.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        };
        self.buf.truncate(n);
        self.pos = 0;
        self.hashed = 0;
        Ok(n > 0)
    }

    fn byte(&mut self) -> Result<u8, SnapshotError> {
        if !self.fill()? {
            return Err(SnapshotError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    /// Appends exactly `len` bytes to `out`.
    fn read_into(&mut self, mut len: usize, out: &mut Vec<u8>) -> Result<(), SnapshotError> {
        while len > 0 {
            if !self.fill()? {
                return Err(SnapshotError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            let n = len.min(self.buf.len() - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            len -= n;
        }
        Ok(())
    }

    /// The checksum of every byte handed out so far.
    fn checksum(&mut self) -> u32 {
        self.crc.update(&self.buf[self.hashed..self.pos]);
        self.hashed = self.pos;
        self.crc.clone().finalize()
    }

    fn u(&mut self) -> Result<u64, SnapshotError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(SnapshotError::Corrupt("varint too long"))
    }

    fn i(&mut self) -> Result<i64, SnapshotError> {
        let u = self.u()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn i32(&mut self) -> Result<i32, SnapshotError> {
        i32::try_from(self.i()?).map_err(|_| SnapshotError::Corrupt("int out of range"))
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        u32::try_from(self.u()?).map_err(|_| SnapshotError::Corrupt("index out of range"))
    }

    fn raw(&mut self, len: u64, max: u64) -> Result<Vec<u8>, SnapshotError> {
        if len > max {
            return Err(SnapshotError::Corrupt("length too large"));
        }
        // Grows with what is actually there, so a lying length cannot allocate much.
        let mut buf = Vec::with_capacity((len as usize).min(CHUNK));
        self.read_into(len as usize, &mut buf)?;
        Ok(buf)
    }

    fn string(&mut self) -> Result<String, SnapshotError> {
        let len = self.u()?;
        String::from_utf8(self.raw(len, MAX_STR)?).map_err(|_| SnapshotError::Corrupt("not UTF-8"))
    }
}

impl DataTree {
    /// Writes the whole tree (nodes, ACLs, sessions, last zxid and the config) to `w`.
    ///
    /// # Errors
    /// Errors of `w`.
    pub fn write_snapshot(&self, w: &mut impl Write) -> io::Result<()> {
        let mut o = Out {
            w,
            buf: Vec::with_capacity(CHUNK),
            crc: crc32fast::Hasher::new(),
        };
        o.bytes(MAGIC)?;
        let c = &self.config;
        o.u(u64::from(c.extended_types_enabled))?;
        o.u(u64::from(c.skip_acl) | (u64::from(c.enforce_quota) << 1))?;
        o.i(c.container_max_never_used_ms)?;
        match &c.super_digest {
            Some(d) => {
                o.u(1)?;
                o.str(d.as_bytes())?;
            }
            None => o.u(0)?,
        }
        o.i(self.last_zxid)?;
        o.u(self.nodes.len() as u64)?;
        o.u(self.sessions.timeouts.len() as u64)?;
        for (&id, &t) in &self.sessions.timeouts {
            o.i(id)?;
            o.i(i64::from(t))?;
        }
        let acls: Vec<(u32, &[Acl])> = self.acls.iter().collect();
        o.u(acls.len() as u64)?;
        for (i, list) in acls {
            o.u(u64::from(i))?;
            o.u(list.len() as u64)?;
            for a in list {
                o.i(i64::from(a.perms))?;
                o.str(a.id.scheme.as_bytes())?;
                o.str(a.id.id.as_bytes())?;
            }
        }
        let mut stack: Vec<NodeId> = vec![ROOT];
        while let Some(id) = stack.pop() {
            let Some(n) = self.nodes.get(id) else {
                continue;
            };
            o.str(self.nodes.name_bytes(n))?;
            match self.nodes.data(n) {
                None => o.u(0)?,
                Some(d) => {
                    o.u(d.len() as u64 + 1)?;
                    o.bytes(d)?;
                }
            }
            o.i(n.czxid)?;
            o.i(n.mzxid.wrapping_sub(n.czxid))?;
            o.i(n.pzxid.wrapping_sub(n.czxid))?;
            o.i(n.ctime)?;
            o.i(n.mtime.wrapping_sub(n.ctime))?;
            o.i(n.ephemeral_owner)?;
            o.i(i64::from(n.version))?;
            o.i(i64::from(n.cversion))?;
            o.i(i64::from(n.aversion))?;
            o.u(u64::from(n.acl))?;
            let before = stack.len();
            stack.extend(self.nodes.children(id));
            o.u((stack.len() - before) as u64)?;
        }
        o.finish()
    }

    /// Reads a snapshot written by [`DataTree::write_snapshot`], with the config stored in it.
    ///
    /// # Errors
    /// [`SnapshotError`] for I/O errors, a foreign or corrupt snapshot, a checksum mismatch.
    pub fn read_snapshot(r: &mut impl Read) -> Result<DataTree, SnapshotError> {
        Self::read_snapshot_inner(r, None)
    }

    /// Reads a snapshot and uses `config` instead of the one stored in it.
    ///
    /// # Errors
    /// As [`DataTree::read_snapshot`].
    pub fn read_snapshot_with(
        r: &mut impl Read,
        config: TreeConfig,
    ) -> Result<DataTree, SnapshotError> {
        Self::read_snapshot_inner(r, Some(config))
    }

    fn read_snapshot_inner(
        r: &mut impl Read,
        config: Option<TreeConfig>,
    ) -> Result<DataTree, SnapshotError> {
        let mut i = In {
            r,
            buf: Vec::new(),
            pos: 0,
            hashed: 0,
            crc: crc32fast::Hasher::new(),
        };
        let mut magic = Vec::with_capacity(8);
        i.read_into(8, &mut magic)?;
        if magic != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let extended_types_enabled = i.u()? != 0;
        let flags = i.u()?;
        let (skip_acl, enforce_quota) = (flags & 1 != 0, flags & 2 != 0);
        let container_max_never_used_ms = i.i()?;
        let super_digest = match i.u()? {
            0 => None,
            _ => Some(i.string()?),
        };
        let stored_config = TreeConfig {
            extended_types_enabled,
            super_digest,
            container_max_never_used_ms,
            skip_acl,
            enforce_quota,
        };
        let last_zxid = i.i()?;
        let node_count = i.u()?;
        if node_count == 0 {
            return Err(SnapshotError::Corrupt("no root"));
        }
        let mut sessions = Sessions::default();
        for _ in 0..i.u()? {
            let id = i.i()?;
            let t = i.i32()?;
            sessions.timeouts.insert(id, t);
        }
        let mut acls = AclTable::default();
        for _ in 0..i.u()? {
            let idx = i.u32()?;
            let n = i.u()?;
            let mut list = Vec::new();
            for _ in 0..n {
                let perms = i.i32()?;
                let scheme = i.string()?;
                let id = i.string()?;
                list.push(Acl {
                    perms,
                    id: Id::new(scheme, id),
                });
            }
            if !acls.restore(idx, list) {
                return Err(SnapshotError::Corrupt("duplicate or huge ACL index"));
            }
        }
        // A node's name and data are read into two buffers reused for every node; the store
        // copies them into its arena. Returns the node, whether its data is not null, and
        // its number of children.
        let read_node = |i: &mut In<_>,
                         acls: &mut AclTable,
                         name: &mut Vec<u8>,
                         data: &mut Vec<u8>|
         -> Result<(Node, bool, u64), SnapshotError> {
            name.clear();
            data.clear();
            let len = i.u()?;
            if len > MAX_STR {
                return Err(SnapshotError::Corrupt("length too large"));
            }
            i.read_into(len as usize, name)?;
            if std::str::from_utf8(name).is_err() {
                return Err(SnapshotError::Corrupt("not UTF-8"));
            }
            let has_data = match i.u()? {
                0 => false,
                n if n - 1 > MAX_DATA => {
                    return Err(SnapshotError::Corrupt("length too large"));
                }
                n => {
                    i.read_into((n - 1) as usize, data)?;
                    true
                }
            };
            let czxid = i.i()?;
            let mzxid = czxid.wrapping_add(i.i()?);
            let pzxid = czxid.wrapping_add(i.i()?);
            let ctime = i.i()?;
            let mtime = ctime.wrapping_add(i.i()?);
            let stat = StoredStat {
                czxid,
                mzxid,
                pzxid,
                ctime,
                mtime,
                ephemeral_owner: i.i()?,
                version: i.i32()?,
                cversion: i.i32()?,
                aversion: i.i32()?,
            };
            let acl = i.u32()?;
            if !acls.contains(acl) {
                return Err(SnapshotError::Corrupt("unknown ACL index"));
            }
            acls.add_ref(acl);
            let children = i.u()?;
            Ok((Node::new(acl, stat), has_data, children))
        };
        let (mut name_buf, mut data_buf) = (Vec::new(), Vec::new());
        let (root, has_data, root_children) =
            read_node(&mut i, &mut acls, &mut name_buf, &mut data_buf)?;
        if !name_buf.is_empty() {
            return Err(SnapshotError::Corrupt("root has a name"));
        }
        let mut data_size = 1 + data_buf.len() as i64;
        let mut nodes = NodeStore::with_capacity(
            root,
            has_data.then_some(&data_buf[..]),
            node_count.min(MAX_RESERVE) as usize,
        );
        nodes.reserve_children(
            ROOT,
            root_children.min(node_count - 1).min(MAX_RESERVE) as usize,
        );
        let mut read = 1u64;
        // (node, children still to read, its path length in UTF-16 units)
        let mut stack: Vec<(NodeId, u64, i64)> = vec![(ROOT, root_children, 1)];
        while let Some(top) = stack.last_mut() {
            if top.1 == 0 {
                stack.pop();
                continue;
            }
            top.1 -= 1;
            let (parent, parent_len) = (top.0, top.2);
            if read >= node_count {
                return Err(SnapshotError::Corrupt("more nodes than declared"));
            }
            let (node, has_data, children) =
                read_node(&mut i, &mut acls, &mut name_buf, &mut data_buf)?;
            let name = std::str::from_utf8(&name_buf).unwrap_or("");
            if name.is_empty() || name.contains('/') {
                return Err(SnapshotError::Corrupt("bad node name"));
            }
            if nodes.child(parent, name).is_some() {
                return Err(SnapshotError::Corrupt("duplicate child"));
            }
            let path_len = parent_len + i64::from(parent != ROOT) + utf16_len(name);
            data_size += path_len + data_buf.len() as i64;
            let id = nodes.insert(parent, name, has_data.then_some(&data_buf[..]), node);
            read += 1;
            if children > node_count - read {
                return Err(SnapshotError::Corrupt("child count exceeds node count"));
            }
            nodes.reserve_children(id, children.min(MAX_RESERVE) as usize);
            stack.push((id, children, path_len));
        }
        if read != node_count {
            return Err(SnapshotError::Corrupt("fewer nodes than declared"));
        }
        let computed = i.checksum();
        let mut trailer = Vec::with_capacity(12);
        i.read_into(12, &mut trailer)?;
        let stored = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        if stored != computed {
            return Err(SnapshotError::Checksum { stored, computed });
        }
        if trailer[4..] != END[..] {
            return Err(SnapshotError::Corrupt("bad end marker"));
        }
        acls.purge_unused();
        let mut tree = DataTree {
            config: config.unwrap_or(stored_config),
            nodes,
            acls,
            sessions,
            quotas: super::quota::QuotaTrie::default(),
            last_zxid,
            data_size,
        };
        tree.rebuild_indexes();
        tree.rebuild_quota_trie();
        Ok(tree)
    }

    /// Rebuilds the ephemeral/container/TTL indexes from the nodes' owners.
    fn rebuild_indexes(&mut self) {
        let timeouts = std::mem::take(&mut self.sessions.timeouts);
        self.sessions = Sessions {
            timeouts,
            ..Sessions::default()
        };
        let mut stack = vec![ROOT];
        while let Some(id) = stack.pop() {
            stack.extend(self.nodes.children(id));
            if id == ROOT {
                continue;
            }
            if let Some(n) = self.nodes.get(id) {
                let kind = self.kind(n.ephemeral_owner);
                self.sessions.add_node(id, kind);
            }
        }
    }

    /// Replaces the config (e.g. the server's own after loading a snapshot) and re-indexes the
    /// nodes, whose owners are read differently with or without extended types.
    pub fn set_config(&mut self, config: TreeConfig) {
        self.config = config;
        self.rebuild_indexes();
    }
}
