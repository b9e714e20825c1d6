//! InterProcessMutex against zk-server and Apache ZooKeeper: mutual exclusion under contention
//! across sessions with increasing fencing tokens, timeouts, try_acquire, re-entrancy, the
//! Curator node layout, and the lost signal when the session goes away.

mod recipes_common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration::proxy::{ProxyMode, TcpProxy};
use recipes_common::holders::{self, HolderLog, Rules};
use recipes_common::{connect, connect_with, is_curator_name, unique};
use zk_recipes::protected::node_name;
use zk_recipes::{ErrorPolicy, InterProcessMutex, LockState};

both_targets! {
    contention_across_sessions_never_overlaps_and_tokens_increase => contention;
    timeouts_try_acquire_and_reentrancy => timeouts_and_reentrancy;
    holder_loses_lock_when_session_goes_silent => lost_on_silence;
}

async fn contention(cs: String, _: SocketAddr) {
    let path = unique("mutex-contention");
    let log = HolderLog::new();
    let inside = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&cs).await);
    }
    let mut tasks = Vec::new();
    for t in 0..12 {
        let client = clients[t % 3].clone();
        let (path, log, inside) = (path.clone(), log.clone(), inside.clone());
        tasks.push(tokio::spawn(async move {
            let m = InterProcessMutex::new(client, path);
            for _ in 0..3 {
                let g = m.acquire().await.expect("acquire");
                assert_eq!(
                    inside.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two holders at once"
                );
                log.enter(t.to_string(), g.fencing_token());
                tokio::time::sleep(Duration::from_millis(3)).await;
                log.leave(t.to_string());
                inside.fetch_sub(1, Ordering::SeqCst);
                g.release().await.expect("release");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    // No overlap, fencing tokens increasing in entry order, every section closed.
    let summary = holders::check(&log.events(), Rules::EXCLUSIVE);
    assert_eq!(summary.sections, 12 * 3);
    // Everything released: no lock nodes left.
    let m = InterProcessMutex::new(clients[0].clone(), path.clone());
    assert!(m
        .participant_nodes()
        .await
        .expect("participants")
        .is_empty());
}

async fn timeouts_and_reentrancy(cs: String, _: SocketAddr) {
    let path = unique("mutex-timeouts");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    let a = InterProcessMutex::new(ca.clone(), path.clone());
    let b = InterProcessMutex::new(cb.clone(), path.clone());

    let g1 = a.acquire().await.expect("a acquires");
    assert!(
        is_curator_name(node_name(g1.node_path()), "lock-"),
        "{}",
        g1.node_path()
    );
    let stat = ca
        .exists(g1.node_path())
        .await
        .expect("exists")
        .expect("node");
    assert_eq!(stat.ephemeral_owner, ca.session_id());
    assert_eq!(stat.czxid, g1.fencing_token());
    assert_eq!(g1.state(), LockState::Held);

    assert!(b.try_acquire().await.expect("try").is_none());
    let started = Instant::now();
    assert!(b
        .acquire_timeout(Duration::from_millis(400))
        .await
        .expect("timeout acquire")
        .is_none());
    assert!(started.elapsed() >= Duration::from_millis(400));
    // The failed tries left no nodes behind.
    assert_eq!(
        a.participant_nodes().await.expect("nodes"),
        vec![g1.node_path().to_string()]
    );

    // Re-entrant per handle: same node, released only with the last guard.
    let g2 = a.acquire().await.expect("re-enter");
    assert_eq!(g2.node_path(), g1.node_path());
    drop(g1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        b.try_acquire().await.expect("try").is_none(),
        "released too early"
    );
    assert!(a.is_held_by_this_handle());
    let token_a = g2.fencing_token();
    g2.release().await.expect("release");
    assert!(!a.is_held_by_this_handle());

    // A waiter gets the lock as soon as the holder releases.
    let hb = b.try_acquire().await.expect("try").expect("free now");
    assert!(hb.fencing_token() > token_a);
    let waiter = tokio::spawn(async move {
        let g = a
            .acquire_timeout(Duration::from_secs(10))
            .await
            .expect("acquire");
        g.map(|g| g.fencing_token())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tb = hb.fencing_token();
    drop(hb);
    let ta = waiter.await.expect("waiter").expect("a got it after b");
    assert!(ta > tb);
}

async fn lost_on_silence(cs: String, upstream: SocketAddr) {
    use futures::StreamExt;
    for policy in [ErrorPolicy::Standard, ErrorPolicy::Session] {
        let path = unique("mutex-lost");
        let proxy = TcpProxy::start(upstream).await.expect("proxy");
        let ca = connect_with(&proxy.addr().to_string(), Duration::from_millis(2000)).await;
        let cb = connect(&cs).await;
        let a = InterProcessMutex::new(ca.clone(), path.clone()).with_error_policy(policy);
        let g = a.acquire().await.expect("a acquires");
        let mut states = g.states();
        assert_eq!(states.next().await, Some(LockState::Held));
        let b = InterProcessMutex::new(cb.clone(), path.clone());
        let waiter = tokio::spawn(async move {
            let g = b.acquire().await.expect("b acquires");
            (Instant::now(), g.fencing_token(), g)
        });
        proxy.set_mode(ProxyMode::Blackhole);
        let first = tokio::time::timeout(Duration::from_secs(10), states.next())
            .await
            .expect("a state change");
        match policy {
            // Standard: a disconnection is already a loss, reported before the session
            // expires on the server, so before anyone else can get the lock.
            ErrorPolicy::Standard => assert_eq!(first, Some(LockState::Lost)),
            // Session: suspended first, lost once the session is known to be gone.
            _ => assert_eq!(first, Some(LockState::Suspended)),
        }
        let lost_at = Instant::now();
        let (got_at, tb, gb) = waiter.await.expect("waiter");
        assert!(
            tb > g.fencing_token(),
            "token {tb} not above {}",
            g.fencing_token()
        );
        if policy == ErrorPolicy::Standard {
            assert!(
                lost_at < got_at,
                "the old holder heard of the loss too late"
            );
        }
        // Let the old client hear of its expiry.
        proxy.set_mode(ProxyMode::Forward);
        proxy.cut();
        let last = tokio::time::timeout(Duration::from_secs(20), g.lost())
            .await
            .expect("lost");
        assert_eq!(last, LockState::Lost);
        drop(g);
        gb.release().await.expect("release");
    }
}
