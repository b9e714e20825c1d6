//! Cooperative revocation (`__REVOKE__`) against zk-server and Apache ZooKeeper, and across
//! languages with Curator 5 (Java): a revocable holder is told when a revoker writes
//! `__REVOKE__` into its lock node, keeps the lock until it releases (revocation is
//! cooperative), and the next waiter then gets it. Rust revokes Rust, Rust revokes Curator,
//! Curator revokes Rust; for the mutex and both sides of the read/write lock.

mod recipes_common;

use std::net::SocketAddr;
use std::time::Duration;

use recipes_common::curator::{compile, java};
use recipes_common::{connect, unique};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use zk_core::Client;
use zk_recipes::revoker::{attempt_revoke, REVOKE_MESSAGE};
use zk_recipes::{InterProcessMutex, InterProcessReadWriteLock, LockState, Side};

both_targets! {
    rust_holder_revoked_by_rust_releases_and_waiter_proceeds => rust_by_rust;
    only_revocable_holders_are_told => only_revocable_told;
    revocation_requested_while_waiting_is_seen_on_acquire => revoked_while_waiting;
    rw_write_and_read_holders_revoked_by_rust_release => rw_by_rust;
    curator_holder_revoked_by_rust_releases => curator_by_rust;
    curator_rw_holders_revoked_by_rust_release => curator_rw_by_rust;
    rust_holders_revoked_by_curator_release => rust_by_curator;
}

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(15);

/// The data of `node` (which must exist).
async fn data(client: &Client, node: &str) -> Vec<u8> {
    client.get_data(node).await.expect("get_data").0.to_vec()
}

async fn rust_by_rust(cs: String, _: SocketAddr) {
    let path = unique("revoke-rust");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    let a = InterProcessMutex::new(ca.clone(), path.clone()).with_data(b"host-a".to_vec());
    assert!(!a.is_revocable());
    a.make_revocable();
    assert!(a.is_revocable());
    let g = a.acquire().await.expect("a acquires");
    // Revocable nodes are created with empty data, as Curator does.
    assert_eq!(data(&ca, g.node_path()).await, b"");
    assert!(!g.is_revocation_requested());
    let again = a.acquire().await.expect("re-enter");

    let b = InterProcessMutex::new(cb.clone(), path.clone());
    let waiter = tokio::spawn(async move {
        let g = b.acquire_timeout(LONG).await.expect("b acquires");
        g.expect("b got it in time")
    });
    wait_participants(&a, 2).await;
    assert!(
        tokio::time::timeout(SHORT, g.revocation_requested())
            .await
            .is_err(),
        "told of a revocation nobody asked for"
    );

    attempt_revoke(&cb, g.node_path()).await.expect("revoke");
    tokio::time::timeout(LONG, g.revocation_requested())
        .await
        .expect("the holder is told");
    assert!(g.is_revocation_requested());
    assert!(again.is_revocation_requested(), "re-entrant guard not told");
    assert_eq!(data(&cb, g.node_path()).await, REVOKE_MESSAGE);
    // Cooperative: the lock stays ours until we release it.
    assert_eq!(g.state(), LockState::Held);
    tokio::time::sleep(SHORT).await;
    assert!(
        !waiter.is_finished(),
        "the waiter got in before the release"
    );

    let token = g.fencing_token();
    drop(again);
    g.release().await.expect("release");
    let gb = tokio::time::timeout(LONG, waiter)
        .await
        .expect("waiter in time")
        .expect("waiter task");
    assert!(gb.fencing_token() > token);
    assert!(!gb.is_revocation_requested());
    // Revoking a node that is gone is not an error (Curator ignores NoNode too).
    attempt_revoke(&cb, &format!("{path}/no-such-node"))
        .await
        .expect("revoke of a missing node");
    gb.release().await.expect("release");
}

async fn wait_participants(m: &InterProcessMutex, n: usize) {
    for _ in 0..250 {
        if m.participant_nodes().await.expect("nodes").len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never saw {n} contenders");
}

async fn only_revocable_told(cs: String, _: SocketAddr) {
    let path = unique("revoke-not-revocable");
    let ca = connect(&cs).await;
    let a = InterProcessMutex::new(ca.clone(), path.clone()).with_data(b"host-a".to_vec());
    let g = a.acquire().await.expect("acquire");
    assert_eq!(data(&ca, g.node_path()).await, b"host-a");
    // Made revocable while held: this lock stays not revocable (as in Curator, the watch is
    // set when the node is created).
    a.make_revocable();
    attempt_revoke(&ca, g.node_path()).await.expect("revoke");
    assert_eq!(data(&ca, g.node_path()).await, REVOKE_MESSAGE);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), g.revocation_requested())
            .await
            .is_err(),
        "a lock that was not revocable was told"
    );
    assert!(!g.is_revocation_requested());
    assert_eq!(g.state(), LockState::Held);
    g.release().await.expect("release");
    // The next acquire is revocable.
    let g = a.acquire().await.expect("acquire");
    assert_eq!(data(&ca, g.node_path()).await, b"");
    attempt_revoke(&ca, g.node_path()).await.expect("revoke");
    tokio::time::timeout(LONG, g.revocation_requested())
        .await
        .expect("told");
    g.release().await.expect("release");
}

