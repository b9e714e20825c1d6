//! Starting the servers under test as child processes: zk-server (the binary next to zk-bench)
//! and Apache ZooKeeper (`QuorumPeerMain` from the Debian package's jars), both from a zoo.cfg
//! (standalone, or one member of an ensemble with its `myid`).
//!
//! Every child gets a tiny `sh` watchdog whose stdin is a pipe held by this process: if zk-bench
//! dies for any reason the pipe closes and the watchdog `kill -9`s the server (no `unsafe`
//! `prctl` needed). `Drop` kills the child too.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use zk_core::Client;

/// Which server implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// zk-server from this workspace.
    Ours,
    /// Apache ZooKeeper (Debian package jars).
    Apache,
}

impl Kind {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ours => "zk-server",
            Kind::Apache => "apache",
        }
    }
}

/// How to find and run each implementation.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The zk-server binary.
    pub zk_server_bin: PathBuf,
    /// Directory of Debian-style unversioned jars.
    pub jar_dir: PathBuf,
    /// `java` executable.
    pub java: PathBuf,
    /// Apache heap limit (`-Xmx`) in MiB.
    pub apache_heap_mb: u32,
}

/// Runtime dependencies of Apache ZooKeeper 3.8 (skipped when missing); listed explicitly so
/// exactly one SLF4J binding (slf4j-simple) is on the classpath.
const APACHE_JARS: &[&str] = &[
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "slf4j-api.jar",
    "slf4j-simple.jar",
    "commons-cli.jar",
    "commons-io.jar",
    "jackson-annotations.jar",
    "jackson-core.jar",
    "jackson-databind.jar",
    "metrics-core.jar",
    "snappy-java.jar",
    "netty-buffer.jar",
    "netty-codec.jar",
    "netty-common.jar",
    "netty-handler.jar",
    "netty-resolver.jar",
    "netty-transport.jar",
    "netty-transport-native-epoll.jar",
    "netty-transport-native-unix-common.jar",
];

impl Launch {
    /// Defaults: zk-server next to the running zk-bench, jars in `/usr/share/java`, `java` on
    /// the PATH.
    pub fn default_zk_server_bin() -> PathBuf {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("zk-server")))
            .unwrap_or_else(|| PathBuf::from("zk-server"))
    }

    /// Whether Apache ZooKeeper can be launched here (the reason when it cannot).
    pub fn apache_available(&self) -> Result<(), String> {
        for jar in &APACHE_JARS[..4] {
            if !self.jar_dir.join(jar).exists() {
                return Err(format!("{} missing", self.jar_dir.join(jar).display()));
            }
        }
        Command::new(&self.java)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("{}: {e}", self.java.display()))
            .and_then(|s| {
                s.success()
                    .then_some(())
                    .ok_or_else(|| "java -version failed".to_string())
            })
    }

    fn classpath(&self) -> String {
        APACHE_JARS
            .iter()
            .map(|j| self.jar_dir.join(j))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    fn command(&self, kind: Kind, cfg: &Path) -> Command {
        match kind {
            Kind::Ours => {
                let mut c = Command::new(&self.zk_server_bin);
                c.arg(cfg).env("RUST_LOG", "warn");
                c
            }
            Kind::Apache => {
                let mut c = Command::new(&self.java);
                c.arg(format!("-Xmx{}m", self.apache_heap_mb))
                    .arg("-XX:-UsePerfData")
                    .arg("-Djava.awt.headless=true")
                    .arg("-Djava.net.preferIPv4Stack=true")
                    .arg("-Dzookeeper.jmx.log4j.disable=true")
                    .arg("-Dzookeeper.admin.enableServer=false")
                    .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
                    .arg("-Dorg.slf4j.simpleLogger.logFile=System.err")
                    .arg("-cp")
                    .arg(self.classpath())
                    .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                    .arg(cfg);
                c
            }
        }
    }
}

/// `cmd` run inside the network namespace `ns` (`ip netns exec`).
fn in_netns(ns: &str, cmd: &Command) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(cmd.get_program());
    c.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c
}

/// The settings every zoo.cfg of zk-bench shares (fsync on by default in both).
fn common_cfg(data_dir: &Path, host: Ipv4Addr, port: u16, tick_ms: u32) -> String {
    format!(
        "tickTime={tick_ms}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={port}\n\
         clientPortAddress={host}\nmaxClientCnxns=0\nmaxSessionTimeout=60000\n\
         4lw.commands.whitelist=*\nadmin.enableServer=false\n",
        data_dir.display()
    )
}

