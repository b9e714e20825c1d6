//! Real Apache ZooKeeper servers as child processes, for compatibility tests.
//!
//! ```no_run
//! # async fn demo() -> integration::Result<()> {
//! use integration::apache::{ApacheEnsemble, ApacheOptions};
//! let _install = integration::require_apache!(Ok(()));
//! let mut zk = ApacheEnsemble::start(3, ApacheOptions::default()).await?;
//! let leader = zk.wait_for_leader(std::time::Duration::from_secs(30)).await?;
//! zk.kill(leader)?;
//! zk.wait_for_leader(std::time::Duration::from_secs(30)).await?;
//! zk.restart(leader).await?;
//! # Ok(()) }
//! ```
//!
//! Every server gets its own directory `server<i>/` (with `zoo.cfg`, `data/` and
//! `zookeeper.log`) inside one [`tempfile::TempDir`], and fresh loopback ports. Servers are
//! indexed from 0; server `i` has `myid` `i + 1`. Dropping the ensemble kills every process.

mod install;
mod options;
mod process;

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use install::{
    ApacheZk, Installation, LogBinding, ENV_HOME, ENV_JAR_DIR, ENV_JAVA, ENV_REQUIRED,
};
pub use options::{super_digest, ApacheOptions};

use crate::error::{HarnessError, Result};
use crate::four_letter::{four_letter_word, Mode};
use crate::ports::{free_ports, loopback};
use crate::{BoxFuture, ZkCluster, ZkTarget};
use process::GuardedChild;

const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
/// Lines of server log included in error messages and returned by `log_tail`.
const LOG_TAIL_LINES: usize = 40;
/// How often readiness loops poll.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Bound for one `srvr` probe during readiness polling.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `stop` waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Starts that hit a port taken by another process are retried with fresh ports.
const START_ATTEMPTS: usize = 3;

/// One server of the ensemble.
#[derive(Debug)]
struct Server {
    client_port: u16,
    /// `(quorum, election)` ports; `None` for a standalone server.
    peer_ports: Option<(u16, u16)>,
    dir: PathBuf,
    process: Option<GuardedChild>,
}

impl Server {
    fn config_path(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("zookeeper.log")
    }
}

/// A standalone Apache ZooKeeper server or a quorum of them, running as child processes.
#[derive(Debug)]
pub struct ApacheEnsemble {
    install: Installation,
    opts: ApacheOptions,
    standalone: bool,
    // Declared before `dir` so processes die before the directory is removed.
    servers: Vec<Server>,
    dir: tempfile::TempDir,
    /// Set by [`ApacheEnsemble::into_static`]: removes `dir` after the test process exits.
    exit_cleanup: Option<(std::process::Child, std::process::ChildStdin)>,
}

impl ApacheEnsemble {
    /// Starts one server in standalone mode (no quorum, `Mode: standalone`) and waits until it
    /// serves.
    pub async fn start_standalone(opts: ApacheOptions) -> Result<Self> {
        Self::launch(1, true, opts).await
    }

    /// Starts an `n`-server quorum (`n = 3` typical) and waits until every server serves and
    /// exactly one is leader. `n = 1` gives a single-member quorum (`Mode: leader`,
    /// `standaloneEnabled=false`), unlike [`ApacheEnsemble::start_standalone`].
    pub async fn start(n: usize, opts: ApacheOptions) -> Result<Self> {
        if n == 0 {
            return Err(HarnessError::NotReady(
                "an ensemble needs at least one server".into(),
            ));
        }
        Self::launch(n, false, opts).await
    }

