//! Reconnect and watch replay: the session survives a dropped connection or a dead server,
//! credentials and watches are re-registered (setWatches2 with the last zxid seen), one-shot
//! watches fire for changes made while disconnected, in-flight requests fail with
//! ConnectionLoss and nothing hangs.
//!
//! Apache re-arms persistent watches on reconnect without catching up: changes made while the
//! client was disconnected are not reported to them (`DataTree.setWatches`); the tests assert
//! exactly that.

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use zk_core::{
    perms, Acl, AddWatchMode, Client, CreateMode, Error, EventType, OneshotWatcher,
    PersistentWatcher, SessionState,
};

use super::{
    connect, connect_with, fired, leader_of, mode, next_is, no_event, not_fired, ok, persistent,
    proxies, server_of_session, wait_state, within, Ctx, BOUND,
};
use crate::proxy::{ProxyMode, TcpProxy};
use crate::{ZkCluster, ZkTarget};

/// Watches of every kind registered by `c` on nodes under `ctx.base`, and the changes that
/// should (or should not) fire them.
struct Watched {
    changed: String,
    created: String,
    parent: String,
    deleted: String,
    unchanged: String,
    persistent: String,
    recursive: String,
    w_changed: OneshotWatcher,
    w_created: OneshotWatcher,
    w_parent: OneshotWatcher,
    w_deleted: OneshotWatcher,
    w_deleted_children: OneshotWatcher,
    w_unchanged: OneshotWatcher,
    s_persistent: PersistentWatcher,
    s_recursive: PersistentWatcher,
}

impl Watched {
    async fn register(ctx: &Ctx, c: &Client) -> Watched {
        let changed = ctx.create("changed", b"0").await;
        let created = ctx.path("created");
        let parent = ctx.create("parent", b"").await;
        let deleted = ctx.create("deleted", b"").await;
        let unchanged = ctx.create("unchanged", b"").await;
        let persistent = ctx.create("persistent", b"").await;
        let recursive = ctx.create("recursive", b"").await;
        let (_, _, w_changed) = ok("get_data_w", c.get_data_w(&changed)).await;
        let (_, w_created) = ok("exists_w", c.exists_w(&created)).await;
        let (_, w_parent) = ok("get_children_w", c.get_children_w(&parent)).await;
        let (_, w_deleted) = ok("exists_w", c.exists_w(&deleted)).await;
        let (_, w_deleted_children) = ok("get_children_w", c.get_children_w(&deleted)).await;
        let (_, _, w_unchanged) = ok("get_data_w", c.get_data_w(&unchanged)).await;
        let s_persistent = ok(
            "add_watch",
            c.add_watch(&persistent, AddWatchMode::Persistent),
        )
        .await;
        let s_recursive = ok(
            "add_watch recursive",
            c.add_watch(&recursive, AddWatchMode::PersistentRecursive),
        )
        .await;
        Watched {
            changed,
            created,
            parent,
            deleted,
            unchanged,
            persistent,
            recursive,
            w_changed,
            w_created,
            w_parent,
            w_deleted,
            w_deleted_children,
            w_unchanged,
            s_persistent,
            s_recursive,
        }
    }

    /// The changes, made by `other` (retrying through a failover).
    async fn change(&self, other: &Client) {
        retry("set", || other.set_data(&self.changed, b"1", None)).await;
        retry_create(other, &self.created).await;
        retry_create(other, &format!("{}/kid", self.parent)).await;
        retry_delete(other, &self.deleted).await;
        // Changes a persistent watch would report if it were told about the past.
        retry_create(other, &format!("{}/missed", self.persistent)).await;
        retry_create(other, &format!("{}/missed", self.recursive)).await;
    }

