//! Lock and leadership safety across an ensemble under partitions and crashes (issue 11).
//!
//! A 3-server `TestingCluster` (tickTime 100 ms, syncLimit 5: a server out of contact with a
//! quorum for 0.5 s stops serving; sessions of 2 s; faults last 0.2–1.5 s or 3–4.5 s). Six sessions, each connected to all three
//! servers (so holders sit on every server and move when theirs stops serving), run twelve
//! contenders on one [`InterProcessMutex`] (second test: one [`LeaderLatch`]) with the default
//! Standard error policy: a holder enters only while the recipe says it holds and leaves the
//! moment it says anything else. A seeded fault driver hits, more often than not, the server
//! of the session that holds right now: it splits that server from the other two (its clients
//! can still reach it), cuts one of its links only (the third server bridges), pauses it (all
//! its traffic held, as SIGSTOP), or kills and restarts it; then heals and lets the ensemble
//! settle.
//!
//! [`holders::check`] then replays the log: no two holders inside at once, fencing tokens
//! strictly increasing from one holder to the next. Without the serving gate (a cut-off server
//! keeps serving), a holder on an isolated server keeps its section open while the majority
//! expires its session and hands the lock on: an overlap.
//!
//! `ZK_CHAOS_SECS` (default 30) and `ZK_CHAOS_SEED` as in `recipes_chaos`.

mod recipes_common;

use integration::chaos::{chaos_seed, chaos_time};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use recipes_common::holders::{self, HolderLog, Rules, TokenOrder};
use recipes_common::unique;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use zk_core::Client;
use zk_recipes::{InterProcessMutex, LeaderLatch, LeadershipEvent, LockState};
use zk_server::testing::TestingCluster;

const SESSION: Duration = Duration::from_secs(2);
const SESSIONS: usize = 6;
const PER_SESSION: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recipe {
    Mutex,
    Latch,
}

#[derive(Default)]
struct Stats {
    faults: AtomicUsize,
    on_holder: AtomicUsize,
    /// Faults that were not aimed at a holder (by chance, or nobody could be found inside).
    missed: AtomicUsize,
    interrupted: AtomicUsize,
}

struct World {
    stop: watch::Sender<bool>,
    /// The session id of the contender inside now, 0 when nobody is.
    holder: watch::Sender<i64>,
    log: HolderLog,
    path: String,
    stats: Stats,
    /// The session whose holder a running fault targets: that holder stays inside for as long
    /// as its recipe says it holds (at most 10 s), so a recipe that learns of a loss late, or
    /// a server that keeps serving a session the majority expired, shows as an overlap.
    hostage: AtomicI64,
}

