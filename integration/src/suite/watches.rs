//! Watches: one-shot data, exist and child watches (which events fire for which change,
//! exactly as Apache), persistent and persistent-recursive watches as streams, removeWatches
//! and checkWatches, and event paths under a chroot.
//!
//! "Does not fire" is checked deterministically: ZooKeeper sends a session the notifications
//! its own change triggers before the reply to that change, so once the reply is in, a watch
//! that should have fired has fired ([`super::not_fired`], [`super::no_event`]). For changes
//! made by another session, a later change that does fire serves as a fence.

use zk_core::{AddWatchMode, Error, EventType, KeeperState, WatcherType};

use super::{
    fails, fired, mode, next_event, next_is, no_event, not_fired, ok, persistent, within, Ctx,
};
use crate::ZkTarget;
use zk_core::{Acl, CreateMode};

use futures::{FutureExt, StreamExt};

/// getData leaves a data watch: setData fires NodeDataChanged, delete fires NodeDeleted, both
/// for changes made by other sessions.
pub async fn data_watch_fires_on_change_and_delete(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "datawatch").await;
    let other = ctx.client().await;
    let p = ctx.create("d", b"1").await;
    let (data, _, w) = ok("get_data_w", ctx.client.get_data_w(&p)).await;
    assert_eq!(&data[..], b"1");
    ok("other sets", other.set_data(&p, b"2", None)).await;
    fired("data watch on set", w, EventType::NodeDataChanged, &p).await;
    let (data, _, w) = ok("get_data_w again", ctx.client.get_data_w(&p)).await;
    assert_eq!(&data[..], b"2");
    ok("other deletes", other.delete(&p, None)).await;
    fired("data watch on delete", w, EventType::NodeDeleted, &p).await;
}

/// A data watch ignores child changes, ACL changes and failed writes; the write that does fire
/// it is seen before its own reply.
pub async fn data_watch_ignores_children_acls_and_failed_writes(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "dataquiet").await;
    let c = &ctx.client;
    let p = ctx.create("d", b"").await;
    let (_, _, mut w) = ok("get_data_w", c.get_data_w(&p)).await;
    let kid = format!("{p}/kid");
    ok("create child", c.create(&kid, b"", &persistent())).await;
    not_fired("after a child create", &mut w);
    ok("set child", c.set_data(&kid, b"x", None)).await;
    not_fired("after a child set", &mut w);
    ok("delete child", c.delete(&kid, None)).await;
    not_fired("after a child delete", &mut w);
    ok("set_acl", c.set_acl(&p, Acl::open_unsafe(), None)).await;
    not_fired("after set_acl", &mut w);
    fails(
        "stale set",
        Error::BadVersion,
        c.set_data(&p, b"x", Some(9)),
    )
    .await;
    not_fired("after a failed set", &mut w);
    ok("exists", c.exists(&p)).await;
    not_fired("after a read", &mut w);
    ok("set", c.set_data(&p, b"x", None)).await;
    let ev = w
        .now_or_never()
        .expect("the notification precedes the reply to the change that caused it");
    super::assert_event("data watch", &ev, EventType::NodeDataChanged, &p);
}

/// exists on a missing node leaves an exist watch that fires NodeCreated (and nothing for
/// siblings); on an existing node a data watch (NodeDataChanged, NodeDeleted).
pub async fn exist_watch_fires_on_create_change_and_delete(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "existwatch").await;
    let c = &ctx.client;
    let other = ctx.client().await;
    let p = ctx.path("e");
    let (stat, mut w) = ok("exists_w missing", c.exists_w(&p)).await;
    assert_eq!(stat, None);
    ok("sibling", c.create(&ctx.path("e2"), b"", &persistent())).await;
    not_fired("after a sibling create", &mut w);
    ok("other creates", other.create(&p, b"", &persistent())).await;
    fired("exist watch on create", w, EventType::NodeCreated, &p).await;

    let (stat, w) = ok("exists_w existing", c.exists_w(&p)).await;
    assert!(stat.is_some());
    ok("other sets", other.set_data(&p, b"x", None)).await;
    fired("exist watch on set", w, EventType::NodeDataChanged, &p).await;
    let (_, w) = ok("exists_w again", c.exists_w(&p)).await;
    ok("other deletes", other.delete(&p, None)).await;
    fired("exist watch on delete", w, EventType::NodeDeleted, &p).await;
}

