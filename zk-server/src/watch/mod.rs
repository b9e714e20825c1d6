//! The server-local watch manager, keyed by connection id, with Apache ZooKeeper 3.8's
//! semantics.
//!
//! Two tables, as Apache's DataTree has: the *data* table (getData and exists watches) and the
//! *child* table (getChildren watches). `addWatch` puts a persistent or persistent-recursive
//! watch in both. A recursive watch matches its path and every descendant and never fires
//! NodeChildrenChanged, so in effect it only sees data events.
//!
//! [`WatchManager::fire`] turns the tree's [`NodeEvent`]s into notifications: NodeCreated and
//! NodeDataChanged trigger the data table, NodeChildrenChanged the child table, NodeDeleted the
//! data table and then the child table without notifying again a connection the data table
//! already notified. Each trigger notifies a connection at most once; one-shot watches that
//! fired are removed.
//!
//! Reads register watches through [`WatchManager::register_read`]; call it under the same lock
//! as the read, so no change can slip between the read and the registration.

mod table;

#[cfg(test)]
mod tests;

use zk_core::proto::{
    AddWatchRequest, CheckWatchesRequest, ErrorCode, EventType, KeeperState, MultiOp,
    RemoveWatchesRequest, Request, Response, SetWatches, SetWatches2, WatcherEvent, WatcherType,
};

use crate::tree::{DataTree, NodeEvent};
use table::{Mode, WatchTable};

/// The kind of watch a request leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// exists / getData: one-shot, data table.
    Data,
    /// getChildren: one-shot, child table.
    Child,
    /// addWatch PERSISTENT: both tables, stays.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE: both tables, stays, covers descendants.
    PersistentRecursive,
}

/// Which table (for the 4lw dumps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchTableKind {
    /// getData / exists (and persistent) watches: what Apache's wchs/wchc/wchp report.
    Data,
    /// getChildren (and persistent) watches.
    Child,
}

/// The watches of this server's connections. See the module docs.
#[derive(Debug, Default)]
pub struct WatchManager {
    data: WatchTable,
    child: WatchTable,
}

fn event(event_type: EventType, path: &str) -> WatcherEvent {
    WatcherEvent {
        event_type: event_type.code(),
        state: KeeperState::SyncConnected.code(),
        path: path.to_string(),
    }
}

impl WatchManager {
    /// An empty manager.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a watch for `conn` on `path` (no checks: Apache accepts any path, existing or not).
    pub fn add(&mut self, conn: u64, path: &str, kind: WatchKind) {
        match kind {
            WatchKind::Data => self.data.add(path, conn, Mode::Standard),
            WatchKind::Child => self.child.add(path, conn, Mode::Standard),
            WatchKind::Persistent => {
                self.data.add(path, conn, Mode::Persistent);
                self.child.add(path, conn, Mode::Persistent);
            }
            WatchKind::PersistentRecursive => {
                self.data.add(path, conn, Mode::Recursive);
                self.child.add(path, conn, Mode::Recursive);
            }
        }
    }

