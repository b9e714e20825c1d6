//! `zk-bench`: a load generator that speaks the ZooKeeper protocol (on zk-core) and drives any
//! ZooKeeper-protocol server.
//!
//! - `zk-bench run --connect host:port [--pid PID]`: the workloads against a running server;
//!   with `--pid`, the server's CPU time per op and RSS are read from `/proc`.
//! - `zk-bench compare`: starts zk-server and Apache ZooKeeper from the same zoo.cfg with fresh
//!   data directories, runs the same workloads against each, loads a big tree into each for
//!   RSS and kill -9 restart time, and writes a markdown table with ours/apache ratios.
//! - `zk-bench failover`: a 3-node ensemble of each (zk-server, then Apache ZooKeeper); the
//!   leader is killed with `kill -9` while a session on the followers keeps writing; times
//!   from the kill to a new leader and to the first successful write, as a markdown table.
//! - `zk-bench smoke`: a few seconds of every workload (against `--connect`, or a zk-server it
//!   starts itself); exits non-zero unless every workload completed operations without errors.

mod compare;
mod driver;
mod failover;
mod fanout;
mod launcher;
mod netns;
mod outcome;
mod procstat;
mod report;
mod tree;
mod workload;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::launcher::{Kind, Launch};
use crate::workload::{LoadArgs, Workload};

/// A ZooKeeper-protocol load generator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Run workloads against a running server.
    Run {
        /// Connect string, e.g. 127.0.0.1:2181.
        #[arg(long, default_value = "127.0.0.1:2181")]
        connect: String,
        /// The server's pid, for CPU time per op and RSS.
        #[arg(long)]
        pid: Option<u32>,
        /// Also load a tree of this many znodes (RSS reported with --pid; no restart).
        #[arg(long, default_value_t = 0)]
        tree_nodes: usize,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// zk-server vs Apache ZooKeeper in one run, with a markdown report.
    Compare(compare::CompareArgs),
    /// Leader kill -9 in a 3-node ensemble: time to a new leader and to the next write.
    Failover(failover::FailoverArgs),
    /// A short functional check of every workload (for CI): asserts only that it worked.
    Smoke {
        /// Connect string; without it a zk-server (next to zk-bench) is started.
        #[arg(long)]
        connect: Option<String>,
        /// The server's pid when --connect is given.
        #[arg(long)]
        pid: Option<u32>,
        /// Measured time per workload.
        #[arg(long, default_value = "300ms", value_parser = workload::parse_duration)]
        duration: Duration,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().mode {
        Mode::Run {
            connect,
            pid,
            tree_nodes,
            load,
        } => run(&connect, pid, tree_nodes, &load).await,
        Mode::Compare(args) => match compare::run(&args).await {
            Ok(report) => {
                println!("{report}");
                eprintln!("report written to {}", args.out.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("zk-bench: {e}");
                ExitCode::FAILURE
            }
        },
        Mode::Failover(args) => match failover::run(&args).await {
            Ok((report, ok)) => {
                println!("{report}");
                if let Some(out) = &args.out {
                    eprintln!("report written to {}", out.display());
                }
                if ok {
                    ExitCode::SUCCESS
                } else {
                    eprintln!("zk-bench failover: not every measurement worked (see the report)");
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("zk-bench: {e}");
                ExitCode::FAILURE
            }
        },
        Mode::Smoke {
            connect,
            pid,
            duration,
        } => smoke(connect, pid, duration).await,
    }
}

async fn run(connect: &str, pid: Option<u32>, tree_nodes: usize, load: &LoadArgs) -> ExitCode {
    let mut failed = false;
    for &w in &load.workloads {
        match driver::run(w, connect, pid, load).await {
            Ok(o) => println!("{}", o.line()),
            Err(e) => {
                failed = true;
                println!("{w}: failed: {e}");
            }
        }
    }
    if tree_nodes > 0 {
        match tree::load(
            connect,
            tree_nodes,
            load.value_size,
            load.sessions,
            load.in_flight,
        )
        .await
        {
            Ok(took) => println!(
                "tree: {tree_nodes} znodes loaded in {took:.1?}; server RSS {} KiB",
                pid.and_then(procstat::rss_kib)
                    .map_or_else(|| "n/a".into(), |r| r.to_string())
            ),
            Err(e) => {
                failed = true;
                println!("tree: failed: {e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn smoke(connect: Option<String>, pid: Option<u32>, duration: Duration) -> ExitCode {
    let _dir;
    let _server;
    let (connect, pid) = match connect {
        Some(c) => (c, pid),
        None => {
            let dir = match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("zk-bench smoke: tempdir: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let launch = Launch {
                zk_server_bin: Launch::default_zk_server_bin(),
                jar_dir: "/usr/share/java".into(),
                java: "java".into(),
                apache_heap_mb: 256,
            };
            match compare::start_server(Kind::Ours, &launch, dir.path(), "smoke").await {
                Ok(s) => {
                    let c = (s.connect_string(), s.pid());
                    _server = s;
                    _dir = dir;
                    c
                }
                Err(e) => {
                    eprintln!("zk-bench smoke: cannot start zk-server: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let load = LoadArgs {
        sessions: 2,
        in_flight: 2,
        value_size: 16,
        keys: 20,
        duration,
        warmup: Duration::from_millis(50),
        read_ratio: 0.5,
        multi_ops: 2,
        watchers: 3,
        workloads: Workload::ALL.to_vec(),
        rate: 0.0,
    };
    // Every workload in a closed loop, then one paced (as compare's equal-rate pass runs them).
    let paced = LoadArgs {
        rate: 200.0,
        ..load.clone()
    };
    let runs = Workload::ALL
        .iter()
        .map(|&w| (w, &load))
        .chain([(Workload::GetData, &paced)]);
    let mut ok = true;
    for (w, load) in runs {
        match driver::run(w, &connect, pid, load).await {
            Ok(o) => {
                let good = o.ops > 0 && o.error_count() == 0;
                ok &= good;
                println!(
                    "SMOKE workload={w} rate={} ops={} errors={} ok={good}",
                    load.rate,
                    o.ops,
                    o.error_count()
                );
                println!("  {}", o.line());
            }
            Err(e) => {
                ok = false;
                println!("SMOKE workload={w} failed: {e}");
            }
        }
    }
    if ok {
        println!("SMOKE OK");
        ExitCode::SUCCESS
    } else {
        println!("SMOKE FAILED");
        ExitCode::FAILURE
    }
}
