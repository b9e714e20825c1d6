//! Failover mode: a 3-node ensemble of zk-server, then one of Apache ZooKeeper, on 127.0.0.1.
//! `--runs` times, while a session connected to the two followers only keeps doing `setData`
//! on one znode, the leader is hit by `--fault`:
//!
//! - `kill`: `kill -9`; times are measured from the moment the process was reaped;
//! - `pause`: `kill -STOP` for `--pause`, then `kill -CONT` (a frozen host, a long GC pause);
//!   times from the moment the signal was sent;
//! - `partition`: every server on a host of its own (a network namespace, see `netns`), the
//!   leader's links to the others dropped by iptables for `--pause`; clients still reach it.
//!
//! Measured:
//! - (a) until `srvr` on a surviving node says `Mode: leader` (each survivor polled every
//!   5 ms);
//! - (b) until a `setData` issued after the fault succeeds (client-visible write
//!   unavailability, including the client's reconnects and its backoff);
//! - (c) the longest time without a successful write from the fault until 2 s after it ended
//!   and writes resumed (a paused leader that comes back must not stall the others again).
//!
//! A killed node is then restarted, a paused one continued, and the next run starts once it
//! serves again and the ensemble has one leader. Every wait is bounded by `--limit`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{join_all, select_ok};
use zk_core::Client;

use crate::launcher::{
    free_ports, srvr, srvr_mode, work_root, write_ensemble_cfg, Kind, Launch, LaunchArgs, Member,
    ServerProcess,
};
use crate::netns::Hosts;
use crate::procstat;
use crate::workload::{ensure, parse_duration};

/// The znode the writer keeps setting.
const ZNODE: &str = "/zk-bench-failover";
/// Session timeout the writer asks for (servers clamp it to [2, 20] × tickTime).
const SESSION_TIMEOUT: Duration = Duration::from_secs(20);
/// How often each survivor's `srvr` is polled after the kill.
const POLL: Duration = Duration::from_millis(5);
/// How long after the end of a fault the longest write gap is still looked for.
const GAP_TAIL: Duration = Duration::from_secs(2);
/// The writer's pause after a failed write.
const RETRY_PAUSE: Duration = Duration::from_millis(10);
/// Successful writes before the leader is killed (the writer is known to work).
const WARM_WRITES: u64 = 20;

/// Which implementations to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// zk-server, then Apache ZooKeeper.
    Both,
    /// zk-server only.
    Ours,
    /// Apache ZooKeeper only.
    Apache,
}

/// What happens to the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// `kill -9`, then a restart.
    Kill,
    /// `kill -STOP` for `--pause`, then `kill -CONT`.
    Pause,
    /// Every server on a host of its own (network namespaces; needs root), the leader's links
    /// to the others cut by iptables for `--pause`, then restored; clients still reach it.
    Partition,
}

/// Failover-mode options.
#[derive(Debug, Clone, clap::Args)]
pub struct FailoverArgs {
    /// Faults per implementation.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// What happens to the leader.
    #[arg(long, value_enum, default_value_t = Fault::Kill)]
    pub fault: Fault,
    /// How long `--fault pause` keeps the leader stopped (and `partition` cut off).
    #[arg(long, default_value = "5200ms", value_parser = parse_duration)]
    pub pause: Duration,
    /// The ensemble's tickTime in ms.
    #[arg(long, default_value_t = 2000)]
    pub tick_ms: u32,
    /// Which implementations to run.
    #[arg(long, value_enum, default_value_t = Only::Both)]
    pub only: Only,
    /// Fail, instead of skipping it, when Apache ZooKeeper is not installed.
    #[arg(long)]
    pub require_apache: bool,
    /// Bound on every wait (start, new leader, first write, restart).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub limit: Duration,
    /// Also write the markdown report here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Binaries, jars and the work directory.
    #[command(flatten)]
    pub launch: LaunchArgs,
    /// Apache heap limit (-Xmx) per node in MiB.
    #[arg(long, default_value_t = 256)]
    pub apache_heap_mb: u32,
}