fn bump(c: &AtomicUsize) {
    c.fetch_add(1, Ordering::Relaxed);
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutex_sections_never_overlap_across_partitions() {
    run(Recipe::Mutex).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn latch_leaders_never_overlap_across_partitions() {
    run(Recipe::Latch).await;
}

async fn run(recipe: Recipe) {
    let bound = chaos_time(30) + Duration::from_secs(90);
    if tokio::time::timeout(bound, chaos_run(recipe))
        .await
        .is_err()
    {
        panic!("partition chaos exceeded its {bound:?} bound");
    }
}

async fn chaos_run(recipe: Recipe) {
    let seed = chaos_seed();
    eprintln!("{recipe:?} partition chaos: ZK_CHAOS_SEED={seed}");
    let mut cluster = TestingCluster::start_with(3, |c| {
        c.tick_time_ms = 100;
        c.sync_limit = 5;
    })
    .await
    .expect("cluster");
    cluster
        .wait_for_leader(Duration::from_secs(20))
        .await
        .expect("leader");
    let w = Arc::new(World {
        stop: watch::channel(false).0,
        holder: watch::channel(0).0,
        log: HolderLog::new(),
        path: unique(&format!("partition-{recipe:?}").to_lowercase()),
        stats: Stats::default(),
        hostage: AtomicI64::new(0),
    });
    let mut contenders = JoinSet::new();
    for s in 0..SESSIONS {
        contenders.spawn(session_slot(
            w.clone(),
            cluster.connect_string(),
            recipe,
            s,
            seed,
        ));
    }

    faults(&mut cluster, &w, seed, chaos_time(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = w.stop.send(true);
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(r) = contenders.join_next().await {
            r.expect("contender task");
        }
    })
    .await;
    assert!(drained.is_ok(), "contenders did not stop within 30 s");

    let rules = match recipe {
        Recipe::Mutex => Rules::EXCLUSIVE,
        Recipe::Latch => Rules {
            max_shared: 0,
            tokens: TokenOrder::IncreasingOrSameHolderAgain,
        },
    };
    let summary = holders::check(&w.log.events(), rules);
    let st = &w.stats;
    let (faults, on_holder, interrupted) = (
        st.faults.load(Ordering::Relaxed),
        st.on_holder.load(Ordering::Relaxed),
        st.interrupted.load(Ordering::Relaxed),
    );
    eprintln!(
        "{recipe:?} partition chaos (seed {seed}): {} sections by {} contenders, {} hand-overs, \
         {interrupted} cut short by a fault; {faults} faults, {on_holder} on the holder's server ({} not aimed)",
        summary.sections,
        summary.per_holder.len(),
        summary.hand_overs,
        st.missed.load(Ordering::Relaxed),
    );
    // Enough happened for the checker to have been able to fail.
    assert!(summary.sections >= 40, "only {} sections", summary.sections);
    assert!(
        summary.hand_overs >= 20,
        "only {} hand-overs",
        summary.hand_overs
    );
    assert!(
        on_holder >= 4,
        "only {on_holder} faults hit the holder's server"
    );
    assert!(
        interrupted >= 3,
        "only {interrupted} sections were cut short by a fault"
    );
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Every link of the member cut; its clients can still reach it.
    Isolate,
    /// Only the link between the member and one other cut (the third bridges them).
    Bridge,
    /// Everything to and from the member held (a frozen process), then let through.
    Pause,
    /// A crash, then a restart on the same data.
    KillRestart,
}

/// The member serving the session that holds now and that session, trying for up to 2 s.
async fn aim(cluster: &TestingCluster, holder: &mut watch::Receiver<i64>) -> Option<(u64, i64)> {
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let inside = holder.wait_for(|h| *h != 0);
        let Ok(Ok(h)) = tokio::time::timeout_at(until, inside).await else {
            return None;
        };
        let session = *h;
        if let Some(m) = cluster.member_serving(session) {
            return Some((m, session));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn others(ids: &[u64], not: u64) -> Vec<u64> {
    ids.iter().copied().filter(|&i| i != not).collect()
}

async fn faults(cluster: &mut TestingCluster, w: &World, seed: u64, run: Duration) {
    let mut rng = StdRng::seed_from_u64(seed);
    let until = Instant::now() + run;
    let mut holder = w.holder.subscribe();
    let ids = cluster.ids();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..400))).await;
        let aimed = if rng.gen_bool(0.85) {
            aim(cluster, &mut holder).await
        } else {
            None
        };
        if aimed.is_none() {
            bump(&w.stats.missed);
        }
        if let Some((_, session)) = aimed {
            w.hostage.store(session, Ordering::SeqCst);
        }
        let aimed = aimed.map(|(m, _)| m);
        let target = aimed.unwrap_or_else(|| ids[rng.gen_range(0..ids.len())]);
        let other = ids
            .iter()
            .copied()
            .filter(|&i| i != target)
            .nth(rng.gen_range(0..ids.len() - 1))
            .unwrap_or(target);
        let fault = match rng.gen_range(0..100) {
            0..=49 => Fault::Isolate,
            50..=64 => Fault::Bridge,
            65..=79 => Fault::Pause,
            _ => Fault::KillRestart,
        };
        bump(&w.stats.faults);
        if aimed.is_some() {
            bump(&w.stats.on_holder);
        }
        // Shorter and longer than the session timeout: both the "moves with its session" and
        // the "its session expires" paths.
        let hold = if rng.gen_bool(0.4) {
            Duration::from_millis(rng.gen_range(200..1500))
        } else {
            SESSION + Duration::from_millis(rng.gen_range(1000..2500))
        };
        match fault {
            // With three members a minority is one member.
            Fault::Isolate => cluster.partition(&[&[target], &others(&ids, target)]),
            Fault::Bridge => cluster.cut(target, other),
            Fault::Pause => cluster.pause(target),
            Fault::KillRestart => cluster.kill(target).await,
        }
        tokio::time::sleep(hold).await;
        cluster.heal();
        cluster.resume(target);
        w.hostage.store(0, Ordering::SeqCst);
        if matches!(fault, Fault::KillRestart) {
            cluster.restart(target).await.expect("restart");
        }
        assert!(
            cluster
                .wait_for_leader(Duration::from_secs(20))
                .await
                .is_some(),
            "no serving leader within 20 s of healing {fault:?} on {target}"
        );
    }
}

