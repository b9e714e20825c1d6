//! Every error a client can provoke, from the server (NoNode, NodeExists, NotEmpty,
//! BadVersion, NoChildrenForEphemerals, NoAuth, InvalidAcl, BadArguments, Unimplemented,
//! NoWatcher, ReconfigDisabled, QuotaExceeded, AuthFailed) and from the client itself
//! (InvalidPath, InvalidArgument, BadConnectString, ConnectionLoss, Closed).
//!
//! SessionExpired is covered by [`super::session::expiry_ends_the_session`] and ConnectionLoss
//! during failover by [`super::reconnect`].

use std::time::Duration;

use futures::StreamExt;
use zk_core::{
    Acl, AddWatchMode, Client, CreateMode, Error, EventType, KeeperState, ReadOp, SessionState,
    WatcherType,
};

use super::{connect, fails, mode, ok, persistent, proxies, wait_state, within, Ctx};
use crate::proxy::ProxyMode;
use crate::ZkTarget;

/// The data errors, each provoked by every operation that can return it.
pub async fn data_errors(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "dataerrors").await;
    let c = &ctx.client;
    let p = ctx.create("p", b"").await;
    ctx.create("p/kid", b"").await;
    let missing = ctx.path("missing");
    let orphan = ctx.path("missing/child");

    // NoNode
    fails("getData", Error::NoNode, c.get_data(&missing)).await;
    fails("getData watch", Error::NoNode, c.get_data_w(&missing)).await;
    fails("setData", Error::NoNode, c.set_data(&missing, b"", None)).await;
    fails("delete", Error::NoNode, c.delete(&missing, None)).await;
    fails("getChildren", Error::NoNode, c.get_children(&missing)).await;
    fails(
        "getChildren watch",
        Error::NoNode,
        c.get_children_w(&missing),
    )
    .await;
    fails("getChildren2", Error::NoNode, c.get_children2(&missing)).await;
    fails("getACL", Error::NoNode, c.get_acl(&missing)).await;
    fails(
        "setACL",
        Error::NoNode,
        c.set_acl(&missing, Acl::open_unsafe(), None),
    )
    .await;
    fails(
        "getAllChildrenNumber",
        Error::NoNode,
        c.get_all_children_number(&missing),
    )
    .await;
    fails(
        "create without parent",
        Error::NoNode,
        c.create(&orphan, b"", &persistent()),
    )
    .await;
    fails(
        "create2 without parent",
        Error::NoNode,
        c.create2(&orphan, b"", &persistent()),
    )
    .await;
    for m in [
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
        CreateMode::Container,
    ] {
        fails(
            format!("{m:?} without parent"),
            Error::NoNode,
            c.create(&orphan, b"", &mode(m)),
        )
        .await;
    }
    fails(
        "TTL without parent",
        Error::NoNode,
        c.create(&orphan, b"", &mode(CreateMode::PersistentWithTtl).ttl(1000)),
    )
    .await;
    assert_eq!(ok("exists is not an error", c.exists(&missing)).await, None);

    // NodeExists
    fails(
        "create existing",
        Error::NodeExists,
        c.create(&p, b"", &persistent()),
    )
    .await;
    fails(
        "create2 existing",
        Error::NodeExists,
        c.create2(&p, b"", &persistent()),
    )
    .await;
    fails(
        "ephemeral existing",
        Error::NodeExists,
        c.create(&p, b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    fails(
        "container existing",
        Error::NodeExists,
        c.create(&p, b"", &mode(CreateMode::Container)),
    )
    .await;
    fails(
        "TTL existing",
        Error::NodeExists,
        c.create(&p, b"", &mode(CreateMode::PersistentWithTtl).ttl(1000)),
    )
    .await;
    fails(
        "create the root",
        Error::NodeExists,
        c.create("/", b"", &persistent()),
    )
    .await;

    // NotEmpty
    fails("delete with children", Error::NotEmpty, c.delete(&p, None)).await;
    fails(
        "delete with children, right version",
        Error::NotEmpty,
        c.delete(&p, Some(0)),
    )
    .await;

    // BadVersion
    fails("setData", Error::BadVersion, c.set_data(&p, b"", Some(1))).await;
    fails(
        "delete",
        Error::BadVersion,
        c.delete(&format!("{p}/kid"), Some(1)),
    )
    .await;
    fails(
        "setACL",
        Error::BadVersion,
        c.set_acl(&p, Acl::open_unsafe(), Some(1)),
    )
    .await;

    // NoChildrenForEphemerals
    let e = ok(
        "ephemeral",
        c.create(&ctx.path("e"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    fails(
        "child of an ephemeral",
        Error::NoChildrenForEphemerals,
        c.create(&format!("{e}/c"), b"", &persistent()),
    )
    .await;

    // NoAuth
    let ro = ok(
        "read-only node",
        c.create(&ctx.path("ro"), b"", &persistent().acl(Acl::read_unsafe())),
    )
    .await;
    fails(
        "setData without WRITE",
        Error::NoAuth,
        c.set_data(&ro, b"", None),
    )
    .await;
    fails(
        "create without CREATE",
        Error::NoAuth,
        c.create(&format!("{ro}/c"), b"", &persistent()),
    )
    .await;
    fails(
        "setACL without ADMIN",
        Error::NoAuth,
        c.set_acl(&ro, Acl::open_unsafe(), None),
    )
    .await;

    // InvalidAcl
    fails(
        "empty ACL",
        Error::InvalidAcl,
        c.create(&ctx.path("x"), b"", &persistent().acl(vec![])),
    )
    .await;

    // NoWatcher
    fails(
        "removeWatches",
        Error::NoWatcher,
        c.remove_watches(&p, WatcherType::Data),
    )
    .await;
    fails(
        "checkWatches",
        Error::NoWatcher,
        c.check_watches(&p, WatcherType::Any),
    )
    .await;
}

/// BadArguments: a TTL out of range (must be 1 ..= 2^40 − 1 ms; the client leaves the range
/// check to the server), and deleting the root or `/zookeeper`.
pub async fn bad_arguments(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "badargs").await;
    let c = &ctx.client;
    for ttl in [0, -1, 1 << 40, i64::MAX] {
        for m in [
            CreateMode::PersistentWithTtl,
            CreateMode::PersistentSequentialWithTtl,
        ] {
            fails(
                format!("{m:?} with ttl {ttl}"),
                Error::BadArguments,
                c.create(&ctx.path("t"), b"", &mode(m).ttl(ttl)),
            )
            .await;
        }
    }
    let max = ok(
        "the largest TTL",
        c.create(
            &ctx.path("t"),
            b"",
            &mode(CreateMode::PersistentWithTtl).ttl((1 << 40) - 1),
        ),
    )
    .await;
    assert_eq!(max, ctx.path("t"));
    fails("delete /", Error::BadArguments, c.delete("/", None)).await;
    fails(
        "delete /zookeeper",
        Error::BadArguments,
        c.delete("/zookeeper", None),
    )
    .await;
    assert!(ok("root still there", c.exists("/zookeeper"))
        .await
        .is_some());
}

/// ReconfigDisabled: reconfig on a server with reconfig disabled.
pub async fn reconfig_disabled(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "reconfig").await;
    fails(
        "reconfig",
        Error::ReconfigDisabled,
        ctx.client
            .reconfig(Some("server.9=127.0.0.1:1:2;3"), None, None, -1),
    )
    .await;
    fails(
        "reconfig new members",
        Error::ReconfigDisabled,
        ctx.client
            .reconfig(None, None, Some("server.1=127.0.0.1:1:2;3"), -1),
    )
    .await;
    ok("the session goes on", ctx.client.exists(&ctx.base)).await;
}

/// QuotaExceeded: with quotas enforced, a create beyond a path's hard count limit fails.
/// (The limit counts the quota'd node itself.)
pub async fn quota_exceeded(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "quota").await;
    let c = &ctx.client;
    let q = ctx.create("q", b"").await;
    let quota_node = format!("/zookeeper/quota{q}");
    // What `setquota -N 3` does: the limits node and the stats node under /zookeeper/quota.
    let mut parent = String::from("/zookeeper/quota");
    for part in q.trim_start_matches('/').split('/') {
        parent = format!("{parent}/{part}");
        match within("create quota parent", c.create(&parent, b"", &persistent())).await {
            Ok(_) | Err(Error::NodeExists) => {}
            Err(e) => panic!("create {parent}: {e:?}"),
        }
    }
    ok(
        "limits",
        c.create(
            &format!("{quota_node}/zookeeper_limits"),
            b"count=-1,bytes=-1,countHardLimit=3,byteHardLimit=-1",
            &persistent(),
        ),
    )
    .await;
    ok(
        "stats",
        c.create(
            &format!("{quota_node}/zookeeper_stats"),
            b"count=0,bytes=0",
            &persistent(),
        ),
    )
    .await;
    ok(
        "second node",
        c.create(&format!("{q}/a"), b"", &persistent()),
    )
    .await;
    ok(
        "third node",
        c.create(&format!("{q}/b"), b"", &persistent()),
    )
    .await;
    fails(
        "fourth node",
        Error::QuotaExceeded,
        c.create(&format!("{q}/c"), b"", &persistent()),
    )
    .await;
    fails(
        "fourth node, in a multi",
        Error::Multi {
            index: 0,
            error: Box::new(Error::QuotaExceeded),
            results: vec![zk_core::MultiResult::Error {
                err: Error::QuotaExceeded.code().expect("code"),
            }],
        },
        c.transaction()
            .create(&format!("{q}/c"), b"", &persistent())
            .commit(),
    )
    .await;
    ok(
        "outside the quota",
        c.create(&ctx.path("free"), b"", &persistent()),
    )
    .await;
    // Clean up the quota so the shared server is not left with it.
    ok(
        "drop stats",
        c.delete(&format!("{quota_node}/zookeeper_stats"), None),
    )
    .await;
    ok(
        "drop limits",
        c.delete(&format!("{quota_node}/zookeeper_limits"), None),
    )
    .await;
}

/// Unimplemented: TTL nodes on a server without them (`target` must have TTL nodes disabled,
/// e.g. Apache without `zookeeper.extendedTypesEnabled`).
pub async fn ttl_is_unimplemented_when_disabled(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "nottl").await;
    let c = &ctx.client;
    for m in [
        CreateMode::PersistentWithTtl,
        CreateMode::PersistentSequentialWithTtl,
    ] {
        fails(
            format!("{m:?}"),
            Error::Unimplemented,
            c.create(&ctx.path("t"), b"", &mode(m).ttl(10_000)),
        )
        .await;
    }
    let r = within(
        "TTL in a multi",
        c.transaction()
            .create(
                &ctx.path("t"),
                b"",
                &mode(CreateMode::PersistentWithTtl).ttl(10_000),
            )
            .commit(),
    )
    .await;
    assert!(
        matches!(&r, Err(Error::Multi { index: 0, error, .. }) if **error == Error::Unimplemented),
        "{r:?}"
    );
    // Containers need no extended types.
    ok(
        "container",
        c.create(&ctx.path("c"), b"", &mode(CreateMode::Container)),
    )
    .await;
}