async fn revoked_while_waiting(cs: String, _: SocketAddr) {
    let path = unique("revoke-waiting");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    let a = InterProcessMutex::new(ca.clone(), path.clone());
    let ga = a.acquire().await.expect("a acquires");
    let b = InterProcessMutex::new(cb.clone(), path.clone());
    b.make_revocable();
    let waiter = tokio::spawn(async move {
        let g = b.acquire_timeout(LONG).await.expect("b acquires");
        g.expect("b got it in time")
    });
    wait_participants(&a, 2).await;
    let nodes = a.participant_nodes().await.expect("nodes");
    assert_eq!(nodes[0], ga.node_path());
    // Revoke the waiter's node before it holds the lock.
    attempt_revoke(&ca, &nodes[1]).await.expect("revoke");
    ga.release().await.expect("release");
    let gb = tokio::time::timeout(LONG, waiter)
        .await
        .expect("waiter in time")
        .expect("waiter task");
    assert_eq!(gb.node_path(), nodes[1]);
    // Checked once right after acquiring: already known when the guard is handed out.
    assert!(gb.is_revocation_requested());
    gb.release().await.expect("release");
}

async fn rw_by_rust(cs: String, _: SocketAddr) {
    let path = unique("revoke-rw");
    let (ca, cb, cc) = (connect(&cs).await, connect(&cs).await, connect(&cs).await);
    let a = InterProcessReadWriteLock::new(ca.clone(), path.clone());
    a.make_revocable(Side::Write);
    assert!(a.is_revocable(Side::Write) && !a.is_revocable(Side::Read));
    let gw = a.write().await.expect("write");
    assert_eq!(data(&ca, gw.node_path()).await, b"");

    // A reader waits for the writer; the writer is revoked and releases.
    let b = InterProcessReadWriteLock::new(cb.clone(), path.clone());
    b.make_revocable(Side::Read);
    let reader = tokio::spawn(async move {
        let g = b.read_timeout(LONG).await.expect("read");
        (b, g.expect("reader got it in time"))
    });
    wait_rw_participants(&a, 2).await;
    attempt_revoke(&cc, gw.node_path()).await.expect("revoke");
    tokio::time::timeout(LONG, gw.revocation_requested())
        .await
        .expect("writer told");
    assert_eq!(gw.state(), LockState::Held);
    tokio::time::sleep(SHORT).await;
    assert!(!reader.is_finished(), "reader got in before the release");
    gw.release().await.expect("release write");
    let (b, gr) = tokio::time::timeout(LONG, reader)
        .await
        .expect("reader in time")
        .expect("reader task");
    assert!(b.holds_read());
    assert!(!gr.is_revocation_requested());

    // A writer waits for the reader; the reader is revoked and releases.
    let c = InterProcessReadWriteLock::new(cc.clone(), path.clone());
    let writer = tokio::spawn(async move {
        let g = c.write_timeout(LONG).await.expect("write");
        g.expect("writer got it in time")
    });
    wait_rw_participants(&a, 2).await;
    attempt_revoke(&ca, gr.node_path()).await.expect("revoke");
    tokio::time::timeout(LONG, gr.revocation_requested())
        .await
        .expect("reader told");
    tokio::time::sleep(SHORT).await;
    assert!(!writer.is_finished(), "writer got in before the release");
    gr.release().await.expect("release read");
    let gc = tokio::time::timeout(LONG, writer)
        .await
        .expect("writer in time")
        .expect("writer task");
    gc.release().await.expect("release");
    assert!(a.participant_nodes().await.expect("nodes").is_empty());
}

async fn wait_rw_participants(l: &InterProcessReadWriteLock, n: usize) {
    for _ in 0..250 {
        if l.participant_nodes().await.expect("nodes").len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never saw {n} contenders");
}

async fn next_line(out: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(30), out.next_line())
        .await
        .expect("a line from java")
        .expect("read java stdout")
        .expect("java ended early")
}

async fn java_done(mut child: Child) {
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("java finishes")
        .expect("java status");
    assert!(status.success(), "java failed: {status}");
}

/// Starts a revocable Curator holder of `kind` (mutex | read | write) on `path`; returns it
/// with its stdout and the node it holds.
async fn curator_holder(
    cp: &str,
    cs: &str,
    kind: &str,
    path: &str,
) -> (Child, Lines<BufReader<ChildStdout>>, String) {
    let mut child = java(cp, &[cs, "revocable", path, kind, "30000"]);
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let held = next_line(&mut out).await;
    let node = held
        .strip_prefix("HELD ")
        .unwrap_or_else(|| panic!("expected HELD, got {held}"))
        .to_string();
    (child, out, node)
}