/// getChildren leaves a child watch: a child created or deleted fires NodeChildrenChanged on
/// the parent, deleting the node fires NodeDeleted; the node's or a child's data and
/// grandchildren do not fire it. getChildren2 watches the same way.
pub async fn child_watch_fires_on_child_changes_only(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "childwatch").await;
    let c = &ctx.client;
    let p = ctx.create("p", b"").await;
    let a = format!("{p}/a");

    let (kids, mut w) = ok("get_children_w", c.get_children_w(&p)).await;
    assert!(kids.is_empty());
    ok("set parent", c.set_data(&p, b"x", None)).await;
    not_fired("after setData of the node", &mut w);
    ok("create child", c.create(&a, b"", &persistent())).await;
    let ev = w
        .now_or_never()
        .expect("child create fires before its reply");
    super::assert_event("child create", &ev, EventType::NodeChildrenChanged, &p);

    let (kids, mut w) = ok("get_children_w", c.get_children_w(&p)).await;
    assert_eq!(kids, ["a"]);
    ok("set child", c.set_data(&a, b"x", None)).await;
    not_fired("after setData of a child", &mut w);
    ok(
        "grandchild",
        c.create(&format!("{a}/g"), b"", &persistent()),
    )
    .await;
    not_fired("after a grandchild create", &mut w);
    ok("delete grandchild", c.delete(&format!("{a}/g"), None)).await;
    not_fired("after a grandchild delete", &mut w);
    let other = ctx.client().await;
    ok("other deletes child", other.delete(&a, None)).await;
    fired("child delete", w, EventType::NodeChildrenChanged, &p).await;

    let (kids, stat, w) = ok("get_children2_w", c.get_children2_w(&p)).await;
    assert!(kids.is_empty());
    assert_eq!(stat.num_children, 0);
    ok("other deletes the node", other.delete(&p, None)).await;
    fired("node delete", w, EventType::NodeDeleted, &p).await;
}

/// A client never sees a change before the watch event it triggers: once a read shows another
/// session's change, the watch has already fired.
pub async fn watch_event_comes_before_the_new_data(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "ordering").await;
    let other = ctx.client().await;
    let p = ctx.create("o", b"old").await;
    for i in 0..20 {
        let (_, _, mut w) = ok("get_data_w", ctx.client.get_data_w(&p)).await;
        let new = format!("new{i}");
        ok("other sets", other.set_data(&p, new.as_bytes(), None)).await;
        // Read until the change shows (at once on one server; a follower may lag).
        within("the change to become visible", async {
            loop {
                let (data, _) = ok("get_data", ctx.client.get_data(&p)).await;
                if data[..] == *new.as_bytes() {
                    break;
                }
            }
        })
        .await;
        let ev = (&mut w)
            .now_or_never()
            .expect("new data visible before its watch event");
        super::assert_event("ordering", &ev, EventType::NodeDataChanged, &p);
    }
}

/// One-shot watches fire once: afterwards the server holds no watch. Every local watcher of
/// the same node and kind gets the one event.
pub async fn one_shot_watches_fire_once_for_every_watcher(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "oneshot").await;
    let c = &ctx.client;
    let p = ctx.create("n", b"").await;
    let (_, _, w1) = ok("get_data_w 1", c.get_data_w(&p)).await;
    let (_, _, w2) = ok("get_data_w 2", c.get_data_w(&p)).await;
    let (_, w3) = ok("exists_w", c.exists_w(&p)).await;
    ok("check Data", c.check_watches(&p, WatcherType::Data)).await;
    ok("set", c.set_data(&p, b"1", None)).await;
    for (i, w) in [w1, w2, w3].into_iter().enumerate() {
        fired(format!("watcher {i}"), w, EventType::NodeDataChanged, &p).await;
    }
    fails(
        "no data watch after it fired",
        Error::NoWatcher,
        c.check_watches(&p, WatcherType::Data),
    )
    .await;
    let (_, mut w4) = ok("get_children_w", c.get_children_w(&p)).await;
    ok("set again", c.set_data(&p, b"2", None)).await;
    not_fired("child watch after a data change", &mut w4);
    ok("check Children", c.check_watches(&p, WatcherType::Children)).await;
}

