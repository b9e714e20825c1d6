//! Tests of the Apache ZooKeeper harness itself: start, 4lw, failover, restart, cleanup.
//!
//! Skipped (with `SKIPPED: <reason>` on stderr) when java or the ZooKeeper jars are missing.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration::apache::{ApacheEnsemble, ApacheOptions};
use integration::{require_apache, Mode, ZkTarget};

const ELECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a test body with a hard time bound.
async fn bounded<F: Future<Output = ()>>(limit: Duration, body: F) {
    if tokio::time::timeout(limit, body).await.is_err() {
        panic!("test exceeded its {limit:?} bound");
    }
}

/// Whether `pid` names a live (non-zombie) process.
fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 is the state; the command name in field 2 is parenthesised and may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

async fn wait_pid_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !pid_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !pid_alive(pid)
}

#[tokio::test]
async fn standalone_answers_four_letter_words() {
    let install = require_apache!();
    eprintln!(
        "using {} with {}",
        install.java_version,
        install.classpath_string()
    );
    bounded(Duration::from_secs(90), async {
        let started = Instant::now();
        let mut zk = ApacheEnsemble::start_standalone(ApacheOptions::default())
            .await
            .expect("start standalone");
        eprintln!("standalone ready in {:?}: {}", started.elapsed(), zk.name());

        assert_eq!(zk.len(), 1);
        assert!(zk.is_standalone());
        assert_eq!(zk.connect_string(), zk.server_addr(0).to_string());
        assert_eq!(zk.server_addrs(), vec![zk.server_addr(0)]);
        assert!(zk.connect_string().starts_with("127.0.0.1:"));

        let ruok = zk.four_letter(0, "ruok").await.expect("ruok");
        assert_eq!(ruok, "imok");
        assert_eq!(zk.mode(0).await.expect("srvr"), Some(Mode::Standalone));

        let mntr = zk.four_letter(0, "mntr").await.expect("mntr");
        assert!(mntr.contains("zk_server_state\tstandalone"), "mntr: {mntr}");
        let srvr = zk.four_letter(0, "srvr").await.expect("srvr");
        assert!(srvr.contains("Zookeeper version: 3."), "srvr: {srvr}");

        // Log goes to the file, and the configured session bounds are applied.
        let conf = zk.four_letter(0, "conf").await.expect("conf");
        assert!(conf.contains("tickTime=2000"), "conf: {conf}");
        assert!(
            zk.log_tail(0).contains("binding to port"),
            "log: {}",
            zk.log_tail(0)
        );

        // SIGTERM stop + restart on the same port and data dir.
        let pid = zk.pid(0).expect("running");
        let started = Instant::now();
        let mode = zk.restart(0).await.expect("restart");
        eprintln!("standalone restart in {:?}", started.elapsed());
        assert_eq!(mode, Mode::Standalone);
        assert!(!pid_alive(pid), "old process {pid} still alive");
        assert_eq!(zk.four_letter(0, "ruok").await.expect("ruok"), "imok");
    })
    .await;
}

#[tokio::test]
async fn options_reach_the_server() {
    let install = require_apache!();
    bounded(Duration::from_secs(90), async {
        let opts = ApacheOptions::default()
            .tick_time(500)
            .session_timeouts(1000, 5000)
            .super_password("secret")
            .force_sync(false);
        let zk = ApacheEnsemble::start_standalone(opts)
            .await
            .expect("start standalone");
        let conf = zk.four_letter(0, "conf").await.expect("conf");
        for expected in [
            "tickTime=500",
            "minSessionTimeout=1000",
            "maxSessionTimeout=5000",
        ] {
            assert!(
                conf.contains(expected),
                "missing {expected} in conf: {conf}"
            );
        }

        // Exercise extended types (TTL nodes) and the super digest through Apache's own CLI,
        // which reads commands from stdin when JLine is absent.
        let script = "create -t 60000 /ttl hello\n\
                      create /locked x digest:nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA=:cdrwa\n\
                      get /locked\n\
                      addauth digest super:secret\n\
                      get /locked\n\
                      quit\n";
        let mut cli = install.java_command("org.apache.zookeeper.ZooKeeperMain");
        cli.args(["-server", &zk.connect_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            let mut child = cli.spawn().expect("spawn zkCli");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())
                .expect("write script");
            child.wait_with_output().expect("zkCli output")
        })
        .await
        .expect("join zkCli");
        // The CLI prints results to stdout and errors / some confirmations to stderr.
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(out.contains("Created /ttl"), "TTL create failed: {out}");
        assert!(
            out.contains("Insufficient permission : /locked"),
            "ACL not enforced: {out}"
        );
        assert!(out.contains("\nx\n"), "super could not read /locked: {out}");
    })
    .await;
}

