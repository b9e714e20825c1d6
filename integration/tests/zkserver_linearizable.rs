//! A register workload on a 3-server `TestingCluster` under partitions and crashes, its history
//! checked for linearizability (`integration::linearizability`).
//!
//! Five sessions (connected to all three servers) run reads, unconditional writes and
//! versioned compare-and-sets on three znodes, each write with a value never written before.
//! A read is `sync` then `getData`: plain reads in ZooKeeper are only sequentially consistent
//! (a follower may be behind), `sync` + read is linearizable. Meanwhile a seeded driver
//! isolates a member, pauses it (all its traffic held), cuts one link, or kills and restarts
//! a member, again and again.
//! Requests that end with ConnectionLoss or a timeout are recorded as of unknown outcome
//! (they may or may not have happened). Then:
//!
//! - the history must be linearizable (one register per znode);
//! - every create that was acknowledged must be there at the end.
//!
//! `ZK_CHAOS_SECS` (default 15) and `ZK_CHAOS_SEED` as in `recipes_chaos`.

use integration::chaos::{chaos_seed, chaos_time};
use std::sync::Arc;
use std::time::Duration;

use integration::linearizability::{Checker, History, Op, OpError, Outcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use zk_core::{Client, CreateMode, CreateOptions, Error};
use zk_server::testing::TestingCluster;

const CLIENTS: u64 = 5;
const KEYS: usize = 3;
const SESSION: Duration = Duration::from_secs(4);
/// One request's bound: past it, the outcome is unknown.
const OP_TIMEOUT: Duration = Duration::from_secs(3);

fn key(i: usize) -> String {
    format!("/reg{i}")
}

/// The outcome of a failed request: a definite error, or unknown.
fn failed(e: &Error) -> Outcome {
    match e {
        Error::NoNode => Outcome::Error(OpError::NoNode),
        Error::BadVersion => Outcome::Error(OpError::BadVersion),
        Error::NodeExists => Outcome::Error(OpError::NodeExists),
        _ => Outcome::Unknown,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_history_is_linearizable_under_partitions_and_crashes() {
    let bound = chaos_time(15) + Duration::from_secs(120);
    if tokio::time::timeout(bound, run()).await.is_err() {
        panic!("exceeded its {bound:?} bound");
    }
}

async fn run() {
    let seed = chaos_seed();
    eprintln!("linearizable register: ZK_CHAOS_SEED={seed}");
    let mut cluster = TestingCluster::start_with(3, |c| {
        c.tick_time_ms = 100;
        c.sync_limit = 5;
    })
    .await
    .expect("cluster");
    cluster
        .wait_for_leader(Duration::from_secs(20))
        .await
        .expect("leader");
    let connect = cluster.connect_string();
    let setup = Client::builder(&connect)
        .session_timeout(SESSION)
        .connect()
        .await
        .expect("connect");
    let persistent = CreateOptions::new(CreateMode::Persistent);
    for i in 0..KEYS {
        setup
            .create(&key(i), b"", &persistent)
            .await
            .expect("create key");
    }
    setup
        .create("/acked", b"", &persistent)
        .await
        .expect("create /acked");

    let history = History::new();
    let (stop, _) = watch::channel(false);
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut clients = JoinSet::new();
    for c in 0..CLIENTS {
        clients.spawn(worker(
            c,
            connect.clone(),
            history.clone(),
            stop.subscribe(),
            acked.clone(),
            seed ^ (c + 1),
        ));
    }
    let faults = faults(&mut cluster, seed, chaos_time(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send_replace(true);
    while let Some(r) = clients.join_next().await {
        r.expect("worker");
    }

    let entries = history.entries();
    let mut checker = Checker::new();
    for i in 0..KEYS {
        checker = checker.initial_state(key(i), Some((Vec::new(), 0)));
    }
    let report = match checker.check(&entries) {
        Ok(r) => r,
        Err(v) => panic!(
            "the history of {} operations is not linearizable:\n{v}",
            entries.len()
        ),
    };
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    eprintln!(
        "linearizable register (seed {seed}): {} operations ({} of unknown outcome), {} states \
         explored, {faults} faults; {} acknowledged creates",
        report.total_ops(),
        report.total_unknown(),
        report.total_states(),
        acked.len()
    );

    // Every acknowledged create is there, read through a linearizable sync.
    cluster
        .wait_for_leader(Duration::from_secs(20))
        .await
        .expect("leader at the end");
    let reader = Client::builder(&cluster.connect_string())
        .session_timeout(SESSION)
        .connect()
        .await
        .expect("connect at the end");
    reader.sync("/acked").await.expect("sync");
    let children = reader.get_children("/acked").await.expect("children");
    for path in &acked {
        let name = path.trim_start_matches("/acked/");
        assert!(
            children.iter().any(|c| c == name),
            "acknowledged create {path} is missing"
        );
    }
    // Enough happened for the check to mean something.
    assert!(
        report.total_ops() >= 500,
        "only {} operations",
        report.total_ops()
    );
    assert!(faults >= 5, "only {faults} faults");
    assert!(
        acked.len() >= 50,
        "only {} acknowledged creates",
        acked.len()
    );
}

async fn worker(
    c: u64,
    connect: String,
    history: History,
    mut stop: watch::Receiver<bool>,
    acked: Arc<std::sync::Mutex<Vec<String>>>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0u64;
    let mut client: Option<Client> = None;
    while !*stop.borrow() {
        let cl = match &client {
            Some(cl) if !cl.state().is_terminal() => cl.clone(),
            _ => {
                let connected = tokio::select! {
                    r = Client::builder(&connect).session_timeout(SESSION).connect() => r,
                    _ = stop.wait_for(|s| *s) => return,
                };
                match connected {
                    Ok(cl) => {
                        client = Some(cl.clone());
                        cl
                    }
                    Err(_) => continue,
                }
            }
        };
        n += 1;
        let k = key(rng.gen_range(0..KEYS));
        let value = format!("c{c}-{n}").into_bytes();
        match rng.gen_range(0..100) {
            0..=39 => {
                let p = history.begin(c, &k, Op::Read);
                let read = async {
                    cl.sync(&k).await?;
                    cl.get_data(&k).await
                };
                match tokio::time::timeout(OP_TIMEOUT, read).await {
                    Ok(Ok((data, stat))) => {
                        p.end(Outcome::Value(Some((data.to_vec(), stat.version))))
                    }
                    Ok(Err(e)) => p.end(match failed(&e) {
                        Outcome::Error(OpError::NoNode) => Outcome::Value(None),
                        other => other,
                    }),
                    Err(_) => p.end(Outcome::Unknown),
                }
            }
            40..=64 => {
                let p = history.begin(
                    c,
                    &k,
                    Op::Write {
                        value: value.clone(),
                    },
                );
                match tokio::time::timeout(OP_TIMEOUT, cl.set_data(&k, &value, None)).await {
                    Ok(Ok(stat)) => p.end(Outcome::Version(stat.version)),
                    Ok(Err(e)) => p.end(failed(&e)),
                    Err(_) => p.end(Outcome::Unknown),
                }
            }
            65..=89 => {
                // Compare-and-set against a version seen recently (or a guess).
                let expected = match tokio::time::timeout(OP_TIMEOUT, cl.exists(&k)).await {
                    Ok(Ok(Some(stat))) => stat.version,
                    _ => rng.gen_range(0..5),
                };
                let op = Op::Cas {
                    value: value.clone(),
                    expected_version: expected,
                };
                let p = history.begin(c, &k, op);
                match tokio::time::timeout(OP_TIMEOUT, cl.set_data(&k, &value, Some(expected)))
                    .await
                {
                    Ok(Ok(stat)) => p.end(Outcome::Version(stat.version)),
                    Ok(Err(e)) => p.end(failed(&e)),
                    Err(_) => p.end(Outcome::Unknown),
                }
            }
            _ => {
                let path = format!("/acked/c{c}-{n}");
                let create = cl.create(&path, b"", &CreateOptions::new(CreateMode::Persistent));
                if let Ok(Ok(_)) = tokio::time::timeout(OP_TIMEOUT, create).await {
                    acked.lock().unwrap_or_else(|p| p.into_inner()).push(path);
                }
            }
        }
    }
    if let Some(cl) = client {
        let _ = tokio::time::timeout(Duration::from_secs(3), cl.close()).await;
    }
}

/// Faults until `run` has passed; returns how many.
async fn faults(cluster: &mut TestingCluster, seed: u64, run: Duration) -> usize {
    let mut rng = StdRng::seed_from_u64(seed.rotate_left(17));
    let ids = cluster.ids();
    let until = Instant::now() + run;
    let mut n = 0;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..600))).await;
        let target = ids[rng.gen_range(0..ids.len())];
        let other = *ids
            .iter()
            .filter(|&&i| i != target)
            .nth(rng.gen_range(0..ids.len() - 1))
            .unwrap_or(&target);
        let hold = Duration::from_millis(rng.gen_range(200..2000));
        let kill = rng.gen_range(0..100) < 25;
        match rng.gen_range(0..100) {
            _ if kill => cluster.kill(target).await,
            0..=44 => cluster.isolate(target),
            45..=69 => cluster.pause(target),
            _ => cluster.cut(target, other),
        }
        n += 1;
        tokio::time::sleep(hold).await;
        cluster.heal();
        cluster.resume(target);
        if kill {
            cluster.restart(target).await.expect("restart");
        }
        assert!(
            cluster
                .wait_for_leader(Duration::from_secs(20))
                .await
                .is_some(),
            "no serving leader within 20 s of a heal"
        );
    }
    n
}
