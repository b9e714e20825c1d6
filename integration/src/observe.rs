//! Watching a client from the outside, for fault tests: when it was first told it is
//! disconnected, and when a node it held disappeared for everyone else.

use std::time::{Duration, Instant};

use futures::StreamExt;
use zk_core::{Client, SessionState};

/// Resolves with the moment `client` is first seen Disconnected (None if its state stream ends
/// or turns terminal first). Start it before the fault.
pub fn first_disconnect(client: &Client) -> tokio::task::JoinHandle<Option<Instant>> {
    let mut states = client.state_stream();
    tokio::spawn(async move {
        while let Some(s) = states.next().await {
            if s == SessionState::Disconnected {
                return Some(Instant::now());
            }
            if s.is_terminal() {
                return None;
            }
        }
        None
    })
}

/// Polls `path` through `observer` every 20 ms until it is gone; the moment it was first seen
/// gone.
///
/// # Panics
/// When it is still there after `bound`.
pub async fn deleted_at(observer: &Client, path: &str, bound: Duration) -> Instant {
    let t = Instant::now();
    loop {
        if let Ok(None) = observer.exists(path).await {
            return Instant::now();
        }
        assert!(t.elapsed() < bound, "{path} was never deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `fault`, then waits until `path` (an ephemeral node of `holder`'s session) is gone
/// for `observer`; returns, counted from the fault, when `holder` was first told it is
/// disconnected and when the node was first seen gone. The caller judges the order.
///
/// # Panics
/// When the node is still there after `bound`, or the holder has not seen Disconnected within
/// a second of the node's deletion.
pub async fn disconnected_and_deleted(
    holder: &Client,
    observer: &Client,
    path: &str,
    bound: Duration,
    fault: impl FnOnce(),
) -> (Duration, Duration) {
    let disconnected = first_disconnect(holder);
    let at = Instant::now();
    fault();
    let gone = deleted_at(observer, path, bound).await;
    let disc = tokio::time::timeout(Duration::from_secs(1), disconnected)
        .await
        .expect("the holder was not told it is disconnected, even a second after its node went")
        .expect("join")
        .expect("the holder's session ended without a Disconnected");
    (disc - at, gone - at)
}

/// Creates `path` (persistent) through `client`, then sets it one write at a time until
/// `until`, each write bounded by `per_write`; returns the task, which resolves with the
/// moments the writes succeeded.
///
/// # Panics
/// When `path` cannot be created (the node existing already is fine).
pub async fn keep_writing(
    client: Client,
    path: &str,
    until: Instant,
    per_write: Duration,
) -> tokio::task::JoinHandle<Vec<Instant>> {
    let opts = zk_core::CreateOptions::new(zk_core::CreateMode::Persistent);
    match client.create(path, b"", &opts).await {
        Ok(_) | Err(zk_core::Error::NodeExists) => {}
        Err(e) => panic!("create {path}: {e}"),
    }
    let path = path.to_string();
    tokio::spawn(async move {
        let mut ok = Vec::new();
        while Instant::now() < until {
            let w = tokio::time::timeout(per_write, client.set_data(&path, b"x", None));
            if let Ok(Ok(_)) = w.await {
                ok.push(Instant::now());
            } else {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        ok
    })
}

/// The longest time in `(from, to)` without an entry of `successes` (sorted).
pub fn longest_gap(successes: &[Instant], from: Instant, to: Instant) -> Duration {
    let mut prev = from;
    let mut gap = Duration::ZERO;
    for &t in successes.iter().filter(|&&t| t > from && t < to) {
        gap = gap.max(t - prev);
        prev = t;
    }
    gap
}

/// Opens a new session on `connect` and creates the ephemeral `path` from it, retrying the
/// create after ConnectionLoss (as any client does while the ensemble changes leader);
/// returns how long the session and its first write took.
///
/// # Panics
/// When the session cannot be opened, the create fails otherwise, or `bound` passes.
pub async fn new_session_first_write(
    connect: &str,
    session: Duration,
    path: &str,
    bound: Duration,
) -> Duration {
    let t = Instant::now();
    let fresh = Client::builder(connect)
        .session_timeout(session)
        .connect()
        .await
        .expect("a new session");
    let opts = zk_core::CreateOptions::new(zk_core::CreateMode::Ephemeral);
    loop {
        match fresh.create(path, b"", &opts).await {
            Ok(_) => return t.elapsed(),
            Err(zk_core::Error::ConnectionLoss) if t.elapsed() < bound => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("write from a new session: {e}"),
        }
    }
}
