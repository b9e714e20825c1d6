//! Watch fan-out: one writer, many watcher sessions on the same znode. The writer sets the
//! data, every watcher receives NodeDataChanged, re-arms its watch and acknowledges; then the
//! next write. An op is one delivered notification, its latency measured from the start of the
//! write to the event's arrival.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use zk_core::Client;

use crate::driver::{measure_window, merge, TaskTally, Window};
use crate::outcome::Outcome;
use crate::workload::{ensure, LoadArgs, Workload, ROOT};

/// Runs the fan-out workload.
pub async fn run(connect: &str, pid: Option<u32>, args: &LoadArgs) -> Result<Outcome, String> {
    let path = format!("{ROOT}/watch/fan");
    let writer = Client::connect(connect)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    ensure(&writer, &path, b"")
        .await
        .map_err(|e| format!("setup: {e}"))?;
    let window = Arc::new(Window::default());
    let write_started = Arc::new(Mutex::new(Instant::now()));
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<()>();
    let watchers = args.watchers.max(1);
    let mut clients = Vec::new();
    let mut tasks = Vec::new();
    let (armed_tx, mut armed_rx) = mpsc::unbounded_channel::<()>();
    for _ in 0..watchers {
        let c = Client::builder(connect)
            .session_timeout(Duration::from_secs(30))
            .connect()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        clients.push(c.clone());
        let (window, write_started, ack_tx, armed_tx, path) = (
            window.clone(),
            write_started.clone(),
            ack_tx.clone(),
            armed_tx.clone(),
            path.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut tally = TaskTally::new();
            let mut watch = match c.get_data_w(&path).await {
                Ok((_, _, w)) => w,
                Err(e) => {
                    tally.record(Instant::now(), Err(e));
                    let _ = armed_tx.send(());
                    return tally;
                }
            };
            let _ = armed_tx.send(());
            loop {
                let _event = watch.await;
                let started = *write_started.lock().unwrap_or_else(|p| p.into_inner());
                let measured = window.recording.load(Ordering::Relaxed);
                if measured {
                    tally.record(started, Ok(()));
                }
                match c.get_data_w(&path).await {
                    Ok((_, _, w)) => watch = w,
                    Err(e) => {
                        if measured {
                            tally.record(started, Err(e));
                        }
                        let _ = ack_tx.send(());
                        return tally;
                    }
                }
                if ack_tx.send(()).is_err() || window.stop.load(Ordering::Relaxed) {
                    return tally;
                }
            }
        }));
    }
    drop(ack_tx);
    for _ in 0..watchers {
        let _ = armed_rx.recv().await;
    }

    let value = vec![b'w'; args.value_size];
    let writer_window = window.clone();
    let writer_task = {
        let writer = writer.clone();
        let write_started = write_started.clone();
        let path = path.clone();
        tokio::spawn(async move {
            let mut write_errors = TaskTally::new();
            while !writer_window.stop.load(Ordering::Relaxed) {
                *write_started.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                if let Err(e) = writer.set_data(&path, &value, None).await {
                    write_errors.record(Instant::now(), Err(e));
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                // Wait for every live watcher (bounded, so a lost event cannot hang the run).
                let mut acks = 0;
                while acks < watchers {
                    match tokio::time::timeout(Duration::from_secs(5), ack_rx.recv()).await {
                        Ok(Some(())) => acks += 1,
                        Ok(None) => return write_errors,
                        Err(_) => {
                            *write_errors
                                .errors
                                .entry("notification timeout".into())
                                .or_default() += 1;
                            break;
                        }
                    }
                }
            }
            // One last write releases the watchers still waiting for an event.
            let _ = writer.set_data(&path, &value, None).await;
            write_errors
        })
    };
    let (elapsed, cpu, rss) = measure_window(&window, pid, args).await;
    let mut total = TaskTally::new();
    match tokio::time::timeout(Duration::from_secs(30), writer_task).await {
        Ok(Ok(t)) => merge(&mut total, t),
        _ => *total.errors.entry("writer hung".into()).or_default() += 1,
    }
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(tally)) => merge(&mut total, tally),
            _ => *total.errors.entry("watcher hung".into()).or_default() += 1,
        }
    }
    for c in clients {
        c.close().await;
    }
    writer.close().await;
    Ok(Outcome {
        workload: Workload::WatchFanout,
        ops: total.ops,
        errors: total.errors,
        latency_us: total.hist,
        elapsed,
        server_cpu: cpu,
        server_rss_kib: rss,
    })
}
