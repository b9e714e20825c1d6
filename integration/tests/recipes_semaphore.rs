//! InterProcessSemaphoreV2 and InterProcessSemaphoreMutex against zk-server and Apache
//! ZooKeeper: never more than N concurrent holders across sessions, timeouts that leave no
//! nodes, the Curator layout, and the non-re-entrant semaphore mutex. Also
//! InterProcessMultiLock: all or none, released in reverse order. And interop with Curator's
//! InterProcessSemaphoreV2 (Java) on one path. The maximum from a SharedCount: raising it
//! lets a blocked waiter in, lowering it keeps new acquirers out until leases are returned,
//! and Curator's semaphore on the same count shares the leases with ours. Lease states
//! (Held / Suspended / Lost / Released) under both error policies.

mod recipes_common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use integration::proxy::{ProxyMode, TcpProxy};
use recipes_common::{connect, connect_with, is_curator_name, unique};
use tokio::time::Instant;
use zk_core::{Client, CreateMode, CreateOptions, Error};
use zk_recipes::protected::node_name;
use zk_recipes::{
    ErrorPolicy, InterProcessMultiLock, InterProcessMutex, InterProcessSemaphoreMutex,
    InterProcessSemaphoreV2, Lease, LockState, SharedCount,
};

both_targets! {
    never_more_than_n_holders_across_sessions => contention;
    timeouts_leave_no_nodes_and_waiters_get_leases => timeouts;
    semaphore_mutex_is_exclusive_and_not_reentrant => semaphore_mutex;
    multi_lock_is_all_or_none_and_releases_in_reverse => multi_lock;
    curator_and_rust_share_semaphore_leases => semaphore_interop;
    raising_the_shared_max_lets_a_blocked_waiter_in => shared_max_raised;
    lowering_the_shared_max_keeps_new_acquirers_out_until_leases_drop => shared_max_lowered;
    lease_reports_held_suspended_lost_and_released => lease_states;
    curator_and_rust_share_leases_by_a_shared_count => shared_max_interop;
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
    use recipes_common::holders::{self, Kind, Rules};
    let text = tokio::fs::read_to_string(&*log).await.expect("read log");
    let mut mixed = false;
    let events = holders::parse_text(&text, Kind::Shared);
    let summary = holders::check_with(&events, Rules::leases(N), |inside| {
        mixed |= inside.keys().any(|h| h.starts_with("java"))
            && inside.keys().any(|h| h.starts_with("rust"));
    });
    assert_eq!(summary.sections, 2 * 10 + 4 * 8, "{text}");
    assert_eq!(
        summary.max_shared_inside, N,
        "leases never all in use\n{text}"
    );
    assert!(mixed, "Java and Rust never held leases together\n{text}");
    let sem = InterProcessSemaphoreV2::new(connect(&cs).await, path, N);
    assert!(sem.participant_nodes().await.expect("nodes").is_empty());
}

/// A semaphore on `path` whose maximum is a started SharedCount at `count_path` (seeded).
async fn shared_sem(
    client: &Client,
    path: &str,
    count_path: &str,
    seed: i32,
) -> (InterProcessSemaphoreV2, SharedCount) {
    let count = SharedCount::new(client.clone(), count_path, seed);
    count.start().await.expect("start count");
    let sem = InterProcessSemaphoreV2::with_shared_count(client.clone(), path, count.clone());
    (sem, count)
}

async fn lease_in_time(sem: &InterProcessSemaphoreV2) -> Lease {
    sem.acquire_timeout(LONG)
        .await
        .expect("acquire")
        .expect("a lease in time")
}

async fn shared_max_raised(cs: String, _: SocketAddr) {
    let path = unique("sem-shared-raise");
    let count_path = format!("{path}-count");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    // A count that was never started is refused rather than read as its seed.
    let unstarted = SharedCount::new(ca.clone(), count_path.clone(), 5);
    let sem = InterProcessSemaphoreV2::with_shared_count(ca.clone(), path.clone(), unstarted);
    assert!(matches!(
        sem.acquire_timeout(SHORT).await,
        Err(Error::InvalidArgument(_))
    ));

    let (a, count_a) = shared_sem(&ca, &path, &count_path, 1).await;
    let (b, count_b) = shared_sem(&cb, &path, &count_path, 1).await;
    assert_eq!((a.max_leases(), b.max_leases()), (1, 1));
    let l1 = lease_in_time(&a).await;
    // The waiter (another session) is blocked while the count is 1 ...
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.acquire_timeout(Duration::from_secs(30)).await })
    };
    tokio::time::sleep(SHORT).await;
    assert!(!waiter.is_finished(), "two leases with a maximum of 1");
    assert_eq!(a.participant_nodes().await.expect("nodes").len(), 2);
    // ... and gets in when the count is raised, while the first lease is still held.
    count_a.set_count(2).await.expect("raise");
    let l2 = tokio::time::timeout(LONG, waiter)
        .await
        .expect("the waiter wakes on the count change")
        .expect("task")
        .expect("acquire")
        .expect("a lease");
    assert_eq!(count_b.count(), 2);
    assert_eq!(b.max_leases(), 2);
    assert!(l1.is_held() && l2.is_held());
    // Two of two: a third acquirer waits.
    assert!(a.acquire_timeout(SHORT).await.expect("acquire").is_none());
    assert_eq!(a.participant_nodes().await.expect("nodes").len(), 2);
    l1.release().await.expect("release");
    l2.release().await.expect("release");
    assert!(a.participant_nodes().await.expect("nodes").is_empty());
}

