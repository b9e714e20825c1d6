//! A cluster of one: proposals, restart recovery, snapshots and log purge.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::support::{config, eventually, init_tracing, listeners, start};
use crate::raft::{ProposeError, Role};

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_single_node_applies_concurrent_proposals_in_order_and_survives_restart() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let mut cfg = config(1, &members, dir.path());
    // Snapshots well above this test's entry count: recovery is from the log alone.
    cfg.snap_count = 100_000;
    let (node, target) = start(cfg.clone(), ls.remove(0)).await;
    eventually("leadership", LIMIT, || node.is_leader().then_some(())).await;
    assert_eq!(node.metrics().role, Role::Leader);

    let n = 1000usize;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let idx = node
                .propose(format!("p{i}").into_bytes())
                .await
                .expect("propose");
            (i, idx)
        }));
    }
    let mut indexes = Vec::new();
    for t in tasks {
        indexes.push(t.await.expect("join"));
    }
    let elapsed = t0.elapsed();
    let wal = node.metrics().wal;
    eprintln!(
        "single node: {n} concurrent proposals in {elapsed:?} ({:.0}/s), {} fsyncs, {:.1} entries per fsync",
        n as f64 / elapsed.as_secs_f64(),
        wal.fsyncs,
        wal.entries_appended as f64 / wal.fsyncs.max(1) as f64
    );
    let distinct: BTreeSet<u64> = indexes.iter().map(|(_, i)| *i).collect();
    assert_eq!(distinct.len(), n, "every proposal got its own index");
    let max = *distinct.iter().next_back().expect("max");
    node.wait_applied(max, LIMIT).await.expect("applied");
    assert!(node.applied_index() >= max);
    assert!(node.committed_index() >= max);
    let items = target.items();
    assert_eq!(items.len(), n);
    assert!(
        !target.out_of_order.load(Ordering::SeqCst),
        "apply saw indexes out of order"
    );
    for w in items.windows(2) {
        assert!(w[0].0 < w[1].0);
    }
    for (i, idx) in &indexes {
        let pos = items
            .binary_search_by_key(idx, |(x, _)| *x)
            .expect("applied at its index");
        assert_eq!(items[pos].1, format!("p{i}").into_bytes());
    }

    // A read barrier on the leader is at least everything committed so far.
    let rb = node.read_barrier().await.expect("read barrier");
    assert!(rb >= max);
    node.wait_applied(rb, LIMIT)
        .await
        .expect("apply read index");

    node.shutdown().await;
    assert_eq!(
        node.propose(b"late".to_vec()).await,
        Err(ProposeError::Shutdown)
    );

    // Restart from the same directory: the log is replayed into a fresh target.
    let l = tokio::net::TcpListener::bind(&members[&1])
        .await
        .expect("rebind");
    let t0 = Instant::now();
    let (node, target2) = start(cfg, l).await;
    node.wait_applied(max, LIMIT)
        .await
        .expect("re-applied after restart");
    eventually("leadership after restart", LIMIT, || {
        node.is_leader().then_some(())
    })
    .await;
    eprintln!("single node: restart to leader in {:?}", t0.elapsed());
    assert_eq!(target2.items(), items, "state restored exactly");
    let next = node
        .propose(b"after".to_vec())
        .await
        .expect("propose after restart");
    assert!(next > max);
    node.wait_applied(next, LIMIT).await.expect("applied");
    assert_eq!(
        target2.items().last().map(|(i, d)| (*i, d.clone())),
        Some((next, b"after".to_vec()))
    );
    node.shutdown().await;
}