/// Paths breaking the path rules fail with InvalidPath before anything is sent, for every
/// operation; the session is unaffected.
pub async fn invalid_paths_are_rejected_by_the_client(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "badpaths").await;
    let c = &ctx.client;
    let bad = [
        "",
        "a",
        "/a/",
        "//a",
        "/a//b",
        "/.",
        "/..",
        "/a/./b",
        "/a/../b",
        "/a\u{0}b",
        "/a\u{1}",
        "/\u{7f}",
        "/\u{e000}x",
        "/\u{fffe}",
        "/\u{1f600}",
    ];
    for p in bad {
        let p = if p.starts_with('/') && p.len() > 1 {
            format!("{}{p}", ctx.base)
        } else {
            p.to_string()
        };
        let is_invalid = |r: &zk_core::Result<()>| matches!(r, Err(Error::InvalidPath(_)));
        let checks: Vec<(&str, zk_core::Result<()>)> = vec![
            (
                "create",
                within("create", c.create(&p, b"", &persistent()))
                    .await
                    .map(drop),
            ),
            (
                "create2",
                within("create2", c.create2(&p, b"", &persistent()))
                    .await
                    .map(drop),
            ),
            ("delete", within("delete", c.delete(&p, None)).await),
            ("exists", within("exists", c.exists(&p)).await.map(drop)),
            (
                "exists_w",
                within("exists_w", c.exists_w(&p)).await.map(drop),
            ),
            (
                "get_data",
                within("get_data", c.get_data(&p)).await.map(drop),
            ),
            (
                "get_data_w",
                within("get_data_w", c.get_data_w(&p)).await.map(drop),
            ),
            (
                "set_data",
                within("set_data", c.set_data(&p, b"", None))
                    .await
                    .map(drop),
            ),
            ("get_acl", within("get_acl", c.get_acl(&p)).await.map(drop)),
            (
                "set_acl",
                within("set_acl", c.set_acl(&p, Acl::open_unsafe(), None))
                    .await
                    .map(drop),
            ),
            (
                "get_children",
                within("get_children", c.get_children(&p)).await.map(drop),
            ),
            (
                "get_children_w",
                within("get_children_w", c.get_children_w(&p))
                    .await
                    .map(drop),
            ),
            (
                "get_children2",
                within("get_children2", c.get_children2(&p)).await.map(drop),
            ),
            (
                "get_children2_w",
                within("gc2w", c.get_children2_w(&p)).await.map(drop),
            ),
            (
                "get_all_children_number",
                within("gacn", c.get_all_children_number(&p))
                    .await
                    .map(drop),
            ),
            ("sync", within("sync", c.sync(&p)).await),
            (
                "add_watch",
                within("add_watch", c.add_watch(&p, AddWatchMode::Persistent))
                    .await
                    .map(drop),
            ),
            (
                "remove_watches",
                within("rw", c.remove_watches(&p, WatcherType::Any)).await,
            ),
            (
                "check_watches",
                within("cw", c.check_watches(&p, WatcherType::Any)).await,
            ),
            (
                "multi",
                within("multi", c.transaction().set_data(&p, b"", None).commit())
                    .await
                    .map(drop),
            ),
            (
                "multi_read",
                within("mr", c.multi_read(&[ReadOp::GetData(p.clone())]))
                    .await
                    .map(drop),
            ),
        ];
        for (op, r) in checks {
            assert!(is_invalid(&r), "{op}({p:?}) gave {r:?}");
        }
    }
    // A sequential prefix is checked with the suffix in place: a trailing '/' is fine there.
    let seq = ok(
        "sequential with a trailing slash",
        c.create(
            &format!("{}/", ctx.base),
            b"",
            &mode(CreateMode::PersistentSequential),
        ),
    )
    .await;
    assert!(seq.starts_with(&format!("{}/", ctx.base)));
    let r = within(
        "non-sequential trailing slash",
        c.create(&format!("{}/", ctx.base), b"", &persistent()),
    )
    .await;
    assert!(matches!(r, Err(Error::InvalidPath(_))), "{r:?}");
    // Nothing reached the server and the session is fine.
    assert_eq!(ok("children", c.get_children(&ctx.base)).await.len(), 1);
    assert!(c.state().is_connected());
}

