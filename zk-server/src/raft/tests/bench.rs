//! Throughput and failover measurements (ignored by default; run with
//! `cargo test --release -p zk-server raft_bench -- --ignored --nocapture --test-threads=1`).

use std::time::{Duration, Instant};

use super::support::{agreed_leader, config, eventually, listeners, start};
use crate::raft::Consensus;

const LIMIT: Duration = Duration::from_secs(30);

async fn run_clients(
    node: &Consensus,
    clients: usize,
    per_client: usize,
    size: usize,
) -> (Duration, u64) {
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for i in 0..per_client {
                let mut p = vec![0u8; size];
                p[..8].copy_from_slice(&((c * per_client + i) as u64).to_be_bytes());
                last = last.max(node.propose(p).await.expect("propose"));
            }
            last
        }));
    }
    let mut max = 0;
    for t in tasks {
        max = max.max(t.await.expect("join"));
    }
    (t0.elapsed(), max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn raft_bench_single_node_throughput() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let mut cfg = config(1, &members, dir.path());
    cfg.tuning.wal_segment_bytes = 64 << 20;
    let (node, _t) = start(cfg, ls.remove(0)).await;
    eventually("leader", LIMIT, || node.is_leader().then_some(())).await;
    for (clients, per) in [(1usize, 500usize), (16, 500), (64, 500), (256, 100)] {
        let before = node.metrics().wal;
        let (el, max) = run_clients(&node, clients, per, 200).await;
        node.wait_applied(max, LIMIT).await.expect("applied");
        let after = node.metrics().wal;
        let n = clients * per;
        let fsyncs = after.fsyncs - before.fsyncs;
        eprintln!(
            "single node, {clients:>3} in flight, 200-byte entries: {:>7.0} proposals/s, {:.1} entries per fsync ({fsyncs} fsyncs)",
            n as f64 / el.as_secs_f64(),
            (after.entries_appended - before.entries_appended) as f64 / fsyncs.max(1) as f64,
        );
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn raft_bench_three_nodes_throughput_and_failover() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, ls) = listeners(3).await;
    let mut nodes = Vec::new();
    let mut cfgs = Vec::new();
    for (id, l) in (1..=3).zip(ls) {
        let mut c = config(id, &members, dir.path());
        c.tuning.wal_segment_bytes = 64 << 20;
        cfgs.push(c.clone());
        nodes.push(Some(start(c, l).await));
    }
    let refs: Vec<&Consensus> = nodes.iter().flatten().map(|(c, _)| c).collect();
    let leader = agreed_leader(&refs, LIMIT).await;
    let lc = refs[(leader - 1) as usize].clone();
    let fc = refs
        .iter()
        .find(|c| c.node_id() != leader)
        .map(|c| (*c).clone())
        .expect("follower");
    for (name, node) in [("leader", &lc), ("follower", &fc)] {
        for (clients, per) in [(1usize, 300usize), (64, 200)] {
            let (el, max) = run_clients(node, clients, per, 200).await;
            node.wait_applied(max, LIMIT).await.expect("applied");
            eprintln!(
                "3 nodes, proposing on the {name}, {clients:>2} in flight: {:>7.0} proposals/s",
                (clients * per) as f64 / el.as_secs_f64()
            );
        }
    }
    eprintln!(
        "3 nodes, tickTime {} ms: failover times {:?}",
        super::support::TICK_MS,
        failovers(&mut nodes, &members, &cfgs, 5).await
    );
    for (c, _) in nodes.iter().flatten() {
        c.shutdown().await;
    }
}

type Nodes = Vec<Option<super::support::Node>>;

/// Shuts the leader down `runs` times, timing until the others agree on a new one, and
/// restarts it each time.
async fn failovers(
    nodes: &mut Nodes,
    members: &std::collections::BTreeMap<u64, String>,
    cfgs: &[crate::raft::ConsensusConfig],
    runs: usize,
) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let refs: Vec<&Consensus> = nodes.iter().flatten().map(|(c, _)| c).collect();
        let leader = agreed_leader(&refs, LIMIT).await;
        let (old, _) = nodes[(leader - 1) as usize].take().expect("node");
        let t0 = Instant::now();
        old.shutdown().await;
        let rest: Vec<&Consensus> = nodes.iter().flatten().map(|(c, _)| c).collect();
        agreed_leader(&rest, LIMIT).await;
        times.push(t0.elapsed());
        let l = tokio::net::TcpListener::bind(&members[&leader])
            .await
            .expect("rebind");
        nodes[(leader - 1) as usize] = Some(start(cfgs[(leader - 1) as usize].clone(), l).await);
        let all: Vec<&Consensus> = nodes.iter().flatten().map(|(c, _)| c).collect();
        agreed_leader(&all, LIMIT).await;
    }
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn raft_bench_failover_at_default_tick_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, ls) = listeners(3).await;
    let mut nodes = Vec::new();
    let mut cfgs = Vec::new();
    for (id, l) in (1..=3).zip(ls) {
        let mut c = config(id, &members, dir.path());
        c.tick_ms = 2000;
        cfgs.push(c.clone());
        nodes.push(Some(start(c, l).await));
    }
    eprintln!(
        "3 nodes, tickTime 2000 ms: failover times {:?}",
        failovers(&mut nodes, &members, &cfgs, 3).await
    );
    for (c, _) in nodes.iter().flatten() {
        c.shutdown().await;
    }
}