/// One leader kill.
#[derive(Debug, Clone)]
struct RunOutcome {
    /// `server.N` id of the killed leader.
    killed: u64,
    /// Id of the node that reported `Mode: leader` first.
    new_leader: u64,
    /// (a) kill → a survivor's `srvr` says leader.
    to_leader: Duration,
    /// (b) kill → first successful write issued after the kill.
    to_write: Duration,
    /// (c) the longest time without a successful write, from the fault until 2 s after it
    /// ended.
    longest_gap: Duration,
    /// Writer errors after the kill, by text.
    errors: BTreeMap<String, u64>,
    /// Sessions the writer had to open again (its session expired).
    new_sessions: u32,
}

/// What happened with one implementation.
#[derive(Debug)]
struct ImplResult {
    kind: Kind,
    runs: Vec<RunOutcome>,
    /// Why it stopped early, or was skipped (`Err` counts as a failure of the run).
    status: Result<(), String>,
    skipped: Option<String>,
}

/// A 3-node ensemble under test.
struct Ensemble {
    kind: Kind,
    nodes: Vec<(Member, ServerProcess)>,
    limit: Duration,
    /// The hosts, when every server has one of its own (dropped after the servers).
    hosts: Option<Arc<Hosts>>,
}

impl Ensemble {
    async fn start(
        kind: Kind,
        launch: &Launch,
        root: &Path,
        tick_ms: u32,
        limit: Duration,
        hosts: Option<Arc<Hosts>>,
    ) -> Result<Self, String> {
        let ports = free_ports(9).map_err(|e| format!("free ports: {e}"))?;
        let members: Vec<Member> = ports
            .chunks(3)
            .zip(1..)
            .map(|(p, id)| Member {
                id,
                host: hosts
                    .as_ref()
                    .map_or(Ipv4Addr::LOCALHOST, |h| h.addr(id as usize - 1)),
                client_port: p[0],
                quorum_port: p[1],
                election_port: p[2],
            })
            .collect();
        let mut nodes = Vec::new();
        for m in &members {
            let dir = root
                .join(format!("{}-failover", kind.name()))
                .join(format!("n{}", m.id));
            let data = dir.join("data");
            std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
            let cfg = dir.join("zoo.cfg");
            write_ensemble_cfg(&cfg, &data, tick_ms, m, &members)
                .map_err(|e| format!("{}: {e}", cfg.display()))?;
            let netns = hosts.as_ref().map(|h| h.ns(m.id as usize - 1));
            let at = (m.host, m.client_port);
            let log = dir.join("server.log");
            let p = ServerProcess::spawn_at(kind, launch, &cfg, at, netns, &log)
                .map_err(|e| format!("node {}: {e}", m.id))?;
            nodes.push((*m, p));
        }
        let mut e = Self {
            kind,
            nodes,
            limit,
            hosts,
        };
        for (m, p) in &mut e.nodes {
            p.wait_serving(None, limit)
                .await
                .map_err(|err| format!("node {}: {err}", m.id))?;
        }
        e.wait_leader("the ensemble's first leader").await?;
        Ok(e)
    }

    fn addr(&self, i: usize) -> String {
        let m = &self.nodes[i].0;
        format!("{}:{}", m.host, m.client_port)
    }

