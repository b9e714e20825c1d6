//! Sessions: timeout negotiation, ephemerals at close and at expiry, expiry itself, FIFO order
//! of pipelined calls, sync, getEphemerals, getAllChildrenNumber, and chroots.

use std::time::Duration;

use futures::StreamExt;
use zk_core::{AddWatchMode, Client, CreateMode, Error, EventType, KeeperState, SessionState};

use super::{
    connect, connect_with, fails, fired, mode, ok, persistent, proxies, wait_state, within, Ctx,
    MAX_SESSION_TIMEOUT, MIN_SESSION_TIMEOUT,
};
use crate::proxy::ProxyMode;
use crate::ZkTarget;

/// A session gets an id and the timeout it asked for, clamped to the server's bounds.
pub async fn session_timeout_is_negotiated(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "timeouts").await;
    assert_ne!(ctx.client.session_id(), 0);
    assert_eq!(ctx.client.state(), SessionState::Connected);
    for (ask, want) in [
        (Duration::from_millis(10), MIN_SESSION_TIMEOUT),
        (Duration::from_millis(5_000), Duration::from_millis(5_000)),
        (Duration::from_secs(3600), MAX_SESSION_TIMEOUT),
    ] {
        // A connect timeout of its own, so a tiny session timeout does not also make the
        // connect attempt tiny on a loaded machine.
        let c = connect_with(
            ctx.builder()
                .session_timeout(ask)
                .connect_timeout(Duration::from_secs(10)),
        )
        .await;
        assert_eq!(c.session_timeout(), want, "asked for {ask:?}");
        assert_ne!(c.session_id(), ctx.client.session_id());
        c.close().await;
    }
}

/// Closing a session deletes all its ephemerals at once (others see NodeDeleted) and leaves
/// everything else.
pub async fn close_deletes_the_ephemerals(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "closeeph").await;
    let owner = ctx.client().await;
    let mut watches = Vec::new();
    let mut ephemerals = Vec::new();
    for (rel, m) in [
        ("e1", CreateMode::Ephemeral),
        ("e2", CreateMode::Ephemeral),
        ("s-", CreateMode::EphemeralSequential),
    ] {
        let p = ok("create", owner.create(&ctx.path(rel), b"", &mode(m))).await;
        let (_, w) = ok("exists_w", ctx.client.exists_w(&p)).await;
        watches.push((p.clone(), w));
        ephemerals.push(p);
    }
    ok(
        "persistent",
        owner.create(&ctx.path("keep"), b"", &persistent()),
    )
    .await;
    let mut mine = ok("get_ephemerals", owner.get_ephemerals(&ctx.base)).await;
    mine.sort();
    ephemerals.sort();
    assert_eq!(mine, ephemerals);
    owner.close().await;
    for (p, w) in watches {
        fired(
            format!("{p} deleted at close"),
            w,
            EventType::NodeDeleted,
            &p,
        )
        .await;
    }
    let kids = ok("children", ctx.client.get_children(&ctx.base)).await;
    assert_eq!(kids, ["keep"]);
}

