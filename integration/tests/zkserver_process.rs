//! The real `zk-server` binary as a process: bad configurations and data directories fail with
//! a message naming the culprit, unknown keys are warned about, SIGTERM exits cleanly, no
//! arguments serve on 127.0.0.1:2181, and a restart after SIGTERM keeps data and sessions.

use integration::bins::workspace_bin;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use integration::ports::free_port;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_core::{Client, CreateMode, CreateOptions};

/// A zk-server child process with its output in files (the log on stdout, messages for the
/// operator on stderr); killed on drop.
struct Proc {
    child: Child,
    log: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    fn spawn(cwd: &Path, args: &[&Path], log: PathBuf) -> Proc {
        let stderr = log.with_extension("stderr");
        let child = Command::new(workspace_bin("zk-server"))
            .args(args)
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(&log).expect("create log"))
            .stderr(std::fs::File::create(&stderr).expect("create stderr file"))
            .spawn()
            .expect("spawn zk-server");
        Proc { child, log, stderr }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits (bounded) for the process to exit.
    fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "zk-server did not exit within {bound:?}; log:\n{}{}",
                self.log(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    async fn wait_serving(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "zk-server exited with {status}; log:\n{}{}",
                    self.log(),
                    self.stderr()
                );
            }
            if ruok(port).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "zk-server did not serve within 20 s; log:\n{}{}",
                self.log(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn ruok(port: u16) -> bool {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(b"ruok").await.ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        Some(out == "imok")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), exchange).await,
        Ok(Some(true))
    )
}

fn write_cfg(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("zoo.cfg");
    std::fs::write(&p, body).expect("write zoo.cfg");
    p
}

/// Runs the binary with `cfg` expecting it to fail at start; returns (status, stderr).
fn expect_start_failure(dir: &Path, cfg: &Path) -> (ExitStatus, String) {
    let mut p = Proc::spawn(dir, &[cfg], dir.join("fail.log"));
    let status = p.wait_exit(Duration::from_secs(15));
    (status, p.stderr())
}

#[test]
fn a_bad_value_in_zoo_cfg_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port().expect("port");
    let cfg = write_cfg(
        dir.path(),
        &format!(
            "tickTime=abc\ndataDir={}\nclientPort={port}\n",
            dir.path().join("data").display()
        ),
    );
    let (status, err) = expect_start_failure(dir.path(), &cfg);
    assert!(!status.success(), "exit status {status}");
    assert!(
        err.contains("tickTime"),
        "stderr does not name tickTime:\n{err}"
    );
    // A missing dataDir is named too.
    let cfg = write_cfg(dir.path(), &format!("tickTime=2000\nclientPort={port}\n"));
    let (status, err) = expect_start_failure(dir.path(), &cfg);
    assert!(!status.success(), "exit status {status}");
    assert!(
        err.contains("dataDir"),
        "stderr does not name dataDir:\n{err}"
    );
}

