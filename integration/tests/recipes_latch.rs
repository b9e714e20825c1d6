//! LeaderLatch against zk-server and Apache ZooKeeper: one leader at a time, hand-over when
//! the leader closes and when its session expires, participants, events and fencing tokens;
//! under the Session error policy, leadership kept across a cut connection and lost at
//! expiry.

mod recipes_common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use integration::proxy::{ProxyMode, TcpProxy};
use recipes_common::{connect, connect_with, is_curator_name, unique};
use zk_core::SessionState;
use zk_recipes::protected::node_name;
use zk_recipes::{CloseMode, ErrorPolicy, LeaderLatch, LeadershipEvent, RetryPolicy};

both_targets! {
    one_leader_and_hand_over_on_close => hand_over_on_close;
    hand_over_when_the_leader_session_expires => hand_over_on_expiry;
    session_policy_keeps_leadership_across_a_cut_and_loses_it_at_expiry => session_policy;
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

/// Waits (bounded) for `want` on a session state stream.
async fn wait_state(
    what: &str,
    states: &mut (impl futures::Stream<Item = SessionState> + Unpin),
    want: SessionState,
    bound: Duration,
) -> Instant {
    let found = tokio::time::timeout(bound, async {
        while let Some(s) = states.next().await {
            if s == want {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{what}: no {want:?} within {bound:?}");
    Instant::now()
}

/// Under ErrorPolicy::Session only the end of the session loses leadership: a connection cut
/// (reconnects refused for a while, well inside the session timeout) leaves the leader
/// leading on the same node, with no event on either side. When the network goes silent for
/// good, the leader keeps leading while merely disconnected, the server expires its session
/// and the other participant takes over with a larger token; the old leader gives up once it
/// has been disconnected for a whole session timeout (without hearing from the server), and
/// learns of the expiry when it gets through again.
async fn session_policy(cs: String, upstream: SocketAddr) {
    // Long enough that the client's reconnect backoff (up to ~1.5 s into a refusal of
    // 0.8 s) gets through before the server could expire the session (no earlier than 2/3 of
    // the timeout after the cut, as the client's last ping may be a third of it old).
    const T: Duration = Duration::from_millis(4000);
    let path = unique("latch-session-policy");
    let proxy = TcpProxy::start(upstream).await.expect("proxy");
    let c0 = connect_with(&proxy.addr().to_string(), T).await;
    assert_eq!(c0.session_timeout(), T);
    let l0 = LeaderLatch::with_policies(
        c0.clone(),
        path.clone(),
        "a",
        RetryPolicy::default(),
        ErrorPolicy::Session,
    );
    l0.start().await.expect("start a");
    assert!(l0
        .await_leadership_timeout(Duration::from_secs(10))
        .await
        .expect("await"));
    let l1 = LeaderLatch::with_policies(
        connect(&cs).await,
        path.clone(),
        "b",
        RetryPolicy::default(),
        ErrorPolicy::Session,
    );
    l1.start().await.expect("start b");
    let t0 = l0.fencing_token().expect("token");
    let node0 = l0.our_path().expect("node");
    let mut ev0 = l0.leadership_events();
    let mut ev1 = l1.leadership_events();
    assert_eq!(
        ev0.next().await,
        Some(LeadershipEvent::Leader { token: t0 })
    );
    assert_eq!(ev1.next().await, Some(LeadershipEvent::NotLeader));
    let mut states0 = c0.state_stream();
    assert_eq!(states0.next().await, Some(SessionState::Connected));
    let quiet = Duration::from_millis(300);

    // A cut, and reconnects refused for 0.8 s: disconnected, but the session lives.
    proxy.set_mode(ProxyMode::Refuse);
    proxy.cut();
    wait_state("cut", &mut states0, SessionState::Disconnected, T).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        l0.has_leadership(),
        "a gave up leadership on a disconnection"
    );
    proxy.set_mode(ProxyMode::Forward);
    wait_state("reconnect", &mut states0, SessionState::Connected, T).await;
    assert!(
        tokio::time::timeout(quiet, ev0.next()).await.is_err(),
        "a's leadership changed across the cut"
    );
    assert!(
        tokio::time::timeout(quiet, ev1.next()).await.is_err(),
        "b's leadership changed across the cut"
    );
    assert_eq!(l0.fencing_token(), Some(t0));
    assert_eq!(l0.our_path(), Some(node0));
    assert!(!l1.has_leadership());
    let parts = l1.participants().await.expect("participants");
    let ids: Vec<_> = parts.iter().map(|p| (p.id.as_str(), p.is_leader)).collect();
    assert_eq!(ids, vec![("a", true), ("b", false)]);

    // Silence for good: the session expires on the server.
    proxy.set_mode(ProxyMode::Blackhole);
    let disconnected = wait_state("silence", &mut states0, SessionState::Disconnected, T).await;
    assert!(
        l0.has_leadership(),
        "a gave up leadership on a disconnection"
    );
    let ev = tokio::time::timeout(T + Duration::from_secs(10), ev1.next())
        .await
        .expect("b takes over once a's session expired");
    let Some(LeadershipEvent::Leader { token: t1 }) = ev else {
        panic!("expected b to lead, got {ev:?}");
    };
    assert!(t1 > t0, "token {t1} not above {t0}");
    // a cannot hear of the expiry, but gives up once disconnected for a session timeout.
    let ev = tokio::time::timeout(T + Duration::from_secs(5), ev0.next())
        .await
        .expect("a gives up while still cut off");
    assert_eq!(ev, Some(LeadershipEvent::NotLeader));
    let waited = disconnected.elapsed();
    assert!(
        waited >= T * 9 / 10,
        "a gave up {waited:?} after the disconnection, before a session timeout"
    );
    assert!(!l0.has_leadership());
    assert_eq!(c0.state(), SessionState::Disconnected);

    // Back on the network: a learns its session expired and never leads again.
    proxy.cut();
    proxy.set_mode(ProxyMode::Forward);
    wait_state("expiry learned", &mut states0, SessionState::Expired, T * 3).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(10), l0.await_leadership())
            .await
            .expect("await ends")
            .is_err()
    );
    assert!(!l0.has_leadership());
    assert_eq!(l1.fencing_token(), Some(t1));
    let parts = l1.participants().await.expect("participants");
    let ids: Vec<_> = parts.iter().map(|p| (p.id.as_str(), p.is_leader)).collect();
    assert_eq!(ids, vec![("b", true)]);
    l1.close(CloseMode::Silent).await.expect("close");
}
