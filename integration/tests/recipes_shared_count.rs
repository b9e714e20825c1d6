//! SharedCount against zk-server and Apache ZooKeeper: the seed is written once and only when
//! the node is missing, the data is Curator's 4-byte big-endian int, compare-and-set has
//! exactly one winner per node version across sessions, changes reach every session (also
//! after a reconnection), and the change stream ends with the session. And interop with
//! Curator's SharedCount (Java): each side sees the other's sets, and a compare-and-set from
//! a stale version fails in both directions.

mod recipes_common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use integration::proxy::{ProxyMode, TcpProxy};
use recipes_common::{connect, connect_with, unique};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Barrier;
use zk_core::{Client, CreateMode, CreateOptions, Error, SessionState};
use zk_recipes::shared_count::to_bytes;
use zk_recipes::SharedCount;

both_targets! {
    shared_count_seeds_once_and_stores_curators_bytes => seed;
    shared_count_cas_has_one_winner_per_version_across_sessions => cas_races;
    shared_count_notifies_every_session_and_rereads_after_reconnect => notifications;
    curator_and_rust_shared_counts_see_each_others_sets => count_interop;
}

const LONG: Duration = Duration::from_secs(10);

async fn started(client: &Client, path: &str, seed: i32) -> SharedCount {
    let c = SharedCount::new(client.clone(), path, seed);
    c.start().await.expect("start");
    c
}

/// Waits (bounded) until `c`'s local count is `want`.
async fn sees(c: &SharedCount, want: i32) {
    tokio::time::timeout(LONG, c.wait_for(|v| v.count() == want))
        .await
        .unwrap_or_else(|_| panic!("never saw {want}; still {:?}", c.versioned()))
        .expect("wait");
}

async fn seed(cs: String, _: SocketAddr) {
    let base = unique("count-seed");
    let path = format!("{base}/nested/count");
    let (ca, cb) = (connect(&cs).await, connect(&cs).await);
    let a = SharedCount::new(ca.clone(), path.clone(), 7);
    // Before start: the seed, no version, and no sets.
    assert_eq!((a.count(), a.versioned().version()), (7, -1));
    assert!(matches!(
        a.set_count(1).await,
        Err(Error::InvalidArgument(_))
    ));
    a.start()
        .await
        .expect("start creates the node and its parents");
    assert!(a.is_started());
    assert_eq!((a.count(), a.versioned().version()), (7, 0));
    let (data, stat) = ca.get_data(&path).await.expect("read");
    assert_eq!(
        &data[..],
        &to_bytes(7),
        "Curator's layout: 4 bytes, big-endian"
    );
    assert_eq!(stat.ephemeral_owner, 0, "the count node is persistent");
    assert!(matches!(a.start().await, Err(Error::InvalidArgument(_))));

    // A second session's seed does not overwrite the existing value.
    let b = started(&cb, &path, 99).await;
    assert_eq!((b.count(), b.versioned().version()), (7, 0));
    assert_eq!(&cb.get_data(&path).await.expect("read").0[..], &to_bytes(7));

    // A raw 4-byte write (as Curator's setCount) reaches both.
    cb.set_data(&path, &[0, 0, 1, 0], None).await.expect("set");
    sees(&a, 256).await;
    sees(&b, 256).await;
    assert_eq!(a.versioned().version(), 1);
    // Data that is not a count is ignored, and the watch stays armed.
    cb.set_data(&path, &[1, 2], None).await.expect("set");
    cb.set_data(&path, &to_bytes(-5), None).await.expect("set");
    sees(&a, -5).await;
    assert_eq!(a.versioned().version(), 3);

    // Closing ends the change stream and stops sets; other handles are unaffected.
    let mut changes = a.changes();
    assert_eq!(changes.next().await.map(|v| v.count()), Some(-5));
    a.close();
    assert_eq!(
        tokio::time::timeout(LONG, changes.next())
            .await
            .expect("ends"),
        None
    );
    assert!(!a.is_started());
    assert!(matches!(
        a.set_count(1).await,
        Err(Error::InvalidArgument(_))
    ));
    b.set_count(12).await.expect("set");
    assert_eq!(b.versioned().count(), 12);
    assert_eq!(a.count(), -5, "a closed count keeps its last value");
}