/// Writes the shared zoo.cfg (standalone, fsync on by default in both) for one server.
pub fn write_zoo_cfg(path: &Path, data_dir: &Path, port: u16) -> io::Result<()> {
    std::fs::write(path, common_cfg(data_dir, Ipv4Addr::LOCALHOST, port, 2000))
}

/// One member of an ensemble (on 127.0.0.1, or a host of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// `server.N` id, also written to `myid`.
    pub id: u64,
    /// Its address (client and peer ports).
    pub host: Ipv4Addr,
    /// Client port.
    pub client_port: u16,
    /// Quorum (peer) port.
    pub quorum_port: u16,
    /// Leader-election port (Apache's; zk-server accepts and ignores it).
    pub election_port: u16,
}

/// Writes member `me`'s zoo.cfg (the shared settings, `tick_ms`, and a `server.N` line per
/// member of `all`) and its `myid` in `data_dir`.
pub fn write_ensemble_cfg(
    path: &Path,
    data_dir: &Path,
    tick_ms: u32,
    me: &Member,
    all: &[Member],
) -> io::Result<()> {
    let mut text = common_cfg(data_dir, me.host, me.client_port, tick_ms);
    for m in all {
        text.push_str(&format!(
            "server.{}={}:{}:{}\n",
            m.id, m.host, m.quorum_port, m.election_port
        ));
    }
    std::fs::write(path, text)?;
    std::fs::write(data_dir.join("myid"), format!("{}\n", me.id))
}

/// `n` distinct free TCP ports on 127.0.0.1 (all held until every one is picked).
pub fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    let held = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// Where the servers under test come from and where their files go (shared by the modes that
/// start servers).
#[derive(Debug, Clone, clap::Args)]
pub struct LaunchArgs {
    /// Directory for configs, data and logs (default: a fresh temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// The zk-server binary (default: next to zk-bench).
    #[arg(long)]
    pub zk_server_bin: Option<PathBuf>,
    /// Directory of Debian-style unversioned jars.
    #[arg(long, default_value = "/usr/share/java")]
    pub jar_dir: PathBuf,
    /// The java executable.
    #[arg(long, default_value = "java")]
    pub java: PathBuf,
}

impl LaunchArgs {
    /// How to launch each implementation, with this Apache heap limit.
    pub fn launch(&self, apache_heap_mb: u32) -> Launch {
        Launch {
            zk_server_bin: self
                .zk_server_bin
                .clone()
                .unwrap_or_else(Launch::default_zk_server_bin),
            jar_dir: self.jar_dir.clone(),
            java: self.java.clone(),
            apache_heap_mb,
        }
    }
}

/// The directory for configs, data and logs: `work_dir` (created if missing), or a fresh
/// temporary directory named `prefix…`, removed when the returned guard is dropped.
pub fn work_root(
    work_dir: Option<&Path>,
    prefix: &str,
) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    match work_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            Ok((d.to_path_buf(), None))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .map_err(|e| e.to_string())?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

/// A free TCP port on 127.0.0.1 (bind to 0, read it, release it).
pub fn free_port() -> io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// One server process under test.
#[derive(Debug)]
pub struct ServerProcess {
    kind: Kind,
    launch: Launch,
    cfg: PathBuf,
    log: PathBuf,
    host: Ipv4Addr,
    port: u16,
    /// Runs the command inside this network namespace (`ip netns exec`, which execs in
    /// place: the pid is the server's).
    netns: Option<String>,
    child: Option<Child>,
    watchdog: Option<(Child, ChildStdin)>,
    started: Instant,
}

impl ServerProcess {
    /// Spawns `kind` with `cfg` (which must name `port` on 127.0.0.1); stderr goes to `log`.
    pub fn spawn(
        kind: Kind,
        launch: &Launch,
        cfg: &Path,
        port: u16,
        log: &Path,
    ) -> io::Result<Self> {
        Self::spawn_at(kind, launch, cfg, (Ipv4Addr::LOCALHOST, port), None, log)
    }

    /// Like [`ServerProcess::spawn`] for a server at `host:port`, run inside the network
    /// namespace `netns` if given.
    pub fn spawn_at(
        kind: Kind,
        launch: &Launch,
        cfg: &Path,
        (host, port): (Ipv4Addr, u16),
        netns: Option<String>,
        log: &Path,
    ) -> io::Result<Self> {
        let mut s = Self {
            kind,
            launch: launch.clone(),
            cfg: cfg.to_path_buf(),
            log: log.to_path_buf(),
            host,
            port,
            netns,
            child: None,
            watchdog: None,
            started: Instant::now(),
        };
        s.start()?;
        Ok(s)
    }