/// A persistent watch (addWatch PERSISTENT) gets the node's data events and its child events,
/// is not removed by firing, survives the node's deletion and re-creation, and ignores deeper
/// descendants.
pub async fn persistent_watch_sees_node_and_child_events(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "persistent").await;
    let c = &ctx.client;
    let p = ctx.create("p", b"").await;
    let k = format!("{p}/k");
    let mut s = ok("add_watch", c.add_watch(&p, AddWatchMode::Persistent)).await;
    // Only Any: whether a persistent watch also counts as a Data / Children watch differs
    // between Apache 3.8 (yes) and 3.9 (no, ZOOKEEPER-4466).
    ok("check Any", c.check_watches(&p, WatcherType::Any)).await;

    ok("set", c.set_data(&p, b"1", None)).await;
    next_is("set", &mut s, EventType::NodeDataChanged, &p).await;
    ok("set", c.set_data(&p, b"2", None)).await;
    next_is("set again", &mut s, EventType::NodeDataChanged, &p).await;
    ok("create child", c.create(&k, b"", &persistent())).await;
    next_is("child create", &mut s, EventType::NodeChildrenChanged, &p).await;
    ok("set child", c.set_data(&k, b"x", None)).await;
    no_event("after a child's setData", &mut s);
    ok(
        "grandchild",
        c.create(&format!("{k}/g"), b"", &persistent()),
    )
    .await;
    no_event("after a grandchild create", &mut s);
    ok("delete grandchild", c.delete(&format!("{k}/g"), None)).await;
    no_event("after a grandchild delete", &mut s);
    ok("delete child", c.delete(&k, None)).await;
    next_is("child delete", &mut s, EventType::NodeChildrenChanged, &p).await;
    ok("delete node", c.delete(&p, None)).await;
    next_is("node delete", &mut s, EventType::NodeDeleted, &p).await;
    no_event("one NodeDeleted per delete", &mut s);
    ok("re-create", c.create(&p, b"", &persistent())).await;
    next_is("re-create", &mut s, EventType::NodeCreated, &p).await;
    let other = ctx.client().await;
    ok("other sets", other.set_data(&p, b"o", None)).await;
    next_is("other's set", &mut s, EventType::NodeDataChanged, &p).await;
}

/// A persistent watch may be set on a missing node; it reports the creation.
pub async fn persistent_watch_on_a_missing_node(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "persistmissing").await;
    let c = &ctx.client;
    let p = ctx.path("later");
    // Two sessions: one session's watches of different modes on one path interfere in
    // Apache 3.8 (ZOOKEEPER-4466, fixed in 3.9), so the suite never mixes them.
    let c2 = ctx.client().await;
    let mut s = ok(
        "add_watch on missing",
        c.add_watch(&p, AddWatchMode::Persistent),
    )
    .await;
    let mut r = ok(
        "add_watch recursive on missing",
        c2.add_watch(&p, AddWatchMode::PersistentRecursive),
    )
    .await;
    ok("create", c.create(&p, b"", &persistent())).await;
    next_is("create", &mut s, EventType::NodeCreated, &p).await;
    next_is("create (recursive)", &mut r, EventType::NodeCreated, &p).await;
}

/// A persistent recursive watch gets the created, data-changed and deleted events of the node
/// and every descendant, never NodeChildrenChanged, and nothing from outside the subtree
/// (including siblings whose name merely starts with the same characters).
pub async fn recursive_watch_sees_the_whole_subtree(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "recursive").await;
    let c = &ctx.client;
    let other = ctx.client().await;
    let r = ctx.create("r", b"").await;
    let a = format!("{r}/a");
    let b = format!("{a}/b");
    let mut s = ok(
        "add_watch recursive",
        c.add_watch(&r, AddWatchMode::PersistentRecursive),
    )
    .await;
    // Changes by another session, in order; a change that must not fire is followed by one
    // that must, so the next event proves the first did not fire.
    ok("outside", other.create(&ctx.path("rx"), b"", &persistent())).await;
    ok("create a", other.create(&a, b"", &persistent())).await;
    next_is("create a", &mut s, EventType::NodeCreated, &a).await;
    ok("create b", other.create(&b, b"", &persistent())).await;
    next_is("create b", &mut s, EventType::NodeCreated, &b).await;
    ok("set b", other.set_data(&b, b"x", None)).await;
    next_is("set b", &mut s, EventType::NodeDataChanged, &b).await;
    ok("set r", other.set_data(&r, b"x", None)).await;
    next_is("set r", &mut s, EventType::NodeDataChanged, &r).await;
    ok("set outside", other.set_data(&ctx.path("rx"), b"x", None)).await;
    ok("delete b", other.delete(&b, None)).await;
    next_is("delete b", &mut s, EventType::NodeDeleted, &b).await;
    ok("delete a", other.delete(&a, None)).await;
    next_is("delete a", &mut s, EventType::NodeDeleted, &a).await;
    // Sequential and ephemeral descendants too.
    let e = ok(
        "ephemeral sequential",
        c.create(
            &format!("{r}/e-"),
            b"",
            &mode(CreateMode::EphemeralSequential),
        ),
    )
    .await;
    next_is("create e", &mut s, EventType::NodeCreated, &e).await;
    no_event("no NodeChildrenChanged for a recursive watch", &mut s);
}