/// Dropping every handle of a client closes its session (its ephemerals go); dropping some
/// clones does not.
pub async fn dropping_the_last_handle_closes_the_session(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "drop").await;
    let c = ctx.client().await;
    let p = ok(
        "ephemeral",
        c.create(&ctx.path("e"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    let clone = c.clone();
    drop(c);
    ok("the clone still works", clone.exists(&p)).await;
    let (_, w) = ok("exists_w", ctx.client.exists_w(&p)).await;
    drop(clone);
    fired(
        "ephemeral deleted when the last handle went",
        w,
        EventType::NodeDeleted,
        &p,
    )
    .await;
}

/// A session the server stops hearing from expires: the server deletes its ephemerals, and
/// when the client gets through again it learns the session expired (state Expired, calls fail
/// with SessionExpired, watchers hear Expired). Before that, it sees Disconnected once its
/// read timeout passes without a word from the server.
///
/// The silence comes from a [`crate::proxy::TcpProxy`] in blackhole mode, so the server keeps
/// running and expires the session on its own clock.
pub async fn expiry_ends_the_session(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "expiry").await;
    let (proxies, cs) = proxies(target).await;
    let timeout = Duration::from_millis(1000);
    let c = connect_with(Client::builder(&cs).session_timeout(timeout)).await;
    assert_eq!(c.session_timeout(), timeout);
    let eph = ok(
        "ephemeral",
        c.create(&ctx.path("eph"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    let keep = ok(
        "persistent",
        c.create(&ctx.path("keep"), b"", &persistent()),
    )
    .await;
    let (_, _, data_watch) = ok("get_data_w", c.get_data_w(&keep)).await;
    let mut stream = ok(
        "add_watch",
        c.add_watch(&ctx.base, AddWatchMode::PersistentRecursive),
    )
    .await;
    let (_, deleted) = ok("observer exists_w", ctx.client.exists_w(&eph)).await;
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;

    for p in &proxies {
        p.set_mode(ProxyMode::Blackhole);
    }
    wait_state(
        "read timeout noticed",
        &mut states,
        SessionState::Disconnected,
    )
    .await;
    // The server expires the session: its ephemeral goes.
    fired(
        "ephemeral deleted at expiry",
        deleted,
        EventType::NodeDeleted,
        &eph,
    )
    .await;
    assert_eq!(
        c.state(),
        SessionState::Disconnected,
        "the client cannot know yet"
    );

    for p in &proxies {
        p.cut();
        p.set_mode(ProxyMode::Forward);
    }
    let seen = wait_state("expired", &mut states, SessionState::Expired).await;
    assert!(
        !seen.iter().any(|s| s.is_connected()),
        "an expired session must not connect again: {seen:?}"
    );
    assert!(within("state stream end", states.next()).await.is_none());
    assert_eq!(c.state(), SessionState::Expired);
    fails(
        "a call after expiry",
        Error::SessionExpired,
        c.exists(&keep),
    )
    .await;
    fails(
        "a write after expiry",
        Error::SessionExpired,
        c.set_data(&keep, b"", None),
    )
    .await;
    fails(
        "a clone after expiry",
        Error::SessionExpired,
        c.clone().get_children("/"),
    )
    .await;
    let ev = within("data watcher", data_watch).await;
    assert_eq!(
        (ev.event_type, ev.state),
        (EventType::None, KeeperState::Expired)
    );
    let ev = super::next_event("persistent watcher", &mut stream).await;
    assert_eq!(
        (ev.event_type, ev.state),
        (EventType::None, KeeperState::Expired)
    );
    assert!(within("stream end", stream.next()).await.is_none());
    within("close after expiry", c.close()).await;
    assert!(ok("persistent data stays", ctx.client.exists(&keep))
        .await
        .is_some());
}

/// Calls made one after another are answered in that order, even when pipelined (none
/// awaited before the next is made), across reads and writes.
pub async fn pipelined_calls_keep_their_order(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "fifo").await;
    let c = &ctx.client;
    let p = ctx.create("counter", b"0").await;
    let n = 500;
    let mut sets = Vec::new();
    let mut gets = Vec::new();
    for i in 1..=n {
        sets.push(c.set_data(&p, i.to_string().as_bytes(), Some(i - 1)));
        gets.push(c.get_data(&p));
    }
    let sets = ok("sets", futures::future::try_join_all(sets)).await;
    let gets = ok("gets", futures::future::try_join_all(gets)).await;
    for (i, (set, (data, stat))) in sets.iter().zip(&gets).enumerate() {
        let v = i32::try_from(i).expect("small") + 1;
        assert_eq!(set.version, v, "set {v} applied in order");
        assert_eq!(
            stat.version, v,
            "read {v} sees exactly the writes before it"
        );
        assert_eq!(&data[..], v.to_string().as_bytes());
    }
    let mzxids: Vec<i64> = sets.iter().map(|s| s.mzxid).collect();
    assert!(mzxids.windows(2).all(|w| w[0] < w[1]), "zxids increase");
    // Mixed operations on different nodes, with failures in between, stay in order too.
    let a = c.create(&ctx.path("a"), b"", &persistent());
    let fail = c.create(&ctx.path("a"), b"", &persistent());
    let child = c.create(&ctx.path("a/b"), b"", &persistent());
    let del_fail = c.delete(&ctx.path("a"), None);
    let del_child = c.delete(&ctx.path("a/b"), None);
    let del = c.delete(&ctx.path("a"), None);
    let gone = c.exists(&ctx.path("a"));
    ok("create a", a).await;
    fails("create a again", Error::NodeExists, fail).await;
    ok("create a/b", child).await;
    fails("delete a with a child", Error::NotEmpty, del_fail).await;
    ok("delete a/b", del_child).await;
    ok("delete a", del).await;
    assert_eq!(ok("exists a", gone).await, None);
}

/// sync succeeds on any path (existing or not) and makes the following read reflect every
/// write committed before it, even from another session.
pub async fn sync_then_read_sees_earlier_writes(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "sync").await;
    let writer = ctx.client().await;
    let p = ctx.create("s", b"0").await;
    for i in 1..=10 {
        let v = i.to_string();
        ok("write", writer.set_data(&p, v.as_bytes(), None)).await;
        ok("sync", ctx.client.sync(&p)).await;
        let (d, _) = ok("read", ctx.client.get_data(&p)).await;
        assert_eq!(&d[..], v.as_bytes(), "read after sync is current");
    }
    ok(
        "sync of a missing path",
        ctx.client.sync(&ctx.path("nope/deeper")),
    )
    .await;
    ok("sync of the root", ctx.client.sync("/")).await;
}

/// getEphemerals lists this session's ephemerals whose path starts with the prefix (a string
/// prefix, not a path prefix), and no other session's.
pub async fn get_ephemerals_lists_this_session_only(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "getephemerals").await;
    let c = ctx.client().await;
    let other = ctx.client().await;
    ctx.create("dir", b"").await;
    ctx.create("dir2", b"").await;
    let eph = mode(CreateMode::Ephemeral);
    let a = ok("a", c.create(&ctx.path("dir/a"), b"", &eph)).await;
    let b = ok("b", c.create(&ctx.path("dir2/b"), b"", &eph)).await;
    let s = ok(
        "s",
        c.create(
            &ctx.path("dir/s-"),
            b"",
            &mode(CreateMode::EphemeralSequential),
        ),
    )
    .await;
    ok("theirs", other.create(&ctx.path("dir/theirs"), b"", &eph)).await;
    ok(
        "persistent",
        c.create(&ctx.path("dir/p"), b"", &persistent()),
    )
    .await;

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let all = sorted(ok("all", c.get_ephemerals("/")).await);
    assert_eq!(all, sorted(vec![a.clone(), b.clone(), s.clone()]));
    let dir = sorted(ok("dir/", c.get_ephemerals(&ctx.path("dir"))).await);
    assert_eq!(
        dir,
        sorted(vec![a.clone(), b.clone(), s.clone()]),
        "a string prefix: dir matches dir2"
    );
    let exact = ok("dir/a", c.get_ephemerals(&a)).await;
    assert_eq!(exact, vec![a.clone()]);
    let none = ok("none", c.get_ephemerals(&ctx.path("nothing"))).await;
    assert!(none.is_empty());
    let fresh = ctx.client().await;
    assert!(ok("a new session has none", fresh.get_ephemerals("/"))
        .await
        .is_empty());
}

/// getAllChildrenNumber counts every descendant (not the node itself).
pub async fn all_children_number_counts_descendants(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "allchildren").await;
    let c = &ctx.client;
    assert_eq!(ok("empty", c.get_all_children_number(&ctx.base)).await, 0);
    for rel in ["a", "a/b", "a/b/c", "a/d", "e"] {
        ctx.create(rel, b"").await;
    }
    ok(
        "ephemeral",
        c.create(&ctx.path("e/x"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    assert_eq!(ok("base", c.get_all_children_number(&ctx.base)).await, 6);
    assert_eq!(ok("a", c.get_all_children_number(&ctx.path("a"))).await, 3);
    assert_eq!(
        ok("leaf", c.get_all_children_number(&ctx.path("a/b/c"))).await,
        0
    );
}

/// Under a chroot every path is prepended on the way out and stripped on the way back:
/// create (also sequential), getChildren of "/", getEphemerals, and the chroot node itself
/// as "/".
pub async fn chroot_prefixes_and_strips_paths(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "chroot").await;
    let c = connect(&format!("{}{}", ctx.connect_string, ctx.base)).await;
    assert_eq!(c.chroot(), Some(ctx.base.as_str()));
    let x = ok("create", c.create("/x", b"x", &persistent())).await;
    assert_eq!(x, "/x");
    let (y, stat) = ok("create2", c.create2("/y", b"", &persistent())).await;
    assert_eq!(y, "/y");
    let s = ok(
        "sequential",
        c.create("/x/s-", b"", &mode(CreateMode::PersistentSequential)),
    )
    .await;
    assert_eq!(s, "/x/s-0000000000");
    let e = ok(
        "ephemeral",
        c.create("/e", b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    assert_eq!(e, "/e");
    let mut kids = ok("children of /", c.get_children("/")).await;
    kids.sort();
    assert_eq!(kids, ["e", "x", "y"]);
    let (d, _) = ok("get_data", c.get_data("/x")).await;
    assert_eq!(&d[..], b"x");
    let seen = ok("seen from outside", ctx.client.exists(&ctx.path("y"))).await;
    assert_eq!(seen, Some(stat));
    assert_eq!(ok("getEphemerals", c.get_ephemerals("/")).await, ["/e"]);
    let root = ok("exists /", c.exists("/"))
        .await
        .expect("the chroot node");
    assert_eq!(root.num_children, 3);
    assert_eq!(ok("count", c.get_all_children_number("/")).await, 4);
    ok("set", c.set_data("/y", b"1", None)).await;
    ok("delete", c.delete("/y", None)).await;
    assert_eq!(
        ok("gone outside", ctx.client.exists(&ctx.path("y"))).await,
        None
    );
    ok("sync", c.sync("/x")).await;

    // A chroot whose node does not exist: creates below it fail with NoNode.
    let missing = connect(&format!("{}{}/missing", ctx.connect_string, ctx.base)).await;
    fails(
        "create under a missing chroot",
        Error::NoNode,
        missing.create("/a", b"", &persistent()),
    )
    .await;
    assert_eq!(ok("exists /", missing.exists("/")).await, None);
}
