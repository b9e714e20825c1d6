//! Differential test: the same seeded random sequence of operations (every kind, with errors,
//! watches, ACLs and sessions) against Apache ZooKeeper and zk-server; every result and every
//! watch event is normalized (zxids by order of first appearance, session ids by index, times
//! dropped, child lists sorted) and compared. Reports how many operations ran and how many
//! diverged; the test fails on any divergence.
//!
//! `ZK_DIFF_SEED` and `ZK_DIFF_OPS` override the seed and the number of operations.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use futures::FutureExt;
use futures::StreamExt;
use integration::apache::{ApacheEnsemble, ApacheOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_core::proto::{ttl_from_ephemeral_owner, CONTAINER_EPHEMERAL_OWNER};
use zk_core::{
    perms, Acl, AddWatchMode, Client, CreateMode, CreateOptions, Error, MultiResult,
    OneshotWatcher, PersistentWatcher, ReadOp, ReadResult, Stat, WatcherType,
};
use zk_server::testing::TestingServer;

const SESSIONS: usize = 3;
const BASE: &str = "/diff";
const NAMES: &[&str] = &["a", "b", "c"];
const USERS: &[(&str, &str)] = &[("alice", "pw1"), ("bob", "pw2")];

/// One generated operation, applied identically to both targets.
#[derive(Debug, Clone)]
enum Op {
    Create {
        s: usize,
        path: String,
        data: Vec<u8>,
        mode: CreateMode,
        acl: usize,
        with_stat: bool,
    },
    Delete {
        s: usize,
        path: String,
        version: Option<i32>,
    },
    SetData {
        s: usize,
        path: String,
        data: Vec<u8>,
        version: Option<i32>,
    },
    Exists {
        s: usize,
        path: String,
        watch: bool,
    },
    GetData {
        s: usize,
        path: String,
        watch: bool,
    },
    GetChildren {
        s: usize,
        path: String,
        watch: bool,
        two: bool,
    },
    GetAcl {
        s: usize,
        path: String,
    },
    SetAcl {
        s: usize,
        path: String,
        acl: usize,
        version: Option<i32>,
    },
    Multi {
        s: usize,
        ops: Vec<SubOp>,
    },
    MultiRead {
        s: usize,
        paths: Vec<(bool, String)>,
    },
    AllChildren {
        s: usize,
        path: String,
    },
    Ephemerals {
        s: usize,
    },
    AddAuth {
        s: usize,
        user: usize,
    },
    AddWatch {
        s: usize,
        path: String,
        recursive: bool,
    },
    RemoveWatches {
        s: usize,
        path: String,
        kind: WatcherType,
    },
    Sync {
        s: usize,
        path: String,
    },
    Reconnect {
        s: usize,
    },
}

#[derive(Debug, Clone)]
enum SubOp {
    Create(String, CreateMode),
    Delete(String, Option<i32>),
    SetData(String, Option<i32>),
    Check(String, i32),
}

fn acl_variant(i: usize) -> Vec<Acl> {
    match i {
        0 => Acl::open_unsafe(),
        1 => Acl::read_unsafe(),
        2 => Acl::creator_all(),
        3 => vec![Acl::new(
            perms::ALL,
            "digest",
            &zk_core::auth::digest_id("alice", "pw1"),
        )],
        4 => vec![Acl::new(perms::ALL, "ip", "127.0.0.1")],
        5 => vec![Acl::new(perms::READ | perms::CREATE, "ip", "10.0.0.0/8")],
        _ => vec![Acl::new(perms::ALL, "world", "nobody")],
    }
}
const ACLS: usize = 7;

fn random_path(rng: &mut StdRng) -> String {
    let depth = rng.gen_range(1..=3);
    let mut p = BASE.to_string();
    for _ in 0..depth {
        p.push('/');
        p.push_str(NAMES[rng.gen_range(0..NAMES.len())]);
    }
    p
}

fn random_version(rng: &mut StdRng) -> Option<i32> {
    if rng.gen_bool(0.6) {
        None
    } else {
        Some(rng.gen_range(-1..3))
    }
}

fn random_mode(rng: &mut StdRng) -> CreateMode {
    match rng.gen_range(0..10) {
        0..=3 => CreateMode::Persistent,
        4 => CreateMode::Ephemeral,
        5 => CreateMode::PersistentSequential,
        6 => CreateMode::EphemeralSequential,
        7 => CreateMode::Container,
        8 => CreateMode::PersistentWithTtl,
        _ => CreateMode::PersistentSequentialWithTtl,
    }
}

fn random_data(rng: &mut StdRng) -> Vec<u8> {
    let n = rng.gen_range(0..8);
    (0..n).map(|_| rng.gen_range(b'a'..=b'z')).collect()
}

fn generate(rng: &mut StdRng) -> Op {
    let s = rng.gen_range(0..SESSIONS);
    let path = random_path(rng);
    match rng.gen_range(0..100) {
        0..=24 => Op::Create {
            s,
            path,
            data: random_data(rng),
            mode: random_mode(rng),
            acl: if rng.gen_bool(0.8) {
                0
            } else {
                rng.gen_range(0..ACLS)
            },
            with_stat: rng.gen_bool(0.5),
        },
        25..=34 => Op::Delete {
            s,
            path,
            version: random_version(rng),
        },
        35..=44 => Op::SetData {
            s,
            path,
            data: random_data(rng),
            version: random_version(rng),
        },
        45..=50 => Op::Exists {
            s,
            path,
            watch: rng.gen_bool(0.5),
        },
        51..=56 => Op::GetData {
            s,
            path,
            watch: rng.gen_bool(0.5),
        },
        57..=62 => Op::GetChildren {
            s,
            path,
            watch: rng.gen_bool(0.5),
            two: rng.gen_bool(0.5),
        },
        63..=65 => Op::GetAcl { s, path },
        66..=69 => Op::SetAcl {
            s,
            path,
            acl: rng.gen_range(0..ACLS),
            version: random_version(rng),
        },
        70..=76 => {
            let n = rng.gen_range(1..=4);
            let ops = (0..n)
                .map(|_| {
                    let p = random_path(rng);
                    match rng.gen_range(0..4) {
                        0 => SubOp::Create(p, random_mode(rng)),
                        1 => SubOp::Delete(p, random_version(rng)),
                        2 => SubOp::SetData(p, random_version(rng)),
                        _ => SubOp::Check(p, rng.gen_range(-1..3)),
                    }
                })
                .filter(|o| !matches!(o, SubOp::Create(_, m) if m.is_ttl()))
                .collect();
            Op::Multi { s, ops }
        }
        77..=79 => Op::MultiRead {
            s,
            paths: (0..rng.gen_range(1..=3))
                .map(|_| (rng.gen_bool(0.5), random_path(rng)))
                .collect(),
        },
        80..=81 => Op::AllChildren { s, path },
        82..=83 => Op::Ephemerals { s },
        84..=85 => Op::AddAuth {
            s,
            user: rng.gen_range(0..USERS.len()),
        },
        86..=88 => Op::AddWatch {
            s,
            path,
            recursive: rng.gen_bool(0.5),
        },
        89..=91 => Op::RemoveWatches {
            s,
            path,
            kind: [WatcherType::Children, WatcherType::Data, WatcherType::Any][rng.gen_range(0..3)],
        },
        92..=94 => Op::Sync { s, path },
        _ => Op::Reconnect { s },
    }
}

struct Session {
    client: Client,
    oneshots: Vec<(String, OneshotWatcher)>,
    streams: Vec<(String, PersistentWatcher)>,
}

/// One target (Apache or ours) with its sessions and normalization maps.
struct Target {
    name: &'static str,
    connect: String,
    sessions: Vec<Session>,
    zxids: HashMap<i64, usize>,
    session_ids: HashMap<i64, usize>,
}

impl Target {
    async fn new(name: &'static str, connect: String) -> Self {
        let mut t = Self {
            name,
            connect,
            sessions: Vec::new(),
            zxids: HashMap::new(),
            session_ids: HashMap::new(),
        };
        for _ in 0..SESSIONS {
            let s = t.open().await;
            t.sessions.push(s);
        }
        t
    }

    async fn open(&mut self) -> Session {
        let client = Client::builder(&self.connect)
            .session_timeout(Duration::from_secs(30))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{}: connect: {e}", self.name));
        let n = self.session_ids.len();
        self.session_ids.insert(client.session_id(), n);
        Session {
            client,
            oneshots: Vec::new(),
            streams: Vec::new(),
        }
    }

    fn zxid(&mut self, z: i64) -> usize {
        let n = self.zxids.len();
        *self.zxids.entry(z).or_insert(n)
    }

    fn stat(&mut self, s: &Stat) -> String {
        let owner = if s.ephemeral_owner == 0 {
            "0".to_string()
        } else if s.ephemeral_owner == CONTAINER_EPHEMERAL_OWNER {
            "container".to_string()
        } else if let Some(ttl) = ttl_from_ephemeral_owner(s.ephemeral_owner) {
            format!("ttl:{ttl}")
        } else {
            match self.session_ids.get(&s.ephemeral_owner) {
                Some(i) => format!("s{i}"),
                None => format!("unknown:{:#x}", s.ephemeral_owner),
            }
        };
        let (c, m, p) = (self.zxid(s.czxid), self.zxid(s.mzxid), self.zxid(s.pzxid));
        format!(
            "stat(cz{c} mz{m} pz{p} v{} cv{} av{} own={owner} len{} nc{} {})",
            s.version,
            s.cversion,
            s.aversion,
            s.data_length,
            s.num_children,
            if s.ctime <= s.mtime { "t-ok" } else { "t-bad" }
        )
    }

    fn err(e: &Error) -> String {
        match e {
            Error::Multi {
                index,
                error,
                results,
            } => {
                format!(
                    "multi-err(at {index}: {error:?}; {})",
                    multi_results(results)
                )
            }
            other => format!("err({other:?})"),
        }
    }

    /// Runs one op and returns the normalized result followed by the watch events each session
    /// received because of it.
    async fn run(&mut self, op: &Op) -> String {
        let mut out = self.result(op).await;
        // A round trip on every session: any event caused by `op` arrives before its reply.
        for i in 0..self.sessions.len() {
            let _ = self.sessions[i].client.exists("/").await;
            let sess = &mut self.sessions[i];
            let mut fired = Vec::new();
            sess.oneshots
                .retain_mut(|(what, w)| match w.now_or_never() {
                    Some(ev) => {
                        fired.push(format!("{what}->{:?}@{}", ev.event_type, ev.path));
                        false
                    }
                    None => true,
                });
            for (what, st) in &mut sess.streams {
                while let Some(Some(ev)) = st.next().now_or_never() {
                    fired.push(format!("{what}->{:?}@{}", ev.event_type, ev.path));
                }
            }
            fired.sort();
            if !fired.is_empty() {
                let _ = write!(out, " | s{i} events: {}", fired.join(", "));
            }
        }
        out
    }

    async fn result(&mut self, op: &Op) -> String {
        let s = match op {
            Op::Create { s, .. }
            | Op::Delete { s, .. }
            | Op::SetData { s, .. }
            | Op::Exists { s, .. }
            | Op::GetData { s, .. }
            | Op::GetChildren { s, .. }
            | Op::GetAcl { s, .. }
            | Op::SetAcl { s, .. }
            | Op::Multi { s, .. }
            | Op::MultiRead { s, .. }
            | Op::AllChildren { s, .. }
            | Op::Ephemerals { s }
            | Op::AddAuth { s, .. }
            | Op::AddWatch { s, .. }
            | Op::RemoveWatches { s, .. }
            | Op::Sync { s, .. }
            | Op::Reconnect { s } => *s,
        };
        let c = self.sessions[s].client.clone();
        match op {
            Op::Create {
                path,
                data,
                mode,
                acl,
                with_stat,
                ..
            } => {
                let mut opts = CreateOptions::new(*mode).acl(acl_variant(*acl));
                if mode.is_ttl() {
                    opts = opts.ttl(3_600_000);
                }
                if *with_stat {
                    match c.create2(path, data, &opts).await {
                        Ok((p, st)) => format!("created {p} {}", self.stat(&st)),
                        Err(e) => Self::err(&e),
                    }
                } else {
                    match c.create(path, data, &opts).await {
                        Ok(p) => format!("created {p}"),
                        Err(e) => Self::err(&e),
                    }
                }
            }
            Op::Delete { path, version, .. } => match c.delete(path, *version).await {
                Ok(()) => "deleted".into(),
                Err(e) => Self::err(&e),
            },
            Op::SetData {
                path,
                data,
                version,
                ..
            } => match c.set_data(path, data, *version).await {
                Ok(st) => format!("set {}", self.stat(&st)),
                Err(e) => Self::err(&e),
            },
            Op::Exists { path, watch, .. } => {
                if *watch {
                    match c.exists_w(path).await {
                        Ok((st, w)) => {
                            self.sessions[s]
                                .oneshots
                                .push((format!("exists {path}"), w));
                            format!("exists {}", st.map_or("none".into(), |st| self.stat(&st)))
                        }
                        Err(e) => Self::err(&e),
                    }
                } else {
                    match c.exists(path).await {
                        Ok(st) => {
                            format!("exists {}", st.map_or("none".into(), |st| self.stat(&st)))
                        }
                        Err(e) => Self::err(&e),
                    }
                }
            }
            Op::GetData { path, watch, .. } => {
                let r = if *watch {
                    c.get_data_w(path).await.map(|(d, st, w)| {
                        self.sessions[s].oneshots.push((format!("data {path}"), w));
                        (d, st)
                    })
                } else {
                    c.get_data(path).await
                };
                match r {
                    Ok((d, st)) => {
                        format!("data {:?} {}", String::from_utf8_lossy(&d), self.stat(&st))
                    }
                    Err(e) => Self::err(&e),
                }
            }
            Op::GetChildren {
                path, watch, two, ..
            } => {
                let r = match (*watch, *two) {
                    (false, false) => c.get_children(path).await.map(|v| (v, None, None)),
                    (true, false) => c
                        .get_children_w(path)
                        .await
                        .map(|(v, w)| (v, None, Some(w))),
                    (false, true) => c
                        .get_children2(path)
                        .await
                        .map(|(v, st)| (v, Some(st), None)),
                    (true, true) => c
                        .get_children2_w(path)
                        .await
                        .map(|(v, st, w)| (v, Some(st), Some(w))),
                };
                match r {
                    Ok((mut v, st, w)) => {
                        if let Some(w) = w {
                            self.sessions[s]
                                .oneshots
                                .push((format!("children {path}"), w));
                        }
                        v.sort();
                        let st = st.map(|st| self.stat(&st)).unwrap_or_default();
                        format!("children {v:?} {st}")
                    }
                    Err(e) => Self::err(&e),
                }
            }
            Op::GetAcl { path, .. } => match c.get_acl(path).await {
                Ok((acl, st)) => format!("acl {acl:?} {}", self.stat(&st)),
                Err(e) => Self::err(&e),
            },
            Op::SetAcl {
                path, acl, version, ..
            } => match c.set_acl(path, acl_variant(*acl), *version).await {
                Ok(st) => format!("setacl {}", self.stat(&st)),
                Err(e) => Self::err(&e),
            },
            Op::Multi { ops, .. } => {
                let mut t = c.transaction();
                for o in ops {
                    t = match o {
                        SubOp::Create(p, m) => t.create(p, b"m", &CreateOptions::new(*m)),
                        SubOp::Delete(p, v) => t.delete(p, *v),
                        SubOp::SetData(p, v) => t.set_data(p, b"m", *v),
                        SubOp::Check(p, v) => t.check(p, *v),
                    };
                }
                match t.commit().await {
                    Ok(results) => {
                        let r = results
                            .iter()
                            .map(|r| match r {
                                MultiResult::SetData { stat } => format!("set {}", self.stat(stat)),
                                MultiResult::Create2 { op, path, stat } => {
                                    format!("{op:?} {path} {}", self.stat(stat))
                                }
                                other => format!("{other:?}"),
                            })
                            .collect::<Vec<_>>()
                            .join("; ");
                        format!("multi ok [{r}]")
                    }
                    Err(e) => Self::err(&e),
                }
            }
            Op::MultiRead { paths, .. } => {
                let ops: Vec<ReadOp> = paths
                    .iter()
                    .map(|(data, p)| {
                        if *data {
                            ReadOp::GetData(p.clone())
                        } else {
                            ReadOp::GetChildren(p.clone())
                        }
                    })
                    .collect();
                match c.multi_read(&ops).await {
                    Ok(rs) => {
                        let r = rs
                            .into_iter()
                            .map(|r| match r {
                                ReadResult::Data(d, st) => {
                                    format!(
                                        "data {:?} {}",
                                        String::from_utf8_lossy(&d),
                                        self.stat(&st)
                                    )
                                }
                                ReadResult::Children(mut v) => {
                                    v.sort();
                                    format!("children {v:?}")
                                }
                                ReadResult::Error(e) => Self::err(&e),
                            })
                            .collect::<Vec<_>>()
                            .join("; ");
                        format!("multiread [{r}]")
                    }
                    Err(e) => Self::err(&e),
                }
            }
            Op::AllChildren { path, .. } => match c.get_all_children_number(path).await {
                Ok(n) => format!("all-children {n}"),
                Err(e) => Self::err(&e),
            },
            Op::Ephemerals { .. } => match c.get_ephemerals(BASE).await {
                Ok(mut v) => {
                    v.sort();
                    format!("ephemerals {v:?}")
                }
                Err(e) => Self::err(&e),
            },
            Op::AddAuth { user, .. } => {
                let (u, p) = USERS[*user];
                match c.add_auth("digest", format!("{u}:{p}").as_bytes()).await {
                    Ok(()) => "auth ok".into(),
                    Err(e) => Self::err(&e),
                }
            }
            Op::AddWatch {
                path, recursive, ..
            } => {
                let mode = if *recursive {
                    AddWatchMode::PersistentRecursive
                } else {
                    AddWatchMode::Persistent
                };
                match c.add_watch(path, mode).await {
                    Ok(w) => {
                        self.sessions[s]
                            .streams
                            .push((format!("{mode:?} {path}"), w));
                        "watch added".into()
                    }
                    Err(e) => Self::err(&e),
                }
            }
            Op::RemoveWatches { path, kind, .. } => match c.remove_watches(path, *kind).await {
                Ok(()) => "watches removed".into(),
                Err(e) => Self::err(&e),
            },
            Op::Sync { path, .. } => match c.sync(path).await {
                Ok(()) => "synced".into(),
                Err(e) => Self::err(&e),
            },
            Op::Reconnect { .. } => {
                c.close().await;
                let fresh = self.open().await;
                let old = std::mem::replace(&mut self.sessions[s], fresh);
                // Watches of the closed session end; they are not compared.
                drop(old);
                "reconnected".into()
            }
        }
    }
}

fn multi_results(results: &[MultiResult]) -> String {
    results
        .iter()
        .map(|r| match r {
            MultiResult::Error { err } => format!("e{err}"),
            _ => "ok".into(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_operations_same_results_as_apache() {
    let _install = integration::require_apache!();
    let seed: u64 = std::env::var("ZK_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_122);
    let ops: usize = std::env::var("ZK_DIFF_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    // Reapers are slowed down so container/TTL deletion timing cannot differ between runs.
    let apache = ApacheEnsemble::start_standalone(
        ApacheOptions::default().jvm_arg("-Dznode.container.checkIntervalMs=3600000"),
    )
    .await
    .expect("start Apache ZooKeeper");
    let ours = TestingServer::start_with(|c| c.container_check_interval_ms = 3_600_000)
        .await
        .expect("start zk-server");
    let mut a = Target::new("apache", apache.connect_string()).await;
    let mut b = Target::new("zk-server", ours.connect_string()).await;
    for t in [&a, &b] {
        t.sessions[0]
            .client
            .create(BASE, b"", &CreateOptions::new(CreateMode::Persistent))
            .await
            .unwrap_or_else(|e| panic!("{}: create {BASE}: {e}", t.name));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut diverged = Vec::new();
    let mut trace = std::env::var("ZK_DIFF_TRACE")
        .ok()
        .map(|p| std::fs::File::create(p).expect("trace file"));
    for i in 0..ops {
        let op = generate(&mut rng);
        let (ra, rb) = (a.run(&op).await, b.run(&op).await);
        if let Some(f) = trace.as_mut() {
            use std::io::Write as _;
            let _ = writeln!(f, "#{i} {op:?}\n  apache:    {ra}\n  zk-server: {rb}");
        }
        if ra != rb {
            diverged.push(format!("#{i} {op:?}\n  apache:    {ra}\n  zk-server: {rb}"));
            if diverged.len() >= 10 {
                break;
            }
        }
    }
    println!(
        "differential: seed {seed}, {ops} operations, {} diverged",
        diverged.len()
    );
    assert!(
        diverged.is_empty(),
        "{} of {ops} operations diverged (seed {seed}):\n{}",
        diverged.len(),
        diverged.join("\n")
    );
}