async fn shared_max_lowered(cs: String, _: SocketAddr) {
    let path = unique("sem-shared-lower");
    let count_path = format!("{path}-count");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    let (a, count_a) = shared_sem(&ca, &path, &count_path, 3).await;
    let (b, count_b) = shared_sem(&cb, &path, &count_path, 3).await;
    let mut held = vec![
        lease_in_time(&a).await,
        lease_in_time(&b).await,
        lease_in_time(&a).await,
    ];
    count_a.set_count(1).await.expect("lower");
    tokio::time::timeout(LONG, count_b.wait_for(|v| v.count() == 1))
        .await
        .expect("b sees the lower count")
        .expect("wait");
    // Lowering revokes nothing.
    assert!(held.iter().all(|l| l.is_held()));
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.acquire_timeout(Duration::from_secs(30)).await })
    };
    // New acquirers stay out while the holders are at or above the new maximum.
    for _ in 0..3 {
        tokio::time::sleep(SHORT).await;
        assert!(
            !waiter.is_finished(),
            "a lease with {} held and a maximum of 1",
            held.len()
        );
        held.pop()
            .expect("a lease")
            .release()
            .await
            .expect("release");
    }
    let l = tokio::time::timeout(LONG, waiter)
        .await
        .expect("in once the last lease is returned")
        .expect("task")
        .expect("acquire")
        .expect("a lease");
    assert!(a.acquire_timeout(SHORT).await.expect("acquire").is_none());
    l.release().await.expect("release");
    // A count of 0 (or less) grants nothing.
    count_b.set_count(0).await.expect("set");
    tokio::time::timeout(LONG, count_a.wait_for(|v| v.count() == 0))
        .await
        .expect("a sees 0")
        .expect("wait");
    assert_eq!(a.max_leases(), 0);
    assert!(a.acquire_timeout(SHORT).await.expect("acquire").is_none());
    assert!(a.participant_nodes().await.expect("nodes").is_empty());
}

async fn next_state(states: &mut (impl futures::Stream<Item = LockState> + Unpin)) -> LockState {
    tokio::time::timeout(Duration::from_secs(20), states.next())
        .await
        .expect("a state change")
        .expect("stream open")
}

