//! Watch manager tests. "Checked on 3.8.0" marks behaviours verified by hand against a real
//! Apache server (two raw connections, events drained with a ping).

use bytes::Bytes;
use zk_core::proto::{
    Acl, AddWatchRequest, CheckWatchesRequest, CreateRequest, DeleteRequest, Encode, ErrorCode,
    EventType, ExistsRequest, GetDataRequest, RemoveWatchesRequest, Request, SetDataRequest,
    SetWatches2, WatcherEvent, WatcherType,
};

use super::{WatchKind, WatchManager, WatchTableKind};
use crate::tree::{DataTree, NodeEvent};
use crate::txn::{Origin, Txn, TxnOp};

const A: u64 = 1;
const B: u64 = 2;

/// A tree and a watch manager, wired as the server wires them.
struct W {
    tree: DataTree,
    w: WatchManager,
    zxid: i64,
}

fn e(t: EventType, path: &str) -> WatcherEvent {
    WatcherEvent {
        event_type: t.code(),
        state: 3,
        path: path.into(),
    }
}

impl W {
    fn new() -> Self {
        let mut w = Self {
            tree: DataTree::default(),
            w: WatchManager::new(),
            zxid: 0,
        };
        w.apply(TxnOp::CreateSession { timeout_ms: 30000 });
        w
    }

    fn apply(&mut self, op: TxnOp) -> Vec<(u64, WatcherEvent)> {
        self.zxid += 1;
        let txn = Txn {
            origin: Origin {
                server_id: 1,
                request_id: 0,
            },
            session_id: 7,
            cxid: 0,
            time_ms: 1000 + self.zxid,
            auth: Default::default(),
            op,
        };
        let applied = self.tree.apply(self.zxid, &txn);
        self.w.fire(&applied.events)
    }

    fn write(&mut self, req: Request) -> Vec<(u64, WatcherEvent)> {
        let body = req.to_bytes();
        self.apply(TxnOp::Client {
            op: req.op_code().code(),
            body,
        })
    }

    fn create(&mut self, path: &str) -> Vec<(u64, WatcherEvent)> {
        self.write(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(Bytes::new()),
            acl: Acl::open_unsafe(),
            flags: 0,
        }))
    }

    fn set(&mut self, path: &str) -> Vec<(u64, WatcherEvent)> {
        self.write(Request::SetData(SetDataRequest {
            path: path.into(),
            data: None,
            version: -1,
        }))
    }

    fn delete(&mut self, path: &str) -> Vec<(u64, WatcherEvent)> {
        self.write(Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        }))
    }
}

#[test]
fn one_shot_data_watch_fires_once() {
    let mut w = W::new();
    w.create("/a");
    w.w.add(A, "/a", WatchKind::Data);
    assert_eq!(w.set("/a"), vec![(A, e(EventType::NodeDataChanged, "/a"))]);
    assert_eq!(w.set("/a"), vec![]);
    assert_eq!(w.w.watch_count(), 0);
}

// Checked on 3.8.0: exists watch on a missing node + child watch on the parent → NodeCreated
// then NodeChildrenChanged.
#[test]
fn create_fires_node_created_then_parent_children_changed() {
    let mut w = W::new();
    w.create("/p");
    w.w.add(A, "/p/a", WatchKind::Data);
    w.w.add(A, "/p", WatchKind::Child);
    w.w.add(B, "/", WatchKind::Child);
    assert_eq!(
        w.create("/p/a"),
        vec![
            (A, e(EventType::NodeCreated, "/p/a")),
            (A, e(EventType::NodeChildrenChanged, "/p"))
        ]
    );
    assert_eq!(
        w.create("/q"),
        vec![(B, e(EventType::NodeChildrenChanged, "/"))]
    );
}

// Checked on 3.8.0: data + child watch on the node and a child watch on the parent → one
// NodeDeleted, then NodeChildrenChanged.
#[test]
fn delete_notifies_a_connection_once_even_with_data_and_child_watches() {
    let mut w = W::new();
    w.create("/p");
    w.create("/p/a");
    w.w.add(A, "/p/a", WatchKind::Data);
    w.w.add(A, "/p/a", WatchKind::Child);
    w.w.add(A, "/p", WatchKind::Child);
    w.w.add(B, "/p/a", WatchKind::Child);
    assert_eq!(
        w.delete("/p/a"),
        vec![
            (A, e(EventType::NodeDeleted, "/p/a")),
            (B, e(EventType::NodeDeleted, "/p/a")),
            (A, e(EventType::NodeChildrenChanged, "/p")),
        ]
    );
    assert_eq!(w.w.watch_count(), 0, "all one-shot watches consumed");
}

