//! One watch table (Apache's `WatchManager`): path → connection → mode, and connection → paths.
//!
//! Apache 3.8 keeps one mode per (connection, path) in a table: setting a standard watch where a
//! persistent one exists turns it into a standard (one-shot) watch, and vice versa — the last
//! registration wins (3.9 fixed this, ZOOKEEPER-4466; 3.8.0 behaves so, checked by hand).

use std::sync::Arc;

use hashbrown::{HashMap, HashSet};
use zk_core::proto::EventType;

/// How a watch behaves when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One-shot: removed when it fires.
    Standard,
    /// Stays; fires for its own path only.
    Persistent,
    /// Stays; fires for its path and every descendant, never for NodeChildrenChanged.
    Recursive,
}

/// Apache's `PathParentIterator.next()` step: the parent of `p`, `None` after the root, and
/// `Err` where Java throws (a non-root path without `/`).
fn parent_step(p: &str) -> Result<Option<&str>, ()> {
    if p == "/" {
        return Ok(None);
    }
    match p.rfind('/') {
        None => Err(()),
        Some(0) => Ok(Some("/")),
        Some(i) => Ok(Some(&p[..i])),
    }
}

/// A watch table.
#[derive(Debug, Default)]
pub(crate) struct WatchTable {
    by_path: HashMap<Arc<str>, HashMap<u64, Mode>>,
    /// Entries stay (possibly empty) until the connection goes, as Apache's `watch2Paths`.
    by_conn: HashMap<u64, HashSet<Arc<str>>>,
    recursive: usize,
}

impl WatchTable {
    /// Sets `conn`'s watch on `path` to `mode` (replacing any other mode).
    pub(crate) fn add(&mut self, path: &str, conn: u64, mode: Mode) {
        let key: Arc<str> = match self.by_path.get_key_value(path) {
            Some((k, _)) => k.clone(),
            None => Arc::from(path),
        };
        let old = self
            .by_path
            .entry(key.clone())
            .or_default()
            .insert(conn, mode);
        if old == Some(Mode::Recursive) {
            self.recursive = self.recursive.saturating_sub(1);
        }
        if mode == Mode::Recursive {
            self.recursive += 1;
        }
        self.by_conn.entry(conn).or_default().insert(key);
    }

    /// Removes `conn`'s watch on `path`; whether there was one.
    pub(crate) fn remove(&mut self, path: &str, conn: u64) -> bool {
        let Some(paths) = self.by_conn.get_mut(&conn) else {
            return false;
        };
        if !paths.remove(path) {
            return false;
        }
        let Some(set) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(mode) = set.remove(&conn) else {
            return false;
        };
        if mode == Mode::Recursive {
            self.recursive = self.recursive.saturating_sub(1);
        }
        if set.is_empty() {
            self.by_path.remove(path);
        }
        true
    }

    /// Forgets every watch of `conn`.
    pub(crate) fn remove_conn(&mut self, conn: u64) {
        let Some(paths) = self.by_conn.remove(&conn) else {
            return;
        };
        for p in paths {
            if let Some(set) = self.by_path.get_mut(&p) {
                if set.remove(&conn) == Some(Mode::Recursive) {
                    self.recursive = self.recursive.saturating_sub(1);
                }
                if set.is_empty() {
                    self.by_path.remove(&p);
                }
            }
        }
    }