/// A connect string is checked before connecting: bad hosts or ports give BadConnectString, a
/// bad chroot InvalidPath.
pub async fn bad_connect_strings(target: &dyn ZkTarget) {
    let addr = target.server_addrs()[0];
    for cs in ["", ",", "/chroot", "host:notaport", "host:99999"] {
        let r = within(format!("connect {cs:?}"), Client::connect(cs)).await;
        assert!(
            matches!(r, Err(Error::BadConnectString(_))),
            "{cs:?}: {r:?}"
        );
    }
    for chroot in ["/a/", "/a//b", "/."] {
        let cs = format!("{addr}{chroot}");
        let r = within(format!("connect {cs:?}"), Client::connect(&cs)).await;
        assert!(matches!(r, Err(Error::InvalidPath(_))), "{cs:?}: {r:?}");
    }
    // A trailing '/' alone means no chroot.
    let c = connect(&format!("{addr}/")).await;
    assert_eq!(c.chroot(), None);
    c.close().await;
}

/// ConnectionLoss: requests in flight when the connection drops, and requests made while no
/// server can be reached, fail with ConnectionLoss (they never hang); the session survives.
pub async fn connection_loss_fails_in_flight_requests(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "connloss").await;
    let (proxies, cs) = proxies(target).await;
    let c = connect(&cs).await;
    let sid = c.session_id();
    let p = ok("create", c.create(&ctx.path("p"), b"", &persistent())).await;
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;

    for proxy in &proxies {
        proxy.set_mode(ProxyMode::Blackhole);
    }
    let get = c.get_data(&p);
    let set = c.set_data(&p, b"lost?", None);
    let multi = c.transaction().set_data(&p, b"m", None).commit();
    let children = c.get_children(&p);
    // Give the connection task time to write them into the (silent) network.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for proxy in &proxies {
        proxy.set_mode(ProxyMode::Refuse);
        proxy.cut();
    }
    fails("in-flight getData", Error::ConnectionLoss, get).await;
    fails("in-flight setData", Error::ConnectionLoss, set).await;
    fails("in-flight multi", Error::ConnectionLoss, multi).await;
    fails("in-flight getChildren", Error::ConnectionLoss, children).await;
    wait_state("disconnected", &mut states, SessionState::Disconnected).await;

    // While every server refuses, new requests fail too instead of waiting forever.
    fails(
        "request while unreachable",
        Error::ConnectionLoss,
        c.exists(&p),
    )
    .await;
    assert_eq!(c.state(), SessionState::Disconnected);

    for proxy in &proxies {
        proxy.set_mode(ProxyMode::Forward);
    }
    wait_state("reconnected", &mut states, SessionState::Connected).await;
    assert_eq!(c.session_id(), sid, "the session survived");
    ok("works again", c.get_data(&p)).await;
    c.close().await;
}

