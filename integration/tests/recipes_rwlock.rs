//! InterProcessReadWriteLock against zk-server and Apache ZooKeeper: readers overlap, writers
//! exclude everyone, a reader waits for a writer queued before it, downgrade works, and the
//! Curator node layout; each side's guard reports Held / Suspended / Lost / Released under the
//! error policy; and interop with Curator's InterProcessReadWriteLock (Java) on one path.

mod recipes_common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use integration::proxy::{ProxyMode, TcpProxy};
use recipes_common::{connect, connect_with, is_curator_name, unique};
use zk_recipes::protected::node_name;
use zk_recipes::{ErrorPolicy, InterProcessReadWriteLock, LockState};

both_targets! {
    readers_overlap_and_writers_exclude_everyone => overlap;
    contention_across_sessions_keeps_rw_invariants => contention;
    write_holder_downgrades_to_read => downgrade;
    curator_and_rust_share_rw_lock => rw_interop;
    rw_guard_states_report_node_deletion_and_release => guard_states;
    rw_guards_lose_lock_when_session_goes_silent => lost_on_silence;
}

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(10);

async fn overlap(cs: String, _: SocketAddr) {
    let path = unique("rw-overlap");
    let mut locks = Vec::new();
    for _ in 0..4 {
        locks.push(InterProcessReadWriteLock::new(
            connect(&cs).await,
            path.clone(),
        ));
    }
    // Three readers in three sessions hold the read lock together.
    let mut reads = Vec::new();
    for l in &locks[..3] {
        let g = l
            .read_timeout(LONG)
            .await
            .expect("read")
            .expect("readers overlap");
        assert!(
            is_curator_name(node_name(g.node_path()), "__READ__"),
            "{}",
            g.node_path()
        );
        reads.push(g);
    }
    // A writer waits for them.
    assert!(locks[3]
        .write_timeout(SHORT)
        .await
        .expect("write")
        .is_none());
    assert_eq!(locks[0].participant_nodes().await.expect("nodes").len(), 3);

    // A writer queued behind the readers blocks later readers (they wait for writers before
    // them), but not the readers before it.
    let w = locks[3].clone();
    let writer = tokio::spawn(async move {
        let g = w
            .write_timeout(LONG)
            .await
            .expect("write")
            .expect("writer gets it");
        assert!(
            is_curator_name(node_name(g.node_path()), "__WRIT__"),
            "{}",
            g.node_path()
        );
        g
    });
    wait_nodes(&locks[0], 4).await;
    let late = InterProcessReadWriteLock::new(connect(&cs).await, path.clone());
    assert!(
        late.read_timeout(SHORT).await.expect("read").is_none(),
        "reader jumped a writer"
    );
    // Re-entrant read on a handle that already reads: succeeds at once.
    let again = locks[0]
        .read_timeout(SHORT)
        .await
        .expect("read")
        .expect("re-enter read");
    drop(again);
    assert!(!writer.is_finished());
    for g in reads {
        g.release().await.expect("release");
    }
    let wg = tokio::time::timeout(LONG, writer)
        .await
        .expect("writer in time")
        .expect("task");
    // While the writer holds it, nobody else reads or writes.
    assert!(locks[0].read_timeout(SHORT).await.expect("read").is_none());
    assert!(locks[1]
        .write_timeout(SHORT)
        .await
        .expect("write")
        .is_none());
    wg.release().await.expect("release");
    let g = locks[1]
        .write_timeout(LONG)
        .await
        .expect("write")
        .expect("free");
    g.release().await.expect("release");
    assert!(locks[0]
        .participant_nodes()
        .await
        .expect("nodes")
        .is_empty());
}

