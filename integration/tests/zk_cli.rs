//! zk-cli (zk-server's `zkCli.sh`) as a real process against a real ZooKeeper, compared with
//! Apache's own CLI (`org.apache.zookeeper.ZooKeeperMain`) running the same commands on the
//! same server.
//!
//! The two CLIs run one after the other, each on a tree reset by a super user and seeded the
//! same way. Outputs are compared after normalizing what legitimately differs between the two
//! runs: zxids are renumbered in order of appearance, times become `<time>` (once their
//! `Date.toString` format is checked), session ids become `<session>`. Watch notifications
//! are compared as a sequence of their own, as zkCli prints them from its event thread while
//! the main thread prints command output. Usage listings are left out (zk-cli lacks the quota
//! and reconfig commands). Scripts avoid the zkCli quirks zk-cli deliberately does not copy:
//! `null` for data-less nodes, `addWatch` without `-m` remembering an earlier `-m`, blank lines
//! run as commands, `getEphemerals` ignoring the chroot. They also avoid what is racy in zkCli
//! (`printwatches` right after a command that triggers a watch) or in zk-cli (the order of
//! notifications that reach several watches in one burst, e.g. `deleteall` of a watched tree).
//!
//! Skipped (`SKIPPED:` on stderr) without Apache ZooKeeper. [`start_server`] is the one place
//! that picks the server, so the same comparisons can run against another implementation:
//! `ZK_CLI_SERVER=zk-server` runs them against this workspace's server (a `TestingServer`).

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use integration::apache::{ApacheEnsemble, ApacheOptions, Installation};
use integration::ZkTarget;
use zk_core::{perms, Acl, Client, CreateMode, CreateOptions};

const SUPER_PASSWORD: &str = "test";
/// Bound for one CLI process.
const RUN_BOUND: Duration = Duration::from_secs(60);
/// Bound for a whole test.
const TEST_BOUND: Duration = Duration::from_secs(600);
/// Bound for resetting and seeding the tree.
const RESET_BOUND: Duration = Duration::from_secs(30);

/// A node created before a CLI run: path, data, world permissions.
type Seed = (&'static str, &'static str, i32);

const SEED: &[Seed] = &[
    ("/a", "hello", perms::ALL),
    ("/a/b", "x", perms::ALL),
    ("/a/c", "y", perms::ALL),
    ("/locked", "secret", perms::READ),
];

/// The server under test plus the Java installation that runs the reference CLI.
struct Fixture {
    _server: Box<dyn ZkTarget>,
    connect: String,
    java: Installation,
}

/// The server the CLIs talk to. It must accept the digest user `super` with
/// [`SUPER_PASSWORD`] as a superuser (Apache's `superDigest`), which resets the tree.
async fn start_server() -> Box<dyn ZkTarget> {
    if std::env::var("ZK_CLI_SERVER").as_deref() == Ok("zk-server") {
        let server = zk_server::testing::TestingServer::start_with(|c| {
            c.super_digest = Some(zk_core::auth::digest_id("super", SUPER_PASSWORD));
        })
        .await
        .expect("start zk-server");
        return Box::new(server);
    }
    let opts = ApacheOptions::default().super_password(SUPER_PASSWORD);
    let server = ApacheEnsemble::start_standalone(opts)
        .await
        .expect("start Apache ZooKeeper");
    Box::new(server)
}

async fn fixture() -> Option<Fixture> {
    let java = integration::require_apache!(None);
    let server = start_server().await;
    eprintln!("comparing the CLIs against {}", server.name());
    Some(Fixture {
        connect: server.connect_string(),
        _server: server,
        java,
    })
}

async fn bounded<F: Future<Output = ()>>(body: F) {
    if tokio::time::timeout(TEST_BOUND, body).await.is_err() {
        panic!("test exceeded its {TEST_BOUND:?} bound");
    }
}

/// What a CLI process did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with `stdin` as input, killing it after `bound`.
fn run_process(mut cmd: Command, stdin: &str, bound: Duration) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.as_bytes().to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let drain = |r: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as _));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as _));
    let deadline = Instant::now() + bound;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} did not finish within {bound:?}: {other:?}");
            }
        }
    };
    let _ = writer.join();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// The zk-cli binary, built or brought up to date once per test process.
