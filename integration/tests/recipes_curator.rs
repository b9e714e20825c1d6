//! Interop with Apache Curator 5 (Java): our InterProcessMutex and LeaderLatch and Curator's
//! share a path on the same server. Mutual exclusion holds across both languages (every
//! holder appends enter/leave lines to one file with O_APPEND; the file must alternate), and
//! there is a single leader across both.
//!
//! Prints `SKIPPED:` when javac or the Curator jars are missing (Debian `libcurator-*-java`).

mod recipes_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use recipes_common::curator::{append, compile, java, wait_for_java};
use recipes_common::holders::{self, Kind, Rules};
use recipes_common::{connect, unique};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::ChildStdout;
use zk_recipes::{CloseMode, InterProcessMutex, LeaderLatch, LeaderSelector};

both_targets! {
    curator_and_rust_mutex_exclude_each_other => mutex_interop;
    curator_and_rust_latch_have_one_leader => latch_interop;
    curator_and_rust_leader_selectors_take_turns => selector_interop;
}

async fn mutex_interop(cs: String, _: SocketAddr) {
    let Some((dir, cp)) = compile().await else {
        return;
    };
    let path = unique("curator-mutex");
    let log = dir.path().join("holders.log");
    let log_s = log.display().to_string();
    let mut child = java(&cp, &[&cs, "mutex", &path, "2", "15", &log_s, "20"]);

    // Start contending once Java holds the lock for the first time.
    wait_for_java(&log).await;

    let log = Arc::new(log);
    let mut tasks = Vec::new();
    for s in 0..2 {
        let client = connect(&cs).await;
        for t in 0..2 {
            let (client, path, log) = (client.clone(), path.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                let me = format!("rust-{s}-{t}");
                let m = InterProcessMutex::new(client, path);
                for _ in 0..8 {
                    let g = m.acquire().await.expect("acquire");
                    append(&log, format!("enter {me} {}\n", g.fencing_token())).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    append(&log, format!("leave {me}\n")).await;
                    g.release().await.expect("release");
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("rust task");
    }
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("java finishes")
        .expect("java status");
    assert!(status.success(), "java failed: {status}");

    let text = tokio::fs::read_to_string(&*log).await.expect("read log");
    check_holders(&text, 2 * 15 + 4 * 8);
    let m = InterProcessMutex::new(connect(&cs).await, path);
    assert!(m.participant_nodes().await.expect("nodes").is_empty());
}

/// Checks that the holders' log has no overlap (enter/leave of one holder at a time), that
/// Rust fencing tokens increase, and that the languages took turns.
fn check_holders(text: &str, holds: usize) {
    let events = holders::parse_text(text, Kind::Exclusive);
    let summary = holders::check(&events, Rules::EXCLUSIVE);
    assert_eq!(summary.sections, holds, "{text}");
    let java: Vec<bool> = events
        .iter()
        .filter(|e| e.enter)
        .map(|e| e.holder.starts_with("java"))
        .collect();
    let switches = 1 + java.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(switches >= 3, "the languages never contended:\n{text}");
}

async fn selector_interop(cs: String, _: SocketAddr) {
    let Some((dir, cp)) = compile().await else {
        return;
    };
    let path = unique("curator-selector");
    let log = Arc::new(dir.path().join("leaders.log"));
    let log_s = log.display().to_string();
    let mut child = java(
        &cp,
        &[&cs, "selector", &path, "java-sel", "10", &log_s, "20"],
    );
    wait_for_java(&log).await;
    let saw_java = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..2 {
        let client = connect(&cs).await;
        let (path, log, saw_java) = (path.clone(), log.clone(), saw_java.clone());
        tasks.push(tokio::spawn(async move {
            let me = format!("rust-sel-{i}");
            let s = LeaderSelector::new(client, path, me.clone());
            for _ in 0..6 {
                let done = s
                    .lead_once(|l| {
                        let (s, log, me, saw_java) = (&s, &log, &me, &saw_java);
                        async move {
                            append(log, format!("enter {me} {}\n", l.token)).await;
                            let parts = s.participants().await.expect("participants");
                            assert_eq!(&parts[0].id, me, "{parts:?}");
                            if parts.iter().any(|p| p.id == "java-sel") {
                                saw_java.store(true, std::sync::atomic::Ordering::SeqCst);
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            append(log, format!("leave {me}\n")).await;
                        }
                    })
                    .await
                    .expect("lead");
                assert!(done.is_some());
            }
        }));
    }
    for t in tasks {
        t.await.expect("rust task");
    }
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("java finishes")
        .expect("java status");
    assert!(status.success(), "java failed: {status}");
    let text = tokio::fs::read_to_string(&*log).await.expect("read log");
    check_holders(&text, 10 + 2 * 6);
    assert!(
        saw_java.load(std::sync::atomic::Ordering::SeqCst),
        "Curator's participant id never showed up in our participants()"
    );
}

async fn next_line(out: &mut tokio::io::Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(30), out.next_line())
        .await
        .expect("a line from java")
        .expect("read java stdout")
        .expect("java ended early")
}

async fn latch_interop(cs: String, _: SocketAddr) {
    let Some((_dir, cp)) = compile().await else {
        return;
    };
    let path = unique("curator-latch");
    let r1 = LeaderLatch::new(connect(&cs).await, path.clone(), "rust-1");
    r1.start().await.expect("start");
    assert!(r1
        .await_leadership_timeout(Duration::from_secs(10))
        .await
        .expect("await"));

    let mut child = java(&cp, &[&cs, "latch", &path, "java-1", "1500"]);
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(next_line(&mut out).await, "STARTED");
    // Curator reads our node and sees us as the leader, and itself as not.
    assert_eq!(next_line(&mut out).await, "SEES_LEADER rust-1 false");
    let parts = r1.participants().await.expect("participants");
    let ids: Vec<_> = parts.iter().map(|p| (p.id.as_str(), p.is_leader)).collect();
    assert_eq!(ids, vec![("rust-1", true), ("java-1", false)]);

    // A second Rust participant queues behind Java.
    let r2 = LeaderLatch::new(connect(&cs).await, path.clone(), "rust-2");
    r2.start().await.expect("start");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(r1.has_leadership() && !r2.has_leadership());

    r1.close(CloseMode::NotifyLeader).await.expect("close");
    assert_eq!(next_line(&mut out).await, "LEADER");
    assert!(!r1.has_leadership());
    assert!(!r2.has_leadership(), "two leaders: java and rust-2");
    assert_eq!(
        r2.leader().await.expect("leader").expect("some").id,
        "java-1"
    );
    assert_eq!(next_line(&mut out).await, "STILL_LEADER true java-1");
    assert!(!r2.has_leadership(), "two leaders: java and rust-2");

    // Java closes its latch; the Rust participant behind it takes over.
    assert!(r2
        .await_leadership_timeout(Duration::from_secs(15))
        .await
        .expect("await"));
    let parts = r2.participants().await.expect("participants");
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(parts[0].id, "rust-2");
    assert_eq!(next_line(&mut out).await, "CLOSED");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("java finishes")
        .expect("java status");
    assert!(status.success());
    r2.close(CloseMode::Silent).await.expect("close");
}