async fn lease_states(cs: String, upstream: SocketAddr) {
    let path = unique("sem-states");
    let other = connect(&cs).await;
    for policy in [ErrorPolicy::Standard, ErrorPolicy::Session] {
        let proxy = TcpProxy::start(upstream).await.expect("proxy");
        let client = connect_with(&proxy.addr().to_string(), Duration::from_millis(4000)).await;
        let sem =
            InterProcessSemaphoreV2::new(client.clone(), path.clone(), 2).with_error_policy(policy);
        let lease = lease_in_time(&sem).await;
        let mut states = lease.states();
        assert_eq!(next_state(&mut states).await, LockState::Held);
        assert!(lease.is_held());
        // The connection drops (new connections refused for a moment).
        proxy.set_mode(ProxyMode::Refuse);
        proxy.cut();
        match policy {
            ErrorPolicy::Standard => {
                assert_eq!(next_state(&mut states).await, LockState::Lost);
                assert_eq!(states.next().await, None, "Lost is terminal");
                proxy.set_mode(ProxyMode::Forward);
                drop(lease);
            }
            _ => {
                assert_eq!(next_state(&mut states).await, LockState::Suspended);
                assert!(!lease.is_held());
                // Back within the session: held again.
                proxy.set_mode(ProxyMode::Forward);
                assert_eq!(next_state(&mut states).await, LockState::Held);
                // Silent: suspended, then lost after a whole session timeout without hearing
                // from the server (the session is expired by then), while still silent.
                proxy.set_mode(ProxyMode::Blackhole);
                assert_eq!(next_state(&mut states).await, LockState::Suspended);
                let suspended = Instant::now();
                assert_eq!(next_state(&mut states).await, LockState::Lost);
                assert!(
                    suspended.elapsed() >= Duration::from_millis(3500),
                    "lost after {:?}, before a session timeout",
                    suspended.elapsed()
                );
                let node = lease.node_path().to_string();
                proxy.set_mode(ProxyMode::Forward);
                proxy.cut();
                tokio::time::timeout(Duration::from_secs(30), async {
                    while other.exists(&node).await.expect("exists").is_some() {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
                .await
                .expect("the session expires on the server");
                assert_eq!(
                    tokio::time::timeout(Duration::from_secs(20), lease.lost())
                        .await
                        .expect("lost"),
                    LockState::Lost
                );
            }
        }
    }
    // Our lease node deleted by someone else: lost. A returned lease: released.
    let client = connect(&cs).await;
    let sem = InterProcessSemaphoreV2::new(client, path.clone(), 2);
    let deleted = lease_in_time(&sem).await;
    let returned = lease_in_time(&sem).await;
    other
        .delete(deleted.node_path(), None)
        .await
        .expect("delete the lease node");
    assert_eq!(
        tokio::time::timeout(LONG, deleted.lost())
            .await
            .expect("lost"),
        LockState::Lost
    );
    let mut states = returned.states();
    assert_eq!(next_state(&mut states).await, LockState::Held);
    let watcher = tokio::spawn(async move { states.collect::<Vec<_>>().await });
    returned.release().await.expect("release");
    let rest = tokio::time::timeout(LONG, watcher)
        .await
        .expect("the stream ends")
        .expect("task");
    assert_eq!(rest, vec![LockState::Released]);
    drop(deleted);
    assert!(sem.participant_nodes().await.expect("nodes").is_empty());
}

async fn shared_max_interop(cs: String, _: SocketAddr) {
    use recipes_common::curator::{append, compile, java, wait_for_java};
    const LOW: usize = 1;
    const HIGH: usize = 3;
    let Some((dir, cp)) = compile().await else {
        return;
    };
    let path = unique("curator-semcount");
    let count_path = format!("{path}-count");
    let client = connect(&cs).await;
    let count = SharedCount::new(client.clone(), count_path.clone(), LOW as i32);
    count.start().await.expect("start count");
    let log = Arc::new(dir.path().join("holders.log"));
    let log_s = log.display().to_string();
    // Curator's seed (7) is ignored: the count exists.
    let mut child = java(
        &cp,
        &[
            &cs,
            "semcount",
            &path,
            &count_path,
            "7",
            "2",
            "12",
            &log_s,
            "30",
        ],
    );
    wait_for_java(&log).await;
    let mut tasks = Vec::new();
    for s in 0..2 {
        let client = connect(&cs).await;
        let (sem, _count) = shared_sem(&client, &path, &count_path, 7).await;
        for t in 0..2 {
            let (sem, log) = (sem.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                let me = format!("rust-{s}-{t}");
                for _ in 0..8 {
                    let l = sem
                        .acquire_timeout(Duration::from_secs(60))
                        .await
                        .expect("acquire")
                        .expect("in time");
                    append(&log, format!("enter {me}\n")).await;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    append(&log, format!("leave {me}\n")).await;
                    l.release().await.expect("release");
                }
            }));
        }
    }
    // After some holds at one lease, raise the maximum. The marker goes into the log before
    // the count changes, so everything logged before it happened under the low maximum.
    tokio::time::timeout(Duration::from_secs(60), async {
        while tokio::fs::read_to_string(&*log)
            .await
            .unwrap_or_default()
            .lines()
            .count()
            < 16
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("holds under the low maximum");
    append(&log, "raise 3\n".to_string()).await;
    count.set_count(HIGH as i32).await.expect("raise");
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
    assert_eq!(lines.len(), 2 * (2 * 12 + 4 * 8) + 1, "{text}");
    let mut holders = std::collections::HashSet::new();
    let (mut limit, mut max_after, mut mixed_after) = (LOW, 0, false);
    for line in &lines {
        let (what, who) = line.split_once(' ').expect("line");
        match what {
            "raise" => limit = HIGH,
            "enter" => assert!(holders.insert(who), "{who} entered twice\n{text}"),
            _ => assert!(holders.remove(who), "{who} left without entering\n{text}"),
        }
        assert!(
            holders.len() <= limit,
            "{} holders with a maximum of {limit}\n{text}",
            holders.len()
        );
        if limit == HIGH {
            max_after = max_after.max(holders.len());
            mixed_after |= holders.iter().any(|h| h.starts_with("java"))
                && holders.iter().any(|h| h.starts_with("rust"));
        }
    }
    assert_eq!(max_after, HIGH, "the raised maximum was never used\n{text}");
    assert!(
        mixed_after,
        "Java and Rust never held leases together\n{text}"
    );
    let sem = InterProcessSemaphoreV2::new(client, path, 1);
    assert!(sem.participant_nodes().await.expect("nodes").is_empty());
}
