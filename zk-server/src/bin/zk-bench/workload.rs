//! The workloads: what one operation of each is, and the znodes they need beforehand.

use std::time::Duration;

use futures::future::join_all;
use rand::rngs::StdRng;
use rand::Rng;
use zk_core::{Client, CreateMode, CreateOptions, Error};

/// One kind of load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Persistent creates of new znodes (a write each).
    Create,
    /// setData on a random existing key.
    SetData,
    /// getData of a random existing key.
    GetData,
    /// exists on a random existing key.
    Exists,
    /// getData with probability `read-ratio`, else setData.
    Mixed,
    /// A multi of `multi-ops` setData on random keys.
    Multi,
    /// One writer, `watchers` sessions with a data watch on the same znode; an op is one
    /// delivered notification, latency from the write's start to the event's arrival.
    WatchFanout,
    /// Per op: open a session, create an ephemeral znode, close the session.
    EphemeralChurn,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 8] = [
        Workload::Create,
        Workload::SetData,
        Workload::GetData,
        Workload::Exists,
        Workload::Mixed,
        Workload::Multi,
        Workload::WatchFanout,
        Workload::EphemeralChurn,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::SetData => "set-data",
            Workload::GetData => "get-data",
            Workload::Exists => "exists",
            Workload::Mixed => "mixed",
            Workload::Multi => "multi",
            Workload::WatchFanout => "watch-fanout",
            Workload::EphemeralChurn => "ephemeral-churn",
        }
    }
}

/// Load shape shared by every workload.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Client sessions.
    #[arg(long, default_value_t = 8)]
    pub sessions: usize,
    /// Requests in flight per session (closed loop: each slot waits for its reply).
    #[arg(long, default_value_t = 16)]
    pub in_flight: usize,
    /// Value size in bytes for creates and writes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Number of existing keys read and written by set-data / get-data / exists / mixed / multi.
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,
    /// Measured time per workload (e.g. 30s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unmeasured warm-up before each workload.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Fraction of reads in the mixed workload.
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,
    /// setData operations per multi.
    #[arg(long, default_value_t = 4)]
    pub multi_ops: usize,
    /// Watcher sessions in watch-fanout.
    #[arg(long, default_value_t = 64)]
    pub watchers: usize,
    /// Workloads to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = Workload::ALL.to_vec())]
    pub workloads: Vec<Workload>,
    /// Offered load in ops/s over all slots; 0 runs a closed loop (each slot sends its next
    /// request as soon as the previous one is answered). With a rate, each slot sends on a
    /// fixed schedule (one request in flight at most); a slot that falls behind skips the sends it
    /// missed, so the offered rate never exceeds this.
    /// Not used by watch-fanout.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses `30s`, `500ms`, `2m` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(v) = s.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60.0)
    } else {
        (s, 1.0)
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?}"))?;
    if !(n >= 0.0 && n.is_finite()) {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(n * scale))
}

/// Root of everything the benchmark writes.
pub const ROOT: &str = "/bench";

fn key(i: usize) -> String {
    format!("{ROOT}/k/{i}")
}

/// Creates a node, treating NodeExists as success (re-runs against the same server).
pub async fn ensure(client: &Client, path: &str, data: &[u8]) -> Result<(), Error> {
    match client
        .create(path, data, &CreateOptions::new(CreateMode::Persistent))
        .await
    {
        Ok(_) | Err(Error::NodeExists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates the parents and the `keys` znodes the workloads use (pipelined in batches).
pub async fn setup(client: &Client, args: &LoadArgs) -> Result<(), Error> {
    for p in ["", "/k", "/create", "/eph", "/watch"] {
        ensure(client, &format!("{ROOT}{p}"), b"").await?;
    }
    let value = vec![b'v'; args.value_size];
    for chunk in (0..args.keys).collect::<Vec<_>>().chunks(512) {
        let futs: Vec<_> = chunk
            .iter()
            .map(|&i| client.create(&key(i), &value, &CreateOptions::new(CreateMode::Persistent)))
            .collect();
        for r in join_all(futs).await {
            match r {
                Ok(_) | Err(Error::NodeExists) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Per-slot state of a request loop.
#[derive(Debug)]
pub struct Slot {
    /// Unique id of this slot (session × in-flight index).
    pub id: usize,
    /// Operations issued so far by this slot.
    pub seq: u64,
    /// Random source for key choice.
    pub rng: StdRng,
}

/// Runs one operation of `w` (not watch-fanout, which has its own driver).
pub async fn one_op(
    w: Workload,
    client: &Client,
    connect: &str,
    args: &LoadArgs,
    value: &[u8],
    slot: &mut Slot,
) -> Result<(), Error> {
    slot.seq += 1;
    let keys = args.keys.max(1);
    match w {
        Workload::Create => {
            let path = format!("{ROOT}/create/{}-{}", slot.id, slot.seq);
            client
                .create(&path, value, &CreateOptions::new(CreateMode::Persistent))
                .await
                .map(|_| ())
        }
        Workload::SetData => {
            let k = key(slot.rng.gen_range(0..keys));
            client.set_data(&k, value, None).await.map(|_| ())
        }
        Workload::GetData => {
            let k = key(slot.rng.gen_range(0..keys));
            client.get_data(&k).await.map(|_| ())
        }
        Workload::Exists => {
            let k = key(slot.rng.gen_range(0..keys));
            match client.exists(&k).await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(Error::NoNode),
                Err(e) => Err(e),
            }
        }
        Workload::Mixed => {
            let k = key(slot.rng.gen_range(0..keys));
            if slot.rng.gen_bool(args.read_ratio.clamp(0.0, 1.0)) {
                client.get_data(&k).await.map(|_| ())
            } else {
                client.set_data(&k, value, None).await.map(|_| ())
            }
        }
        Workload::Multi => {
            let mut t = client.transaction();
            for _ in 0..args.multi_ops.max(1) {
                t = t.set_data(&key(slot.rng.gen_range(0..keys)), value, None);
            }
            t.commit().await.map(|_| ())
        }
        Workload::EphemeralChurn => {
            let c = Client::builder(connect)
                .session_timeout(Duration::from_secs(10))
                .connect()
                .await?;
            let path = format!("{ROOT}/eph/{}-{}", slot.id, slot.seq);
            let r = c
                .create(&path, value, &CreateOptions::new(CreateMode::Ephemeral))
                .await;
            c.close().await;
            r.map(|_| ())
        }
        Workload::WatchFanout => Err(Error::BadArguments),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("x").is_err());
    }
}