#[test]
fn an_unusable_data_directory_exits_non_zero_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port().expect("port");
    // Tests run as root, so a read-only directory would still be writable: use a file.
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").expect("write file");
    for data_dir in [file.clone(), file.join("below")] {
        let cfg = write_cfg(
            dir.path(),
            &format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\n",
                data_dir.display()
            ),
        );
        let (status, err) = expect_start_failure(dir.path(), &cfg);
        assert!(
            !status.success(),
            "{}: exit status {status}",
            data_dir.display()
        );
        assert!(
            err.contains(&data_dir.display().to_string()),
            "stderr does not name {}:\n{err}",
            data_dir.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_are_warned_about_and_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port().expect("port");
    let cfg = write_cfg(
        dir.path(),
        &format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\n4lw.commands.whitelist=ruok\nnoSuchSetting=1\nalso.unknown.key=yes\n",
            dir.path().join("data").display()
        ),
    );
    let mut p = Proc::spawn(dir.path(), &[&cfg], dir.path().join("server.log"));
    p.wait_serving(port).await;
    let log = p.log();
    let warning = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("noSuchSetting"))
        .unwrap_or_else(|| panic!("no warning naming noSuchSetting:\n{log}"));
    assert!(warning.contains("also.unknown.key"), "{warning}");
    // Bad input is logged: a negative frame length after the handshake... here before it.
    {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        s.write_all(&(-5i32).to_be_bytes()).await.expect("write");
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !p.log().contains("handshake length -5 out of range") {
        assert!(
            Instant::now() < deadline,
            "the bad frame was not logged:\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = Client::connect(&format!("127.0.0.1:{port}"))
        .await
        .expect("connect");
    client
        .create("/x", b"1", &CreateOptions::new(CreateMode::Persistent))
        .await
        .expect("create");
    let started = Instant::now();
    p.sigterm();
    let status = p.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "SIGTERM exit; log:\n{}", p.log());
    eprintln!("SIGTERM → exit 0 in {:?}", started.elapsed());
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_arguments_serve_on_2181_with_data_in_zk_data() {
    if let Err(e) = std::net::TcpListener::bind("127.0.0.1:2181") {
        eprintln!("SKIPPED: 127.0.0.1:2181 is not free ({e})");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p = Proc::spawn(dir.path(), &[], dir.path().join("server.log"));
    p.wait_serving(2181).await;
    assert!(
        dir.path().join("zk-data").is_dir(),
        "no zk-data in the working directory"
    );
    let client = Client::connect("127.0.0.1:2181").await.expect("connect");
    client
        .create(
            "/default",
            b"ok",
            &CreateOptions::new(CreateMode::Persistent),
        )
        .await
        .expect("create");
    client.close().await;
    p.sigterm();
    let status = p.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "log:\n{}", p.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_sigterm_keeps_data_and_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port().expect("port");
    let cfg = write_cfg(
        dir.path(),
        &format!(
            "tickTime=1000\ndataDir={}\nclientPort={port}\n4lw.commands.whitelist=ruok\n",
            dir.path().join("data").display()
        ),
    );
    let mut p = Proc::spawn(dir.path(), &[&cfg], dir.path().join("server-1.log"));
    p.wait_serving(port).await;
    let connect = format!("127.0.0.1:{port}");
    let client = Client::builder(&connect)
        .session_timeout(Duration::from_secs(15))
        .connect()
        .await
        .expect("connect");
    let session = client.session_id();
    client
        .create(
            "/kept",
            b"data",
            &CreateOptions::new(CreateMode::Persistent),
        )
        .await
        .expect("create");
    client
        .create("/mine", b"eph", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .expect("create ephemeral");
    p.sigterm();
    let status = p.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "log:\n{}", p.log());
    drop(p);
    let mut p = Proc::spawn(dir.path(), &[&cfg], dir.path().join("server-2.log"));
    p.wait_serving(port).await;
    // The same client re-attaches its session (within its timeout) and finds its ephemeral.
    let deadline = Instant::now() + Duration::from_secs(12);
    let stat = loop {
        match tokio::time::timeout(Duration::from_secs(3), client.exists("/mine")).await {
            Ok(Ok(Some(stat))) => break stat,
            Ok(Ok(None)) => panic!("the ephemeral is gone after the restart; log:\n{}", p.log()),
            Ok(Err(_)) | Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "the client did not get back in time; log:\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(client.session_id(), session, "the session id changed");
    assert_eq!(stat.ephemeral_owner, session);
    let other = Client::connect(&connect).await.expect("connect");
    let (data, _) = other.get_data("/kept").await.expect("get");
    assert_eq!(&data[..], b"data");
    let (data, stat) = other.get_data("/mine").await.expect("get ephemeral");
    assert_eq!((&data[..], stat.ephemeral_owner), (&b"eph"[..], session));
    other.close().await;
    client.close().await;
    p.sigterm();
    assert_eq!(p.wait_exit(Duration::from_secs(5)).code(), Some(0));
}