// Checked on 3.8.0: a persistent watch sees its children come and go and its data change,
// not grandchildren, and stays.
#[test]
fn persistent_watch_fires_for_its_node_only_and_stays() {
    let mut w = W::new();
    w.create("/p");
    w.w.add(A, "/p", WatchKind::Persistent);
    assert_eq!(
        w.create("/p/b"),
        vec![(A, e(EventType::NodeChildrenChanged, "/p"))]
    );
    assert_eq!(w.create("/p/b/c"), vec![]);
    assert_eq!(w.set("/p/b/c"), vec![]);
    assert_eq!(w.set("/p"), vec![(A, e(EventType::NodeDataChanged, "/p"))]);
    assert_eq!(w.delete("/p/b/c"), vec![]);
    assert_eq!(
        w.delete("/p/b"),
        vec![(A, e(EventType::NodeChildrenChanged, "/p"))]
    );
    assert_eq!(w.delete("/p"), vec![(A, e(EventType::NodeDeleted, "/p"))]);
    assert_eq!(w.create("/p"), vec![(A, e(EventType::NodeCreated, "/p"))]);
}

// Checked on 3.8.0: created, changed and deleted descendants; never NodeChildrenChanged.
#[test]
fn recursive_watch_sees_descendants_but_never_children_changed() {
    let mut w = W::new();
    w.create("/p");
    w.w.add(B, "/p", WatchKind::PersistentRecursive);
    let mut all = Vec::new();
    all.extend(w.create("/p/b"));
    all.extend(w.create("/p/b/c"));
    all.extend(w.set("/p/b/c"));
    all.extend(w.set("/p"));
    all.extend(w.delete("/p/b/c"));
    all.extend(w.delete("/p/b"));
    assert_eq!(
        all,
        vec![
            (B, e(EventType::NodeCreated, "/p/b")),
            (B, e(EventType::NodeCreated, "/p/b/c")),
            (B, e(EventType::NodeDataChanged, "/p/b/c")),
            (B, e(EventType::NodeDataChanged, "/p")),
            (B, e(EventType::NodeDeleted, "/p/b/c")),
            (B, e(EventType::NodeDeleted, "/p/b")),
        ]
    );
    assert_eq!(w.create("/other"), vec![]);
}

#[test]
fn one_trigger_notifies_a_connection_once_across_modes() {
    let mut w = W::new();
    w.create("/a");
    w.w.add(A, "/", WatchKind::PersistentRecursive);
    w.w.add(A, "/a", WatchKind::Data);
    assert_eq!(w.set("/a"), vec![(A, e(EventType::NodeDataChanged, "/a"))]);
    assert_eq!(
        w.w.watch_kind(A, "/a", WatchTableKind::Data),
        None,
        "one-shot consumed"
    );
}

// Checked on 3.8.0: persistent watch, then getData with a watch on the same path → the data
// side becomes one-shot (fires once), the child side stays persistent.
#[test]
fn standard_watch_replaces_a_persistent_one_in_its_table_as_in_3_8() {
    let mut w = W::new();
    w.create("/p");
    w.w.add(A, "/p", WatchKind::Persistent);
    w.w.add(A, "/p", WatchKind::Data);
    assert_eq!(w.set("/p"), vec![(A, e(EventType::NodeDataChanged, "/p"))]);
    assert_eq!(w.set("/p"), vec![]);
    assert_eq!(
        w.create("/p/q"),
        vec![(A, e(EventType::NodeChildrenChanged, "/p"))]
    );
    assert_eq!(
        w.create("/p/r"),
        vec![(A, e(EventType::NodeChildrenChanged, "/p"))]
    );
}

