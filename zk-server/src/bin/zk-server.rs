//! `zk-server [zoo.cfg]`: with no argument, serves standalone on 127.0.0.1:2181 with its data in
//! `./zk-data`; with a file, reads it as Apache ZooKeeper's zoo.cfg.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing::{error, info, warn};
use zk_server::config::Config;

/// A ZooKeeper-compatible server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// An Apache ZooKeeper zoo.cfg; without it: standalone on 127.0.0.1:2181, data in ./zk-data.
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = match &args.config {
        None => {
            let mut c = Config::standalone_default();
            c.data_dir = PathBuf::from("zk-data");
            c
        }
        Some(path) => match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                error!("bad configuration {}: {e}", path.display());
                eprintln!("zk-server: bad configuration {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    if !config.unknown_keys.is_empty() {
        warn!(keys = ?config.unknown_keys, "unknown configuration keys ignored");
    }
    let server = match zk_server::server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            error!("cannot start: {e}");
            eprintln!("zk-server: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    wait_for_signal().await;
    info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