fn zk_cli_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| integration::bins::workspace_bin("zk-cli"))
}

/// Runs Apache's zkCli on `server` with `args`, feeding it `stdin`.
fn java_cli(java: &Installation, server: &str, args: &[&str], stdin: &str) -> Run {
    let mut cmd = Command::new(&java.java);
    cmd.args(["-Xmx128m", "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1"])
        // Quiet logging whatever the binding: slf4j-simple, or a tarball's logback.xml.
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=off")
        .arg("-Dzookeeper.console.threshold=OFF")
        .arg("-cp")
        .arg(java.classpath_string())
        .arg("org.apache.zookeeper.ZooKeeperMain")
        .args(["-server", server])
        .args(args);
    run_process(cmd, stdin, RUN_BOUND)
}

/// Runs zk-cli on `server` with `args`, feeding it `stdin`.
fn rust_cli(server: &str, args: &[&str], stdin: &str) -> Run {
    let mut cmd = Command::new(zk_cli_binary());
    cmd.args(["-server", server]).args(args);
    run_process(cmd, stdin, RUN_BOUND)
}

/// Deletes every node but `/zookeeper` (as super user, so ACLs do not get in the way), then
/// creates `seed`.
async fn reset(connect: &str, seed: &[Seed]) {
    let work = async {
        let c = Client::builder(connect)
            .digest_auth("super", SUPER_PASSWORD)
            .connect()
            .await
            .expect("connect as super");
        let mut tree: Vec<String> = Vec::new();
        let mut next = 0;
        for child in c.get_children("/").await.expect("list /") {
            if child != "zookeeper" {
                tree.push(format!("/{child}"));
            }
        }
        while next < tree.len() {
            let node = tree[next].clone();
            next += 1;
            for child in c.get_children(&node).await.unwrap_or_default() {
                tree.push(format!("{node}/{child}"));
            }
        }
        for node in tree.iter().rev() {
            let _ = c.delete(node, None).await;
        }
        for (path, data, world) in seed {
            let opts = CreateOptions::new(CreateMode::Persistent)
                .acl(vec![Acl::new(*world, "world", "anyone")]);
            c.create(path, data.as_bytes(), &opts)
                .await
                .unwrap_or_else(|e| panic!("seed {path}: {e}"));
        }
        c.close().await;
    };
    tokio::time::timeout(RESET_BOUND, work)
        .await
        .expect("reset within its bound");
}

/// Stdout as compared: watch events apart, the rest normalized line by line.
#[derive(Debug, PartialEq, Eq)]
struct Normalized {
    events: Vec<String>,
    lines: Vec<String>,
}

fn looks_like_java_date(v: &str) -> bool {
    let p: Vec<&str> = v.split(' ').collect();
    p.len() == 6
        && p[0].len() == 3
        && p[1].len() == 3
        && p[2].len() == 2
        && p[3].len() == 8
        && p[3].split(':').count() == 3
        && !p[4].is_empty()
        && p[5].chars().all(|c| c.is_ascii_digit())
}

/// Normalizes stdout. zkCli prints session events from its event thread, which may not get to
/// them before the JVM exits: the `Closed` event of a final `quit` is dropped, and so are all
/// session events with `only_node_events` (one-shot runs, where zkCli may exit before it even
/// reported the connection).
fn normalize_stdout(s: &str, only_node_events: bool) -> Normalized {
    let mut zxids: HashMap<String, usize> = HashMap::new();
    let mut n = Normalized {
        events: Vec::new(),
        lines: Vec::new(),
    };
    for line in s.lines() {
        if line.is_empty() || line == "WATCHER::" {
            continue;
        }
        if let Some(e) = line.strip_prefix("WatchedEvent ") {
            n.events.push(e.to_string());
            continue;
        }
        n.lines.push(normalize_line(line, &mut zxids));
    }
    if only_node_events {
        n.events.retain(|e| !e.contains(" type:None "));
    }
    if n.events.last().map(String::as_str) == Some(CLOSED) {
        n.events.pop();
    }
    n
}