#[test]
fn remove_connection_forgets_every_watch() {
    let mut w = W::new();
    w.create("/a");
    w.w.add(A, "/a", WatchKind::Data);
    w.w.add(A, "/", WatchKind::PersistentRecursive);
    w.w.add(B, "/a", WatchKind::Child);
    assert_eq!(w.w.watch_count(), 4);
    w.w.remove_connection(A);
    assert_eq!(w.w.watch_count(), 1);
    assert_eq!(w.set("/a"), vec![]);
    assert_eq!(w.w.counts(), (0, 0, 0));
    assert_eq!(w.w.summary(WatchTableKind::Child), (1, 1, 1));
}

// wchs counts a connection whose watches all fired (Apache keeps it in watch2Paths).
#[test]
fn counts_follow_apache_wchs() {
    let mut w = W::new();
    w.create("/a");
    w.w.add(A, "/a", WatchKind::Data);
    w.w.add(A, "/b", WatchKind::Data);
    w.w.add(B, "/a", WatchKind::Data);
    assert_eq!(w.w.counts(), (2, 2, 3));
    w.set("/a");
    assert_eq!(w.w.counts(), (2, 1, 1));
    assert_eq!(
        w.w.by_path(WatchTableKind::Data),
        vec![("/b".to_string(), vec![A])]
    );
    assert_eq!(
        w.w.by_connection(WatchTableKind::Data),
        vec![(A, vec!["/b".to_string()]), (B, vec![])]
    );
}

// Checked on 3.8.0 with setWatches2 at the zxid of /a's create (see each comment).
#[test]
fn set_watches_applies_the_relative_zxid_rules() {
    let mut w = W::new();
    w.create("/p");
    w.create("/p/a");
    let rel = w.zxid;
    w.set("/p/a");
    w.create("/p/b");
    let sw = SetWatches2 {
        relative_zxid: rel,
        data_watches: vec!["/p/a".into(), "/p/b".into(), "/p/gone".into(), "/p".into()],
        exist_watches: vec!["/p/a".into(), "/p/none".into()],
        child_watches: vec!["/p".into(), "/p/a".into(), "/p/gone".into()],
        persistent_watches: vec!["/p/pp".into()],
        persistent_recursive_watches: vec!["/p/rr".into()],
    };
    let got = w.w.set_watches(B, &sw, &w.tree);
    assert_eq!(
        got,
        vec![
            e(EventType::NodeDataChanged, "/p/a"),
            e(EventType::NodeDataChanged, "/p/b"),
            e(EventType::NodeDeleted, "/p/gone"),
            e(EventType::NodeCreated, "/p/a"),
            e(EventType::NodeChildrenChanged, "/p"),
            e(EventType::NodeDeleted, "/p/gone"),
        ]
    );
    let mut after = Vec::new();
    after.extend(w.create("/p/none"));
    after.extend(w.set("/p/b"));
    after.extend(w.create("/p/a/x"));
    after.extend(w.create("/p/pp"));
    after.extend(w.create("/p/rr"));
    after.extend(w.create("/p/rr/x"));
    assert_eq!(
        after,
        vec![
            (B, e(EventType::NodeCreated, "/p/none")),
            (B, e(EventType::NodeChildrenChanged, "/p/a")),
            (B, e(EventType::NodeCreated, "/p/pp")),
            (B, e(EventType::NodeCreated, "/p/rr")),
            (B, e(EventType::NodeCreated, "/p/rr/x")),
        ]
    );
    // The data watch on /p was re-armed (mzxid <= relative): it fires on a change.
    assert_eq!(w.set("/p"), vec![(B, e(EventType::NodeDataChanged, "/p"))]);
}

fn rm(w: &mut WatchManager, conn: u64, path: &str, t: i32) -> Result<(), ErrorCode> {
    w.handle_remove_watches(
        conn,
        &RemoveWatchesRequest {
            path: path.into(),
            watcher_type: t,
        },
    )
}

fn chk(w: &WatchManager, conn: u64, path: &str, t: i32) -> Result<(), ErrorCode> {
    w.handle_check_watches(
        conn,
        &CheckWatchesRequest {
            path: path.into(),
            watcher_type: t,
        },
    )
}

