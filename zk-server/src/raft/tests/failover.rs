//! Failover when the leader's connections close: fast when its process is gone, no election
//! when it is alive.

use std::time::{Duration, Instant};

use super::support::{agreed_leader, config, hello, init_tracing, listeners, start, Node};
use crate::raft::wire::Response;
use crate::raft::Consensus;

const LIMIT: Duration = Duration::from_secs(20);
/// ZooKeeper's default tickTime: heartbeats every 200 ms, election timeouts in [1, 2) s and a
/// leader lease of 2 s. Heartbeat silence alone elects no one sooner than 2 s + 1 s.
const TICK_MS: u64 = 2000;

async fn three_nodes(dir: &std::path::Path) -> Vec<Option<Node>> {
    let (members, ls) = listeners(3).await;
    let mut started = Vec::new();
    for (id, l) in (1..=3).zip(ls) {
        let mut c = config(id, &members, dir);
        c.tick_ms = TICK_MS;
        started.push(tokio::spawn(start(c, l)));
    }
    let mut nodes = Vec::new();
    for s in started {
        nodes.push(Some(s.await.expect("join")));
    }
    nodes
}

fn live(nodes: &[Option<Node>]) -> Vec<&Consensus> {
    nodes.iter().flatten().map(|(c, _)| c).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_a_stopped_leader_is_replaced_well_within_its_lease() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = three_nodes(dir.path()).await;
    let leader = agreed_leader(&live(&nodes), LIMIT).await;
    let before = live(&nodes)[0]
        .propose(b"before".to_vec())
        .await
        .expect("propose");

    let (old, _) = nodes[(leader - 1) as usize].take().expect("leader");
    let t = Instant::now();
    old.shutdown().await;
    let new_leader = agreed_leader(&live(&nodes), LIMIT).await;
    let took = t.elapsed();
    eprintln!("failover from {leader} to {new_leader} in {took:?}");
    assert_ne!(new_leader, leader);
    // Heartbeat silence cannot elect anyone before the 2 s lease plus a 1 s timeout have run
    // out; only the closed connections and the refused probe can.
    assert!(
        took < Duration::from_millis(TICK_MS / 2),
        "failover took {took:?}"
    );
    let after = live(&nodes)[0]
        .propose(b"after".to_vec())
        .await
        .expect("propose after failover");
    assert!(after > before);
    for c in live(&nodes) {
        c.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_connections_closing_from_a_live_leader_start_no_election() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = three_nodes(dir.path()).await;
    let all = live(&nodes);
    let leader = agreed_leader(&all, LIMIT).await;
    let term = all[0].metrics().term;

    // Both followers see a connection "from the leader" open and close, as if it had died.
    // The leader's peer port still accepts, so neither may end its lease or campaign.
    for f in all.iter().filter(|c| c.node_id() != leader) {
        let (s, resp) = hello(f.peer_addr(), leader, f.node_id()).await;
        assert!(matches!(resp, Response::Hello(Ok(()))), "{resp:?}");
        drop(s);
    }
    // Long enough for a (wrong) takeover to finish, short of the timers' 3 s.
    tokio::time::sleep(Duration::from_millis(TICK_MS / 2)).await;
    for c in &all {
        let m = c.metrics();
        assert_eq!(m.leader_id, Some(leader), "{m:?}");
        assert_eq!(m.term, term, "{m:?}");
    }
    for c in all {
        c.shutdown().await;
    }
}