/// removeWatches removes the watches of one kind (a watcher learns with DataWatchRemoved /
/// ChildWatchRemoved / PersistentWatchRemoved, and a persistent stream ends); NoWatcher when
/// there is none. checkWatches agrees.
///
/// Apache 3.8 answers removeWatches / checkWatches with the Persistent and
/// PersistentRecursive watcher types with MarshallingError (fixed in 3.9), so persistent
/// watches are removed here with Any, the way 3.8's own client does.
pub async fn remove_watches_by_kind(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "removewatches").await;
    let c = &ctx.client;
    let p = ctx.create("p", b"").await;
    let (_, _, wd) = ok("get_data_w", c.get_data_w(&p)).await;
    let (_, we) = ok("exists_w", c.exists_w(&p)).await;
    let (_, wc) = ok("get_children_w", c.get_children_w(&p)).await;

    ok(
        "remove Children",
        c.remove_watches(&p, WatcherType::Children),
    )
    .await;
    fired("child watcher", wc, EventType::ChildWatchRemoved, &p).await;
    fails(
        "check Children",
        Error::NoWatcher,
        c.check_watches(&p, WatcherType::Children),
    )
    .await;
    ok("check Data", c.check_watches(&p, WatcherType::Data)).await;
    fails(
        "remove Children again",
        Error::NoWatcher,
        c.remove_watches(&p, WatcherType::Children),
    )
    .await;

    ok("remove Data", c.remove_watches(&p, WatcherType::Data)).await;
    fired("data watcher", wd, EventType::DataWatchRemoved, &p).await;
    fired("exist watcher", we, EventType::DataWatchRemoved, &p).await;
    fails(
        "check Any",
        Error::NoWatcher,
        c.check_watches(&p, WatcherType::Any),
    )
    .await;
    fails(
        "remove Any",
        Error::NoWatcher,
        c.remove_watches(&p, WatcherType::Any),
    )
    .await;

    // Any removes every kind at once.
    let (_, _, wd) = ok("get_data_w", c.get_data_w(&p)).await;
    let (_, wc) = ok("get_children_w", c.get_children_w(&p)).await;
    ok("remove Any", c.remove_watches(&p, WatcherType::Any)).await;
    fired("data watcher (Any)", wd, EventType::DataWatchRemoved, &p).await;
    fired("child watcher (Any)", wc, EventType::ChildWatchRemoved, &p).await;

    // Persistent and recursive watches: removed with Any, the stream says so and ends.
    let q = ctx.create("q", b"").await;
    let mut sp = ok("add_watch", c.add_watch(&p, AddWatchMode::Persistent)).await;
    let mut sr = ok(
        "add_watch recursive",
        c.add_watch(&q, AddWatchMode::PersistentRecursive),
    )
    .await;
    ok("check persistent", c.check_watches(&p, WatcherType::Any)).await;
    ok("check recursive", c.check_watches(&q, WatcherType::Any)).await;
    ok("remove persistent", c.remove_watches(&p, WatcherType::Any)).await;
    next_is(
        "persistent removed",
        &mut sp,
        EventType::PersistentWatchRemoved,
        &p,
    )
    .await;
    assert!(
        within("persistent stream end", sp.next()).await.is_none(),
        "a removed persistent watch keeps streaming"
    );
    ok("remove recursive", c.remove_watches(&q, WatcherType::Any)).await;
    next_is(
        "recursive removed",
        &mut sr,
        EventType::PersistentWatchRemoved,
        &q,
    )
    .await;
    assert!(within("recursive stream end", sr.next()).await.is_none());
    fails(
        "check after removal",
        Error::NoWatcher,
        c.check_watches(&q, WatcherType::Any),
    )
    .await;
}