    async fn launch(n: usize, standalone: bool, opts: ApacheOptions) -> Result<Self> {
        let install = ApacheZk::available().map_err(HarnessError::Unavailable)?;
        let timeout = opts.startup_timeout;
        let mut attempt = 1;
        loop {
            let mut ensemble = Self::prepare(install.clone(), n, standalone, opts.clone())?;
            for i in 0..n {
                ensemble.start_server(i)?;
            }
            match ensemble.wait_for_leader(timeout).await {
                Ok(_) => return Ok(ensemble),
                Err(e) if attempt < START_ATTEMPTS && ensemble.port_conflict() => {
                    tracing::warn!("port conflict starting Apache ZooKeeper, retrying: {e}");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Allocates ports and writes the per-server directories and configs.
    fn prepare(
        install: Installation,
        n: usize,
        standalone: bool,
        opts: ApacheOptions,
    ) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("apache-zk-")
            .tempdir()
            .map_err(|e| HarnessError::io("create temp dir", e))?;
        let per_server = if standalone { 1 } else { 3 };
        let ports =
            free_ports(n * per_server).map_err(|e| HarnessError::io("allocate ports", e))?;
        let servers: Vec<Server> = ports
            .chunks(per_server)
            .enumerate()
            .map(|(i, p)| Server {
                client_port: p[0],
                peer_ports: (!standalone).then(|| (p[1], p[2])),
                dir: dir.path().join(format!("server{i}")),
                process: None,
            })
            .collect();
        let ensemble = Self {
            install,
            opts,
            standalone,
            servers,
            dir,
            exit_cleanup: None,
        };
        for (i, server) in ensemble.servers.iter().enumerate() {
            ensemble.write_server_files(i, server)?;
        }
        Ok(ensemble)
    }

    fn write_server_files(&self, i: usize, server: &Server) -> Result<()> {
        let data = server.dir.join("data");
        fs::create_dir_all(&data)
            .map_err(|e| HarnessError::io(format!("create {}", data.display()), e))?;
        let o = &self.opts;
        let mut cfg = String::new();
        let _ = writeln!(cfg, "tickTime={}", o.tick_time_ms);
        let _ = writeln!(cfg, "initLimit={}", o.init_limit);
        let _ = writeln!(cfg, "syncLimit={}", o.sync_limit);
        let _ = writeln!(cfg, "dataDir={}", data.display());
        let _ = writeln!(cfg, "clientPort={}", server.client_port);
        let _ = writeln!(cfg, "clientPortAddress=127.0.0.1");
        let _ = writeln!(cfg, "maxClientCnxns={}", o.max_client_cnxns);
        let _ = writeln!(cfg, "admin.enableServer=false");
        let _ = writeln!(cfg, "4lw.commands.whitelist=*");
        let _ = writeln!(cfg, "reconfigEnabled=false");
        let _ = writeln!(cfg, "standaloneEnabled={}", self.standalone);
        if let Some(ms) = o.min_session_timeout_ms {
            let _ = writeln!(cfg, "minSessionTimeout={ms}");
        }
        if let Some(ms) = o.max_session_timeout_ms {
            let _ = writeln!(cfg, "maxSessionTimeout={ms}");
        }
        if !self.standalone {
            for (j, peer) in self.servers.iter().enumerate() {
                if let Some((quorum, election)) = peer.peer_ports {
                    let _ = writeln!(cfg, "server.{}=127.0.0.1:{quorum}:{election}", j + 1);
                }
            }
            write_file(&data.join("myid"), &format!("{}\n", i + 1))?;
        }
        for (key, value) in &o.extra_config {
            let _ = writeln!(cfg, "{key}={value}");
        }
        write_file(&server.config_path(), &cfg)?;
        if self.install.log_binding == LogBinding::Log4j12 {
            let props = format!(
                "log4j.rootLogger={}, STDERR\n\
                 log4j.appender.STDERR=org.apache.log4j.ConsoleAppender\n\
                 log4j.appender.STDERR.Target=System.err\n\
                 log4j.appender.STDERR.layout=org.apache.log4j.PatternLayout\n\
                 log4j.appender.STDERR.layout.ConversionPattern=%d{{HH:mm:ss,SSS}} %-5p [%t:%C{{1}}@%L] - %m%n\n",
                o.log_level.to_uppercase()
            );
            write_file(&server.dir.join("log4j.properties"), &props)?;
        }
        Ok(())
    }

    /// Builds the `java` command line for server `i`.
    fn command(&self, server: &Server) -> Command {
        let o = &self.opts;
        let mut cmd = Command::new(&self.install.java);
        cmd.arg(format!("-Xmx{}m", o.heap_mb))
            .arg("-XX:+UseSerialGC")
            .arg("-XX:-UsePerfData")
            .arg("-Djava.awt.headless=true")
            .arg("-Djava.net.preferIPv4Stack=true")
            .arg("-Dzookeeper.jmx.log4j.disable=true")
            .arg("-Dzookeeper.admin.enableServer=false");
        if o.extended_types {
            cmd.arg("-Dzookeeper.extendedTypesEnabled=true");
        }
        if let Some(digest) = &o.super_digest {
            cmd.arg(format!(
                "-Dzookeeper.DigestAuthenticationProvider.superDigest={digest}"
            ));
        }
        if let Some(sync) = o.force_sync {
            cmd.arg(format!(
                "-Dzookeeper.forceSync={}",
                if sync { "yes" } else { "no" }
            ));
        }
        match self.install.log_binding {
            LogBinding::Simple => {
                cmd.arg(format!(
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel={}",
                    o.log_level
                ))
                .arg("-Dorg.slf4j.simpleLogger.logFile=System.err")
                .arg("-Dorg.slf4j.simpleLogger.showDateTime=true")
                .arg("-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS")
                .arg("-Dorg.slf4j.simpleLogger.showShortLogName=true");
            }
            LogBinding::Log4j12 => {
                let props = server.dir.join("log4j.properties");
                cmd.arg(format!("-Dlog4j.configuration=file:{}", props.display()));
            }
            LogBinding::Bundled | LogBinding::None => {}
        }
        cmd.args(&o.extra_jvm_args)
            .arg("-cp")
            .arg(self.install.classpath_string())
            .arg(MAIN_CLASS)
            .arg(server.config_path())
            .current_dir(&server.dir)
            .stdin(Stdio::null());
        cmd
    }

    /// Launches server `i` (with its existing ports, config and data) without waiting for it to
    /// serve; a no-op if it is already running. Use after [`ApacheEnsemble::kill`] when the
    /// server cannot become ready on its own (e.g. no quorum yet), then wait with
    /// [`ApacheEnsemble::wait_for_leader`].
    ///
    /// Panics if `i >= self.len()`.
    pub fn start_server(&mut self, i: usize) -> Result<()> {
        if self.is_running(i) {
            return Ok(());
        }
        let server = &self.servers[i];
        let log_path = server.log_path();
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| HarnessError::io(format!("open {}", log_path.display()), e))?;
        let stderr = log
            .try_clone()
            .map_err(|e| HarnessError::io("clone log file handle", e))?;
        let stdout = log
            .try_clone()
            .map_err(|e| HarnessError::io("clone log file handle", e))?;
        let _ = writeln!(log, "==== zk-harness: starting server {i} ====");
        let mut cmd = self.command(server);
        cmd.stdout(stdout).stderr(stderr);
        let child = GuardedChild::spawn(&mut cmd).map_err(|e| {
            HarnessError::io(
                format!("spawn {} for server {i}", self.install.java.display()),
                e,
            )
        })?;
        self.servers[i].process = Some(child);
        Ok(())
    }

    /// Waits until server `i` answers `srvr` with a `Mode:` line and returns that mode.
    ///
    /// Panics if `i >= self.len()`.
    pub async fn wait_server_ready(&mut self, i: usize, timeout: Duration) -> Result<Mode> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive(i)?;
            let probe = self.probe(i).await;
            if let Ok(mode) = probe {
                return Ok(mode);
            }
            if Instant::now() >= deadline {
                return Err(
                    self.not_ready(format!("server {i} not ready within {timeout:?}"), &[probe])
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until every running server answers `srvr` with a mode and (unless standalone)
    /// exactly one of them is leader; returns the leader's index (0 for standalone).
    ///
    /// Fails early if a server that should run has exited, and on timeout with a message that
    /// includes each server's last probe result and log tail.
    pub async fn wait_for_leader(&mut self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut probes = Vec::with_capacity(self.servers.len());
            for i in 0..self.servers.len() {
                if self.servers[i].process.is_some() {
                    self.check_alive(i)?;
                    probes.push(self.probe(i).await);
                } else {
                    probes.push(Err("not running".to_string()));
                }
            }
            let running: Vec<usize> = (0..self.servers.len())
                .filter(|&i| self.servers[i].process.is_some())
                .collect();
            let all_serving = !running.is_empty() && running.iter().all(|&i| probes[i].is_ok());
            let leaders: Vec<usize> = running
                .iter()
                .copied()
                .filter(|&i| matches!(probes[i], Ok(Mode::Leader | Mode::Standalone)))
                .collect();
            if all_serving && leaders.len() == 1 {
                return Ok(leaders[0]);
            }
            if Instant::now() >= deadline {
                let what = format!("no single leader among running servers within {timeout:?}");
                return Err(self.not_ready(what, &probes));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// SIGKILLs server `i` and reaps it (a no-op if it is not running).
    ///
    /// Panics if `i >= self.len()`.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut process) = self.servers[i].process.take() {
            process
                .kill()
                .map_err(|e| HarnessError::io(format!("kill server {i}"), e))?;
        }
        Ok(())
    }

    /// SIGSTOPs server `i`: it keeps its sockets but answers nothing (clients and peers see
    /// silence, not a closed connection) until [`ApacheEnsemble::thaw`] or a kill.
    ///
    /// Panics if `i >= self.len()`.
    pub fn freeze(&mut self, i: usize) -> Result<()> {
        self.signal(i, "STOP")
    }

    /// SIGCONTs a server frozen with [`ApacheEnsemble::freeze`].
    ///
    /// Panics if `i >= self.len()`.
    pub fn thaw(&mut self, i: usize) -> Result<()> {
        self.signal(i, "CONT")
    }

    fn signal(&mut self, i: usize, signal: &str) -> Result<()> {
        let Some(pid) = self.pid(i) else {
            return Err(HarnessError::NotReady(format!("server {i} is not running")));
        };
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| HarnessError::io(format!("kill -{signal} server {i}"), e))?;
        if status.success() {
            Ok(())
        } else {
            Err(HarnessError::NotReady(format!(
                "kill -{signal} {pid} (server {i}) failed: {status}"
            )))
        }
    }

    /// SIGTERMs server `i` and waits for it to exit (SIGKILL after 10 s). A frozen server is
    /// thawed first so that it can handle the SIGTERM.
    ///
    /// Panics if `i >= self.len()`.
    pub async fn stop(&mut self, i: usize) -> Result<()> {
        if self.is_running(i) {
            let _ = self.thaw(i);
        }
        if let Some(mut process) = self.servers[i].process.take() {
            process
                .terminate(STOP_GRACE)
                .await
                .map_err(|e| HarnessError::io(format!("stop server {i}"), e))?;
        }
        Ok(())
    }

    /// Stops server `i` if it runs, starts it again with the same ports and data directory and
    /// waits until it serves (any mode). Returns the mode it reports.
    ///
    /// Panics if `i >= self.len()`.
    pub async fn restart(&mut self, i: usize) -> Result<Mode> {
        self.stop(i).await?;
        self.start_server(i)?;
        self.wait_server_ready(i, self.opts.startup_timeout).await
    }

    /// Whether server `i`'s process is running. A process found to have exited is reaped and
    /// forgotten (its log keeps the reason).
    ///
    /// Panics if `i >= self.len()`.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.check_alive(i).is_ok() && self.servers[i].process.is_some()
    }

    /// Keeps the ensemble for the rest of the test process, for a server shared by the tests
    /// of one binary through a `static`: statics are never dropped, so the processes are
    /// killed by their watchdogs when the process exits, and a small `sh` watchdog started
    /// here removes the temporary directory once they are gone.
    ///
    /// # Errors
    /// When the cleanup watchdog cannot be spawned.
    pub fn into_static(mut self) -> Result<&'static ApacheEnsemble> {
        let pids: Vec<String> = (0..self.len())
            .filter_map(|i| self.pid(i))
            .map(|p| p.to_string())
            .collect();
        // Wait (bounded) for the servers to die, then remove their directory.
        let script = r#"read -r _; dir="$1"; shift
for pid in "$@"; do
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
done
rm -rf "$dir""#;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("zk-cleanup")
            .arg(self.dir.path())
            .args(&pids)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| HarnessError::io("spawn the cleanup watchdog", e))?;
        let Some(stdin) = child.stdin.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HarnessError::NotReady(
                "cleanup watchdog stdin was not captured".into(),
            ));
        };
        self.exit_cleanup = Some((child, stdin));
        Ok(Box::leak(Box::new(self)))
    }

    /// The OS pid of server `i`'s java process, if running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.servers[i].process.as_ref().map(GuardedChild::pid)
    }

    /// Sends a four-letter word (`ruok`, `srvr`, `mntr`, `conf`, ...) to server `i` and returns
    /// the response.
    ///
    /// Panics if `i >= self.len()`.
    pub async fn four_letter(&self, i: usize, cmd: &str) -> Result<String> {
        four_letter_word(
            self.server_addr(i),
            cmd,
            crate::four_letter::DEFAULT_TIMEOUT,
        )
        .await
        .map_err(|e| HarnessError::io(format!("4lw {cmd} to server {i}"), e))
    }

    /// The mode server `i` reports via `srvr`; `Ok(None)` if it answers but is not serving
    /// (e.g. during leader election).
    ///
    /// Panics if `i >= self.len()`.
    pub async fn mode(&self, i: usize) -> Result<Option<Mode>> {
        Ok(Mode::from_srvr(&self.four_letter(i, "srvr").await?))
    }

    /// Number of servers (running or not).
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Always false: an ensemble has at least one server.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Whether this is a standalone (non-quorum) server.
    pub fn is_standalone(&self) -> bool {
        self.standalone
    }

    /// Client address of server `i` (`127.0.0.1:<port>`).
    ///
    /// Panics if `i >= self.len()`.
    pub fn server_addr(&self, i: usize) -> SocketAddr {
        loopback(self.servers[i].client_port)
    }

    /// `127.0.0.1:p1,127.0.0.1:p2,...` for all servers, running or not.
    pub fn connect_string(&self) -> String {
        let addrs: Vec<String> = (0..self.len())
            .map(|i| self.server_addr(i).to_string())
            .collect();
        addrs.join(",")
    }

    /// The installation the servers run from.
    pub fn installation(&self) -> &Installation {
        &self.install
    }

    /// The options the ensemble was started with.
    pub fn options(&self) -> &ApacheOptions {
        &self.opts
    }

    /// The temporary directory holding every server's files (removed on drop).
    pub fn base_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Server `i`'s `dataDir` (snapshots, transaction logs, `myid`).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.servers[i].dir.join("data")
    }

    /// Path of server `i`'s log (stdout + stderr of the JVM, appended across restarts).
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.servers[i].log_path()
    }

    /// The last 40 lines of server `i`'s log (or a note if it cannot be read).
    pub fn log_tail(&self, i: usize) -> String {
        let path = self.log_path(i);
        match fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
            }
            Err(e) => format!("<cannot read {}: {e}>", path.display()),
        }
    }

    /// One `srvr` probe: the mode, or a description of why there is none.
    async fn probe(&self, i: usize) -> Result<Mode, String> {
        match four_letter_word(self.server_addr(i), "srvr", PROBE_TIMEOUT).await {
            Ok(response) => Mode::from_srvr(&response).ok_or_else(|| {
                let first = response.lines().next().unwrap_or("").trim();
                format!("no Mode line ({first:?})")
            }),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Errors if server `i` was started but its process has exited (and forgets the process).
    fn check_alive(&mut self, i: usize) -> Result<()> {
        let Some(process) = self.servers[i].process.as_mut() else {
            return Ok(());
        };
        match process.try_status() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.servers[i].process = None;
                Err(HarnessError::Exited {
                    index: i,
                    status,
                    log: self.log_tail(i),
                })
            }
            Err(e) => Err(HarnessError::io(format!("check server {i}"), e)),
        }
    }

    /// Builds a readiness error with each server's last probe result and log tail.
    fn not_ready(&self, what: String, probes: &[Result<Mode, String>]) -> HarnessError {
        let mut msg = what;
        for (i, probe) in probes.iter().enumerate() {
            let state = match probe {
                Ok(mode) => mode.to_string(),
                Err(e) => e.clone(),
            };
            let _ = write!(msg, "\n  server {i} ({}): {state}", self.server_addr(i));
        }
        for i in 0..self.len() {
            let _ = write!(
                msg,
                "\n--- server {i} log {} (last {LOG_TAIL_LINES} lines) ---\n{}",
                self.log_path(i).display(),
                self.log_tail(i)
            );
        }
        HarnessError::NotReady(msg)
    }

    /// Whether any server's log shows that a port was taken by another process.
    fn port_conflict(&self) -> bool {
        (0..self.len()).any(|i| {
            fs::read_to_string(self.log_path(i))
                .is_ok_and(|log| log.contains("Address already in use"))
        })
    }
}

