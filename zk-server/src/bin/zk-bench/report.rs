//! The compare report: a markdown table of ours vs Apache with ratios and targets.

use std::fmt::Write as _;

use crate::outcome::Outcome;
use crate::tree::TreeOutcome;
use crate::workload::Workload;

/// Results of one server in a compare run.
#[derive(Debug, Default)]
pub struct ServerResults {
    /// Per-workload outcomes (or the error that stopped the workload).
    pub workloads: Vec<(Workload, Result<Outcome, String>)>,
    /// The big-tree run, if done.
    pub tree: Option<Result<TreeOutcome, String>>,
    /// The equal-load pass: workload, offered rate (ops/s), outcome.
    pub paced: Vec<(Workload, f64, Result<Outcome, String>)>,
}

/// Whether bigger or smaller is better, and the target ratio (ours / apache).
#[derive(Debug, Clone, Copy)]
enum Target {
    AtLeast(f64),
    AtMost(f64),
    None,
}

fn throughput_target(w: Workload) -> Target {
    match w {
        Workload::Create | Workload::SetData => Target::AtLeast(2.0),
        Workload::GetData | Workload::Exists => Target::AtLeast(1.5),
        _ => Target::None,
    }
}

fn row(out: &mut String, metric: &str, ours: Option<f64>, apache: Option<f64>, t: Target) {
    let fmt = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.2}"));
    let ratio = match (ours, apache) {
        (Some(o), Some(a)) if a > 0.0 => Some(o / a),
        _ => None,
    };
    let (target, met) = match (t, ratio) {
        (Target::AtLeast(x), Some(r)) => (format!("≥ {x}×"), if r >= x { "yes" } else { "no" }),
        (Target::AtMost(x), Some(r)) => (format!("≤ {x:.2}×"), if r <= x { "yes" } else { "no" }),
        (Target::AtLeast(x), None) => (format!("≥ {x}×"), "n/a"),
        (Target::AtMost(x), None) => (format!("≤ {x:.2}×"), "n/a"),
        (Target::None, _) => ("—".into(), "—"),
    };
    let _ = writeln!(
        out,
        "| {metric} | {} | {} | {} | {target} | {met} |",
        fmt(ours),
        fmt(apache),
        ratio.map_or_else(|| "n/a".into(), |r| format!("{r:.2}×"))
    );
}

fn find(r: &ServerResults, w: Workload) -> Option<&Outcome> {
    r.workloads
        .iter()
        .find(|(x, _)| *x == w)
        .and_then(|(_, o)| o.as_ref().ok())
}

fn find_paced(r: &ServerResults, w: Workload) -> Option<(f64, &Outcome)> {
    r.paced
        .iter()
        .find(|(x, _, _)| *x == w)
        .and_then(|(_, rate, o)| o.as_ref().ok().map(|o| (*rate, o)))
}

fn detail_line(out: &mut String, name: &str, label: &str, o: &Result<Outcome, String>) {
    match o {
        Ok(o) => {
            let _ = writeln!(
                out,
                "| {name} | {label} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} |",
                o.throughput(),
                o.latency_ms(0.5),
                o.latency_ms(0.99),
                o.latency_ms(0.999),
                o.cpu_us_per_op()
                    .map_or("n/a".into(), |c| format!("{c:.1}")),
                o.server_rss_kib
                    .map_or("n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
                o.ops,
                if o.errors.is_empty() {
                    "0".into()
                } else {
                    format!("{:?}", o.errors)
                }
            );
        }
        Err(e) => {
            let _ = writeln!(out, "| {name} | {label} | failed: {e} |||||||");
        }
    }
}

/// Renders the full markdown report.
pub fn markdown(
    command: &str,
    machine: &str,
    setup: &str,
    ours: &ServerResults,
    apache: &ServerResults,
    workloads: &[Workload],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# zk-bench compare: zk-server vs Apache ZooKeeper\n");
    let _ = writeln!(out, "- command: `{command}`");
    let _ = writeln!(out, "- machine: {machine}");
    let _ = writeln!(out, "- setup: {setup}\n");
    let _ = writeln!(
        out,
        "| metric | zk-server | apache | ours/apache | target | met? |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|---|");
    for &w in workloads {
        let (o, a) = (find(ours, w), find(apache, w));
        row(
            &mut out,
            &format!("{w} throughput (ops/s)"),
            o.map(Outcome::throughput),
            a.map(Outcome::throughput),
            throughput_target(w),
        );
        row(
            &mut out,
            &format!("{w} p99 latency, closed loop (ms)"),
            o.map(|x| x.latency_ms(0.99)),
            a.map(|x| x.latency_ms(0.99)),
            Target::None,
        );
        let (po, pa) = (find_paced(ours, w), find_paced(apache, w));
        if let Some(rate) = po.or(pa).map(|(r, _)| r) {
            row(
                &mut out,
                &format!("{w} p99 latency at {rate:.0} ops/s offered to both (ms)"),
                po.map(|(_, x)| x.latency_ms(0.99)),
                pa.map(|(_, x)| x.latency_ms(0.99)),
                Target::AtMost(0.5),
            );
        }
        row(
            &mut out,
            &format!("{w} server CPU per op (µs)"),
            o.and_then(Outcome::cpu_us_per_op),
            a.and_then(Outcome::cpu_us_per_op),
            Target::AtMost(1.0 / 3.0),
        );
    }
    if let (Some(Ok(o)), Some(Ok(a))) = (&ours.tree, &apache.tree) {
        let mib = |k: Option<u64>| k.map(|k| k as f64 / 1024.0);
        row(
            &mut out,
            &format!("RSS after loading {} znodes (MiB)", o.nodes),
            mib(o.rss_loaded_kib),
            mib(a.rss_loaded_kib),
            Target::AtMost(0.25),
        );
        row(
            &mut out,
            &format!("RSS after kill -9 + restart with {} znodes (MiB)", o.nodes),
            mib(o.rss_restarted_kib),
            mib(a.rss_restarted_kib),
            Target::AtMost(0.25),
        );
        row(
            &mut out,
            &format!("restart to first served request, {} znodes (s)", o.nodes),
            Some(o.restart_to_first_request.as_secs_f64()),
            Some(a.restart_to_first_request.as_secs_f64()),
            Target::AtMost(0.25),
        );
        row(
            &mut out,
            &format!("time to load {} znodes (s)", o.nodes),
            Some(o.load_time.as_secs_f64()),
            Some(a.load_time.as_secs_f64()),
            Target::None,
        );
    }
    let _ = writeln!(out, "\n## Details\n");
    let _ = writeln!(
        out,
        "| server | workload | ops/s | p50 ms | p99 ms | p999 ms | CPU µs/op | RSS MiB | ops | errors |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (name, r) in [("zk-server", ours), ("apache", apache)] {
        for (w, o) in &r.workloads {
            detail_line(&mut out, name, &w.to_string(), o);
        }
        for (w, rate, o) in &r.paced {
            detail_line(&mut out, name, &format!("{w} at {rate:.0} ops/s"), o);
        }
        if let Some(Err(e)) = &r.tree {
            let _ = writeln!(out, "| {name} | big tree | failed: {e} |||||||");
        }
    }
    out
}
