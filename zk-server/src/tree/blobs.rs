//! The arena that holds every node's name and data: records packed into 256 KiB pages, so a
//! node costs its bytes plus a few of header instead of a heap allocation of its own (a
//! 108-byte name + data took a 128-byte malloc chunk, and its box a 16-byte fat pointer in
//! the node; a [`BlobRef`] is 8 bytes).
//!
//! A record is `owner (u32 LE) · varint(name_len << 1 | data_is_null) · varint(data_len) ·
//! name · data`. Pages are shared (`Arc`) like [`super::chunked::Chunked`]'s chunks, so a
//! clone for a snapshot is cheap, and appending to a page that a snapshot still reads copies
//! that one page first. A freed record leaves a hole; a page whose records are all freed is
//! released, and [`Blobs::sparse_pages`] names pages worth compacting: the store moves their
//! live records (found through the owner field) to the tail and releases them.

use std::num::NonZeroU32;
use std::sync::Arc;

/// Bytes per page.
const PAGE: usize = 256 << 10;
/// Records longer than this get a page of their own (exactly their size).
const BIG: usize = PAGE / 4;
/// Garbage (freed bytes still held in pages) below this never triggers a compaction.
const GARBAGE_FLOOR: u64 = 8 << 20;

/// Where a record lives: page and byte offset. The page is stored plus one, so that an
/// `Option<Node>` needs no room beyond the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobRef {
    page1: NonZeroU32,
    off: u32,
}

impl BlobRef {
    /// A reference to nothing (a node not yet stored).
    pub(crate) const NONE: BlobRef = BlobRef {
        page1: NonZeroU32::MAX,
        off: u32::MAX,
    };

    fn new(page: u32, off: usize) -> Self {
        BlobRef {
            page1: NonZeroU32::new(page.wrapping_add(1)).unwrap_or(NonZeroU32::MAX),
            off: off as u32,
        }
    }

    fn page(self) -> u32 {
        self.page1.get() - 1
    }
}

/// The pages and their bookkeeping.
#[derive(Debug, Clone, Default)]
pub(crate) struct Blobs {
    pages: Vec<Arc<Vec<u8>>>,
    /// Live (not freed) record bytes of each page.
    live: Vec<u32>,
    /// Released pages, for reuse.
    free_pages: Vec<u32>,
    /// The page new records go to.
    tail: Option<u32>,
    live_total: u64,
    /// Bytes in pages not released (live records and holes).
    held_total: u64,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Reads a varint at `*at`; records are written only by [`Blobs::alloc`], so they are well
/// formed, and a truncated one reads as 0.
fn get_varint(b: &[u8], at: &mut usize) -> u64 {
    let mut v: u64 = 0;
    let mut shift = 0;
    while let Some(&byte) = b.get(*at) {
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 || shift >= 63 {
            break;
        }
        shift += 7;
    }
    v
}

/// A parsed record header: owner, name length, data null?, data length, header length.
struct Header {
    owner: u32,
    name_len: usize,
    null: bool,
    data_len: usize,
    len: usize,
}

fn header(b: &[u8]) -> Header {
    let owner = b
        .get(..4)
        .map_or(u32::MAX, |o| u32::from_le_bytes([o[0], o[1], o[2], o[3]]));
    let mut at = 4;
    let nh = get_varint(b, &mut at);
    let data_len = get_varint(b, &mut at) as usize;
    Header {
        owner,
        name_len: (nh >> 1) as usize,
        null: nh & 1 == 1,
        data_len,
        len: at,
    }
}

impl Blobs {
    /// Stores `name` and `data` for node `owner`.
    pub(crate) fn alloc(&mut self, owner: u32, name: &[u8], data: Option<&[u8]>) -> BlobRef {
        let d = data.unwrap_or(&[]);
        let nh = ((name.len() as u64) << 1) | u64::from(data.is_none());
        let len = 4 + varint_len(nh) + varint_len(d.len() as u64) + name.len() + d.len();
        let (page, buf) = self.room_for(len);
        let off = buf.len();
        buf.extend_from_slice(&owner.to_le_bytes());
        put_varint(buf, nh);
        put_varint(buf, d.len() as u64);
        buf.extend_from_slice(name);
        buf.extend_from_slice(d);
        self.account_alloc(page, len);
        BlobRef::new(page, off)
    }