async fn curator_by_rust(cs: String, _: SocketAddr) {
    let Some((_dir, cp)) = compile().await else {
        return;
    };
    let path = unique("revoke-curator");
    let client = connect(&cs).await;
    let (child, mut out, node) = curator_holder(&cp, &cs, "mutex", &path).await;
    // Curator's revocable node: protected name, empty data, owned by Java's session.
    let (bytes, stat) = client.get_data(&node).await.expect("java's node");
    assert!(bytes.is_empty(), "{bytes:?}");
    assert_ne!(stat.ephemeral_owner, client.session_id());

    let m = InterProcessMutex::new(client.clone(), path.clone());
    assert!(
        m.try_acquire().await.expect("try").is_none(),
        "java holds it"
    );
    let waiter = tokio::spawn(async move {
        let g = m.acquire_timeout(LONG).await.expect("acquire");
        g.expect("rust got it in time")
    });
    attempt_revoke(&client, &node).await.expect("revoke");
    assert_eq!(next_line(&mut out).await, "REVOKED");
    assert_eq!(next_line(&mut out).await, "RELEASED");
    let g = tokio::time::timeout(LONG, waiter)
        .await
        .expect("rust in time")
        .expect("rust task");
    assert!(g.fencing_token() > stat.czxid);
    java_done(child).await;
    g.release().await.expect("release");
}

async fn curator_rw_by_rust(cs: String, _: SocketAddr) {
    let Some((_dir, cp)) = compile().await else {
        return;
    };
    let path = unique("revoke-curator-rw");
    let client = connect(&cs).await;
    let rw = InterProcessReadWriteLock::new(client.clone(), path.clone());
    for kind in ["write", "read"] {
        let (child, mut out, node) = curator_holder(&cp, &cs, kind, &path).await;
        let marker = if kind == "write" {
            "__WRIT__"
        } else {
            "__READ__"
        };
        assert!(node.contains(marker), "{node}");
        assert!(data(&client, &node).await.is_empty());
        // A Rust contender of the other kind waits for Java.
        let contender = rw.clone();
        let waiter = tokio::spawn(async move {
            let g = if kind == "write" {
                contender.read_timeout(LONG).await
            } else {
                contender.write_timeout(LONG).await
            };
            g.expect("acquire").expect("rust got it in time")
        });
        tokio::time::sleep(SHORT).await;
        assert!(
            !waiter.is_finished(),
            "rust did not wait for java's {kind} lock"
        );
        attempt_revoke(&client, &node).await.expect("revoke");
        assert_eq!(next_line(&mut out).await, "REVOKED");
        assert_eq!(next_line(&mut out).await, "RELEASED");
        let g = tokio::time::timeout(LONG, waiter)
            .await
            .expect("rust in time")
            .expect("rust task");
        java_done(child).await;
        g.release().await.expect("release");
    }
}

async fn rust_by_curator(cs: String, _: SocketAddr) {
    let Some((_dir, cp)) = compile().await else {
        return;
    };
    // The mutex, then the read side of a read/write lock.
    let path = unique("revoke-by-curator");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    let a = InterProcessMutex::new(ca.clone(), path.clone());
    a.make_revocable();
    let g = a.acquire().await.expect("acquire");
    let b = InterProcessMutex::new(cb.clone(), path.clone());
    let waiter = tokio::spawn(async move {
        let g = b.acquire_timeout(LONG).await.expect("acquire");
        g.expect("waiter got it in time")
    });
    let mut child = java(&cp, &[&cs, "revoke", g.node_path()]);
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(next_line(&mut out).await, "REVOKE_SENT");
    java_done(child).await;
    tokio::time::timeout(LONG, g.revocation_requested())
        .await
        .expect("told by Curator's Revoker");
    assert!(
        !waiter.is_finished(),
        "the waiter got in before the release"
    );
    let token = g.fencing_token();
    g.release().await.expect("release");
    let gb = tokio::time::timeout(LONG, waiter)
        .await
        .expect("waiter in time")
        .expect("waiter task");
    assert!(gb.fencing_token() > token);
    gb.release().await.expect("release");

    let path = unique("revoke-rw-by-curator");
    let r = InterProcessReadWriteLock::new(ca.clone(), path.clone());
    r.make_revocable(Side::Read);
    let gr = r.read().await.expect("read");
    let w = InterProcessReadWriteLock::new(cb.clone(), path.clone());
    let writer = tokio::spawn(async move {
        let g = w.write_timeout(LONG).await.expect("write");
        g.expect("writer got it in time")
    });
    let mut child = java(&cp, &[&cs, "revoke", gr.node_path()]);
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(next_line(&mut out).await, "REVOKE_SENT");
    java_done(child).await;
    tokio::time::timeout(LONG, gr.revocation_requested())
        .await
        .expect("reader told by Curator's Revoker");
    assert!(
        !writer.is_finished(),
        "the writer got in before the release"
    );
    gr.release().await.expect("release read");
    let gw = tokio::time::timeout(LONG, writer)
        .await
        .expect("writer in time")
        .expect("writer task");
    gw.release().await.expect("release");
}