// Checked on 3.8.0: removing by table, NoWatcher once gone, MarshallingError for types 0, 4, 5.
#[test]
fn remove_watches_removes_per_table_and_reports_no_watcher() {
    let mut w = WatchManager::new();
    w.add(B, "/p", WatchKind::PersistentRecursive);
    assert_eq!(
        rm(&mut w, A, "/p", 3),
        Err(ErrorCode::NoWatcher),
        "other connection"
    );
    assert_eq!(rm(&mut w, B, "/p", 1), Ok(()));
    assert_eq!(rm(&mut w, B, "/p", 1), Err(ErrorCode::NoWatcher));
    assert_eq!(rm(&mut w, B, "/p", 2), Ok(()));
    assert_eq!(rm(&mut w, B, "/p", 3), Err(ErrorCode::NoWatcher));
    for t in [0, 4, 5] {
        assert_eq!(rm(&mut w, B, "/p", t), Err(ErrorCode::MarshallingError));
    }
    w.add(A, "/x", WatchKind::Persistent);
    assert!(w.remove_watches(A, "/x", WatcherType::Any));
    assert_eq!(w.watch_count(), 0);
}

// Checked on 3.8.0: checkWatches sees any connection's watch on the exact path, not a
// recursive watch on an ancestor; a path without "/" is a MarshallingError, "" NoWatcher.
#[test]
fn check_watches_follows_3_8_contains_watcher() {
    let mut w = WatchManager::new();
    w.add(A, "/p", WatchKind::Persistent);
    w.add(B, "/p", WatchKind::PersistentRecursive);
    let other = 99;
    assert_eq!(chk(&w, other, "/p", 2), Ok(()));
    assert_eq!(chk(&w, other, "/p", 1), Ok(()));
    assert_eq!(chk(&w, other, "/p", 3), Ok(()));
    assert_eq!(chk(&w, other, "/p/q", 3), Err(ErrorCode::NoWatcher));
    assert_eq!(chk(&w, B, "/p/q", 2), Err(ErrorCode::NoWatcher));
    assert_eq!(chk(&w, other, "/p", 4), Err(ErrorCode::MarshallingError));
    assert_eq!(chk(&w, other, "bad3", 2), Err(ErrorCode::MarshallingError));
    assert_eq!(chk(&w, other, "", 2), Err(ErrorCode::NoWatcher));
    assert!(!w.check_watches(other, "/nope", WatcherType::Any));
}

// Checked on 3.8.0: addWatch accepts any path; mode 7 is a MarshallingError.
#[test]
fn add_watch_accepts_any_path_but_only_modes_0_and_1() {
    let mut w = WatchManager::new();
    let add = |w: &mut WatchManager, path: &str, mode| {
        w.handle_add_watch(
            A,
            &AddWatchRequest {
                path: path.into(),
                mode,
            },
        )
    };
    assert_eq!(add(&mut w, "bad//", 0), Ok(()));
    assert_eq!(add(&mut w, "/x", 1), Ok(()));
    assert_eq!(add(&mut w, "/x", 7), Err(ErrorCode::MarshallingError));
    assert_eq!(
        w.watch_kind(A, "/x", WatchTableKind::Child),
        Some(WatchKind::PersistentRecursive)
    );
}

#[test]
fn reads_register_watches_only_where_apache_does() {
    let mut w = W::new();
    let exists = Request::Exists(ExistsRequest {
        path: "/nope".into(),
        watch: true,
    });
    let r = w.tree.read(&exists, 7, &[]);
    assert_eq!(r, Err(ErrorCode::NoNode));
    w.w.register_read(A, &exists, &r);
    let get = Request::GetData(GetDataRequest {
        path: "/nope2".into(),
        watch: true,
    });
    let r = w.tree.read(&get, 7, &[]);
    w.w.register_read(A, &get, &r);
    let bad = Request::Exists(ExistsRequest {
        path: "/x\0".into(),
        watch: true,
    });
    let r = w.tree.read(&bad, 7, &[]);
    w.w.register_read(A, &bad, &r);
    assert_eq!(
        w.w.by_path(WatchTableKind::Data),
        vec![("/nope".to_string(), vec![A])]
    );
    assert_eq!(
        w.create("/nope"),
        vec![(A, e(EventType::NodeCreated, "/nope"))]
    );
}

#[test]
fn fire_ignores_non_node_events() {
    let mut w = WatchManager::new();
    w.add(A, "/", WatchKind::PersistentRecursive);
    let evs = [NodeEvent {
        path: "/".into(),
        event_type: EventType::None,
        acl: None,
    }];
    assert!(w.fire(&evs).is_empty());
}
