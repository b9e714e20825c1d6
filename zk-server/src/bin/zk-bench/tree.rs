//! The big-tree measurement: load N znodes of `value_size` bytes (1000 per parent), read the
//! server's RSS, `kill -9` it, restart it on the same data and time from process start until a
//! fresh session's getData of the last znode is answered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use zk_core::{Client, CreateMode, CreateOptions, Error};

use crate::launcher::ServerProcess;
use crate::procstat;
use crate::workload::ensure;

/// Fan-out of the loaded tree: znodes per parent.
const PER_PARENT: usize = 1000;

/// What the big-tree run measured.
#[derive(Debug, Clone)]
pub struct TreeOutcome {
    /// Znodes loaded.
    pub nodes: usize,
    /// Time to load them.
    pub load_time: Duration,
    /// RSS after the load (and a short settle), KiB.
    pub rss_loaded_kib: Option<u64>,
    /// From spawning the restarted process to the first answered request.
    pub restart_to_first_request: Duration,
    /// RSS right after the restart, KiB.
    pub rss_restarted_kib: Option<u64>,
}

fn node_path(i: usize) -> String {
    format!("/tree/p{}/n{}", i / PER_PARENT, i)
}

/// Loads the tree through `sessions` × `in_flight` pipelined creates.
pub async fn load(
    connect: &str,
    nodes: usize,
    value_size: usize,
    sessions: usize,
    in_flight: usize,
) -> Result<Duration, String> {
    let admin = Client::connect(connect)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    ensure(&admin, "/tree", b"")
        .await
        .map_err(|e| e.to_string())?;
    let parents: Vec<String> = (0..nodes.div_ceil(PER_PARENT))
        .map(|p| format!("/tree/p{p}"))
        .collect();
    for chunk in parents.chunks(512) {
        for r in join_all(
            chunk
                .iter()
                .map(|p| admin.create(p, b"", &CreateOptions::new(CreateMode::Persistent))),
        )
        .await
        {
            match r {
                Ok(_) | Err(Error::NodeExists) => {}
                Err(e) => return Err(format!("create parent: {e}")),
            }
        }
    }
    admin.close().await;

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let value: Arc<[u8]> = vec![b't'; value_size].into();
    let mut tasks = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..sessions.max(1) {
        let c = Client::builder(connect)
            .session_timeout(Duration::from_secs(30))
            .connect()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        for _ in 0..in_flight.max(1) {
            let (c, next, value) = (c.clone(), next.clone(), value.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= nodes {
                        return Ok::<(), String>(());
                    }
                    let mut tries = 0;
                    loop {
                        match c
                            .create(
                                &node_path(i),
                                &value,
                                &CreateOptions::new(CreateMode::Persistent),
                            )
                            .await
                        {
                            Ok(_) | Err(Error::NodeExists) => break,
                            Err(e) if tries < 3 => {
                                tries += 1;
                                tracing::warn!(%e, "create failed, retrying");
                            }
                            Err(e) => return Err(format!("create {}: {e}", node_path(i))),
                        }
                    }
                }
            }));
        }
        clients.push(c);
    }
    let mut last_report = Instant::now();
    for t in tasks {
        while !t.is_finished() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if last_report.elapsed() > Duration::from_secs(10) {
                last_report = Instant::now();
                eprintln!(
                    "  tree load: {} / {nodes} after {:.0?}",
                    next.load(Ordering::Relaxed).min(nodes),
                    started.elapsed()
                );
            }
        }
        t.await.map_err(|e| e.to_string())??;
    }
    let took = started.elapsed();
    for c in clients {
        c.close().await;
    }
    Ok(took)
}

/// Loads the tree into `server`, measures RSS, kills and restarts it, measures the restart.
pub async fn run(
    server: &mut ServerProcess,
    nodes: usize,
    value_size: usize,
    sessions: usize,
    in_flight: usize,
) -> Result<TreeOutcome, String> {
    let connect = server.connect_string();
    let load_time = load(&connect, nodes, value_size, sessions, in_flight).await?;
    // Let background work (snapshots, GC) settle before reading RSS.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_loaded_kib = server.pid().and_then(procstat::rss_kib);
    server
        .restart_after_kill9()
        .map_err(|e| format!("restart: {e}"))?;
    let probe = node_path(nodes.saturating_sub(1));
    let restart_to_first_request = server
        .wait_serving(Some(&probe), Duration::from_secs(600))
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_restarted_kib = server.pid().and_then(procstat::rss_kib);
    Ok(TreeOutcome {
        nodes,
        load_time,
        rss_loaded_kib,
        restart_to_first_request,
        rss_restarted_kib,
    })
}