async fn wait_nodes(l: &InterProcessReadWriteLock, n: usize) {
    for _ in 0..200 {
        if l.participant_nodes().await.expect("nodes").len() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never saw {n} contenders");
}

async fn contention(cs: String, _: SocketAddr) {
    let path = unique("rw-contention");
    let readers = Arc::new(AtomicUsize::new(0));
    let writers = Arc::new(AtomicUsize::new(0));
    let max_readers = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&cs).await);
    }
    let mut tasks = Vec::new();
    for t in 0..12 {
        let l = InterProcessReadWriteLock::new(clients[t % 3].clone(), path.clone());
        let (readers, writers, max_readers) =
            (readers.clone(), writers.clone(), max_readers.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..3 {
                if (t + i) % 4 == 0 {
                    let g = l
                        .write_timeout(Duration::from_secs(60))
                        .await
                        .expect("write")
                        .expect("in time");
                    assert_eq!(writers.fetch_add(1, Ordering::SeqCst), 0, "two writers");
                    assert_eq!(readers.load(Ordering::SeqCst), 0, "writer with readers");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    assert_eq!(readers.load(Ordering::SeqCst), 0, "writer with readers");
                    writers.fetch_sub(1, Ordering::SeqCst);
                    g.release().await.expect("release");
                } else {
                    let g = l
                        .read_timeout(Duration::from_secs(60))
                        .await
                        .expect("read")
                        .expect("in time");
                    let n = readers.fetch_add(1, Ordering::SeqCst) + 1;
                    max_readers.fetch_max(n, Ordering::SeqCst);
                    assert_eq!(writers.load(Ordering::SeqCst), 0, "reader with a writer");
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    assert_eq!(writers.load(Ordering::SeqCst), 0, "reader with a writer");
                    readers.fetch_sub(1, Ordering::SeqCst);
                    g.release().await.expect("release");
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert!(
        max_readers.load(Ordering::SeqCst) >= 2,
        "readers never overlapped"
    );
    let l = InterProcessReadWriteLock::new(clients[0].clone(), path);
    assert!(l.participant_nodes().await.expect("nodes").is_empty());
}

async fn downgrade(cs: String, _: SocketAddr) {
    let path = unique("rw-downgrade");
    let a = InterProcessReadWriteLock::new(connect(&cs).await, path.clone());
    let b = InterProcessReadWriteLock::new(connect(&cs).await, path.clone());
    let w = a.write_timeout(LONG).await.expect("write").expect("free");
    // The write holder takes the read lock at once, although its read node sorts after the
    // write node.
    let r = a
        .read_timeout(SHORT)
        .await
        .expect("read")
        .expect("downgrade read");
    assert!(a.holds_write() && a.holds_read());
    assert!(b.read_timeout(SHORT).await.expect("read").is_none());
    w.release().await.expect("release write");
    assert!(!a.holds_write());
    // Now only a read lock is held: others may read, nobody may write.
    let rb = b
        .read_timeout(LONG)
        .await
        .expect("read")
        .expect("shared read");
    let c = InterProcessReadWriteLock::new(connect(&cs).await, path.clone());
    assert!(c.write_timeout(SHORT).await.expect("write").is_none());
    r.release().await.expect("release read");
    rb.release().await.expect("release read");
    let wc = c
        .write_timeout(LONG)
        .await
        .expect("write")
        .expect("free again");
    wc.release().await.expect("release");
    assert!(a.participant_nodes().await.expect("nodes").is_empty());
}

async fn rw_interop(cs: String, _: SocketAddr) {
    use recipes_common::curator::{append, compile, java};
    let Some((dir, cp)) = compile().await else {
        return;
    };
    let path = unique("curator-rw");
    let log = Arc::new(dir.path().join("holders.log"));
    let log_s = log.display().to_string();
    let mut child = java(&cp, &[&cs, "rwlock", &path, "3", "12", &log_s, "20"]);
    // Start contending once Java holds the lock for the first time.
    tokio::time::timeout(Duration::from_secs(30), async {
        while !tokio::fs::read_to_string(&*log)
            .await
            .unwrap_or_default()
            .contains("java")
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("java got in");
    let mut tasks = Vec::new();
    for s in 0..2 {
        let client = connect(&cs).await;
        for t in 0..2 {
            let (client, path, log) = (client.clone(), path.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                let me = format!("rust-{s}-{t}");
                let l = InterProcessReadWriteLock::new(client, path);
                for i in 0..10 {
                    let w = (s + t + i) % 3 == 0;
                    let g = if w {
                        l.write_timeout(Duration::from_secs(60)).await
                    } else {
                        l.read_timeout(Duration::from_secs(60)).await
                    };
                    let g = g.expect("acquire").expect("in time");
                    let k = if w { "W" } else { "R" };
                    append(&log, format!("{k} enter {me}\n")).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    append(&log, format!("{k} leave {me}\n")).await;
                    g.release().await.expect("release");
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("rust task");
    }
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("java finishes")
        .expect("java status");
    assert!(status.success(), "java failed: {status}");

    // Logged intervals lie inside the held ones, so a logged conflict is a real one.
    use recipes_common::holders::{self, Kind, Rules};
    let text = tokio::fs::read_to_string(&*log).await.expect("read log");
    let events = holders::parse_text(&text, Kind::Exclusive);
    let mut mixed_readers = false;
    let summary = holders::check_with(&events, Rules::READ_WRITE, |inside| {
        let readers = || inside.iter().filter(|(_, k)| **k == Kind::Shared);
        mixed_readers |= readers().any(|(h, _)| h.starts_with("java"))
            && readers().any(|(h, _)| h.starts_with("rust"));
    });
    assert_eq!(summary.sections, 3 * 12 + 4 * 10, "{text}");
    assert!(
        summary.max_shared_inside >= 2,
        "readers never overlapped\n{text}"
    );
    assert!(
        mixed_readers,
        "Java and Rust readers never overlapped\n{text}"
    );
    let wrote = |java: bool| {
        events
            .iter()
            .any(|e| e.enter && e.kind == Kind::Exclusive && e.holder.starts_with("java") == java)
    };
    assert_eq!((wrote(true), wrote(false)), (true, true), "{text}");
    let l = InterProcessReadWriteLock::new(connect(&cs).await, path);
    assert!(l.participant_nodes().await.expect("nodes").is_empty());
}

async fn guard_states(cs: String, _: SocketAddr) {
    let path = unique("rw-states");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    let a = InterProcessReadWriteLock::new(ca.clone(), path.clone());
    // Write, downgrade to read: each side reports its own state.
    let w = a.write_timeout(LONG).await.expect("write").expect("free");
    let r = a
        .read_timeout(SHORT)
        .await
        .expect("read")
        .expect("downgrade");
    let (mut ws, mut rs) = (w.states(), r.states());
    assert_eq!(ws.next().await, Some(LockState::Held));
    assert_eq!(rs.next().await, Some(LockState::Held));
    assert!(w.is_held() && r.is_held());
    // Someone deletes our read node: the read side is lost, the write side is not.
    cb.delete(r.node_path(), None)
        .await
        .expect("delete read node");
    let lost = tokio::time::timeout(LONG, r.lost())
        .await
        .expect("read lost");
    assert_eq!(lost, LockState::Lost);
    assert_eq!(rs.next().await, Some(LockState::Lost));
    assert_eq!(rs.next().await, None, "states end after a terminal state");
    assert_eq!(w.state(), LockState::Held);
    drop(r);
    // Releasing ends the write side's stream with Released.
    w.release().await.expect("release write");
    assert_eq!(ws.next().await, Some(LockState::Released));
    assert_eq!(ws.next().await, None);
    assert!(a.participant_nodes().await.expect("nodes").is_empty());
}

async fn lost_on_silence(cs: String, upstream: SocketAddr) {
    for policy in [ErrorPolicy::Standard, ErrorPolicy::Session] {
        let path = unique("rw-lost");
        let proxy = TcpProxy::start(upstream).await.expect("proxy");
        let ca = connect_with(&proxy.addr().to_string(), Duration::from_millis(2000)).await;
        let a = InterProcessReadWriteLock::new(ca.clone(), path.clone()).with_error_policy(policy);
        let w = a.write_timeout(LONG).await.expect("write").expect("free");
        let r = a
            .read_timeout(SHORT)
            .await
            .expect("read")
            .expect("downgrade");
        let (mut ws, mut rs) = (w.states(), r.states());
        assert_eq!(ws.next().await, Some(LockState::Held));
        assert_eq!(rs.next().await, Some(LockState::Held));
        let b = InterProcessReadWriteLock::new(connect(&cs).await, path.clone());
        let writer = tokio::spawn(async move {
            let g = b
                .write_timeout(Duration::from_secs(30))
                .await
                .expect("write");
            (
                std::time::Instant::now(),
                g.expect("b writes once a's session is gone"),
            )
        });
        proxy.set_mode(ProxyMode::Blackhole);
        let expected = match policy {
            // Standard: a disconnection already counts as lost, before the session expires
            // on the server, so before anyone else can take the lock.
            ErrorPolicy::Standard => LockState::Lost,
            // Session: suspended first, lost once the session is known to be gone.
            _ => LockState::Suspended,
        };
        for states in [&mut ws, &mut rs] {
            let first = tokio::time::timeout(LONG, states.next())
                .await
                .expect("a state change");
            assert_eq!(first, Some(expected), "{policy:?}");
        }
        let lost_at = std::time::Instant::now();
        let (got_at, gb) = writer.await.expect("writer");
        if policy == ErrorPolicy::Standard {
            assert!(
                lost_at < got_at,
                "the old holder heard of the loss too late"
            );
        }
        // Let the old client hear of its expiry.
        proxy.set_mode(ProxyMode::Forward);
        proxy.cut();
        for g in [&w, &r] {
            let last = tokio::time::timeout(Duration::from_secs(20), g.lost())
                .await
                .expect("lost");
            assert_eq!(last, LockState::Lost, "{policy:?}");
        }
        if policy == ErrorPolicy::Session {
            for states in [&mut ws, &mut rs] {
                assert_eq!(states.next().await, Some(LockState::Lost));
            }
        }
        drop((w, r));
        gb.release().await.expect("release");
    }
}