/// checkWatches reports whether the server holds a watch of a kind: an exist watch on a missing
/// node counts as a data watch; a fired watch is gone.
pub async fn check_watches_reports_server_side_watches(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "checkwatches").await;
    let c = &ctx.client;
    let other = ctx.client().await;
    let missing = ctx.path("missing");
    fails(
        "nothing watched",
        Error::NoWatcher,
        c.check_watches(&missing, WatcherType::Any),
    )
    .await;
    let (_, w) = ok("exists_w missing", c.exists_w(&missing)).await;
    ok(
        "exist watch is a Data watch",
        c.check_watches(&missing, WatcherType::Data),
    )
    .await;
    ok(
        "and an Any watch",
        c.check_watches(&missing, WatcherType::Any),
    )
    .await;
    fails(
        "but not a Children watch",
        Error::NoWatcher,
        c.check_watches(&missing, WatcherType::Children),
    )
    .await;
    // Not asserted: whether another session's checkWatches sees this session's watch. Apache
    // 3.8 answers yes (its WatchManager.containsWatcher only looks for any watcher on the path;
    // ZOOKEEPER-4466, fixed in 3.9), which is a server bug the suite should not enshrine.
    ok("create", other.create(&missing, b"", &persistent())).await;
    fired("exist watch", w, EventType::NodeCreated, &missing).await;
    fails(
        "fired watch is gone",
        Error::NoWatcher,
        c.check_watches(&missing, WatcherType::Data),
    )
    .await;
}

/// Under a chroot, every watch is set and reported with client paths.
pub async fn watch_paths_under_a_chroot(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "chrootwatch").await;
    let other = &ctx.client;
    ctx.create("a", b"").await;
    // One session per watch mode (see persistent_watch_on_a_missing_node).
    let chroot_cs = format!("{}{}", ctx.connect_string, ctx.base);
    let chrooted = super::connect(&chroot_cs).await;
    let chrooted_p = super::connect(&chroot_cs).await;
    let chrooted_r = super::connect(&chroot_cs).await;
    assert_eq!(chrooted.chroot(), Some(ctx.base.as_str()));
    let (_, _, wd) = ok("get_data_w /a", chrooted.get_data_w("/a")).await;
    let (_, we) = ok("exists_w /b", chrooted.exists_w("/b")).await;
    let (kids, wc) = ok("get_children_w /", chrooted.get_children_w("/")).await;
    assert_eq!(kids, ["a"]);
    let mut sp = ok(
        "add_watch /a",
        chrooted_p.add_watch("/a", AddWatchMode::Persistent),
    )
    .await;
    let mut sr = ok(
        "add_watch / recursive",
        chrooted_r.add_watch("/", AddWatchMode::PersistentRecursive),
    )
    .await;

    ok("set a", other.set_data(&ctx.path("a"), b"x", None)).await;
    fired("data watch", wd, EventType::NodeDataChanged, "/a").await;
    next_is("persistent", &mut sp, EventType::NodeDataChanged, "/a").await;
    next_is("recursive", &mut sr, EventType::NodeDataChanged, "/a").await;
    ok("create b", other.create(&ctx.path("b"), b"", &persistent())).await;
    fired("exist watch", we, EventType::NodeCreated, "/b").await;
    fired("child watch", wc, EventType::NodeChildrenChanged, "/").await;
    next_is("recursive", &mut sr, EventType::NodeCreated, "/b").await;
    ok("set the chroot node", other.set_data(&ctx.base, b"x", None)).await;
    next_is(
        "recursive on the root",
        &mut sr,
        EventType::NodeDataChanged,
        "/",
    )
    .await;
    ok(
        "create a/c",
        other.create(&ctx.path("a/c"), b"", &persistent()),
    )
    .await;
    next_is(
        "persistent child",
        &mut sp,
        EventType::NodeChildrenChanged,
        "/a",
    )
    .await;
    next_is("recursive deep", &mut sr, EventType::NodeCreated, "/a/c").await;
    ok("remove", chrooted_p.remove_watches("/a", WatcherType::Any)).await;
    next_is("removed", &mut sp, EventType::PersistentWatchRemoved, "/a").await;
}