    /// Checks the one-shot watches fired (or not) as Apache's setWatches decides, and the
    /// persistent watches were re-armed without a catch-up.
    async fn check_replayed(mut self, c: &Client) {
        fired(
            "data watch, changed",
            self.w_changed,
            EventType::NodeDataChanged,
            &self.changed,
        )
        .await;
        fired(
            "exist watch, created",
            self.w_created,
            EventType::NodeCreated,
            &self.created,
        )
        .await;
        fired(
            "child watch, child added",
            self.w_parent,
            EventType::NodeChildrenChanged,
            &self.parent,
        )
        .await;
        fired(
            "exist watch, deleted",
            self.w_deleted,
            EventType::NodeDeleted,
            &self.deleted,
        )
        .await;
        fired(
            "child watch, node deleted",
            self.w_deleted_children,
            EventType::NodeDeleted,
            &self.deleted,
        )
        .await;
        // Everything the re-registration triggers arrives before the reply to a later call.
        ok("round trip", c.exists(&self.unchanged)).await;
        not_fired(
            "unchanged node's watch was re-armed, not fired",
            &mut self.w_unchanged,
        );
        no_event("persistent watch: no catch-up", &mut self.s_persistent);
        no_event("recursive watch: no catch-up", &mut self.s_recursive);
        // All still armed.
        ok("set unchanged", c.set_data(&self.unchanged, b"x", None)).await;
        fired(
            "re-armed data watch",
            self.w_unchanged,
            EventType::NodeDataChanged,
            &self.unchanged,
        )
        .await;
        ok("set persistent", c.set_data(&self.persistent, b"x", None)).await;
        next_is(
            "re-armed persistent",
            &mut self.s_persistent,
            EventType::NodeDataChanged,
            &self.persistent,
        )
        .await;
        let deep = format!("{}/missed/deep", self.recursive);
        ok("create deep", c.create(&deep, b"", &persistent())).await;
        next_is(
            "re-armed recursive",
            &mut self.s_recursive,
            EventType::NodeCreated,
            &deep,
        )
        .await;
    }
}