    /// Registers the watch a read leaves, given its result, as Apache does: exists with
    /// `watch` → data watch whether or not the node exists (not on BadArguments); getData →
    /// data watch, getChildren / getChildren2 → child watch, only when the read succeeded;
    /// multiRead → the same per op.
    pub fn register_read(
        &mut self,
        conn: u64,
        req: &Request,
        result: &Result<Response, ErrorCode>,
    ) {
        match (req, result) {
            (Request::Exists(r), Ok(_) | Err(ErrorCode::NoNode)) if r.watch => {
                self.add(conn, &r.path, WatchKind::Data);
            }
            (Request::GetData(r), Ok(_)) if r.watch => self.add(conn, &r.path, WatchKind::Data),
            (Request::GetChildren(r), Ok(_)) if r.watch => {
                self.add(conn, &r.path, WatchKind::Child);
            }
            (Request::GetChildren2(r), Ok(_)) if r.watch => {
                self.add(conn, &r.path, WatchKind::Child);
            }
            (Request::MultiRead(m), Ok(Response::MultiRead(resp))) => {
                for (op, res) in m.ops.iter().zip(&resp.results) {
                    if res.error().is_some() {
                        continue;
                    }
                    match op {
                        MultiOp::GetData(r) if r.watch => self.add(conn, &r.path, WatchKind::Data),
                        MultiOp::GetChildren(r) if r.watch => {
                            self.add(conn, &r.path, WatchKind::Child);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// addWatch: mode 0 persistent, 1 persistent-recursive; the path is not checked.
    ///
    /// # Errors
    /// MarshallingError for another mode (Apache 3.8 throws converting it).
    pub fn handle_add_watch(&mut self, conn: u64, req: &AddWatchRequest) -> Result<(), ErrorCode> {
        let kind = match req.mode {
            0 => WatchKind::Persistent,
            1 => WatchKind::PersistentRecursive,
            _ => return Err(ErrorCode::MarshallingError),
        };
        self.add(conn, &req.path, kind);
        Ok(())
    }

    /// Notifications for the tree's events, in order: `(connection, event)`.
    pub fn fire(&mut self, events: &[NodeEvent]) -> Vec<(u64, WatcherEvent)> {
        let mut out = Vec::new();
        for ev in events {
            let path = ev.path.as_str();
            let mut push = |conns: Vec<u64>, t: EventType| {
                for c in conns {
                    out.push((c, event(t, path)));
                }
            };
            match ev.event_type {
                EventType::NodeCreated | EventType::NodeDataChanged => {
                    let (n, _) = self.data.trigger(path, ev.event_type, None);
                    push(n, ev.event_type);
                }
                EventType::NodeChildrenChanged => {
                    let (n, _) = self.child.trigger(path, ev.event_type, None);
                    push(n, ev.event_type);
                }
                EventType::NodeDeleted => {
                    let (n, matched) = self.data.trigger(path, ev.event_type, None);
                    push(n, ev.event_type);
                    let (n, _) = self.child.trigger(path, ev.event_type, Some(&matched));
                    push(n, ev.event_type);
                }
                _ => {}
            }
        }
        out
    }

    /// Forgets every watch of a closed connection.
    pub fn remove_connection(&mut self, conn: u64) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    /// setWatches2 after a reconnect, with Apache's rules against `relative_zxid`: a data watch
    /// on a missing node → NodeDeleted, on a node with mzxid > relative → NodeDataChanged, else
    /// re-armed; an exist watch on an existing node → NodeCreated, else armed; a child watch on
    /// a missing node → NodeDeleted, pzxid > relative → NodeChildrenChanged, else re-armed;
    /// persistent and recursive watches are re-armed. Returns the events to send, in order.
    pub fn set_watches(
        &mut self,
        conn: u64,
        sw: &SetWatches2,
        tree: &DataTree,
    ) -> Vec<WatcherEvent> {
        let rel = sw.relative_zxid;
        let mut out = Vec::new();
        for p in &sw.data_watches {
            match tree.stat(p) {
                None => out.push(event(EventType::NodeDeleted, p)),
                Some(s) if s.mzxid > rel => out.push(event(EventType::NodeDataChanged, p)),
                Some(_) => self.data.add(p, conn, Mode::Standard),
            }
        }
        for p in &sw.exist_watches {
            match tree.stat(p) {
                Some(_) => out.push(event(EventType::NodeCreated, p)),
                None => self.data.add(p, conn, Mode::Standard),
            }
        }
        for p in &sw.child_watches {
            match tree.stat(p) {
                None => out.push(event(EventType::NodeDeleted, p)),
                Some(s) if s.pzxid > rel => out.push(event(EventType::NodeChildrenChanged, p)),
                Some(_) => self.child.add(p, conn, Mode::Standard),
            }
        }
        for p in &sw.persistent_watches {
            self.add(conn, p, WatchKind::Persistent);
        }
        for p in &sw.persistent_recursive_watches {
            self.add(conn, p, WatchKind::PersistentRecursive);
        }
        out
    }

    /// setWatches (opcode 101, no persistent watches): as [`WatchManager::set_watches`].
    pub fn set_watches_v1(
        &mut self,
        conn: u64,
        sw: &SetWatches,
        tree: &DataTree,
    ) -> Vec<WatcherEvent> {
        let sw2 = SetWatches2 {
            relative_zxid: sw.relative_zxid,
            data_watches: sw.data_watches.clone(),
            exist_watches: sw.exist_watches.clone(),
            child_watches: sw.child_watches.clone(),
            persistent_watches: Vec::new(),
            persistent_recursive_watches: Vec::new(),
        };
        self.set_watches(conn, &sw2, tree)
    }

    /// removeWatches: removes `conn`'s watch on exactly `path` from the child table
    /// (Children), the data table (Data) or both (Any); persistent watches are removed like any
    /// other. Whether something was removed (Apache answers NoWatcher otherwise). Apache 3.8
    /// knows no Persistent/PersistentRecursive types here: those remove nothing.
    pub fn remove_watches(&mut self, conn: u64, path: &str, kind: WatcherType) -> bool {
        match kind {
            WatcherType::Children => self.child.remove(path, conn),
            WatcherType::Data => self.data.remove(path, conn),
            WatcherType::Any => {
                let c = self.child.remove(path, conn);
                let d = self.data.remove(path, conn);
                c || d
            }
            WatcherType::Persistent | WatcherType::PersistentRecursive => false,
        }
    }

    fn check(&self, conn: u64, path: &str, kind: WatcherType) -> Result<bool, ErrorCode> {
        let contains = |t: &WatchTable| {
            t.contains(path, conn)
                .map_err(|()| ErrorCode::MarshallingError)
        };
        Ok(match kind {
            WatcherType::Children => contains(&self.child)?,
            WatcherType::Data => contains(&self.data)?,
            WatcherType::Any => {
                let c = contains(&self.child)?;
                let d = contains(&self.data)?;
                c || d
            }
            WatcherType::Persistent | WatcherType::PersistentRecursive => false,
        })
    }

    /// checkWatches as Apache 3.8 answers it: true when *any* connection has a watch on exactly
    /// `path` in the table(s) of `kind` (3.8's `containsWatcher` ignores the asking connection;
    /// the Java client checks its own watches first), or `conn` has a recursive watch on it.
    pub fn check_watches(&self, conn: u64, path: &str, kind: WatcherType) -> bool {
        self.check(conn, path, kind).unwrap_or(false)
    }

    /// The checkWatches request: type 1–3, else MarshallingError (3.8 cannot convert it);
    /// NoWatcher when nothing matches; MarshallingError for a path without `/` (3.8 throws
    /// walking up from it).
    ///
    /// # Errors
    /// As described.
    pub fn handle_check_watches(
        &self,
        conn: u64,
        req: &CheckWatchesRequest,
    ) -> Result<(), ErrorCode> {
        let kind = request_type(req.watcher_type)?;
        if self.check(conn, &req.path, kind)? {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// The removeWatches request: type 1–3, else MarshallingError; NoWatcher when nothing was
    /// removed.
    ///
    /// # Errors
    /// As described.
    pub fn handle_remove_watches(
        &mut self,
        conn: u64,
        req: &RemoveWatchesRequest,
    ) -> Result<(), ErrorCode> {
        let kind = request_type(req.watcher_type)?;
        if self.remove_watches(conn, &req.path, kind) {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// Apache's `zk_watch_count`: watches in both tables.
    pub fn watch_count(&self) -> usize {
        self.data.size() + self.child.size()
    }

    /// `wchs` numbers: (connections watching, paths watched, total watches) of the data table,
    /// which is what Apache 3.8 reports ("N connections watching M paths / Total watches:K").
    pub fn counts(&self) -> (usize, usize, usize) {
        self.data.summary()
    }

    /// The same numbers for either table.
    pub fn summary(&self, table: WatchTableKind) -> (usize, usize, usize) {
        self.table(table).summary()
    }

    /// `wchc`: watched paths per connection (Apache dumps the data table).
    pub fn by_connection(&self, table: WatchTableKind) -> Vec<(u64, Vec<String>)> {
        self.table(table).by_connection()
    }

    /// `wchp`: connections per watched path (Apache dumps the data table).
    pub fn by_path(&self, table: WatchTableKind) -> Vec<(String, Vec<u64>)> {
        self.table(table).by_path()
    }

    /// The watch `conn` has on `path` in `table`, if any (for tests and diagnostics).
    pub fn watch_kind(&self, conn: u64, path: &str, table: WatchTableKind) -> Option<WatchKind> {
        let fallback = match table {
            WatchTableKind::Data => WatchKind::Data,
            WatchTableKind::Child => WatchKind::Child,
        };
        self.table(table).mode(path, conn).map(|m| match m {
            Mode::Standard => fallback,
            Mode::Persistent => WatchKind::Persistent,
            Mode::Recursive => WatchKind::PersistentRecursive,
        })
    }

    fn table(&self, t: WatchTableKind) -> &WatchTable {
        match t {
            WatchTableKind::Data => &self.data,
            WatchTableKind::Child => &self.child,
        }
    }
}

fn request_type(code: i32) -> Result<WatcherType, ErrorCode> {
    match WatcherType::from_code(code) {
        Some(t @ (WatcherType::Children | WatcherType::Data | WatcherType::Any)) => Ok(t),
        _ => Err(ErrorCode::MarshallingError),
    }
}