/// Proposals handed to the core one after another without waiting (the proposer's pipeline)
/// get increasing indexes in the order they were handed over, and all commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_single_node_pipelined_submissions_keep_their_order() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let cfg = config(1, &members, dir.path());
    let (node, target) = start(cfg, ls.remove(0)).await;
    let term = eventually("leadership", LIMIT, || node.leader_term()).await;
    let mut pending = Vec::new();
    for i in 0..300u32 {
        pending.push(
            node.submit_as_leader(i.to_be_bytes().to_vec(), &term)
                .await
                .expect("submit"),
        );
    }
    let mut indexes = Vec::new();
    for p in pending {
        indexes.push(p.await.expect("committed"));
    }
    assert!(
        indexes.windows(2).all(|w| w[0] < w[1]),
        "indexes follow submission order: {indexes:?}"
    );
    let payloads: Vec<u32> = target
        .items()
        .iter()
        .filter_map(|(_, p)| p.as_slice().try_into().ok().map(u32::from_be_bytes))
        .collect();
    assert_eq!(payloads, (0..300).collect::<Vec<_>>());
    node.shutdown().await;
}

/// A submission under a term this node no longer (or never) leads is refused, not appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_single_node_submission_under_a_stale_term_is_not_appended() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let cfg = config(1, &members, dir.path());
    let (node, target2) = start(cfg, ls.remove(0)).await;
    let new_term = eventually("leadership", LIMIT, || node.leader_term()).await;
    // A term below the current one (as if leadership had been lost and regained since).
    let term = crate::raft::LeaderTerm(crate::raft::types::LeaderId {
        term: new_term.0.term - 1,
        node_id: 1,
    });
    let before = target2.items().len();
    let res = node
        .submit_as_leader(b"stale".to_vec(), &term)
        .await
        .expect("submit")
        .await;
    assert!(
        matches!(res, Err(ProposeError::NotLeader { .. })),
        "{res:?}"
    );
    let idx = node
        .submit_as_leader(b"fresh".to_vec(), &new_term)
        .await
        .expect("submit")
        .await
        .expect("commit");
    node.wait_applied(idx, LIMIT).await.expect("applied");
    let items = target2.items();
    assert_eq!(items.len(), before + 1);
    assert!(items.iter().all(|(_, p)| p != b"stale"));
    node.shutdown().await;
}