/// Retries a call while it fails with ConnectionLoss (a client reconnecting after a failover);
/// also says whether an attempt was lost (and so may have been applied).
async fn retrying<T, F, Fut>(mut call: F) -> (zk_core::Result<T>, bool)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = zk_core::Result<T>>,
{
    let mut lost = false;
    loop {
        match call().await {
            Err(Error::ConnectionLoss) => {
                lost = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            r => return (r, lost),
        }
    }
}

/// [`retrying`], failing the test on any other error.
pub(super) async fn retry<T, F, Fut>(what: &str, call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = zk_core::Result<T>>,
{
    match within(what, retrying(call)).await {
        (Ok(v), _) => v,
        (Err(e), _) => panic!("{what}: {e:?}"),
    }
}

/// Creates `path`, retrying through a failover; NodeExists is fine only after a lost attempt
/// (which was then applied).
async fn retry_create(c: &Client, path: &str) {
    match within("create", retrying(|| c.create(path, b"", &persistent()))).await {
        (Ok(_), _) | (Err(Error::NodeExists), true) => {}
        (Err(e), _) => panic!("create {path}: {e:?}"),
    }
}

/// Deletes `path`, retrying through a failover; NoNode is fine only after a lost attempt.
async fn retry_delete(c: &Client, path: &str) {
    match within("delete", retrying(|| c.delete(path, None))).await {
        (Ok(()), _) | (Err(Error::NoNode), true) => {}
        (Err(e), _) => panic!("delete {path}: {e:?}"),
    }
}

/// A dropped connection: the client reconnects to the same session (Disconnected, then
/// Connected), its ephemerals stay, its credentials are re-sent, and its watches keep working.
pub async fn session_survives_a_dropped_connection(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "dropped").await;
    let (proxies, cs) = proxies(target).await;
    let c = connect_with(Client::builder(&cs).digest_auth("hank", "pw")).await;
    let sid = c.session_id();
    let secret = ok(
        "digest node",
        c.create(
            &ctx.path("secret"),
            b"s",
            &persistent().acl(vec![Acl::new(
                perms::ALL,
                "digest",
                &zk_core::auth::digest_id("hank", "pw"),
            )]),
        ),
    )
    .await;
    ok("add_auth after connect", c.add_auth("digest", b"ivy:pw")).await;
    let ivy = ok(
        "ivy's node",
        c.create(
            &ctx.path("ivy"),
            b"",
            &persistent().acl(vec![Acl::new(
                perms::ALL,
                "digest",
                &zk_core::auth::digest_id("ivy", "pw"),
            )]),
        ),
    )
    .await;
    let eph = ok(
        "ephemeral",
        c.create(&ctx.path("eph"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    let (_, _, w) = ok("get_data_w", c.get_data_w(&secret)).await;
    let mut s = ok(
        "add_watch",
        c.add_watch(&ctx.base, AddWatchMode::PersistentRecursive),
    )
    .await;
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;

    for round in 0..3 {
        for p in &proxies {
            p.cut();
        }
        wait_state(
            format!("disconnected ({round})"),
            &mut states,
            SessionState::Disconnected,
        )
        .await;
        wait_state(
            format!("reconnected ({round})"),
            &mut states,
            SessionState::Connected,
        )
        .await;
        assert_eq!(c.session_id(), sid, "same session after reconnect {round}");
    }
    let stat = ok("ephemeral kept", c.exists(&eph))
        .await
        .expect("ephemeral survives");
    assert_eq!(stat.ephemeral_owner, sid);
    ok("builder credentials re-sent", c.get_data(&secret)).await;
    ok("add_auth credentials re-sent", c.get_data(&ivy)).await;
    let ids = ok("whoAmI", c.who_am_i()).await;
    assert_eq!(
        ids.iter().filter(|i| i.auth_scheme == "digest").count(),
        2,
        "{ids:?}"
    );
    ok("set", c.set_data(&secret, b"new", None)).await;
    fired("watch still armed", w, EventType::NodeDataChanged, &secret).await;
    next_is(
        "recursive still armed",
        &mut s,
        EventType::NodeDataChanged,
        &secret,
    )
    .await;
    c.close().await;
}

/// Credentials given while no server can be reached (the builder's, when the first hosts tried
/// are down, and addAuth while disconnected) wait for the next connection and are presented
/// there; they are not failed with ConnectionLoss and lost.
pub async fn credentials_wait_for_a_connection(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "authwait").await;
    let secret = ctx.path("secret");
    let acl = vec![
        Acl::new(perms::ALL, "digest", &zk_core::auth::digest_id("lee", "pw")),
        Acl::new(perms::ALL, "digest", &zk_core::auth::digest_id("max", "pw")),
    ];
    let root = connect_with(ctx.builder().digest_auth("lee", "pw")).await;
    ok("create", root.create(&secret, b"s", &persistent().acl(acl))).await;
    let (proxies, cs) = proxies(target).await;
    for p in &proxies {
        p.set_mode(ProxyMode::Refuse);
    }
    let connecting = tokio::spawn(Client::builder(&cs).digest_auth("lee", "pw").connect());
    super::eventually("a few refused connection attempts", || async {
        proxies.iter().map(TcpProxy::accepted).sum::<usize>() >= 3
    })
    .await;
    for p in &proxies {
        p.set_mode(ProxyMode::Forward);
    }
    let c = within("connect", connecting)
        .await
        .expect("join")
        .expect("connect once a server is reachable");
    ok("builder credentials presented", c.get_data(&secret)).await;

    let mut states = c.state_stream();
    for p in &proxies {
        p.set_mode(ProxyMode::Refuse);
        p.cut();
    }
    wait_state("disconnected", &mut states, SessionState::Disconnected).await;
    let auth = c.add_auth("digest", b"max:pw");
    let before = proxies.iter().map(TcpProxy::accepted).sum::<usize>();
    super::eventually("refused reconnects", || async {
        proxies.iter().map(TcpProxy::accepted).sum::<usize>() >= before + 2
    })
    .await;
    for p in &proxies {
        p.set_mode(ProxyMode::Forward);
    }
    ok("addAuth made while disconnected", auth).await;
    let ids = ok("whoAmI", c.who_am_i()).await;
    let users: Vec<&str> = ids
        .iter()
        .filter(|i| i.auth_scheme == "digest")
        .map(|i| i.user.as_str())
        .collect();
    assert_eq!(users, ["lee", "max"], "{ids:?}");
    c.close().await;
}

/// While the client cannot reach any server, another session changes the watched nodes; when
/// the client gets back, setWatches2 (relative to the last zxid it saw) makes the server fire
/// the one-shot watches whose nodes changed, re-arm the others, and re-arm persistent watches.
pub async fn watches_replay_changes_made_while_disconnected(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "replay").await;
    let (proxies, cs) = proxies(target).await;
    let c = connect(&cs).await;
    let sid = c.session_id();
    let watched = Watched::register(&ctx, &c).await;
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;

    for p in &proxies {
        p.set_mode(ProxyMode::Refuse);
        p.cut();
    }
    wait_state("disconnected", &mut states, SessionState::Disconnected).await;
    watched.change(&ctx.client).await;
    assert_eq!(c.state(), SessionState::Disconnected);
    for p in &proxies {
        p.set_mode(ProxyMode::Forward);
    }
    wait_state("reconnected", &mut states, SessionState::Connected).await;
    assert_eq!(c.session_id(), sid);
    watched.check_replayed(&c).await;
    c.close().await;
}

/// Watches on 1200 nodes with long names (more than one 128 KiB setWatches2 packet) are all
/// re-registered, and all fire for changes made while disconnected.
pub async fn many_watches_are_replayed(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "manyreplay").await;
    let (proxies, cs) = proxies(target).await;
    let c = connect(&cs).await;
    let long = "w".repeat(150);
    let paths: Vec<String> = (0..1200)
        .map(|i| ctx.path(&format!("{long}{i:05}")))
        .collect();
    let creates: Vec<_> = paths
        .iter()
        .map(|p| c.create(p, b"", &persistent()))
        .collect();
    ok("creates", futures::future::try_join_all(creates)).await;
    let watches: Vec<_> = paths.iter().map(|p| c.get_data_w(p)).collect();
    let watches = ok("watches", futures::future::try_join_all(watches)).await;
    let total: usize = paths.iter().map(|p| p.len() + 4).sum();
    assert!(
        total > 128 * 1024,
        "the watches must need several packets ({total} bytes)"
    );
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;

    for p in &proxies {
        p.set_mode(ProxyMode::Refuse);
        p.cut();
    }
    wait_state("disconnected", &mut states, SessionState::Disconnected).await;
    for chunk in paths.chunks(400) {
        let mut txn = ctx.client.transaction();
        for p in chunk {
            txn = txn.set_data(p, b"x", None);
        }
        ok("multi", txn.commit()).await;
    }
    for p in &proxies {
        p.set_mode(ProxyMode::Forward);
    }
    wait_state("reconnected", &mut states, SessionState::Connected).await;
    for (p, (_, _, w)) in paths.iter().zip(watches) {
        fired(format!("watch on {p}"), w, EventType::NodeDataChanged, p).await;
    }
    c.close().await;
}

/// Waits (bounded) until `c` is connected.
async fn until_connected(c: &Client) {
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;
}

/// A client connected to a server other than `avoid` (directly, listing only the others).
async fn client_avoiding(cluster: &dyn ZkCluster, avoid: usize) -> Client {
    let cs: Vec<String> = cluster
        .server_addrs()
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != avoid)
        .map(|(_, a)| a.to_string())
        .collect();
    connect(&cs.join(",")).await
}