/// AuthFailed: authenticating with a scheme the server does not accept ends the session (state
/// AuthFailed, every call fails with AuthFailed, watchers hear it); from the builder, connect
/// itself fails.
///
/// Apache surprises: `world` is not an authentication scheme (AuthFailed), while `digest`
/// accepts any credentials (even without a ':') and `ip` any address string, so neither fails.
pub async fn auth_failed_ends_the_session(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "authfailed").await;
    for scheme in ["nosuchscheme", "world"] {
        let c = ctx.client().await;
        let p = ctx.path(scheme);
        ok("create", c.create(&p, b"", &persistent())).await;
        let (_, _, w) = ok("get_data_w", c.get_data_w(&p)).await;
        let mut s = ok(
            "add_watch",
            c.add_watch(&ctx.base, AddWatchMode::Persistent),
        )
        .await;
        let mut states = c.state_stream();
        fails(
            format!("add_auth {scheme}"),
            Error::AuthFailed,
            c.add_auth(scheme, b"x"),
        )
        .await;
        wait_state("auth failed", &mut states, SessionState::AuthFailed).await;
        assert!(within("state stream end", states.next()).await.is_none());
        assert_eq!(c.state(), SessionState::AuthFailed);
        fails("a call after auth failed", Error::AuthFailed, c.exists(&p)).await;
        fails(
            "a clone after auth failed",
            Error::AuthFailed,
            c.clone().get_data(&p),
        )
        .await;
        let ev = within("watcher", w).await;
        assert_eq!(
            (ev.event_type, ev.state),
            (EventType::None, KeeperState::AuthFailed)
        );
        let ev = super::next_event("stream", &mut s).await;
        assert_eq!(
            (ev.event_type, ev.state),
            (EventType::None, KeeperState::AuthFailed)
        );
    }
    let r = within(
        "connect with bad auth",
        ctx.builder().auth("nosuchscheme", b"x").connect(),
    )
    .await;
    assert!(matches!(r, Err(Error::AuthFailed)), "{r:?}");

    let c = ctx.client().await;
    ok("digest without ':'", c.add_auth("digest", b"nocolon")).await;
    ok("ip auth", c.add_auth("ip", b"1.2.3.4")).await;
    ok("still connected", c.exists(&ctx.base)).await;
}