/// snapCount counts transactions, as in ZooKeeper: entries that carry many of them (batches)
/// bring the snapshot sooner than their number of log entries would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_single_node_snapshots_after_snap_count_transactions_not_entries() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let mut cfg = config(1, &members, dir.path());
    cfg.snap_count = 100;
    let (node, target) = start(cfg.clone(), ls.remove(0)).await;
    eventually("leadership", LIMIT, || node.is_leader().then_some(())).await;
    target.weight.store(50, Ordering::SeqCst);
    // 3 entries of 50 transactions pass any interval drawn in [51, 100] transactions; as
    // log entries they would be far below it.
    let mut last = 0;
    for i in 0..3u32 {
        last = node
            .propose(i.to_be_bytes().to_vec())
            .await
            .expect("propose");
    }
    node.wait_applied(last, LIMIT).await.expect("applied");
    let m = eventually("a snapshot", LIMIT, || {
        let m = node.metrics();
        m.snapshot_index.is_some().then_some(m)
    })
    .await;
    assert!(m.snapshot_index.is_some_and(|s| s <= last), "{m:?}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_single_node_snapshots_at_snap_count_purges_the_log_and_restores_from_snapshot() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let mut cfg = config(1, &members, dir.path());
    cfg.snap_count = 100;
    cfg.tuning.log_keep_after_snapshot = Some(10);
    cfg.tuning.wal_segment_bytes = 2048;
    let (node, target) = start(cfg.clone(), ls.remove(0)).await;
    eventually("leadership", LIMIT, || node.is_leader().then_some(())).await;
    let mut last = 0;
    for i in 0..450u32 {
        last = node
            .propose(i.to_be_bytes().to_vec())
            .await
            .expect("propose");
    }
    node.wait_applied(last, LIMIT).await.expect("applied");
    let m = eventually("a snapshot and a purge", LIMIT, || {
        let m = node.metrics();
        (m.snapshot_index.is_some_and(|s| s >= 300) && m.purged_index.is_some_and(|p| p >= 250))
            .then_some(m)
    })
    .await;
    let snap_dir = cfg.snapshot_dir.clone();
    let snaps: Vec<_> = std::fs::read_dir(&snap_dir)
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".snap"))
        .collect();
    assert!(
        snaps.len() >= 3,
        "one snapshot per snapCount entries, got {}",
        snaps.len()
    );
    // Old WAL segments were deleted: what remains is far smaller than 450 entries' worth.
    eprintln!("after 450 entries with snapCount 100: {m:?}");
    assert!(m.wal.segments < 20, "segments {}", m.wal.segments);
    // Retention keeps the newest N.
    assert!(node.purge_snapshots(3).expect("purge") >= snaps.len().saturating_sub(3));
    let items = target.items();
    node.shutdown().await;

    // Restart: restored from the newest snapshot plus the log after it.
    let l = tokio::net::TcpListener::bind(&members[&1])
        .await
        .expect("rebind");
    let (node, target2) = start(cfg.clone(), l).await;
    node.wait_applied(last, LIMIT).await.expect("restored");
    assert_eq!(target2.items(), items);
    let m = node.metrics();
    assert!(m.snapshot_index.is_some());
    node.shutdown().await;

    // A damaged newest snapshot is not skipped: the node refuses to start and names it.
    let newest = std::fs::read_dir(&snap_dir)
        .expect("ls")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "snap"))
        .max()
        .expect("a snapshot");
    let mut bytes = std::fs::read(&newest).expect("read");
    bytes[10] ^= 0xff;
    std::fs::write(&newest, &bytes).expect("write");
    let l = tokio::net::TcpListener::bind(&members[&1])
        .await
        .expect("rebind");
    let err = crate::raft::Consensus::start_with_listener(
        cfg,
        std::sync::Arc::new(super::support::ListTarget::default()),
        l,
    )
    .await
    .expect_err("must refuse a damaged snapshot");
    let name = newest
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    eprintln!("refused: {err}");
    assert!(err.to_string().contains(&name), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_single_node_refuses_to_start_on_a_corrupt_log() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let cfg = config(1, &members, dir.path());
    let (node, _t) = start(cfg.clone(), ls.remove(0)).await;
    eventually("leadership", LIMIT, || node.is_leader().then_some(())).await;
    for i in 0..20u32 {
        node.propose(i.to_be_bytes().to_vec())
            .await
            .expect("propose");
    }
    node.shutdown().await;
    // Damage a byte in the middle of the first segment.
    let seg = cfg.log_dir.join("wal-00000000000000000001.log");
    let mut bytes = std::fs::read(&seg).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&seg, &bytes).expect("write");
    let l = tokio::net::TcpListener::bind(&members[&1])
        .await
        .expect("rebind");
    let err = crate::raft::Consensus::start_with_listener(
        cfg,
        std::sync::Arc::new(super::support::ListTarget::default()),
        l,
    )
    .await
    .expect_err("must refuse");
    let msg = err.to_string();
    assert!(
        msg.contains("wal-00000000000000000001.log") && msg.contains("byte offset"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_single_node_keeps_serving_when_snapshots_fail() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let mut cfg = config(1, &members, dir.path());
    cfg.snap_count = 20;
    let target = std::sync::Arc::new(super::support::ListTarget::default());
    target.fail_snapshots.store(true, Ordering::SeqCst);
    let node = crate::raft::Consensus::start_with_listener(cfg, target.clone(), ls.remove(0))
        .await
        .expect("start");
    eventually("leadership", LIMIT, || node.is_leader().then_some(())).await;
    let mut last = 0;
    for i in 0..100u32 {
        last = node
            .propose(i.to_be_bytes().to_vec())
            .await
            .expect("propose despite failing snapshots");
    }
    node.wait_applied(last, LIMIT).await.expect("applied");
    let m = node.metrics();
    assert_eq!(m.role, Role::Leader);
    assert_eq!(m.snapshot_index, None);
    assert_eq!(m.purged_index, None, "nothing purged without a snapshot");
    assert_eq!(target.items().len(), 100);
    node.shutdown().await;
}