/// Closing the session ends every watch: one-shot watchers resolve and persistent streams
/// yield a session event (type None, state Closed) and end.
pub async fn watches_end_when_the_session_closes(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "watchclose").await;
    let c = ctx.client().await;
    let p = ctx.create("p", b"").await;
    let (_, _, wd) = ok("get_data_w", c.get_data_w(&p)).await;
    let (_, wc) = ok("get_children_w", c.get_children_w(&p)).await;
    let mut s = ok(
        "add_watch",
        c.add_watch(&ctx.base, AddWatchMode::PersistentRecursive),
    )
    .await;
    c.close().await;
    for (what, w) in [("data", wd), ("child", wc)] {
        let ev = within(format!("{what} watcher after close"), w).await;
        assert_eq!(
            (ev.event_type, ev.state, ev.path.as_str()),
            (EventType::None, KeeperState::Closed, ""),
            "{what} watcher"
        );
    }
    let ev = next_event("stream after close", &mut s).await;
    assert_eq!(
        (ev.event_type, ev.state),
        (EventType::None, KeeperState::Closed)
    );
    assert!(within("stream end", s.next()).await.is_none());
}

/// Many watches fire in one go (a multi touching 300 watched nodes).
pub async fn many_watches_fire(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "manywatches").await;
    let c = &ctx.client;
    let mut watchers = Vec::new();
    let mut txn = c.transaction();
    for i in 0..300 {
        let p = ctx.create(&format!("n{i}"), b"").await;
        let (_, _, w) = ok("get_data_w", c.get_data_w(&p)).await;
        watchers.push((p.clone(), w));
        txn = txn.set_data(&p, b"x", None);
    }
    ok("multi", txn.commit()).await;
    for (p, w) in watchers {
        fired(format!("watch on {p}"), w, EventType::NodeDataChanged, &p).await;
    }
}

/// Apache 3.8 delivers a watch event only to connections with READ permission on the node
/// (the deleted node's ACL for NodeDeleted): without it the one-shot watch is used up
/// silently. Checked for setData, delete, and the delete of an ephemeral at session close.
pub async fn events_need_read_permission(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "aclevents").await;
    let owner = ctx.client().await;
    ok("add_auth", owner.add_auth("digest", b"alice:pw1")).await;
    let acl = vec![Acl::new(
        zk_core::perms::ALL,
        "digest",
        &zk_core::auth::digest_id("alice", "pw1"),
    )];
    let secret = ctx.path("secret");
    let eph = ctx.path("eph");
    ok(
        "create secret",
        owner.create(&secret, b"", &mode(CreateMode::Persistent).acl(acl.clone())),
    )
    .await;
    ok(
        "create eph",
        owner.create(&eph, b"", &mode(CreateMode::Ephemeral).acl(acl.clone())),
    )
    .await;
    // exists needs no permission, so the watcher can set a watch it will never hear from.
    let (_, mut on_secret) = ok("exists_w secret", ctx.client.exists_w(&secret)).await;
    let (_, mut on_eph) = ok("exists_w eph", ctx.client.exists_w(&eph)).await;
    let reader = ctx.client().await;
    ok("reader auth", reader.add_auth("digest", b"alice:pw1")).await;
    let (_, allowed) = ok("allowed exists_w", reader.exists_w(&secret)).await;
    ok("set secret", owner.set_data(&secret, b"x", None)).await;
    fired(
        "a reader is told",
        allowed,
        EventType::NodeDataChanged,
        &secret,
    )
    .await;
    ok("round trip", ctx.client.exists("/")).await;
    not_fired("no READ: no NodeDataChanged", &mut on_secret);
    ok("delete secret", owner.delete(&secret, None)).await;
    ok("round trip", ctx.client.exists("/")).await;
    not_fired(
        "no READ: no NodeDeleted either (the watch was used up)",
        &mut on_secret,
    );
    owner.close().await;
    ok("round trip", ctx.client.exists("/")).await;
    not_fired(
        "no READ: no NodeDeleted for the closed session's ephemeral",
        &mut on_eph,
    );
    assert_eq!(
        ok("eph gone", ctx.client.exists(&eph)).await,
        None,
        "the ephemeral was deleted at close"
    );
}
