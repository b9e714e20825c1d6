//! Crash recovery: writers in many sessions create nodes while the zk-server process is killed
//! with SIGKILL at random moments and restarted on the same data; at the end every write that
//! was acknowledged must be present, with its data.
//!
//! `ZK_CRASH_KILLS` sets the number of kills (default 50), `ZK_CRASH_SEED` the seed.

use integration::bins::workspace_bin;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_core::{Client, CreateMode, CreateOptions, Error};

const WRITERS: usize = 8;

struct ServerProcess {
    bin: PathBuf,
    cfg: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl ServerProcess {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let child = Command::new(&self.bin)
            .arg(&self.cfg)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn zk-server");
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    fn exited_early(&mut self) -> Option<String> {
        let c = self.child.as_mut()?;
        match c.try_wait() {
            Ok(Some(status)) => Some(format!(
                "zk-server exited with {status}; log tail:\n{}",
                tail(&self.log)
            )),
            _ => None,
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

async fn wait_serving(port: u16, server: &mut ServerProcess) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(why) = server.exited_early() {
            panic!("{why}");
        }
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut out = String::new();
            if s.write_all(b"ruok").await.is_ok()
                && s.read_to_string(&mut out).await.is_ok()
                && out == "imok"
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "zk-server did not serve within 20 s:\n{}",
            tail(&server.log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let kills: usize = std::env::var("ZK_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("ZK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let dir = tempfile::tempdir().expect("tempdir");
    let port = integration::ports::free_port().expect("free port");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\nmaxSessionTimeout=30000\nsnapCount=500\n4lw.commands.whitelist=*\n",
            dir.path().join("data").display()
        ),
    )
    .expect("write zoo.cfg");
    let mut server = ServerProcess {
        bin: workspace_bin("zk-server"),
        cfg,
        log: dir.path().join("server.log"),
        child: None,
    };
    server.start();
    wait_serving(port, &mut server).await;
    let connect = format!("127.0.0.1:{port}");
    let setup = Client::connect(&connect).await.expect("connect");
    setup
        .create("/crash", b"", &CreateOptions::new(CreateMode::Persistent))
        .await
        .expect("create /crash");
    setup.close().await;

    // Every acknowledged create: path → data.
    let acked: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (acked, stop, connect) = (acked.clone(), stop.clone(), connect.clone());
        writers.push(tokio::spawn(async move {
            let client = Client::builder(&connect)
                .session_timeout(Duration::from_secs(30))
                .connect()
                .await
                .expect("writer connect");
            let mut seq = 0u64;
            let mut errors = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let path = format!("/crash/w{w}-{seq}");
                let data = format!("{w}:{seq}").into_bytes();
                match client
                    .create(&path, &data, &CreateOptions::new(CreateMode::Persistent))
                    .await
                {
                    Ok(p) => {
                        acked.lock().expect("lock").insert(p, data);
                        seq += 1;
                    }
                    // The outcome of an interrupted write is unknown: retry under a new name.
                    Err(Error::ConnectionLoss) => {
                        errors += 1;
                        seq += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(Error::NodeExists) => seq += 1,
                    Err(e) => panic!("writer {w}: unexpected error {e}"),
                }
            }
            client.close().await;
            errors
        }));
    }

    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(20..250))).await;
        server.kill9();
        server.start();
        wait_serving(port, &mut server).await;
        if k % 10 == 9 {
            println!(
                "{} kills, {} acknowledged writes",
                k + 1,
                acked.lock().expect("lock").len()
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut interrupted = 0;
    for w in writers {
        interrupted += tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("writer finishes")
            .expect("writer task");
    }

    // One more crash and restart, then check everything from a fresh session.
    server.kill9();
    server.start();
    wait_serving(port, &mut server).await;
    let check = Client::connect(&connect).await.expect("connect to check");
    let acked = acked.lock().expect("lock").clone();
    let mut missing = Vec::new();
    for (path, data) in &acked {
        match check.get_data(path).await {
            Ok((d, _)) if d[..] == data[..] => {}
            Ok((d, _)) => missing.push(format!("{path}: data {d:?}, expected {data:?}")),
            Err(e) => missing.push(format!("{path}: {e}")),
        }
    }
    println!(
        "crash test: {kills} kills in {:?}, {} acknowledged writes, {interrupted} interrupted, {} missing",
        started.elapsed(),
        acked.len(),
        missing.len()
    );
    assert!(
        acked.len() > kills,
        "too few writes were acknowledged to prove anything"
    );
    assert!(
        missing.is_empty(),
        "acknowledged writes lost after kill -9:\n{}",
        missing.join("\n")
    );
}