    /// Waits until every node answers `srvr` with a mode and exactly one says `leader`;
    /// returns its index.
    async fn wait_leader(&mut self, what: &str) -> Result<usize, String> {
        let deadline = Instant::now() + self.limit;
        loop {
            for (m, p) in &mut self.nodes {
                if let Some(e) = p.exited() {
                    return Err(format!("waiting for {what}: node {}: {e}", m.id));
                }
            }
            let modes: Vec<Option<String>> = join_all((0..self.nodes.len()).map(|i| {
                let addr = self.addr(i);
                async move {
                    let out = srvr(&addr, Duration::from_secs(1)).await?;
                    srvr_mode(&out).map(str::to_string)
                }
            }))
            .await;
            let leaders: Vec<usize> = (0..modes.len())
                .filter(|&i| modes[i].as_deref() == Some("leader"))
                .collect();
            if modes.iter().all(Option::is_some) && leaders.len() == 1 {
                return Ok(leaders[0]);
            }
            if Instant::now() > deadline {
                let mut msg = format!(
                    "{}: no single leader among serving nodes within {:?} (waiting for {what}); modes:",
                    self.kind.name(),
                    self.limit
                );
                for ((m, p), mode) in self.nodes.iter().zip(&modes) {
                    let _ = write!(
                        msg,
                        "\n-- node {}: {}; log tail:\n{}",
                        m.id,
                        mode.as_deref().unwrap_or("not serving"),
                        p.log_tail()
                    );
                }
                return Err(msg);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What the writer saw, shared with the run.
#[derive(Debug, Default)]
struct WriterState {
    ok: u64,
    kill_at: Option<Instant>,
    /// When the first write issued at or after `kill_at` succeeded.
    recovered: Option<Instant>,
    errors_after_kill: BTreeMap<String, u64>,
    /// When each write after the fault succeeded.
    successes: Vec<Instant>,
    new_sessions: u32,
    /// Set if the writer gave up (it could not open a session again).
    failed: Option<String>,
}

fn lock(s: &Mutex<WriterState>) -> std::sync::MutexGuard<'_, WriterState> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sets [`ZNODE`] in a loop, one write at a time, retrying after failures, until `stop`.
async fn writer(
    connect: String,
    mut client: Client,
    state: Arc<Mutex<WriterState>>,
    stop: Arc<AtomicBool>,
    limit: Duration,
) {
    let mut n: u64 = 0;
    while !stop.load(Ordering::Acquire) {
        n += 1;
        let issued = Instant::now();
        let r = tokio::time::timeout(limit, client.set_data(ZNODE, &n.to_be_bytes(), None)).await;
        let done = Instant::now();
        let err = match r {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {limit:?}")),
        };
        {
            let mut s = lock(&state);
            let after_kill = s.kill_at.is_some_and(|k| issued >= k);
            match &err {
                None => {
                    s.ok += 1;
                    if after_kill && s.recovered.is_none() {
                        s.recovered = Some(done);
                    }
                    if s.kill_at.is_some() {
                        s.successes.push(done);
                    }
                }
                Some(e) if s.kill_at.is_some() => {
                    *s.errors_after_kill.entry(e.clone()).or_default() += 1;
                }
                Some(_) => {}
            }
        }
        if err.is_none() {
            continue;
        }
        if client.state().is_terminal() {
            // The session expired or closed: open a new one (the measurement goes on).
            match tokio::time::timeout(limit, session(&connect)).await {
                Ok(Ok(c)) => {
                    client = c;
                    lock(&state).new_sessions += 1;
                }
                Ok(Err(e)) => {
                    lock(&state).failed = Some(format!("new session on {connect}: {e}"));
                    return;
                }
                Err(_) => {
                    lock(&state).failed =
                        Some(format!("new session on {connect}: none within {limit:?}"));
                    return;
                }
            }
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    client.close().await;
}

async fn session(connect: &str) -> Result<Client, zk_core::Error> {
    Client::builder(connect)
        .session_timeout(SESSION_TIMEOUT)
        .connect()
        .await
}

/// Polls the survivors' `srvr` until one says `Mode: leader`; returns when, and its index.
async fn new_leader(
    addrs: Vec<(usize, String)>,
    limit: Duration,
) -> Result<(Instant, usize), String> {
    let probes = addrs.into_iter().map(|(i, addr)| {
        Box::pin(async move {
            loop {
                if let Some(out) = srvr(&addr, Duration::from_secs(1)).await {
                    if srvr_mode(&out) == Some("leader") {
                        return Ok::<_, ()>((Instant::now(), i));
                    }
                }
                tokio::time::sleep(POLL).await;
            }
        })
    });
    match tokio::time::timeout(limit, select_ok(probes)).await {
        Ok(Ok(((at, i), _))) => Ok((at, i)),
        _ => Err(format!(
            "no survivor reported Mode: leader within {limit:?}"
        )),
    }
}

/// Waits until the writer's first write issued after the kill succeeded.
async fn first_write(state: &Mutex<WriterState>, limit: Duration) -> Result<Instant, String> {
    let deadline = Instant::now() + limit;
    loop {
        {
            let s = lock(state);
            if let Some(at) = s.recovered {
                return Ok(at);
            }
            if let Some(e) = &s.failed {
                return Err(format!("writer: {e}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no write succeeded within {limit:?} of the kill; errors: {:?}",
                    s.errors_after_kill
                ));
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The longest time in `[from, to]` without an entry of `successes` (sorted).
fn longest_gap(successes: &[Instant], from: Instant, to: Instant) -> Duration {
    let mut prev = from;
    let mut gap = Duration::ZERO;
    for &t in successes.iter().filter(|&&t| t > from && t <= to) {
        gap = gap.max(t - prev);
        prev = t;
    }
    gap.max(to.saturating_duration_since(prev))
}

/// One fault on the leader, and the node's recovery (restart or continue).
async fn one_run(e: &mut Ensemble, fault: Fault, pause: Duration) -> Result<RunOutcome, String> {
    let limit = e.limit;
    let leader = e.wait_leader("a leader before the kill").await?;
    let followers: Vec<usize> = (0..e.nodes.len()).filter(|&i| i != leader).collect();
    let connect = followers
        .iter()
        .map(|&i| e.addr(i))
        .collect::<Vec<_>>()
        .join(",");
    let client = match tokio::time::timeout(limit, session(&connect)).await {
        Ok(Ok(c)) => c,
        Ok(Err(err)) => return Err(format!("writer session on {connect}: {err}")),
        Err(_) => {
            return Err(format!(
                "writer session on {connect}: none within {limit:?}"
            ))
        }
    };
    if let Err(err) = ensure(&client, ZNODE, b"").await {
        client.close().await;
        return Err(format!("create {ZNODE}: {err}"));
    }
    let state = Arc::new(Mutex::new(WriterState::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(writer(
        connect.clone(),
        client,
        state.clone(),
        stop.clone(),
        limit,
    ));
    let measured = async {
        let warm_deadline = Instant::now() + limit;
        while lock(&state).ok < WARM_WRITES {
            if Instant::now() > warm_deadline {
                return Err(format!(
                    "the writer did not get {WARM_WRITES} writes through within {limit:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = e.nodes[leader].0.id;
        let kill_at = match (fault, &e.hosts) {
            (Fault::Kill, _) => e.nodes[leader].1.kill9(),
            (Fault::Pause, _) => e.nodes[leader].1.signal("STOP").ok(),
            (Fault::Partition, Some(h)) => h.isolate(leader).map(|()| Instant::now()).ok(),
            (Fault::Partition, None) => None,
        };
        let Some(kill_at) = kill_at else {
            return Err(format!("node {killed} (the leader) was not running"));
        };
        lock(&state).kill_at = Some(kill_at);
        let survivors: Vec<(usize, String)> = followers.iter().map(|&i| (i, e.addr(i))).collect();
        let paused = &e.nodes[leader].1;
        let hosts = e.hosts.clone();
        // A paused leader is continued (a cut one reconnected) on schedule, whatever the
        // measurements are waiting for.
        let resume = async {
            if fault != Fault::Kill {
                tokio::time::sleep_until((kill_at + pause).into()).await;
            }
            match (fault, hosts) {
                (Fault::Pause, _) => {
                    paused
                        .signal("CONT")
                        .map_err(|err| format!("continue node {killed}: {err}"))?;
                }
                (Fault::Partition, Some(h)) => h.heal(leader)?,
                _ => {}
            }
            Ok::<_, String>(Instant::now())
        };
        let (l, w, resumed) = tokio::join!(
            new_leader(survivors, limit),
            first_write(&state, limit),
            resume
        );
        let fault_end = resumed?;
        let (leader_at, new_idx) = l?;
        let write_at = w?;
        let window_end = fault_end.max(write_at) + GAP_TAIL;
        tokio::time::sleep_until(window_end.into()).await;
        let s = lock(&state);
        Ok(RunOutcome {
            killed,
            new_leader: e.nodes[new_idx].0.id,
            to_leader: leader_at - kill_at,
            to_write: write_at - kill_at,
            longest_gap: longest_gap(&s.successes, kill_at, window_end),
            errors: s.errors_after_kill.clone(),
            new_sessions: s.new_sessions,
        })
    }
    .await;
    stop.store(true, Ordering::Release);
    if tokio::time::timeout(limit, task).await.is_err() {
        eprintln!("  (the writer did not stop within {limit:?})");
    }
    let outcome = measured?;
    let (m, p) = &mut e.nodes[leader];
    if fault == Fault::Kill {
        p.restart_after_kill9()
            .map_err(|err| format!("restart node {}: {err}", m.id))?;
    }
    p.wait_serving(None, limit)
        .await
        .map_err(|err| format!("restarted node {}: {err}", m.id))?;
    e.wait_leader("a leader after the restart").await?;
    Ok(outcome)
}

async fn run_impl(kind: Kind, launch: &Launch, root: &Path, args: &FailoverArgs) -> ImplResult {
    let mut r = ImplResult {
        kind,
        runs: Vec::new(),
        status: Ok(()),
        skipped: None,
    };
    eprintln!("== {} ==", kind.name());
    let hosts = match args.fault {
        Fault::Partition => match Hosts::create(3) {
            Ok(h) => Some(Arc::new(h)),
            Err(err) => {
                r.status = Err(err);
                return r;
            }
        },
        _ => None,
    };
    let started = Ensemble::start(kind, launch, root, args.tick_ms, args.limit, hosts).await;
    let mut e = match started {
        Ok(e) => e,
        Err(err) => {
            r.status = Err(format!("ensemble did not start: {err}"));
            return r;
        }
    };
    for run in 1..=args.runs {
        match one_run(&mut e, args.fault, args.pause).await {
            Ok(o) => {
                eprintln!(
                    "  run {run}: {:?} of leader {} → node {} leads after {:.3?}; first write after {:.3?}; longest gap {:.3?}; writer errors {:?}",
                    args.fault, o.killed, o.new_leader, o.to_leader, o.to_write, o.longest_gap, o.errors
                );
                r.runs.push(o);
            }
            Err(err) => {
                r.status = Err(format!("run {run}: {err}"));
                break;
            }
        }
    }
    r
}

/// Runs failover mode; returns the report and whether every requested measurement worked.
pub async fn run(args: &FailoverArgs) -> Result<(String, bool), String> {
    let launch = args.launch.launch(args.apache_heap_mb);
    if args.only != Only::Apache && !launch.zk_server_bin.exists() {
        return Err(format!(
            "{} not found (build it: cargo build --release -p zk-server --bins)",
            launch.zk_server_bin.display()
        ));
    }
    let (root, _temp) = work_root(args.launch.work_dir.as_deref(), "zk-bench-failover-")?;
    let mut results = Vec::new();
    if args.only != Only::Apache {
        results.push(run_impl(Kind::Ours, &launch, &root, args).await);
    }
    if args.only != Only::Ours {
        match launch.apache_available() {
            Ok(()) => results.push(run_impl(Kind::Apache, &launch, &root, args).await),
            Err(why) => {
                let why = format!("Apache ZooKeeper is not installed ({why})");
                eprintln!("== apache ==\n  {why}; skipped (--require-apache makes this an error)");
                results.push(ImplResult {
                    kind: Kind::Apache,
                    runs: Vec::new(),
                    status: if args.require_apache {
                        Err(why.clone())
                    } else {
                        Ok(())
                    },
                    skipped: Some(why),
                });
            }
        }
    }
    let ok = results.iter().all(|r| r.status.is_ok());
    let report = markdown(args, &root, &results);
    if let Some(out) = &args.out {
        std::fs::write(out, &report).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok((report, ok))
}

/// A summary of the runs' times, in seconds.
type Summary = fn(&[Duration]) -> Option<f64>;
/// Which time of a run.
type Pick = fn(&RunOutcome) -> Duration;

fn median(v: &[Duration]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

fn max(v: &[Duration]) -> Option<f64> {
    v.iter().map(Duration::as_secs_f64).max_by(f64::total_cmp)
}

fn markdown(args: &FailoverArgs, root: &Path, results: &[ImplResult]) -> String {
    let mut out = String::new();
    let fault = match args.fault {
        Fault::Kill => "kill -9".to_string(),
        Fault::Pause => format!("kill -STOP for {:?}", args.pause),
        Fault::Partition => format!("cut off from the others for {:?}", args.pause),
    };
    let _ = writeln!(
        out,
        "# zk-bench failover: leader {fault} in a 3-node ensemble\n"
    );
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let _ = writeln!(out, "- command: `{command}`");
    let _ = writeln!(out, "- machine: {}", procstat::machine_summary());
    let _ = writeln!(
        out,
        "- setup: 3 nodes (on 127.0.0.1; with --fault partition each in its own network namespace on a bridge), tickTime={} ms, initLimit=10, syncLimit=5, fsync on, \
         fresh data dirs under {}; {} leader fault(s) ({fault}) per implementation. A session connected to \
         the two followers only (zk-core client, session timeout {:?} asked, reconnect backoff \
         50 ms doubling to 2 s) does one setData at a time on {ZNODE}, {:?} pause after a \
         failure. (a) = from the fault (kill: the leader's process reaped; pause: SIGSTOP sent; \
         partition: the DROP rules in place) \
         until a survivor's `srvr` says `Mode: leader` (polled every {:?}); (b) = from the same moment until a setData issued \
         after it succeeds; (c) = the longest time without a successful setData from the fault \
         until {GAP_TAIL:?} after it ended. The node is restarted (continued, reconnected) and rejoins \
         before the next run.\n",
        args.tick_ms,
        root.display(),
        args.runs,
        SESSION_TIMEOUT,
        RETRY_PAUSE,
        POLL
    );
    let ours = results.iter().find(|r| r.kind == Kind::Ours);
    let apache = results.iter().find(|r| r.kind == Kind::Apache);
    let _ = writeln!(out, "| metric | zk-server | apache | ours/apache |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let leader = |o: &RunOutcome| o.to_leader;
    let write = |o: &RunOutcome| o.to_write;
    let gap = |o: &RunOutcome| o.longest_gap;
    let rows: [(&str, Summary, Pick); 6] = [
        ("(a) fault → new leader in srvr, median (s)", median, leader),
        ("(a) fault → new leader in srvr, max (s)", max, leader),
        (
            "(b) fault → first successful write, median (s)",
            median,
            write,
        ),
        ("(b) fault → first successful write, max (s)", max, write),
        ("(c) longest gap without a write, median (s)", median, gap),
        ("(c) longest gap without a write, max (s)", max, gap),
    ];
    let cell = |r: Option<&ImplResult>, f: Summary, pick: Pick| {
        r.and_then(|r| f(&r.runs.iter().map(pick).collect::<Vec<_>>()))
    };
    for (name, f, pick) in rows {
        let (o, a) = (cell(ours, f, pick), cell(apache, f, pick));
        let fmt = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.3}"));
        let ratio = match (o, a) {
            (Some(o), Some(a)) if a > 0.0 => format!("{:.2}×", o / a),
            _ => "n/a".into(),
        };
        let _ = writeln!(out, "| {name} | {} | {} | {ratio} |", fmt(o), fmt(a));
    }
    let _ = writeln!(out, "\n## Runs\n");
    let _ = writeln!(
        out,
        "| server | run | leader hit | new leader | (a) s | (b) s | (c) s | writer errors after the fault | new sessions |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|---:|");
    for r in results {
        for (i, o) in r.runs.iter().enumerate() {
            let errors = if o.errors.is_empty() {
                "none".to_string()
            } else {
                o.errors
                    .iter()
                    .map(|(e, n)| format!("{e} ×{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {errors} | {} |",
                r.kind.name(),
                i + 1,
                o.killed,
                o.new_leader,
                o.to_leader.as_secs_f64(),
                o.to_write.as_secs_f64(),
                o.longest_gap.as_secs_f64(),
                o.new_sessions
            );
        }
        if let Some(why) = &r.skipped {
            let _ = writeln!(out, "| {} | skipped: {why} ||||||||", r.kind.name());
        } else if let Err(e) = &r.status {
            let first = e.lines().next().unwrap_or_default();
            let _ = writeln!(out, "| {} | failed: {first} ||||||||", r.kind.name());
        }
    }
    for r in results {
        if let (None, Err(e)) = (&r.skipped, &r.status) {
            let _ = writeln!(out, "\n### {} failed\n\n```\n{e}\n```", r.kind.name());
        }
    }
    out
}