async fn cas_races(cs: String, _: SocketAddr) {
    const SESSIONS: usize = 4;
    const ROUNDS: i32 = 8;
    const WINS_EACH: usize = 10;
    let path = unique("count-cas");
    let barrier = Arc::new(Barrier::new(SESSIONS));
    let reader = connect(&cs).await;
    let mut tasks = Vec::new();
    for s in 0..SESSIONS {
        let count = started(&connect(&cs).await, &path, 0).await;
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            // Lock-step rounds: everyone tries to set from the same version at once.
            let mut round_wins = Vec::new();
            for r in 0..ROUNDS {
                let v = count.versioned();
                assert_eq!(v.version(), r, "session {s} behind in round {r}");
                barrier.wait().await;
                let won = count.try_set_count(v, v.count() + 1).await.expect("cas");
                // Won or lost, the local value is now the round's result.
                assert_eq!(count.versioned().version(), r + 1, "session {s} round {r}");
                if won {
                    round_wins.push(r);
                }
                barrier.wait().await;
            }
            // Free for all: increment until this session has won WINS_EACH times.
            let (mut won_versions, mut lost) = (Vec::new(), 0);
            while won_versions.len() < WINS_EACH {
                let v = count.versioned();
                if count.try_set_count(v, v.count() + 1).await.expect("cas") {
                    won_versions.push(v.version());
                } else {
                    lost += 1;
                }
            }
            (round_wins, won_versions, lost, count)
        }));
    }
    let (mut round_winners, mut versions, mut lost) = (Vec::new(), Vec::new(), 0);
    let mut counts = Vec::new();
    for t in tasks {
        let (r, v, l, c) = t.await.expect("task");
        round_winners.extend(r);
        versions.extend(v);
        lost += l;
        counts.push(c);
    }
    round_winners.sort();
    assert_eq!(
        round_winners,
        (0..ROUNDS).collect::<Vec<_>>(),
        "not exactly one winner per round"
    );
    let total = ROUNDS + (SESSIONS * WINS_EACH) as i32;
    let unique_versions: BTreeSet<_> = versions.iter().copied().collect();
    assert_eq!(
        unique_versions.len(),
        versions.len(),
        "two winners of a version"
    );
    assert_eq!(
        unique_versions,
        (ROUNDS..total).collect::<BTreeSet<_>>(),
        "every version has a winner"
    );
    assert!(lost > 0, "the free-for-all never raced");
    let (data, stat) = reader.get_data(&path).await.expect("read");
    assert_eq!((&data[..], stat.version), (&to_bytes(total)[..], total));
    for c in &counts {
        sees(c, total).await;
    }
}