    /// Stores `data` for `owner` under the name of the record at `r`, and frees `r`.
    pub(crate) fn replace_data(&mut self, r: BlobRef, owner: u32, data: Option<&[u8]>) -> BlobRef {
        let (name, _) = self.get(r);
        let mut short = [0u8; 64];
        let new = match short.get_mut(..name.len()) {
            Some(buf) => {
                buf.copy_from_slice(name);
                self.alloc(owner, buf, data)
            }
            None => {
                let name = name.to_vec();
                self.alloc(owner, &name, data)
            }
        };
        self.free(r);
        new
    }

    /// A copy of the record at `r` at the tail (compaction); the old one is freed.
    pub(crate) fn relocate(&mut self, r: BlobRef) -> BlobRef {
        let Some(bytes) = self.record(r).map(<[u8]>::to_vec) else {
            return r;
        };
        let (page, buf) = self.room_for(bytes.len());
        let off = buf.len();
        buf.extend_from_slice(&bytes);
        self.account_alloc(page, bytes.len());
        self.free(r);
        BlobRef::new(page, off)
    }

    fn account_alloc(&mut self, page: u32, len: usize) {
        if let Some(l) = self.live.get_mut(page as usize) {
            *l += len as u32;
        }
        self.live_total += len as u64;
        self.held_total += len as u64;
    }

    /// The page to append `len` bytes to, unshared and with room.
    fn room_for(&mut self, len: usize) -> (u32, &mut Vec<u8>) {
        let page = if len > BIG {
            self.new_page(len)
        } else {
            match self.tail {
                Some(t) if self.pages[t as usize].len() + len <= PAGE => t,
                _ => {
                    let t = self.new_page(PAGE);
                    self.tail = Some(t);
                    t
                }
            }
        };
        let slot = &mut self.pages[page as usize];
        if Arc::get_mut(slot).is_none() {
            // A snapshot still reads this page: copy it, keeping a page's capacity.
            let mut v = Vec::with_capacity(slot.capacity().max(slot.len() + len));
            v.extend_from_slice(slot);
            *slot = Arc::new(v);
        }
        (page, Arc::make_mut(slot))
    }

    fn new_page(&mut self, capacity: usize) -> u32 {
        let v = Arc::new(Vec::with_capacity(capacity));
        match self.free_pages.pop() {
            Some(p) => {
                self.pages[p as usize] = v;
                self.live[p as usize] = 0;
                p
            }
            None => {
                self.pages.push(v);
                self.live.push(0);
                (self.pages.len() - 1) as u32
            }
        }
    }

    fn record(&self, r: BlobRef) -> Option<&[u8]> {
        let b = self.pages.get(r.page() as usize)?.get(r.off as usize..)?;
        let h = header(b);
        b.get(..h.len + h.name_len + h.data_len)
    }

    /// The name and data of the record at `r`.
    pub(crate) fn get(&self, r: BlobRef) -> (&[u8], Option<&[u8]>) {
        let Some(b) = self
            .pages
            .get(r.page() as usize)
            .and_then(|p| p.get(r.off as usize..))
        else {
            return (&[], None);
        };
        let h = header(b);
        let name = b.get(h.len..h.len + h.name_len).unwrap_or(&[]);
        let start = h.len + h.name_len;
        let data = (!h.null).then(|| b.get(start..start + h.data_len).unwrap_or(&[]));
        (name, data)
    }

    /// Frees the record at `r`; a page left without live records is released.
    pub(crate) fn free(&mut self, r: BlobRef) {
        let Some(len) = self.record(r).map(<[u8]>::len) else {
            return;
        };
        let p = r.page() as usize;
        self.live[p] = self.live[p].saturating_sub(len as u32);
        self.live_total -= len as u64;
        if self.live[p] == 0 && self.tail != Some(r.page()) {
            self.held_total -= self.pages[p].len() as u64;
            self.pages[p] = Arc::new(Vec::new());
            self.free_pages.push(r.page());
        }
    }

    /// Pages whose holes make up more than half, once holes in all pages exceed the live
    /// bytes (and 8 MiB); empty otherwise. So the arena holds at most twice the live bytes
    /// plus 8 MiB, and when it is asked, some page qualifies (were every page at least half
    /// live, holes could not exceed live bytes). The tail is never among them.
    pub(crate) fn sparse_pages(&self) -> Vec<u32> {
        let garbage = self.held_total - self.live_total;
        if garbage < GARBAGE_FLOOR || garbage < self.live_total {
            return Vec::new();
        }
        (0..self.pages.len() as u32)
            .filter(|&p| {
                let len = self.pages[p as usize].len() as u64;
                Some(p) != self.tail && len > 0 && u64::from(self.live[p as usize]) * 2 < len
            })
            .collect()
    }