    fn start(&mut self) -> io::Result<()> {
        let log = File::options().create(true).append(true).open(&self.log)?;
        let mut cmd = self.launch.command(self.kind, &self.cfg);
        if let Some(dir) = self.cfg.parent() {
            cmd.current_dir(dir);
        }
        if let Some(ns) = &self.netns {
            cmd = in_netns(ns, &cmd);
        }
        // zk-server logs to stdout, Apache (as configured above) to stderr: keep both.
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        self.started = Instant::now();
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawn {:?}: {e}", self.kind)))?;
        self.watchdog = Some(spawn_watchdog(child.id())?);
        self.child = Some(child);
        Ok(())
    }

    /// The OS pid of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `host:port`.
    pub fn connect_string(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// `kill -9` and reap; returns when the server was reaped (None if it was not running).
    pub fn kill9(&mut self) -> Option<Instant> {
        let reaped = self.child.take().map(|mut c| {
            let _ = c.kill();
            let _ = c.wait();
            Instant::now()
        });
        if let Some((mut w, stdin)) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
            drop(stdin);
        }
        reaped
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the server with `kill -<signal>`; returns when
    /// it was sent.
    pub fn signal(&self, signal: &str) -> io::Result<Instant> {
        let pid = self
            .pid()
            .ok_or_else(|| io::Error::other("the server is not running"))?;
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!("kill -{signal} {pid}: {status}")));
        }
        Ok(Instant::now())
    }

    /// If the server has exited: its status and log tail.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some(format!(
            "{} exited with {status}; log tail:\n{}",
            self.kind.name(),
            tail(&self.log)
        ))
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// `kill -9`, then start again on the same configuration and data.
    pub fn restart_after_kill9(&mut self) -> io::Result<()> {
        self.kill9();
        self.start()
    }

    /// Waits until a fresh session gets an answer to `getData(probe)` (or `exists("/")`), and
    /// returns the time since the process was spawned.
    pub async fn wait_serving(
        &mut self,
        probe: Option<&str>,
        limit: Duration,
    ) -> Result<Duration, String> {
        let deadline = self.started + limit;
        let addr = self.connect_string();
        loop {
            if let Some(e) = self.exited() {
                return Err(e);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not serve within {limit:?}; log tail:\n{}",
                    self.kind.name(),
                    tail(&self.log)
                ));
            }
            // Only build a session once `srvr` says the server is serving (Apache accepts
            // connections, and drops them, while it loads its database).
            if !srvr_serving(&addr).await {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            let attempt = async {
                let client = Client::builder(&addr)
                    .session_timeout(Duration::from_secs(10))
                    .connect()
                    .await
                    .map_err(|e| e.to_string())?;
                let r = match probe {
                    Some(p) => client.get_data(p).await.map(|_| ()),
                    None => client.exists("/").await.map(|_| ()),
                };
                let served = Instant::now();
                client.close().await;
                r.map(|()| served).map_err(|e| e.to_string())
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok(Ok(served)) = tokio::time::timeout(left, attempt).await {
                return Ok(served - self.started);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Whether the four-letter word `srvr` answers with a serving mode.
async fn srvr_serving(addr: &str) -> bool {
    srvr(addr, Duration::from_secs(2))
        .await
        .is_some_and(|out| srvr_mode(&out).is_some())
}

/// The answer to the four-letter word `srvr` (None on no answer within `limit`).
pub async fn srvr(addr: &str, limit: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"srvr").await.ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        Some(out)
    };
    tokio::time::timeout(limit, probe).await.ok().flatten()
}

/// The `Mode:` of a `srvr` answer (`leader`, `follower`, `standalone`).
pub fn srvr_mode(out: &str) -> Option<&str> {
    out.lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(str::trim)
}

/// The last 30 lines of a log file.
pub fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn spawn_watchdog(pid: u32) -> io::Result<(Child, ChildStdin)> {
    let mut w = Command::new("sh")
        .arg("-c")
        .arg(r#"read -r _; kill -KILL "$1" 2>/dev/null"#)
        .arg("zk-bench-watchdog")
        .arg(pid.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    match w.stdin.take() {
        Some(stdin) => Ok((w, stdin)),
        None => {
            let _ = w.kill();
            let _ = w.wait();
            Err(io::Error::other("watchdog stdin was not captured"))
        }
    }
}