#[tokio::test]
async fn ensemble_elects_a_new_leader_after_the_leader_dies() {
    let _install = require_apache!();
    bounded(Duration::from_secs(180), async {
        let started = Instant::now();
        let mut zk = ApacheEnsemble::start(3, ApacheOptions::default())
            .await
            .expect("start 3-node ensemble");
        eprintln!("3-node ensemble ready in {:?}", started.elapsed());

        assert_eq!(zk.connect_string().split(',').count(), 3);
        let leader = zk.wait_for_leader(ELECTION_TIMEOUT).await.expect("leader");
        for i in 0..3 {
            let expected = if i == leader {
                Mode::Leader
            } else {
                Mode::Follower
            };
            assert_eq!(
                zk.mode(i).await.expect("srvr"),
                Some(expected),
                "server {i}"
            );
        }

        let killed_at = Instant::now();
        let old_pid = zk.pid(leader).expect("leader pid");
        zk.kill(leader).expect("kill leader");
        assert!(!pid_alive(old_pid));
        assert!(!zk.is_running(leader));
        let new_leader = zk
            .wait_for_leader(ELECTION_TIMEOUT)
            .await
            .expect("re-election");
        eprintln!(
            "new leader {new_leader} (was {leader}) after {:?}",
            killed_at.elapsed()
        );
        assert_ne!(new_leader, leader);

        let restarted_at = Instant::now();
        let mode = zk.restart(leader).await.expect("restart old leader");
        eprintln!(
            "old leader rejoined as {mode} in {:?}",
            restarted_at.elapsed()
        );
        assert_eq!(mode, Mode::Follower);
        assert_eq!(
            zk.wait_for_leader(ELECTION_TIMEOUT).await.expect("stable"),
            new_leader
        );
        let mntr = zk.four_letter(new_leader, "mntr").await.expect("mntr");
        assert!(mntr.contains("zk_synced_followers\t2"), "mntr: {mntr}");
    })
    .await;
}

#[tokio::test]
async fn drop_and_panic_kill_every_process() {
    let _install = require_apache!();
    bounded(Duration::from_secs(90), async {
        let zk = ApacheEnsemble::start_standalone(ApacheOptions::default())
            .await
            .expect("start standalone");
        let pid = zk.pid(0).expect("pid");
        let dir = zk.base_dir().to_path_buf();
        drop(zk);
        assert!(!pid_alive(pid), "pid {pid} survived drop");
        assert!(!dir.exists(), "temp dir {} survived drop", dir.display());

        // A panicking test unwinds through the ensemble's Drop.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let zk = ApacheEnsemble::start_standalone(ApacheOptions::default())
                .await
                .expect("start standalone");
            let _ = tx.send(zk.pid(0).expect("pid"));
            panic!("deliberate panic with a live server");
        });
        assert!(task.await.is_err_and(|e| e.is_panic()));
        let pid = rx.await.expect("pid sent before panic");
        assert!(!pid_alive(pid), "pid {pid} survived a panic");
    })
    .await;
}

/// Helper for [`abort_leaves_no_orphans`]: only acts when re-executed with the env var set.
#[tokio::test]
#[ignore = "helper process for abort_leaves_no_orphans"]
async fn abort_helper() {
    if std::env::var_os("ZK_HARNESS_ABORT_HELPER").is_none() {
        return;
    }
    let _install = require_apache!();
    let zk = ApacheEnsemble::start_standalone(ApacheOptions::default())
        .await
        .expect("start standalone");
    println!("DIR={}", zk.base_dir().display());
    println!("PID={}", zk.pid(0).expect("pid"));
    // No unwinding, no destructors: only the watchdog can clean up.
    std::process::abort();
}

#[tokio::test]
async fn abort_leaves_no_orphans() {
    let _install = require_apache!();
    bounded(Duration::from_secs(90), async {
        let exe = std::env::current_exe().expect("current test binary");
        let mut child = Command::new(exe)
            .args(["--exact", "abort_helper", "--ignored", "--nocapture"])
            .env("ZK_HARNESS_ABORT_HELPER", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("re-exec test binary");
        let stdout = child.stdout.take().expect("stdout");
        let (dir, pid) = tokio::task::spawn_blocking(move || {
            let mut dir = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(d) = line.strip_prefix("DIR=") {
                    dir = Some(PathBuf::from(d.trim()));
                }
                if let Some(pid) = line
                    .strip_prefix("PID=")
                    .and_then(|p| p.trim().parse().ok())
                {
                    return (dir, Some::<u32>(pid));
                }
            }
            (dir, None)
        })
        .await
        .expect("join reader");
        let pid = pid.expect("helper printed the server pid");
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join wait")
            .expect("wait helper");
        assert!(!status.success(), "helper should have aborted");
        assert!(
            wait_pid_gone(pid, Duration::from_secs(10)).await,
            "java pid {pid} orphaned after the test process aborted"
        );
        // Destructors did not run in the helper, so its temp dir is ours to remove.
        if let Some(dir) = dir {
            std::fs::remove_dir_all(&dir).expect("remove helper temp dir");
        }
    })
    .await;
}

#[tokio::test]
async fn startup_failure_reports_the_server_log() {
    let _install = require_apache!();
    bounded(Duration::from_secs(120), async {
        // Force the client port onto one that is taken: every attempt fails to bind.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let opts = ApacheOptions::default()
            .config("clientPort", port.to_string())
            .startup_timeout(Duration::from_secs(20));
        let started = Instant::now();
        let err = ApacheEnsemble::start_standalone(opts)
            .await
            .expect_err("start must fail");
        let msg = err.to_string();
        eprintln!(
            "failed after {:?}: {}",
            started.elapsed(),
            msg.lines().next().unwrap_or("")
        );
        assert!(
            msg.contains("Address already in use"),
            "error lacks the log tail: {msg}"
        );

        // A server that never becomes ready within the bound is reported with its state.
        let opts = ApacheOptions::default().startup_timeout(Duration::from_millis(1));
        let err = ApacheEnsemble::start(3, opts)
            .await
            .expect_err("cannot be ready in 1 ms");
        let msg = err.to_string();
        assert!(msg.contains("no single leader"), "unexpected error: {msg}");
        assert!(
            msg.contains("--- server 2 log"),
            "error lacks log tails: {msg}"
        );
    })
    .await;
}