    /// Apache's `triggerWatch`: collects the connections watching `path` (and, for recursive
    /// watches, its ancestors), removes the one-shot watches that fired, and returns the
    /// connections to notify (sorted, minus `suppress`) and every connection that matched.
    pub(crate) fn trigger(
        &mut self,
        path: &str,
        kind: EventType,
        suppress: Option<&HashSet<u64>>,
    ) -> (Vec<u64>, HashSet<u64>) {
        let mut matched: HashSet<u64> = HashSet::new();
        if self.by_path.is_empty() {
            return (Vec::new(), matched);
        }
        let mut local = Some(path.to_string());
        let mut at_parent = false;
        while let Some(p) = local.take() {
            if let Some(set) = self.by_path.get_mut(p.as_str()) {
                let mut fired_once = Vec::new();
                for (&conn, &mode) in set.iter() {
                    match mode {
                        Mode::Recursive if kind != EventType::NodeChildrenChanged => {
                            matched.insert(conn);
                        }
                        Mode::Recursive => {}
                        _ if !at_parent => {
                            matched.insert(conn);
                            if mode == Mode::Standard {
                                fired_once.push(conn);
                            }
                        }
                        _ => {}
                    }
                }
                for conn in fired_once {
                    set.remove(&conn);
                    if let Some(paths) = self.by_conn.get_mut(&conn) {
                        paths.remove(p.as_str());
                    }
                }
                if set.is_empty() {
                    self.by_path.remove(p.as_str());
                }
            }
            if self.recursive == 0 {
                break;
            }
            at_parent = true;
            local = parent_step(&p).ok().flatten().map(str::to_string);
        }
        let mut notify: Vec<u64> = matched
            .iter()
            .copied()
            .filter(|c| !suppress.is_some_and(|s| s.contains(c)))
            .collect();
        notify.sort_unstable();
        (notify, matched)
    }

    /// Apache 3.8's `containsWatcher(path, watcher)`: true if *any* connection watches exactly
    /// `path` in this table (3.8 does not look at the watcher there), or `conn`'s mode at `path`
    /// is recursive. `Err` where 3.8 throws walking up a path without `/` (MarshallingError).
    pub(crate) fn contains(&self, path: &str, conn: u64) -> Result<bool, ()> {
        let recursive_here = self
            .by_path
            .get(path)
            .and_then(|s| s.get(&conn))
            .is_some_and(|m| *m == Mode::Recursive);
        let mut local = Some(path);
        let mut at_parent = false;
        let mut level = 0;
        while let Some(p) = local {
            if p.is_empty() || (self.recursive == 0 && level >= 1) {
                break;
            }
            // next(): Java computes the parent before returning the current path.
            let next = parent_step(p)?;
            level += 1;
            if !at_parent && self.by_path.get(p).is_some_and(|s| !s.is_empty()) {
                return Ok(true);
            }
            if recursive_here {
                return Ok(true);
            }
            at_parent = true;
            local = next;
        }
        Ok(false)
    }

    /// Σ of watchers over paths (Apache's `size()`).
    pub(crate) fn size(&self) -> usize {
        self.by_path.values().map(HashMap::len).sum()
    }

    /// (connections, paths, total watches), as Apache's `wchs` line.
    pub(crate) fn summary(&self) -> (usize, usize, usize) {
        (
            self.by_conn.len(),
            self.by_path.len(),
            self.by_conn.values().map(HashSet::len).sum(),
        )
    }

    /// Paths watched per connection, sorted.
    pub(crate) fn by_connection(&self) -> Vec<(u64, Vec<String>)> {
        let mut v: Vec<(u64, Vec<String>)> = self
            .by_conn
            .iter()
            .map(|(&c, ps)| {
                let mut ps: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
                ps.sort_unstable();
                (c, ps)
            })
            .collect();
        v.sort_unstable_by_key(|(c, _)| *c);
        v
    }

    /// Connections per watched path, sorted.
    pub(crate) fn by_path(&self) -> Vec<(String, Vec<u64>)> {
        let mut v: Vec<(String, Vec<u64>)> = self
            .by_path
            .iter()
            .map(|(p, cs)| {
                let mut cs: Vec<u64> = cs.keys().copied().collect();
                cs.sort_unstable();
                (p.to_string(), cs)
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// The mode of `conn`'s watch on `path`, if any.
    pub(crate) fn mode(&self, path: &str, conn: u64) -> Option<Mode> {
        self.by_path.get(path).and_then(|s| s.get(&conn)).copied()
    }
}
