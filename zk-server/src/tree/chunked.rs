//! A vector split into fixed-size shared chunks: cloning it costs one reference count per
//! chunk, and a write copies only the chunk it touches if a clone still shares it.
//!
//! This is what lets a snapshot take a consistent copy of a million-node tree in well under a
//! millisecond and serialize it while writes go on (ZooKeeper serializes its tree without
//! stopping writes, too): after the copy, each chunk is copied at most once, by the first
//! write that touches it while the snapshot still holds it.

use std::sync::Arc;

/// log2 of the elements per chunk.
const BITS: u32 = 12;
/// Elements per chunk.
const CHUNK: usize = 1 << BITS;
const MASK: usize = CHUNK - 1;

/// A growable vector of `T` in shared chunks of [`CHUNK`] elements.
#[derive(Debug, Clone)]
pub(crate) struct Chunked<T: Clone> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T: Clone> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> Chunked<T> {
    /// An empty vector with room for `n` elements' chunk pointers.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            chunks: Vec::with_capacity(n.div_ceil(CHUNK)),
            len: 0,
        }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The element at `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> BITS)?.get(i & MASK)
    }

    /// The element at `i`, for writing (copies its chunk first if a clone shares it).
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        Arc::make_mut(self.chunks.get_mut(i >> BITS)?).get_mut(i & MASK)
    }

    /// Appends `v`.
    pub(crate) fn push(&mut self, v: T) {
        if self.len & MASK == 0 {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(v);
            self.len += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_and_iterate_across_chunks() {
        let mut v = Chunked::with_capacity(10);
        for i in 0..(3 * CHUNK + 5) {
            v.push(i);
        }
        assert_eq!(v.len(), 3 * CHUNK + 5);
        assert_eq!(v.get(0), Some(&0));
        assert_eq!(v.get(CHUNK), Some(&CHUNK));
        assert_eq!(v.get(3 * CHUNK + 4), Some(&(3 * CHUNK + 4)));
        assert_eq!(v.get(3 * CHUNK + 5), None);
        assert!((0..v.len()).all(|i| v.get(i) == Some(&i)));
    }

    #[test]
    fn a_clone_is_unaffected_by_later_writes_and_shares_untouched_chunks() {
        let mut v = Chunked::default();
        for i in 0..(2 * CHUNK) {
            v.push(i as u64);
        }
        let snap = v.clone();
        *v.get_mut(1).expect("present") = 999;
        v.push(7);
        assert_eq!(snap.get(1), Some(&1));
        assert_eq!(snap.len(), 2 * CHUNK);
        assert_eq!(v.get(1), Some(&999));
        assert_eq!(v.len(), 2 * CHUNK + 1);
        // The first chunk was copied by the write; the second is still shared.
        assert!(!Arc::ptr_eq(&v.chunks[0], &snap.chunks[0]));
        assert!(Arc::ptr_eq(&v.chunks[1], &snap.chunks[1]));
    }
}