/// Closed: after close, every call of every clone fails with Closed, the state is Closed, the
/// state stream ends, and closing again is harmless.
pub async fn closed_after_close(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "closed").await;
    let c = ctx.client().await;
    let clone = c.clone();
    let p = ctx.path("p");
    let mut states = c.state_stream();
    c.close().await;
    wait_state("closed", &mut states, SessionState::Closed).await;
    assert!(within("state stream end", states.next()).await.is_none());
    assert_eq!(clone.state(), SessionState::Closed);
    let mut late = c.state_stream();
    assert_eq!(
        within("late subscriber", late.next()).await,
        Some(SessionState::Closed)
    );
    assert!(within("late stream end", late.next()).await.is_none());
    for (who, c) in [("client", &c), ("clone", &clone)] {
        fails(
            format!("{who}: create"),
            Error::Closed,
            c.create(&p, b"", &persistent()),
        )
        .await;
        fails(format!("{who}: exists"), Error::Closed, c.exists(&p)).await;
        fails(
            format!("{who}: get_data_w"),
            Error::Closed,
            c.get_data_w(&p),
        )
        .await;
        fails(
            format!("{who}: set_data"),
            Error::Closed,
            c.set_data(&p, b"", None),
        )
        .await;
        fails(
            format!("{who}: add_watch"),
            Error::Closed,
            c.add_watch(&p, AddWatchMode::Persistent),
        )
        .await;
        fails(
            format!("{who}: add_auth"),
            Error::Closed,
            c.add_auth("digest", b"a:b"),
        )
        .await;
        fails(format!("{who}: who_am_i"), Error::Closed, c.who_am_i()).await;
        fails(format!("{who}: sync"), Error::Closed, c.sync("/")).await;
        fails(
            format!("{who}: multi"),
            Error::Closed,
            c.transaction().create(&p, b"", &persistent()).commit(),
        )
        .await;
        fails(
            format!("{who}: multi_read"),
            Error::Closed,
            c.multi_read(&[ReadOp::GetData(p.clone())]),
        )
        .await;
    }
    within("second close", c.close()).await;
    within("close of a clone", clone.close()).await;
}