async fn notifications(cs: String, upstream: SocketAddr) {
    let path = unique("count-notify");
    let proxy = TcpProxy::start(upstream).await.expect("proxy");
    let ca = connect(&proxy.addr().to_string()).await;
    let cb = connect(&cs).await;
    let a = started(&ca, &path, 0).await;
    let b = started(&cb, &path, 0).await;
    let mut changes = a.changes();
    let first = changes.next().await.expect("current value");
    assert_eq!((first.count(), first.version()), (0, 0));

    // Changes from another session arrive, in version order, ending at the last one.
    for n in [5, 6, 7, 8] {
        b.set_count(n).await.expect("set");
    }
    let mut last = first;
    while last.count() != 8 {
        let v = tokio::time::timeout(LONG, changes.next())
            .await
            .expect("a change")
            .expect("stream open");
        assert!(v.version() > last.version(), "{v:?} after {last:?}");
        last = v;
    }
    assert_eq!(last.version(), 4);
    // Our own set is seen at once, by the other session through its watch.
    a.set_count(9).await.expect("set");
    assert_eq!(a.count(), 9);
    sees(&b, 9).await;

    // A change made while we are disconnected is read when we are back (same session).
    let mut states = ca.state_stream();
    proxy.set_mode(ProxyMode::Refuse);
    proxy.cut();
    tokio::time::timeout(LONG, async {
        while let Some(s) = states.next().await {
            if s == SessionState::Disconnected {
                return;
            }
        }
    })
    .await
    .expect("disconnected");
    b.set_count(100).await.expect("set");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.count(), 9, "read a value while disconnected?");
    let session = ca.session_id();
    proxy.set_mode(ProxyMode::Forward);
    sees(&a, 100).await;
    assert_eq!(ca.session_id(), session);
    // And the watch is armed again after that.
    b.set_count(101).await.expect("set");
    sees(&a, 101).await;

    // When the session ends, the count can no longer be kept current: the stream ends.
    let short = connect_with(&proxy.addr().to_string(), Duration::from_millis(2000)).await;
    let c = started(&short, &path, 0).await;
    let mut c_changes = c.changes();
    assert_eq!(c_changes.next().await.map(|v| v.count()), Some(101));
    // An ephemeral node shows when the server has expired the session.
    let marker = format!("{path}-session");
    short
        .create(&marker, b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .expect("marker");
    proxy.set_mode(ProxyMode::Blackhole);
    tokio::time::timeout(Duration::from_secs(30), async {
        while cb.exists(&marker).await.expect("exists").is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the session expires on the server");
    // Let the client hear of it.
    proxy.set_mode(ProxyMode::Forward);
    proxy.cut();
    tokio::time::timeout(Duration::from_secs(20), c_changes.collect::<Vec<_>>())
        .await
        .expect("the stream ends after expiry");
    assert!(matches!(
        c.set_count(1).await,
        Err(Error::SessionExpired | Error::Closed)
    ));
    a.close();
    b.close();
}

/// Curator's SharedCount in a Java process, driven line by line over stdin/stdout.
struct JavaCount {
    child: Child,
    stdin: ChildStdin,
    out: Lines<BufReader<ChildStdout>>,
}

impl JavaCount {
    fn start(cp: &str, cs: &str, path: &str, seed: i32) -> Self {
        let mut child = Command::new("java")
            .arg("-cp")
            .arg(cp)
            .arg("Interop")
            .args([cs, "sharedcount", path, &seed.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start java");
        let stdin = child.stdin.take().expect("stdin");
        let out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self { child, stdin, out }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(30), self.out.next_line())
            .await
            .expect("a line from java")
            .expect("read java stdout")
            .expect("java ended early")
    }

    async fn cmd(&mut self, cmd: &str) -> String {
        self.stdin
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .expect("write to java");
        self.stdin.flush().await.expect("flush");
        self.line().await
    }
}

async fn count_interop(cs: String, _: SocketAddr) {
    use recipes_common::curator::compile;
    let Some((_dir, cp)) = compile().await else {
        return;
    };
    let path = unique("curator-count");
    // Curator creates the node with its seed; we read its bytes and keep our seed out.
    let mut java = JavaCount::start(&cp, &cs, &path, 3);
    assert_eq!(java.line().await, "STARTED 3 0");
    let client = connect(&cs).await;
    let rust = started(&client, &path, 99).await;
    assert_eq!((rust.count(), rust.versioned().version()), (3, 0));

    // Each side sees the other's sets.
    rust.set_count(10).await.expect("set");
    assert_eq!(java.cmd("await 10").await, "SAW 10");
    assert_eq!(java.cmd("get").await, "COUNT 10 1");
    assert_eq!(java.cmd("set 20").await, "OK");
    sees(&rust, 20).await;
    assert_eq!(rust.versioned().version(), 2);

    // Rust wins a compare-and-set race from version 2; Curator's try from the same version
    // fails and then shows the winner's value.
    assert_eq!(java.cmd("get").await, "COUNT 20 2");
    assert_eq!(java.cmd("hold").await, "HELD 20 2");
    let v = rust.versioned();
    assert!(rust.try_set_count(v, 21).await.expect("cas"));
    assert_eq!(java.cmd("tryheld 22").await, "TRYSET false");
    assert_eq!(java.cmd("get").await, "COUNT 21 3");

    // The other way round: Curator wins from version 3, our try from version 3 fails and
    // our value is the winner's afterwards.
    let v = rust.versioned();
    assert_eq!((v.count(), v.version()), (21, 3));
    assert_eq!(java.cmd("hold").await, "HELD 21 3");
    assert_eq!(java.cmd("tryheld 30").await, "TRYSET true");
    assert!(!rust.try_set_count(v, 31).await.expect("cas"));
    let now = rust.versioned();
    assert_eq!((now.count(), now.version()), (30, 4));
    let (data, _) = client.get_data(&path).await.expect("read");
    assert_eq!(&data[..], &to_bytes(30));

    // Curator's listener was called for our change, with non-decreasing values (every set
    // here raised the count).
    let events = java.cmd("events").await;
    let seen: Vec<i32> = events
        .strip_prefix("EVENTS")
        .expect("events line")
        .split_whitespace()
        .map(|n| n.parse().expect("number"))
        .collect();
    assert!(seen.contains(&10), "{events}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{events}");
    assert_eq!(java.cmd("quit").await, "CLOSED");
    let status = tokio::time::timeout(Duration::from_secs(30), java.child.wait())
        .await
        .expect("java finishes")
        .expect("java status");
    assert!(status.success(), "java failed: {status}");
    rust.close();
}
