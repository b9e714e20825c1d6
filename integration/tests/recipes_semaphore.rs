//! InterProcessSemaphoreV2 and InterProcessSemaphoreMutex against zk-server and Apache
//! ZooKeeper: never more than N concurrent holders across sessions, timeouts that leave no
//! nodes, the Curator layout, and the non-re-entrant semaphore mutex. Also
//! InterProcessMultiLock: all or none, released in reverse order. And interop with Curator's
//! InterProcessSemaphoreV2 (Java) on one path.

mod recipes_common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use recipes_common::{connect, is_curator_name, unique};
use zk_core::{CreateMode, CreateOptions};
use zk_recipes::protected::node_name;
use zk_recipes::{
    InterProcessMultiLock, InterProcessMutex, InterProcessSemaphoreMutex, InterProcessSemaphoreV2,
};

both_targets! {
    never_more_than_n_holders_across_sessions => contention;
    timeouts_leave_no_nodes_and_waiters_get_leases => timeouts;
    semaphore_mutex_is_exclusive_and_not_reentrant => semaphore_mutex;
    multi_lock_is_all_or_none_and_releases_in_reverse => multi_lock;
    curator_and_rust_share_semaphore_leases => semaphore_interop;
}

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(10);

async fn contention(cs: String, _: SocketAddr) {
    const N: usize = 3;
    let path = unique("sem-contention");
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&cs).await);
    }
    let mut tasks = Vec::new();
    for t in 0..9 {
        let sem = InterProcessSemaphoreV2::new(clients[t % 3].clone(), path.clone(), N);
        let (inside, max) = (inside.clone(), max.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                let lease = sem
                    .acquire_timeout(Duration::from_secs(60))
                    .await
                    .expect("acquire")
                    .expect("in time");
                let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                assert!(n <= N, "{n} holders of {N} leases");
                max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                lease.release().await.expect("release");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert!(max.load(Ordering::SeqCst) >= 2, "leases never overlapped");
    let sem = InterProcessSemaphoreV2::new(clients[0].clone(), path, N);
    assert!(sem.participant_nodes().await.expect("nodes").is_empty());
}

async fn timeouts(cs: String, _: SocketAddr) {
    let path = unique("sem-timeouts");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    let a = InterProcessSemaphoreV2::new(ca.clone(), path.clone(), 2);
    let b = InterProcessSemaphoreV2::new(cb.clone(), path.clone(), 2);
    let l1 = a
        .acquire_timeout(LONG)
        .await
        .expect("acquire")
        .expect("lease 1");
    let l2 = b
        .acquire_timeout(LONG)
        .await
        .expect("acquire")
        .expect("lease 2");
    // Curator layout: {path}/leases/_c_<uuid>-lease-<seq>, ephemeral of our session.
    assert!(
        l1.node_path().starts_with(&format!("{path}/leases/")),
        "{}",
        l1.node_path()
    );
    assert!(
        is_curator_name(node_name(l1.node_path()), "lease-"),
        "{}",
        l1.node_path()
    );
    let stat = ca
        .exists(l1.node_path())
        .await
        .expect("exists")
        .expect("node");
    assert_eq!(stat.ephemeral_owner, ca.session_id());
    assert!(ca
        .exists(&format!("{path}/locks"))
        .await
        .expect("exists")
        .is_some());

    assert!(a.acquire_timeout(SHORT).await.expect("acquire").is_none());
    assert_eq!(
        a.participant_nodes().await.expect("nodes").len(),
        2,
        "timed-out lease left behind"
    );
    // The internal lock was released too.
    assert!(ca
        .get_children(&format!("{path}/locks"))
        .await
        .expect("locks")
        .is_empty());

    // A waiter gets a lease once one is returned (here by dropping it).
    let waiter = {
        let a = a.clone();
        tokio::spawn(async move { a.acquire_timeout(LONG).await.expect("acquire") })
    };
    tokio::time::sleep(SHORT).await;
    assert!(!waiter.is_finished());
    drop(l2);
    let l3 = waiter.await.expect("task").expect("lease after drop");
    l1.release().await.expect("release");
    l3.release().await.expect("release");
    assert!(a.participant_nodes().await.expect("nodes").is_empty());
}

async fn semaphore_mutex(cs: String, _: SocketAddr) {
    let path = unique("sem-mutex");
    let a = InterProcessSemaphoreMutex::new(connect(&cs).await, path.clone());
    let b = InterProcessSemaphoreMutex::new(connect(&cs).await, path.clone());
    let g = a
        .acquire_timeout(LONG)
        .await
        .expect("acquire")
        .expect("free");
    assert!(
        a.acquire_timeout(SHORT).await.expect("acquire").is_none(),
        "re-entrant"
    );
    assert!(
        b.acquire_timeout(SHORT).await.expect("acquire").is_none(),
        "not exclusive"
    );
    let waiter = tokio::spawn(async move { b.acquire_timeout(LONG).await.expect("acquire") });
    tokio::time::sleep(SHORT).await;
    g.release().await.expect("release");
    let gb = waiter.await.expect("task").expect("b after a");
    assert!(a.acquire_timeout(SHORT).await.expect("acquire").is_none());
    gb.release().await.expect("release");
    let g = a
        .acquire_timeout(LONG)
        .await
        .expect("acquire")
        .expect("free again");
    g.release().await.expect("release");
}

async fn multi_lock(cs: String, _: SocketAddr) {
    let base = unique("multi");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    // Persistent parents, so their pzxid (last child change) survives the release.
    let paths: Vec<String> = (0..3).map(|i| format!("{base}-{i}")).collect();
    for p in &paths {
        ca.create(p, b"", &CreateOptions::new(CreateMode::Persistent))
            .await
            .expect("create parent");
    }
    let multi = InterProcessMultiLock::new(
        paths
            .iter()
            .map(|p| InterProcessMutex::new(ca.clone(), p.clone()))
            .collect(),
    );
    let others: Vec<_> = paths
        .iter()
        .map(|p| InterProcessMutex::new(cb.clone(), p.clone()))
        .collect();

    // One lock taken elsewhere: none is kept.
    let last = others[2].acquire().await.expect("b takes the last");
    assert!(multi.acquire_timeout(SHORT).await.expect("multi").is_none());
    for m in &multi.locks()[..2] {
        assert!(
            m.participant_nodes().await.expect("nodes").is_empty(),
            "kept a lock"
        );
    }
    // It waits for the last one and then holds all.
    let waiter = tokio::spawn(async move {
        let g = multi.acquire_timeout(LONG).await.expect("multi");
        (multi, g)
    });
    tokio::time::sleep(SHORT).await;
    last.release().await.expect("release");
    let (multi, g) = waiter.await.expect("task");
    let g = g.expect("all locks");
    assert_eq!(g.guards().len(), 3);
    for o in &others {
        assert!(
            o.try_acquire().await.expect("try").is_none(),
            "not exclusive"
        );
    }
    g.release().await.expect("release");
    // Released in reverse order: the last lock's directory changed first.
    let mut pzxids = Vec::new();
    for p in &paths {
        pzxids.push(ca.exists(p).await.expect("exists").expect("parent").pzxid);
    }
    assert!(
        pzxids[2] < pzxids[1] && pzxids[1] < pzxids[0],
        "not released in reverse order: {pzxids:?}"
    );
    for o in &others {
        let g = o.try_acquire().await.expect("try").expect("free");
        g.release().await.expect("release");
    }
    drop(multi);
}

async fn semaphore_interop(cs: String, _: SocketAddr) {
    use recipes_common::curator::{append, compile, java, wait_for_java};
    const N: usize = 2;
    let Some((dir, cp)) = compile().await else {
        return;
    };
    let path = unique("curator-semaphore");
    let log = Arc::new(dir.path().join("holders.log"));
    let log_s = log.display().to_string();
    let mut child = java(
        &cp,
        &[&cs, "semaphore", &path, "2", "2", "10", &log_s, "20"],
    );
    // Start contending once Java holds a lease for the first time.
    wait_for_java(&log).await;
    let mut tasks = Vec::new();
    for s in 0..2 {
        let client = connect(&cs).await;
        for t in 0..2 {
            let (client, path, log) = (client.clone(), path.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                let me = format!("rust-{s}-{t}");
                let sem = InterProcessSemaphoreV2::new(client, path, N);
                for _ in 0..8 {
                    let l = sem
                        .acquire_timeout(Duration::from_secs(60))
                        .await
                        .expect("acquire")
                        .expect("in time");
                    append(&log, format!("enter {me}\n")).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    append(&log, format!("leave {me}\n")).await;
                    l.release().await.expect("release");
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

    // Each holder logs enter after acquiring and leave before returning its lease, so the
    // logged overlap is at most the real one.
    let text = tokio::fs::read_to_string(&*log).await.expect("read log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 * (2 * 10 + 4 * 8), "{text}");
    let mut holders = std::collections::HashSet::new();
    let (mut max, mut mixed) = (0, false);
    for line in &lines {
        let (what, who) = line.split_once(' ').expect("line");
        match what {
            "enter" => assert!(holders.insert(who), "{who} entered twice\n{text}"),
            _ => assert!(holders.remove(who), "{who} left without entering\n{text}"),
        }
        assert!(
            holders.len() <= N,
            "{} holders of {N} leases\n{text}",
            holders.len()
        );
        max = max.max(holders.len());
        mixed |= holders.iter().any(|h| h.starts_with("java"))
            && holders.iter().any(|h| h.starts_with("rust"));
    }
    assert_eq!(max, N, "leases never all in use\n{text}");
    assert!(mixed, "Java and Rust never held leases together\n{text}");
    let sem = InterProcessSemaphoreV2::new(connect(&cs).await, path, N);
    assert!(sem.participant_nodes().await.expect("nodes").is_empty());
}