const CONNECTED: &str = "state:SyncConnected type:None path:null";
const CLOSED: &str = "state:Closed type:None path:null";

fn normalize_line(line: &str, zxids: &mut HashMap<String, usize>) -> String {
    for key in ["cZxid = ", "mZxid = ", "pZxid = "] {
        if let Some(v) = line.strip_prefix(key) {
            let next = zxids.len();
            let id = *zxids.entry(v.to_string()).or_insert(next);
            return format!("{key}<zxid {id}>");
        }
    }
    for key in ["ctime = ", "mtime = "] {
        if let Some(v) = line.strip_prefix(key) {
            assert!(looks_like_java_date(v), "not a Java date: {line:?}");
            return format!("{key}<time>");
        }
    }
    match line.strip_prefix("ephemeralOwner = 0x") {
        Some(v) if v != "0" => "ephemeralOwner = <session>".into(),
        _ => line.to_string(),
    }
}

/// Stderr as compared: without Java's logging noise and the usage listing's command lines.
fn stderr_lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| {
            !(l.starts_with('\t')
                || l.starts_with("SLF4J:")
                || l.starts_with("log4j:")
                || l.starts_with("EndOfStreamException")
                || (l.starts_with('[') && (l.contains(" WARN ") || l.contains(" ERROR "))))
        })
        .map(str::to_string)
        .collect()
}

fn listing(title: &str, a: &[String], b: &[String]) -> String {
    let mut s = format!("--- {title} (zkCli | zk-cli)\n");
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).map_or("", String::as_str),
            b.get(i).map_or("", String::as_str),
        );
        let mark = if x == y { ' ' } else { '!' };
        s.push_str(&format!("{mark} {x:<50} | {y}\n"));
    }
    s
}

fn assert_same(what: &str, java: &Run, rust: &Run, only_node_events: bool) {
    let (j, r) = (
        normalize_stdout(&java.stdout, only_node_events),
        normalize_stdout(&rust.stdout, only_node_events),
    );
    let (je, re) = (stderr_lines(&java.stderr), stderr_lines(&rust.stderr));
    if j != r || je != re || java.code != rust.code {
        panic!(
            "zk-cli differs from zkCli for {what}\nexit codes: zkCli {} | zk-cli {}\n{}{}{}",
            java.code,
            rust.code,
            listing("stdout", &j.lines, &r.lines),
            listing("watch events", &j.events, &r.events),
            listing("stderr", &je, &re),
        );
    }
}

impl Fixture {
    /// Runs the same invocation with both CLIs on identically prepared trees and compares;
    /// returns both runs (zkCli's first).
    async fn compare(&self, what: &str, seed: &[Seed], args: &[&str], stdin: &str) -> (Run, Run) {
        reset(&self.connect, seed).await;
        let (java, server) = (self.java.clone(), self.connect.clone());
        let (a, s) = (args_owned(args), stdin.to_string());
        let j = tokio::task::spawn_blocking(move || java_cli(&java, &server, &refs(&a), &s))
            .await
            .expect("zkCli run");
        reset(&self.connect, seed).await;
        let server = self.connect.clone();
        let (a, s) = (args_owned(args), stdin.to_string());
        let r = tokio::task::spawn_blocking(move || rust_cli(&server, &refs(&a), &s))
            .await
            .expect("zk-cli run");
        let one_shot = !args.is_empty();
        assert_same(what, &j, &r, one_shot);
        // zk-cli reports the connection before anything else, in both modes.
        let first = normalize_stdout(&r.stdout, false).events.into_iter().next();
        assert_eq!(first.as_deref(), Some(CONNECTED), "{what}: {r:?}");
        (j, r)
    }

    /// Runs `script` on the standard input of both CLIs; returns zk-cli's run.
    async fn compare_script(&self, what: &str, script: &str) -> Run {
        self.compare(what, SEED, &[], script).await.1
    }
}

