//! The request driver: N sessions × M slots, each slot issuing its next request as soon as the
//! previous one is answered (closed loop) or, with a rate, on a fixed schedule (paced); warm-up,
//! then a measured window. Latency runs from the moment a request is sent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::SeedableRng;
use zk_core::Client;

use crate::outcome::{new_histogram, Outcome};
use crate::procstat;
use crate::workload::{one_op, setup, LoadArgs, Slot, Workload};

/// Flags shared by every load task: measuring now, and stop.
#[derive(Debug, Default)]
pub struct Window {
    /// Operations started while this is set are measured.
    pub recording: AtomicBool,
    /// Tasks stop issuing requests once this is set.
    pub stop: AtomicBool,
}

/// What each task hands back.
#[derive(Debug)]
pub struct TaskTally {
    /// Measured successes.
    pub ops: u64,
    /// Measured failures by error text.
    pub errors: BTreeMap<String, u64>,
    /// Measured latencies (µs).
    pub hist: Histogram<u64>,
}

impl TaskTally {
    /// An empty tally.
    pub fn new() -> Self {
        Self {
            ops: 0,
            errors: BTreeMap::new(),
            hist: new_histogram(),
        }
    }

    /// Records one finished operation.
    pub fn record(&mut self, started: Instant, r: Result<(), zk_core::Error>) {
        match r {
            Ok(()) => {
                self.ops += 1;
                let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                let _ = self.hist.record(us.max(1));
            }
            Err(e) => *self.errors.entry(e.to_string()).or_default() += 1,
        }
    }
}

/// Runs `w` against `connect` with the shape in `args`; `pid` is the server's, for CPU and RSS.
pub async fn run(
    w: Workload,
    connect: &str,
    pid: Option<u32>,
    args: &LoadArgs,
) -> Result<Outcome, String> {
    let admin = Client::connect(connect)
        .await
        .map_err(|e| format!("connect {connect}: {e}"))?;
    setup(&admin, args)
        .await
        .map_err(|e| format!("setup: {e}"))?;
    admin.close().await;

    if w == Workload::WatchFanout {
        return crate::fanout::run(connect, pid, args).await;
    }

    let window = Arc::new(Window::default());
    let value: Arc<[u8]> = vec![b'x'; args.value_size].into();
    let mut clients = Vec::new();
    // Ephemeral churn opens its own session per op: one slot per session there.
    let slots_per_session = if w == Workload::EphemeralChurn {
        1
    } else {
        args.in_flight.max(1)
    };
    for _ in 0..args.sessions.max(1) {
        let c = Client::builder(connect)
            .session_timeout(Duration::from_secs(30))
            .connect()
            .await
            .map_err(|e| format!("connect {connect}: {e}"))?;
        clients.push(c);
    }
    let total_slots = clients.len() * slots_per_session;
    // Paced: every slot sends once per `pace`, the slots staggered evenly across it.
    let pace = (args.rate > 0.0).then(|| Duration::from_secs_f64(total_slots as f64 / args.rate));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (s, client) in clients.iter().enumerate() {
        for m in 0..slots_per_session {
            let id = s * slots_per_session + m;
            let (client, window, value, args) =
                (client.clone(), window.clone(), value.clone(), args.clone());
            let connect = connect.to_string();
            tasks.push(tokio::spawn(async move {
                let mut slot = Slot {
                    id,
                    seq: 0,
                    rng: rand::rngs::StdRng::seed_from_u64(id as u64 * 7919 + 1),
                };
                let mut tally = TaskTally::new();
                let mut next = pace.map(|p| start + p.mul_f64(id as f64 / total_slots as f64));
                while !window.stop.load(Ordering::Relaxed) {
                    if let (Some(p), Some(at)) = (pace, next.as_mut()) {
                        let now = Instant::now();
                        if *at > now {
                            tokio::time::sleep_until((*at).into()).await;
                        }
                        // A slot more than one interval behind (a slow reply) drops the sends
                        // it missed instead of bursting them: the offered rate never exceeds
                        // the one asked for.
                        *at = (*at + p).max(now);
                    }
                    let measured = window.recording.load(Ordering::Relaxed);
                    let t0 = Instant::now();
                    let r = one_op(w, &client, &connect, &args, &value, &mut slot).await;
                    if measured {
                        tally.record(t0, r);
                    } else if r.is_err() {
                        // Keep failing loops from spinning during warm-up.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                tally
            }));
        }
    }
    let (elapsed, cpu, rss) = measure_window(&window, pid, args).await;
    let mut total = TaskTally::new();
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(60), t).await {
            Ok(Ok(tally)) => merge(&mut total, tally),
            Ok(Err(e)) => *total.errors.entry(format!("task: {e}")).or_default() += 1,
            Err(_) => *total.errors.entry("task hung".into()).or_default() += 1,
        }
    }
    for c in clients {
        c.close().await;
    }
    Ok(Outcome {
        workload: w,
        ops: total.ops,
        errors: total.errors,
        latency_us: total.hist,
        elapsed,
        server_cpu: cpu,
        server_rss_kib: rss,
    })
}

/// Warm-up, then the measured window; returns its length, the server CPU used in it and the
/// server RSS at its end. Sets `stop` when done.
pub async fn measure_window(
    window: &Window,
    pid: Option<u32>,
    args: &LoadArgs,
) -> (Duration, Option<Duration>, Option<u64>) {
    tokio::time::sleep(args.warmup).await;
    let cpu0 = pid.and_then(procstat::cpu_time);
    window.recording.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(args.duration).await;
    window.recording.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed();
    let cpu1 = pid.and_then(procstat::cpu_time);
    let rss = pid.and_then(procstat::rss_kib);
    window.stop.store(true, Ordering::Relaxed);
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    (elapsed, cpu, rss)
}

/// Adds `t` into `total`.
pub fn merge(total: &mut TaskTally, t: TaskTally) {
    total.ops += t.ops;
    for (k, v) in t.errors {
        *total.errors.entry(k).or_default() += v;
    }
    let _ = total.hist.add(&t.hist);
}