    /// Every record of `page` with its owner, live or freed, in order.
    pub(crate) fn records(&self, page: u32) -> Vec<(BlobRef, u32)> {
        let mut out = Vec::new();
        let Some(b) = self.pages.get(page as usize) else {
            return out;
        };
        let mut off = 0;
        while off < b.len() {
            let h = header(&b[off..]);
            out.push((BlobRef::new(page, off), h.owner));
            off += h.len + h.name_len + h.data_len;
        }
        out
    }

    /// Bytes held in pages (live records and holes).
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> u64 {
        self.held_total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_null_empty_and_big_data() {
        let mut b = Blobs::default();
        let a = b.alloc(1, b"a", None);
        let e = b.alloc(2, b"e", Some(b""));
        let big = vec![7u8; BIG + 10];
        let g = b.alloc(3, b"big", Some(&big));
        let long = "n".repeat(300);
        let l = b.alloc(4, long.as_bytes(), Some(b"hello"));
        assert_eq!(b.get(a), (&b"a"[..], None));
        assert_eq!(b.get(e), (&b"e"[..], Some(&b""[..])));
        assert_eq!(b.get(g), (&b"big"[..], Some(&big[..])));
        assert_eq!(b.get(l), (long.as_bytes(), Some(&b"hello"[..])));
        assert_ne!(g.page(), a.page(), "a big record has a page of its own");
        let owners: Vec<u32> = b.records(a.page()).into_iter().map(|(_, o)| o).collect();
        assert_eq!(owners, vec![1, 2, 4]);
    }

    #[test]
    fn freed_pages_are_released_and_reused() {
        let mut b = Blobs::default();
        let data = vec![1u8; 1000];
        let refs: Vec<BlobRef> = (0..600).map(|i| b.alloc(i, b"x", Some(&data))).collect();
        let first = refs[0].page();
        assert!(refs.iter().any(|r| r.page() != first), "spans pages");
        let held = b.held_bytes();
        for r in refs.iter().filter(|r| r.page() == first) {
            b.free(*r);
        }
        assert!(b.held_bytes() < held, "the emptied page is released");
        let again = b.alloc(9, b"y", Some(&data));
        assert_ne!(again.page(), first, "the tail has room");
        assert_eq!(b.get(again), (&b"y"[..], Some(&data[..])));
    }

    #[test]
    fn a_clone_keeps_its_pages_while_the_original_moves_on() {
        let mut b = Blobs::default();
        let r = b.alloc(1, b"a", Some(b"old"));
        let snap = b.clone();
        let s = b.alloc(2, b"b", Some(b"new"));
        b.free(r);
        assert_eq!(snap.get(r), (&b"a"[..], Some(&b"old"[..])));
        assert_eq!(b.get(s), (&b"b"[..], Some(&b"new"[..])));
        assert_eq!(snap.records(r.page()).len(), 1);
    }

    #[test]
    fn sparse_pages_appear_once_garbage_is_large() {
        let mut b = Blobs::default();
        let data = vec![1u8; 1000];
        let refs: Vec<BlobRef> = (0..20_000).map(|i| b.alloc(i, b"x", Some(&data))).collect();
        assert!(b.sparse_pages().is_empty());
        // Free 3 of every 4 records: every page keeps a quarter live.
        for (i, r) in refs.iter().enumerate() {
            if i % 4 != 0 {
                b.free(*r);
            }
        }
        let sparse = b.sparse_pages();
        assert!(sparse.len() > 50, "{}", sparse.len());
        let p = sparse[0];
        let live: Vec<BlobRef> = refs
            .iter()
            .enumerate()
            .filter(|(i, r)| i % 4 == 0 && r.page() == p)
            .map(|(_, r)| *r)
            .collect();
        let moved: Vec<BlobRef> = live.iter().map(|r| b.relocate(*r)).collect();
        assert!(moved.iter().all(|m| m.page() != p));
        assert!(moved
            .iter()
            .all(|m| b.get(*m) == (&b"x"[..], Some(&data[..]))));
    }
}