fn args_owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_commands_print_and_exit_like_zkcli() {
    let Some(fx) = fixture().await else { return };
    bounded(async {
        let cases: &[&[&str]] = &[
            &["ls", "/"],
            &["ls", "-s", "/a"],
            &["ls", "-R", "/a"],
            &["ls", "/missing"],
            &["ls"],
            &["ls", "-x", "/"],
            &["ls", "relative"],
            &["get", "-s", "/a"],
            &["stat", "/missing"],
            &["create", "/new", "two words"],
            &["create", "/a"],
            &["create", "-t", "abc", "/ttl"],
            &["set", "-s", "/a", "v2"],
            &["set", "-v", "7", "/a", "v2"],
            &["set", "/locked", "x"],
            &["delete", "/a"],
            &["deleteall", "/a"],
            &["getAcl", "-s", "/locked"],
            &["sync", "/"],
            &["getAllChildrenNumber", "/"],
            &["whoami"],
            &["addWatch", "-m", "bogus", "/a"],
            &["removewatches", "/a"],
            &["nosuchcommand", "x"],
        ];
        for args in cases {
            let what = format!("one-shot {args:?}");
            fx.compare(&what, SEED, args, "").await;
        }
        // Times are normalized above; /zookeeper's are fixed (the epoch), so compare them raw:
        // zk-cli formats them as Java's Date.toString in the same time zone.
        let (j, r) = fx
            .compare("stat /zookeeper", SEED, &["stat", "/zookeeper"], "")
            .await;
        let times = |run: &Run| -> Vec<String> {
            run.stdout
                .lines()
                .filter(|l| l.starts_with("ctime = ") || l.starts_with("mtime = "))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(times(&j), times(&r));
        assert_eq!(times(&r).len(), 2, "{r:?}");
    })
    .await;
}

const NODE_SCRIPT: &str = r#"create /s hello
create /s again
create /s/a "two words"
create -s /s/seq- x
create -s /s/seq- y
create -e /s/eph e
create -s -e /s/eseq- e
create -c /s/cont c
create -t 60000 /s/ttl t
create -s -t 60000 /s/ttlseq- t
create -t 0 /s/bad
create -t 99999999999999 /s/bad
create -e -t 100 /s/bad
create -c -s /s/bad
create -c -t 100 /s/bad
create -t /s/bad
create /s/eph/child x
create /missing/child x
create relative x
create /s/trailing/ x
create /s/u ü€ 'quoted'
get /s/u
get /s
get -s /s
get -w -s /s
get /s extra
ls /s
ls -s /s
ls -R /s
ls /s extra
ls -sR /s
stat /s/a
stat /s/none
stat /s x
set /s v2
set -s /s v3
set -v 1 /s v4
set -v 2 /s v4
set -sv 3 /s 'v5 with spaces'
set -v -1 /s v6
set /s
set /s -1
set /s -- -1
get /s
delete /s
delete -v 5 /s/a
delete -v 0 /s/a
delete /s/none
delete /s/cont 0
delete /zookeeper
getEphemerals
getEphemerals /s/e
getAllChildrenNumber /s
getAllChildrenNumber /none
sync /
sync relative
deleteall /s/cont
deleteall /s -b 2
deleteall /s -b abc
ls /
getAllChildrenNumber /
deleteall /a -b 0
ls /
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_commands_script_matches_zkcli() {
    let Some(fx) = fixture().await else { return };
    bounded(async {
        let r = fx.compare_script("the node script", NODE_SCRIPT).await;
        // The session's last command succeeded.
        assert_eq!(r.code, 0, "{r:?}");
    })
    .await;
}

const ACL_SCRIPT: &str = r#"getAcl /locked
getAcl -s /locked
set /locked y
create /locked/c x
setAcl /locked world:anyone:cdrwa
create /open x
setAcl -s /open world:anyone:cdrwa,ip:127.0.0.1:r
getAcl /open
setAcl -v 5 /open world:anyone:cdrwa
setAcl /open bogus
setAcl /open
create /badperm x world:anyone:rxz
getAcl /badperm
create /noacl x nothing
create /noacl2 x auth::cdrwa
whoami
addauth digest alice:secret
whoami
create /mine x auth::cdrwa
getAcl /mine
create /dig x digest:bob:notahash=:cdrwa
getAcl /dig
get /dig
create /t t
create /t/a a
create /t/a/b b
create /t/c c
setAcl -R /t world:anyone:cdr
getAcl /t/a/b
getAcl -s /t/c
setAcl -R /t world:anyone:cdrwa
getAcl /t
setAcl -R /missing world:anyone:r
addauth
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_and_auth_script_matches_zkcli() {
    let Some(fx) = fixture().await else { return };
    bounded(async {
        let r = fx.compare_script("the ACL script", ACL_SCRIPT).await;
        // The last command (`addauth` without arguments) failed.
        assert_eq!(r.code, 1, "{r:?}");
    })
    .await;
}

const WATCH_SCRIPT: &str = r#"create /w 1
create /w/c1 x
get -w /w
stat -w /w
ls -w /w
set /w 2
create /w/c2 x
ls -s -w /w
delete /w/c2
stat -w /none
create /none x
get -w /none
delete /none
addWatch -m PERSISTENT /w
set /w 3
create /w/c3 x
set /w/c3 y
addWatch -m PERSISTENT_RECURSIVE /w
set /w/c3 z
create /w/c3/d x
get -w /w
set /w 4
removewatches /w -d
removewatches /w -c
ls -w /w
removewatches /w -c
removewatches /w
removewatches /w
ls -R -w /w
create /w/c1/e x
set /w 5
sync /
printwatches off
get -w /w/c1
set /w/c1 q
sync /
printwatches
printwatches on
addWatch -m persistent /w/c1
delete /w/c1/e
removewatches /w/c1 -a
set /w/c3/d 1
ls /
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_print_like_zkcli() {
    let Some(fx) = fixture().await else { return };
    bounded(async {
        let r = fx.compare_script("the watch script", WATCH_SCRIPT).await;
        assert!(
            r.stdout.contains(
                "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/w\n"
            ),
            "{}",
            r.stdout
        );
    })
    .await;
}

const SHELL_SCRIPT: &str = r#"ls /a
history
redo 0
redo 9
redo 1
printwatches
close
ls /
history
connect
ls /a
whoami
get /missing
quit
ls /
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_commands_and_exit_codes_match_zkcli() {
    let Some(fx) = fixture().await else { return };
    bounded(async {
        // `quit` exits with the status of the command before it.
        let r = fx.compare_script("the shell script", SHELL_SCRIPT).await;
        assert_eq!(r.code, 1, "{r:?}");
        // Without `quit`, the status of the last command.
        let r = fx
            .compare_script("a script ending in a failure", "ls /\nnosuchcommand\n")
            .await;
        assert_eq!(r.code, 127, "{r:?}");
        let r = fx
            .compare_script("a script recovering from a failure", "ls /missing\nls /\n")
            .await;
        assert_eq!(r.code, 0, "{r:?}");
        // zk-cli extras: `help` lists the commands, `version` names zk-cli.
        let connect = fx.connect.clone();
        let r = tokio::task::spawn_blocking(move || rust_cli(&connect, &[], "help\nversion\n"))
            .await
            .expect("zk-cli run");
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stderr.contains("\tls [-s] [-w] [-R] path\n"), "{r:?}");
        assert!(r.stdout.contains("ZooKeeper CLI version: zk-cli"), "{r:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_fails_fast_like_zkcli() {
    let Some(fx) = fixture().await else { return };
    bounded(async {
        // Nothing listens on a fresh port.
        let port = integration::ports::free_port().expect("free port");
        let server = format!("127.0.0.1:{port}");
        let (java, s) = (fx.java.clone(), server.clone());
        let j = tokio::task::spawn_blocking(move || java_cli(&java, &s, &["ls", "/"], ""))
            .await
            .expect("zkCli run");
        let started = Instant::now();
        let s = server.clone();
        let r = tokio::task::spawn_blocking(move || rust_cli(&s, &["ls", "/"], ""))
            .await
            .expect("zk-cli run");
        let took = started.elapsed();
        assert_same("an unreachable server", &j, &r, true);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains("KeeperErrorCode = ConnectionLoss for /"),
            "{r:?}"
        );
        assert!(took < Duration::from_secs(15), "took {took:?}");
    })
    .await;
}
