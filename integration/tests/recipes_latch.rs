//! LeaderLatch against zk-server and Apache ZooKeeper: one leader at a time, hand-over when
//! the leader closes and when its session expires, participants, events and fencing tokens.

mod recipes_common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use integration::proxy::{ProxyMode, TcpProxy};
use recipes_common::{connect, connect_with, is_curator_name, unique};
use zk_recipes::protected::node_name;
use zk_recipes::{CloseMode, LeaderLatch, LeadershipEvent};

both_targets! {
    one_leader_and_hand_over_on_close => hand_over_on_close;
    hand_over_when_the_leader_session_expires => hand_over_on_expiry;
}

fn leaders(latches: &[LeaderLatch]) -> Vec<String> {
    latches
        .iter()
        .filter(|l| l.has_leadership())
        .map(|l| l.id().to_string())
        .collect()
}

async fn hand_over_on_close(cs: String, _: SocketAddr) {
    let path = unique("latch-close");
    let mut latches = Vec::new();
    for i in 0..3 {
        let c = connect(&cs).await;
        let l = LeaderLatch::new(c, path.clone(), format!("p{i}"));
        l.start().await.expect("start");
        latches.push(l);
    }
    assert!(latches[0]
        .await_leadership_timeout(Duration::from_secs(10))
        .await
        .expect("await"));
    let node = latches[0].our_path().expect("node");
    assert!(is_curator_name(node_name(&node), "latch-"), "{node}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(leaders(&latches), vec!["p0"]);
    let parts = latches[2].participants().await.expect("participants");
    let ids: Vec<_> = parts.iter().map(|p| (p.id.as_str(), p.is_leader)).collect();
    assert_eq!(ids, vec![("p0", true), ("p1", false), ("p2", false)]);
    assert_eq!(
        latches[1].leader().await.expect("leader").expect("some").id,
        "p0"
    );

    let mut events1 = latches[1].leadership_events();
    assert_eq!(events1.next().await, Some(LeadershipEvent::NotLeader));
    let mut events0 = latches[0].leadership_events();
    let t0 = latches[0].fencing_token().expect("token");
    assert_eq!(
        events0.next().await,
        Some(LeadershipEvent::Leader { token: t0 })
    );

    latches[0]
        .close(CloseMode::NotifyLeader)
        .await
        .expect("close");
    assert_eq!(events0.next().await, Some(LeadershipEvent::NotLeader));
    assert_eq!(events0.next().await, None);
    assert!(!latches[0].has_leadership());
    let ev = tokio::time::timeout(Duration::from_secs(10), events1.next())
        .await
        .expect("p1 leads");
    let Some(LeadershipEvent::Leader { token: t1 }) = ev else {
        panic!("expected leadership, got {ev:?}");
    };
    assert!(t1 > t0);
    assert_eq!(leaders(&latches), vec!["p1"]);

    // Silent close: the stream just ends; the next participant takes over.
    latches[1].close(CloseMode::Silent).await.expect("close");
    assert_eq!(events1.next().await, None);
    assert!(latches[2]
        .await_leadership_timeout(Duration::from_secs(10))
        .await
        .expect("await"));
    assert!(latches[2].fencing_token().expect("token") > t1);
    assert_eq!(leaders(&latches), vec!["p2"]);
    latches[2].close(CloseMode::Silent).await.expect("close");
    assert!(latches[2]
        .participants()
        .await
        .expect("participants")
        .is_empty());
}

async fn hand_over_on_expiry(cs: String, upstream: SocketAddr) {
    let path = unique("latch-expiry");
    let proxy = TcpProxy::start(upstream).await.expect("proxy");
    let c0 = connect_with(&proxy.addr().to_string(), Duration::from_millis(2000)).await;
    let l0 = LeaderLatch::new(c0, path.clone(), "silent");
    l0.start().await.expect("start");
    assert!(l0
        .await_leadership_timeout(Duration::from_secs(10))
        .await
        .expect("await"));
    let l1 = LeaderLatch::new(connect(&cs).await, path.clone(), "next");
    l1.start().await.expect("start");
    let mut ev0 = l0.leadership_events();
    assert!(matches!(
        ev0.next().await,
        Some(LeadershipEvent::Leader { .. })
    ));
    let t0 = l0.fencing_token().expect("token");

    proxy.set_mode(ProxyMode::Blackhole);
    // The old leader steps down when it is disconnected (Standard policy), before the
    // session expires on the server and the other participant can take over.
    let ev = tokio::time::timeout(Duration::from_secs(10), ev0.next())
        .await
        .expect("step down");
    assert_eq!(ev, Some(LeadershipEvent::NotLeader));
    let stepped_down = Instant::now();
    assert!(l1
        .await_leadership_timeout(Duration::from_secs(20))
        .await
        .expect("await"));
    let took_over = Instant::now();
    assert!(stepped_down < took_over);
    assert!(!l0.has_leadership());
    assert!(l1.fencing_token().expect("token") > t0);
    let parts = l1.participants().await.expect("participants");
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].id, "next");

    // The old client comes back, learns its session expired, and never leads again.
    proxy.set_mode(ProxyMode::Forward);
    proxy.cut();
    assert!(
        tokio::time::timeout(Duration::from_secs(20), l0.await_leadership())
            .await
            .expect("await ends")
            .is_err()
    );
    assert!(!l0.has_leadership());
    l1.close(CloseMode::Silent).await.expect("close");
}