/// 3-node ensemble: the follower a client is connected to is killed. The client moves to
/// another server with the same session; its ephemerals stay; every watch registered before
/// fires for changes made after the kill, whether the client had reconnected by then or not.
pub async fn ensemble_session_survives_killing_its_server(cluster: &mut dyn ZkCluster) {
    let ctx = Ctx::new(&*cluster, "failover").await;
    let leader = within("find the leader", leader_of(&*cluster))
        .await
        .expect("one server leads");
    // Clients pick a server at random: take the first that lands on a follower.
    let mut found = None;
    for _ in 0..30 {
        let c = connect(&cluster.connect_string()).await;
        let on = within(
            "find the client's server",
            server_of_session(&*cluster, c.session_id()),
        )
        .await
        .expect("cons lists the session on one server");
        if on != leader {
            found = Some((c, on));
            break;
        }
        c.close().await;
    }
    let (c, victim) = found.expect("a client on a follower");
    let sid = c.session_id();
    let eph = ok(
        "ephemeral",
        c.create(&ctx.path("eph"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    let changed = ctx.create("changed", b"").await;
    let parent = ctx.create("parent", b"").await;
    let (_, _, w_changed) = ok("get_data_w", c.get_data_w(&changed)).await;
    let (_, w_created) = ok("exists_w", c.exists_w(&ctx.path("created"))).await;
    let (_, w_parent) = ok("get_children_w", c.get_children_w(&parent)).await;
    let mut s = ok(
        "add_watch",
        c.add_watch(&ctx.base, AddWatchMode::PersistentRecursive),
    )
    .await;
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;

    eprintln!(
        "{}: killing server {victim}, which holds session {sid:#x}",
        cluster.name()
    );
    cluster
        .kill_server(victim)
        .expect("kill the client's server");
    wait_state("disconnected", &mut states, SessionState::Disconnected).await;
    let other = client_avoiding(&*cluster, victim).await;
    retry("set", || other.set_data(&changed, b"1", None)).await;
    retry_create(&other, &ctx.path("created")).await;
    retry_create(&other, &format!("{parent}/kid")).await;

    wait_state("reconnected", &mut states, SessionState::Connected).await;
    assert_eq!(c.session_id(), sid, "same session on another server");
    let now_on = within("find the new server", server_of_session(&*cluster, sid)).await;
    assert!(
        now_on.is_some() && now_on != Some(victim),
        "now on {now_on:?}, killed {victim}"
    );
    fired(
        "data watch",
        w_changed,
        EventType::NodeDataChanged,
        &changed,
    )
    .await;
    fired(
        "exist watch",
        w_created,
        EventType::NodeCreated,
        &ctx.path("created"),
    )
    .await;
    fired(
        "child watch",
        w_parent,
        EventType::NodeChildrenChanged,
        &parent,
    )
    .await;
    let stat = ok("ephemeral", c.exists(&eph))
        .await
        .expect("ephemeral survives failover");
    assert_eq!(stat.ephemeral_owner, sid);
    // The persistent watch is armed on the new server: changes from now on are reported.
    // Changes made before the reconnect may or may not have been (Apache does not catch up
    // persistent watches), so drop what came so far, after a sync has brought this server
    // up to date with every one of them.
    ok("sync", c.sync(&ctx.base)).await;
    while s.next().now_or_never().flatten().is_some() {}
    ok("set after failover", other.set_data(&changed, b"2", None)).await;
    next_is(
        "recursive watch after failover",
        &mut s,
        EventType::NodeDataChanged,
        &changed,
    )
    .await;
    ok(
        "write after failover",
        c.set_data(&eph, b"still mine", None),
    )
    .await;

    cluster
        .restart_server(victim)
        .await
        .expect("restart the killed server");
    c.close().await;
}

/// 3-node ensemble, deterministic replay: the client's server, the leader, dies while every
/// other server refuses the client (through proxies) and the survivors elect a new leader;
/// another session changes the watched nodes; then the client is let through: same session,
/// one-shot watches fire for the changes, unchanged ones are re-armed, persistent ones are
/// re-armed without catch-up.
pub async fn ensemble_watches_replay_after_failover(cluster: &mut dyn ZkCluster) {
    let ctx = Ctx::new(&*cluster, "failreplay").await;
    let (proxies, cs) = proxies(&*cluster).await;
    let leader = within("find the leader", leader_of(&*cluster))
        .await
        .expect("one server leads");
    // Steer the client to the leader.
    for (i, p) in proxies.iter().enumerate() {
        if i != leader {
            p.set_mode(ProxyMode::Refuse);
        }
    }
    let c = connect(&cs).await;
    for p in &proxies {
        p.set_mode(ProxyMode::Forward);
    }
    let sid = c.session_id();
    let watched = Watched::register(&ctx, &c).await;
    let victim = connected_through(&proxies).expect("one proxy carries the client");
    assert_eq!(victim, leader, "the client is on the leader");
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;

    for p in &proxies {
        p.set_mode(ProxyMode::Refuse);
    }
    eprintln!(
        "{}: killing server {victim}, which holds session {sid:#x}",
        cluster.name()
    );
    cluster
        .kill_server(victim)
        .expect("kill the client's server");
    wait_state("disconnected", &mut states, SessionState::Disconnected).await;
    cluster
        .wait_for_quorum(BOUND)
        .await
        .expect("the two survivors elect a leader");
    let new_leader = within("find the new leader", leader_of(&*cluster)).await;
    assert!(new_leader.is_some() && new_leader != Some(victim));
    let other = client_avoiding(&*cluster, victim).await;
    watched.change(&other).await;
    assert_eq!(
        c.state(),
        SessionState::Disconnected,
        "the client was kept away"
    );
    for p in &proxies {
        p.set_mode(ProxyMode::Forward);
    }
    wait_state("reconnected", &mut states, SessionState::Connected).await;
    assert_eq!(c.session_id(), sid, "the session survived the failover");
    let now = connected_through(&proxies);
    assert!(
        now.is_some() && now != Some(victim),
        "reconnected through {now:?}"
    );
    watched.check_replayed(&c).await;
    c.close().await;
}

fn connected_through(proxies: &[TcpProxy]) -> Option<usize> {
    let open: Vec<usize> = (0..proxies.len())
        .filter(|&i| proxies[i].open_connections() > 0)
        .collect();
    match open[..] {
        [i] => Some(i),
        _ => None,
    }
}

/// 3-node ensemble: requests in flight at a server that stops answering and then dies fail
/// with ConnectionLoss (none hangs, none is answered twice); the client carries on with the
/// same session on another server.
pub async fn ensemble_in_flight_requests_fail_when_the_server_dies(cluster: &mut dyn ZkCluster) {
    let ctx = Ctx::new(&*cluster, "inflight").await;
    let c = connect(&cluster.connect_string()).await;
    let sid = c.session_id();
    let victim = within(
        "find the client's server",
        server_of_session(&*cluster, sid),
    )
    .await
    .expect("cons lists the session");
    let p = ctx.create("p", b"0").await;
    let mut states = c.state_stream();
    wait_state("connected", &mut states, SessionState::Connected).await;

    cluster
        .freeze_server(victim)
        .expect("freeze the client's server");
    let mut calls = Vec::new();
    for i in 0..50 {
        calls.push(
            c.set_data(&p, i.to_string().as_bytes(), None)
                .map(|r| r.map(drop))
                .boxed(),
        );
        calls.push(c.get_data(&p).map(|r| r.map(drop)).boxed());
        calls.push(
            c.create(&ctx.path(&format!("n{i}")), b"", &persistent())
                .map(|r| r.map(drop))
                .boxed(),
        );
    }
    // Let them reach the frozen server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for call in &mut calls {
        assert!(call.now_or_never().is_none(), "a frozen server answered");
    }
    eprintln!(
        "{}: killing frozen server {victim}, which holds session {sid:#x}",
        cluster.name()
    );
    cluster.kill_server(victim).expect("kill the frozen server");
    let results = within("every in-flight call", futures::future::join_all(calls)).await;
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r, &Err(Error::ConnectionLoss), "call {i}");
    }
    wait_state("disconnected", &mut states, SessionState::Disconnected).await;
    until_connected(&c).await;
    assert_eq!(c.session_id(), sid);
    // None of the lost writes was applied (the frozen server never passed them on).
    let (d, stat) = retry("read", || c.get_data(&p)).await;
    assert_eq!((&d[..], stat.version), (&b"0"[..], 0));
    ok("write after failover", c.set_data(&p, b"after", Some(0))).await;
    cluster.restart_server(victim).await.expect("restart");
    c.close().await;
}