impl Drop for ApacheEnsemble {
    fn drop(&mut self) {
        for server in &mut self.servers {
            if let Some(mut process) = server.process.take() {
                let _ = process.kill();
            }
        }
    }
}

impl ZkTarget for ApacheEnsemble {
    fn name(&self) -> String {
        let version = self.install.version.as_deref().unwrap_or("unknown");
        let shape = if self.standalone {
            "standalone".to_string()
        } else {
            format!("{}-node ensemble", self.len())
        };
        format!("Apache ZooKeeper {version} ({shape})")
    }

    fn connect_string(&self) -> String {
        ApacheEnsemble::connect_string(self)
    }

    fn server_addrs(&self) -> Vec<SocketAddr> {
        (0..self.len()).map(|i| self.server_addr(i)).collect()
    }
}

impl ZkCluster for ApacheEnsemble {
    fn kill_server(&mut self, i: usize) -> Result<()> {
        self.kill(i)
    }

    fn freeze_server(&mut self, i: usize) -> Result<()> {
        self.freeze(i)
    }

    fn thaw_server(&mut self, i: usize) -> Result<()> {
        self.thaw(i)
    }

    fn restart_server(&mut self, i: usize) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.start_server(i)?;
            let timeout = self.opts.startup_timeout;
            self.wait_for_leader(timeout).await.map(|_| ())
        })
    }

    fn wait_for_quorum(&mut self, timeout: Duration) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.wait_for_leader(timeout).await.map(|_| ()) })
    }

    fn is_server_running(&mut self, i: usize) -> bool {
        self.is_running(i)
    }

    fn four_letter_word(&self, i: usize, cmd: &str) -> BoxFuture<'_, Result<String>> {
        let cmd = cmd.to_string();
        Box::pin(async move { self.four_letter(i, &cmd).await })
    }
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).map_err(|e| HarnessError::io(format!("write {}", path.display()), e))
}
