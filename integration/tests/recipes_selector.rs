//! LeaderSelector against zk-server and Apache ZooKeeper: one leader at a time across
//! sessions with re-queueing and increasing tokens, participants read from node data, and the
//! leader's work cancelled when its session goes silent, before anyone else leads (under
//! `ErrorPolicy::Session`: once cut off for a whole session timeout, while still cut off).

mod recipes_common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration::proxy::{ProxyMode, TcpProxy};
use recipes_common::holders::{self, HolderLog, Rules};
use recipes_common::{connect, connect_with, unique};
use zk_recipes::{ErrorPolicy, LeaderSelector};

both_targets! {
    one_leader_at_a_time_with_requeue => requeue;
    work_is_cancelled_when_leadership_is_lost => cancelled_on_loss;
    session_policy_leader_cut_off_for_a_session_timeout_is_cancelled => session_policy_cut;
}

async fn requeue(cs: String, _: SocketAddr) {
    let path = unique("selector");
    let inside = Arc::new(AtomicUsize::new(0));
    let log = HolderLog::new();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let client = connect(&cs).await;
        let (path, inside, log) = (path.clone(), inside.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            let s = LeaderSelector::new(client, path, format!("s{i}"));
            for _ in 0..3 {
                let out = s
                    .lead_once(|l| {
                        let (s, inside, log) = (&s, &inside, &log);
                        async move {
                            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two leaders");
                            let parts = s.participants().await.expect("participants");
                            assert_eq!(parts[0].id, s.id(), "leader is not first: {parts:?}");
                            log.enter(s.id(), l.token);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            log.leave(s.id());
                            inside.fetch_sub(1, Ordering::SeqCst);
                            l.token
                        }
                    })
                    .await
                    .expect("lead");
                assert!(out.is_some());
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    // One leader at a time, tokens increasing in entry order.
    let summary = holders::check(&log.events(), Rules::EXCLUSIVE);
    assert_eq!(summary.sections, 12);
}

async fn cancelled_on_loss(cs: String, upstream: SocketAddr) {
    let path = unique("selector-loss");
    let proxy = TcpProxy::start(upstream).await.expect("proxy");
    let c0 = connect_with(&proxy.addr().to_string(), Duration::from_millis(2000)).await;
    let s0 = LeaderSelector::new(c0, path.clone(), "silent");
    let s1 = LeaderSelector::new(connect(&cs).await, path.clone(), "next");
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let leader = tokio::spawn(async move {
        let out = s0
            .lead_once(|_| async move {
                let _ = started_tx.send(());
                std::future::pending::<()>().await
            })
            .await
            .expect("lead");
        (out, Instant::now())
    });
    started_rx.await.expect("s0 leads");
    let next = tokio::spawn(async move {
        let t = s1
            .lead_once(|l| async move { l.token })
            .await
            .expect("lead");
        (t, Instant::now())
    });
    proxy.set_mode(ProxyMode::Blackhole);
    let (out, cancelled_at) = leader.await.expect("leader task");
    assert_eq!(out, None, "work should have been cancelled");
    let (t, led_at) = next.await.expect("next task");
    assert!(t.is_some());
    assert!(
        cancelled_at < led_at,
        "the old leader's work outlived its leadership"
    );
    proxy.set_mode(ProxyMode::Forward);
    proxy.cut();
}

/// Under the Session policy the leader's work survives a disconnection but is cancelled once
/// the leader has been cut off for a whole session timeout (not before ~0.9 of it), while
/// still cut off; the next participant leads after the session expired.
async fn session_policy_cut(cs: String, upstream: SocketAddr) {
    let path = unique("selector-session-cut");
    let proxy = TcpProxy::start(upstream).await.expect("proxy");
    let c0 = connect_with(&proxy.addr().to_string(), Duration::from_millis(4000)).await;
    let timeout = c0.session_timeout();
    let s0 = LeaderSelector::new(c0, path.clone(), "cut").with_error_policy(ErrorPolicy::Session);
    let s1 = LeaderSelector::new(connect(&cs).await, path.clone(), "next");
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let leader = tokio::spawn(async move {
        let out = s0
            .lead_once(|_| async move {
                let _ = started_tx.send(());
                std::future::pending::<()>().await
            })
            .await
            .expect("lead");
        (out, Instant::now())
    });
    started_rx.await.expect("s0 leads");
    let next = tokio::spawn(async move {
        s1.lead_once(|l| async move { l.token })
            .await
            .expect("lead")
    });
    proxy.set_mode(ProxyMode::Refuse);
    proxy.cut();
    let cut_at = Instant::now();
    let (out, cancelled_at) = tokio::time::timeout(timeout * 3, leader)
        .await
        .expect("the work is cancelled while cut off")
        .expect("leader task");
    assert_eq!(out, None, "work should have been cancelled");
    assert_eq!(
        proxy.mode(),
        ProxyMode::Refuse,
        "cancelled while still cut off"
    );
    let after = cancelled_at - cut_at;
    assert!(
        after >= timeout * 9 / 10,
        "cancelled {after:?} after the disconnection, before a session timeout ({timeout:?})"
    );
    let t = tokio::time::timeout(Duration::from_secs(30), next)
        .await
        .expect("the next participant leads")
        .expect("next task");
    assert!(t.is_some());
    proxy.set_mode(ProxyMode::Forward);
}
