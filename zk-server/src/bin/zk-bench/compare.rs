//! Compare mode: the same workloads against zk-server and Apache ZooKeeper, each workload on a
//! server freshly started from the same zoo.cfg with a fresh data directory, in one run; then
//! the big-tree measurement on each; then the markdown report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::launcher::{
    free_port, work_root, write_zoo_cfg, Kind, Launch, LaunchArgs, ServerProcess,
};
use crate::outcome::Outcome;
use crate::report::{markdown, ServerResults};
use crate::workload::{LoadArgs, Workload};
use crate::{driver, procstat, tree};

/// Compare-mode options.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The load shape.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Znodes in the big-tree RSS / restart measurement (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub tree_nodes: usize,
    /// Value size of the big-tree znodes.
    #[arg(long, default_value_t = 100)]
    pub tree_value_size: usize,
    /// Where to write the markdown report.
    #[arg(long, default_value = "zk-bench-compare.md")]
    pub out: PathBuf,
    /// Binaries, jars and the work directory.
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Apache heap limit (-Xmx) in MiB.
    #[arg(long, default_value_t = 2048)]
    pub apache_heap_mb: u32,
}

/// Starts `kind` from a fresh zoo.cfg + data directory under `root`.
pub async fn start_server(
    kind: Kind,
    launch: &Launch,
    root: &Path,
    tag: &str,
) -> Result<ServerProcess, String> {
    let dir = root.join(format!("{}-{tag}", kind.name()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let port = free_port().map_err(|e| e.to_string())?;
    let cfg = dir.join("zoo.cfg");
    write_zoo_cfg(&cfg, &data, port).map_err(|e| e.to_string())?;
    let mut s = ServerProcess::spawn(kind, launch, &cfg, port, &dir.join("server.log"))
        .map_err(|e| e.to_string())?;
    s.wait_serving(None, Duration::from_secs(60)).await?;
    Ok(s)
}

/// Runs `w` with `load` on a freshly started server with an empty data directory, so every
/// workload meets the same state on both servers (a faster create phase would otherwise leave
/// a bigger tree, and bigger snapshots, for the workloads after it) and none pays for the
/// garbage or snapshots of the one before.
async fn run_fresh(
    kind: Kind,
    launch: &Launch,
    root: &Path,
    w: Workload,
    load: &LoadArgs,
    tag: &str,
) -> Result<Outcome, String> {
    let r = match start_server(kind, launch, root, tag).await {
        Ok(server) => {
            let r = driver::run(w, &server.connect_string(), server.pid(), load).await;
            drop(server);
            r
        }
        Err(e) => Err(format!("server did not start: {e}")),
    };
    match &r {
        Ok(o) => eprintln!("  {}", o.line()),
        Err(e) => eprintln!("  {w}: failed: {e}"),
    }
    r
}

/// The offered rate of the equal-load pass for `w`: 80 % of the slower server's closed-loop
/// throughput, so both can sustain it; `None` for watch-fanout (its own driver, no pacing) or
/// when either closed-loop run failed.
fn equal_rate(w: Workload, ours: &ServerResults, apache: &ServerResults) -> Option<f64> {
    if w == Workload::WatchFanout {
        return None;
    }
    let thr = |r: &ServerResults| {
        r.workloads
            .iter()
            .find(|(x, _)| *x == w)
            .and_then(|(_, o)| o.as_ref().ok())
            .map(Outcome::throughput)
    };
    let slower = thr(ours)?.min(thr(apache)?);
    (slower > 0.0).then(|| (slower * 0.8).round().max(1.0))
}

async fn run_one(kind: Kind, launch: &Launch, root: &Path, args: &CompareArgs) -> ServerResults {
    let mut results = ServerResults::default();
    eprintln!("== {} ==", kind.name());
    for &w in &args.load.workloads {
        let r = run_fresh(kind, launch, root, w, &args.load, &format!("load-{w}")).await;
        results.workloads.push((w, r));
    }
    if args.tree_nodes > 0 {
        let r = match start_server(kind, launch, root, "tree").await {
            Ok(mut server) => {
                tree::run(
                    &mut server,
                    args.tree_nodes,
                    args.tree_value_size,
                    args.load.sessions,
                    args.load.in_flight.max(32),
                )
                .await
            }
            Err(e) => Err(e),
        };
        match &r {
            Ok(t) => eprintln!(
                "  tree {} znodes: load {:.1?}, RSS {:?} KiB, restart→first request {:.3?}, RSS after restart {:?} KiB",
                t.nodes, t.load_time, t.rss_loaded_kib, t.restart_to_first_request, t.rss_restarted_kib
            ),
            Err(e) => eprintln!("  tree: failed: {e}"),
        }
        results.tree = Some(r);
    }
    results
}

/// Runs compare mode; returns the report text.
pub async fn run(args: &CompareArgs) -> Result<String, String> {
    let launch = args.launch.launch(args.apache_heap_mb);
    if !launch.zk_server_bin.exists() {
        return Err(format!(
            "{} not found (build it: cargo build --release -p zk-server --bins)",
            launch.zk_server_bin.display()
        ));
    }
    launch
        .apache_available()
        .map_err(|e| format!("Apache ZooKeeper not available: {e}"))?;
    let (root, _temp) = work_root(args.launch.work_dir.as_deref(), "zk-bench-")?;
    let mut ours = run_one(Kind::Ours, &launch, &root, args).await;
    let mut apache = run_one(Kind::Apache, &launch, &root, args).await;
    // Latency at the same load: each workload again, paced at one rate both servers sustain.
    for &w in &args.load.workloads {
        let Some(rate) = equal_rate(w, &ours, &apache) else {
            continue;
        };
        let load = LoadArgs {
            rate,
            ..args.load.clone()
        };
        for (kind, results) in [(Kind::Ours, &mut ours), (Kind::Apache, &mut apache)] {
            eprintln!("== {} at {rate} ops/s ==", kind.name());
            let r = run_fresh(kind, &launch, &root, w, &load, &format!("paced-{w}")).await;
            results.paced.push((w, rate, r));
        }
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let l = &args.load;
    let setup = format!(
        "standalone, fsync on (both defaults), same zoo.cfg (tickTime=2000, maxClientCnxns=0), \
         a freshly started server with a fresh data dir per workload (under {}); \
         {} sessions × {} in flight, value {} B, {} keys, \
         warm-up {:?} + {:?} measured per workload, read ratio {}, multi of {} setData, \
         {} watchers; Apache: -Xmx{}m, default GC; load generator on the same machine. \
         Then each workload but watch-fanout again on fresh servers, paced at 80 % of the \
         slower server's closed-loop throughput (the same offered rate for both): the p99 \
         latency target is judged there",
        root.display(),
        l.sessions,
        l.in_flight,
        l.value_size,
        l.keys,
        l.warmup,
        l.duration,
        l.read_ratio,
        l.multi_ops,
        l.watchers,
        args.apache_heap_mb
    );
    let report = markdown(
        &command,
        &procstat::machine_summary(),
        &setup,
        &ours,
        &apache,
        &l.workloads,
    );
    std::fs::write(&args.out, &report).map_err(|e| format!("{}: {e}", args.out.display()))?;
    Ok(report)
}
