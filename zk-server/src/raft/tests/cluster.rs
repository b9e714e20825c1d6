//! Three nodes on 127.0.0.1: election, forwarding, failover, catch-up.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::support::{agreed_leader, config, eventually, init_tracing, listeners, start, Node};
use crate::raft::{Consensus, Role};

const LIMIT: Duration = Duration::from_secs(20);

async fn propose_many(node: &Consensus, prefix: &str, n: usize) -> u64 {
    let mut tasks = Vec::new();
    for i in 0..n {
        let node = node.clone();
        let payload = format!("{prefix}-{i}").into_bytes();
        tasks.push(tokio::spawn(async move { node.propose(payload).await }));
    }
    let mut max = 0;
    for t in tasks {
        max = max.max(t.await.expect("join").expect("propose"));
    }
    max
}

async fn all_applied(nodes: &[&Node], index: u64) {
    for (c, _) in nodes {
        c.wait_applied(index, LIMIT)
            .await
            .expect("applied everywhere");
    }
}

fn same_sequence(nodes: &[&Node], upto: u64) {
    let lists: Vec<Vec<(u64, Vec<u8>)>> = nodes
        .iter()
        .map(|(_, t)| t.items().into_iter().filter(|(i, _)| *i <= upto).collect())
        .collect();
    for (k, l) in lists.iter().enumerate().skip(1) {
        assert_eq!(
            l,
            &lists[0],
            "node {} applied a different sequence",
            nodes[k].0.node_id()
        );
    }
    for (_, t) in nodes {
        assert!(!t.out_of_order.load(Ordering::SeqCst));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_three_nodes_forward_replicate_fail_over_and_catch_up_from_snapshot() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, ls) = listeners(3).await;
    let cfgs: Vec<_> = (1..=3)
        .map(|id| {
            let mut c = config(id, &members, dir.path());
            c.snap_count = 50;
            c.tuning.log_keep_after_snapshot = Some(5);
            c
        })
        .collect();
    // All three start at once from empty directories.
    let mut started = Vec::new();
    for (cfg, l) in cfgs.iter().cloned().zip(ls) {
        started.push(tokio::spawn(start(cfg, l)));
    }
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for s in started {
        nodes.push(Some(s.await.expect("join")));
    }
    let t0 = Instant::now();
    let refs: Vec<&Consensus> = nodes.iter().flatten().map(|(c, _)| c).collect();
    let leader = agreed_leader(&refs, LIMIT).await;
    eprintln!(
        "3 nodes: leader {leader} elected {:?} after start",
        t0.elapsed()
    );

    // Propose through a follower: forwarded to the leader.
    let follower = (1..=3).find(|i| *i != leader).expect("a follower");
    let f = nodes[(follower - 1) as usize]
        .as_ref()
        .map(|(c, _)| c.clone())
        .expect("node");
    let t1 = Instant::now();
    let max1 = propose_many(&f, "a", 100).await;
    eprintln!(
        "3 nodes: 100 concurrent proposals via a follower in {:?}",
        t1.elapsed()
    );
    let all: Vec<&Node> = nodes.iter().flatten().collect();
    all_applied(&all, max1).await;
    same_sequence(&all, max1);
    let rb = f.read_barrier().await.expect("follower read barrier");
    assert!(rb >= max1);
    f.wait_applied(rb, LIMIT).await.expect("apply read index");
    let lc = nodes[(leader - 1) as usize]
        .as_ref()
        .map(|(c, _)| c.clone())
        .expect("leader");
    let m = eventually("the leader's view of its followers", LIMIT, || {
        let m = lc.metrics();
        (m.followers.len() == 2 && m.followers.values().all(|x| x.is_some_and(|i| i >= max1)))
            .then_some(m)
    })
    .await;
    assert_eq!(m.role, Role::Leader);
    // Where the leader's log ends when it is killed (nothing is proposed in between).
    let old_last = m.last_log_index.max(max1);

    // Kill the leader: a new one within a bounded time, and proposals continue.
    let (old, _) = nodes[(leader - 1) as usize].take().expect("leader node");
    let t2 = Instant::now();
    old.shutdown().await;
    let rest: Vec<&Consensus> = nodes.iter().flatten().map(|(c, _)| c).collect();
    let new_leader = agreed_leader(&rest, LIMIT).await;
    let failover = t2.elapsed();
    eprintln!("3 nodes: failover to {new_leader} in {failover:?}");
    assert_ne!(new_leader, leader);
    let some = rest[0].clone();
    let max2 = propose_many(&some, "b", 150).await;
    let rest_nodes: Vec<&Node> = nodes.iter().flatten().collect();
    all_applied(&rest_nodes, max2).await;
    same_sequence(&rest_nodes, max2);
    // A leader keeps the log a lagging (here: dead) follower still needs, but the surviving
    // follower snapshotted and purged past the old leader's log. Hand it the leadership so
    // the restarted node has to catch up by snapshot transfer.
    let survivor = rest
        .iter()
        .find(|c| c.node_id() != new_leader)
        .map(|c| (*c).clone())
        .expect("survivor");
    eventually("the follower's snapshot and purge", LIMIT, || {
        survivor
            .metrics()
            .purged_index
            .is_some_and(|p| p > max1)
            .then_some(())
    })
    .await;
    let leader_node = rest
        .iter()
        .find(|c| c.node_id() == new_leader)
        .map(|c| (*c).clone())
        .expect("leader");
    leader_node
        .transfer_leadership(survivor.node_id())
        .await
        .expect("transfer");
    let sid = survivor.node_id();
    eventually("leadership moved to the purged follower", LIMIT, || {
        (survivor.is_leader() && leader_node.leader_id() == Some(sid)).then_some(())
    })
    .await;

    // The old leader restarts from its directory and catches up.
    let l = tokio::net::TcpListener::bind(&members[&leader])
        .await
        .expect("rebind");
    let t3 = Instant::now();
    let back = start(cfgs[(leader - 1) as usize].clone(), l).await;
    back.0
        .wait_applied(max2, LIMIT)
        .await
        .expect("restarted node caught up");
    eprintln!("3 nodes: restarted node caught up in {:?}", t3.elapsed());
    // The state came by snapshot: it holds a snapshot past its old log, and it appended
    // fewer entries than were written after its log ended (had it replayed them all, it
    // would have appended every one). How many it appended depends on when the survivor's
    // snapshot was taken among the 150 writes, so no fixed number bounds it.
    let bm = eventually("the installed snapshot in the metrics", LIMIT, || {
        let m = back.0.metrics();
        m.snapshot_index.is_some_and(|s| s > max1).then_some(m)
    })
    .await;
    assert!(
        bm.wal.entries_appended < bm.last_log_index - old_last,
        "appended {} entries, {} were written after its log's end at {old_last}: {bm:?}",
        bm.wal.entries_appended,
        bm.last_log_index - old_last
    );
    nodes[(leader - 1) as usize] = Some(back);
    let all: Vec<&Node> = nodes.iter().flatten().collect();
    same_sequence(&all, max2);

    // And everyone keeps going together.
    let max3 = propose_many(
        &nodes[(leader - 1) as usize].as_ref().expect("node").0,
        "c",
        20,
    )
    .await;
    all_applied(&all, max3).await;
    same_sequence(&all, max3);
    for (c, _) in all {
        c.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_two_of_three_form_the_cluster_when_the_lowest_never_starts() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(3).await;
    drop(ls.remove(0)); // node 1 never starts
    let mut nodes = Vec::new();
    for (id, l) in (2..=3).zip(ls) {
        let mut c = config(id, &members, dir.path());
        c.tuning.bootstrap_grace = Duration::from_millis(300);
        nodes.push(start(c, l).await);
    }
    let refs: Vec<&Consensus> = nodes.iter().map(|(c, _)| c).collect();
    let leader = agreed_leader(&refs, LIMIT).await;
    assert!(leader == 2 || leader == 3);
    let max = propose_many(&nodes[0].0, "x", 10).await;
    let all: Vec<&Node> = nodes.iter().collect();
    all_applied(&all, max).await;
    same_sequence(&all, max);
    for (c, _) in &nodes {
        c.shutdown().await;
    }
}