/// Keeps a session for `PER_SESSION` contenders, replacing it when it expires, until stopped.
async fn session_slot(w: Arc<World>, connect: String, recipe: Recipe, s: usize, seed: u64) {
    let mut stop = w.stop.subscribe();
    let mut generation = 0;
    while !*stop.borrow() {
        let c = tokio::select! {
            c = Client::builder(&connect).session_timeout(SESSION).connect() => c,
            _ = stopped(&mut stop) => break,
        };
        let Ok(client) = c else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        generation += 1;
        let mut mine = JoinSet::new();
        for k in 0..PER_SESSION {
            let me = format!("c{s}.{k}.g{generation}");
            let seed = seed ^ ((s * PER_SESSION + k) as u64 + 1) ^ (generation << 32);
            match recipe {
                Recipe::Mutex => mine.spawn(mutex_contender(w.clone(), client.clone(), me, seed)),
                Recipe::Latch => mine.spawn(latch_contender(w.clone(), client.clone(), me, seed)),
            };
        }
        while let Some(r) = mine.join_next().await {
            r.expect("contender task");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
    }
}

fn enter(w: &World, me: &str, token: i64, session: i64) {
    w.log.enter(me, token);
    w.holder.send_replace(session);
}

fn leave(w: &World, me: &str, session: i64) {
    w.log.leave(me);
    w.holder.send_if_modified(|h| {
        let ours = *h == session;
        if ours {
            *h = 0;
        }
        ours
    });
}

/// Acts for a short while, and on while a fault holds this session hostage; ends early
/// (returns true) when `lost` resolves first.
async fn act(w: &World, session: i64, rng: &mut StdRng, lost: impl std::future::Future) -> bool {
    let planned = Duration::from_millis(rng.gen_range(5..60));
    let work = async {
        tokio::time::sleep(planned).await;
        let until = Instant::now() + Duration::from_secs(10);
        while w.hostage.load(Ordering::SeqCst) == session && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        _ = work => false,
        _ = lost => true,
    }
}

async fn not_held(states: &mut (impl Stream<Item = LockState> + Unpin)) {
    while let Some(s) = states.next().await {
        if s != LockState::Held {
            return;
        }
    }
}

async fn mutex_contender(w: Arc<World>, client: Client, me: String, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stop = w.stop.subscribe();
    let session = client.session_id();
    let m = InterProcessMutex::new(client.clone(), w.path.clone());
    while !*stop.borrow() && !client.state().is_terminal() {
        let r = tokio::select! {
            r = m.acquire_timeout(Duration::from_secs(3)) => r,
            _ = stopped(&mut stop) => break,
        };
        let g = match r {
            Ok(Some(g)) => g,
            Ok(None) => continue,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let mut states = g.states();
        if states.next().await != Some(LockState::Held) {
            continue;
        }
        enter(&w, &me, g.fencing_token(), session);
        let interrupted = act(&w, session, &mut rng, not_held(&mut states)).await;
        leave(&w, &me, session);
        if interrupted {
            bump(&w.stats.interrupted);
        }
        drop(g);
    }
}

async fn latch_contender(w: Arc<World>, client: Client, me: String, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stop = w.stop.subscribe();
    let session = client.session_id();
    while !*stop.borrow() && !client.state().is_terminal() {
        let latch = LeaderLatch::new(client.clone(), w.path.clone(), me.clone());
        let mut events = latch.leadership_events();
        let started = tokio::select! {
            r = latch.start() => r,
            _ = stopped(&mut stop) => break,
        };
        if started.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let mut next = None;
        loop {
            let ev = match next.take() {
                Some(ev) => ev,
                None => tokio::select! {
                    ev = events.next() => ev,
                    _ = stopped(&mut stop) => break,
                },
            };
            let token = match ev {
                None => break,
                Some(LeadershipEvent::NotLeader) => continue,
                Some(LeadershipEvent::Leader { token }) => token,
            };
            if latch.fencing_token() != Some(token) {
                continue;
            }
            enter(&w, &me, token, session);
            let mut ended = None;
            act(&w, session, &mut rng, async {
                ended = Some(events.next().await)
            })
            .await;
            leave(&w, &me, session);
            match ended {
                None => break,
                Some(ev) => {
                    bump(&w.stats.interrupted);
                    next = Some(ev);
                }
            }
        }
        drop(latch);
    }
}
