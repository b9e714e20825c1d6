//! `zk-bench failover --only ours`: a 3-node zk-server ensemble on 127.0.0.1 (tickTime 200 ms),
//! one leader kill -9, and a report with both times measured. Asserts only that the mode works
//! end to end, never how fast failover is.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The metric cell of the zk-server column in `row` of the markdown table.
fn zk_server_seconds(stdout: &str, row: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("| {row}")))
        .unwrap_or_else(|| panic!("no row {row:?} in:\n{stdout}"));
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    cells
        .get(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no zk-server time in {line:?}"))
}

#[test]
fn failover_mode_kills_the_leader_and_reports_both_times() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zk-bench"))
        .args([
            "failover",
            "--only",
            "ours",
            "--runs",
            "1",
            "--tick-ms",
            "200",
            "--limit",
            "20s",
            "--zk-server-bin",
            env!("CARGO_BIN_EXE_zk-server"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zk-bench");
    let deadline = Instant::now() + Duration::from_secs(50);
    while child.try_wait().expect("wait zk-bench").is_none() {
        if Instant::now() > deadline {
            // zk-bench's watchdogs kill the servers when it dies.
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "zk-bench failover still running after 50 s:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("collect output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "zk-bench failover failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let leader = zk_server_seconds(&stdout, "(a) kill → new leader in srvr, median (s)");
    let write = zk_server_seconds(&stdout, "(b) kill → first successful write, median (s)");
    assert!(
        leader > 0.0 && leader < 20.0,
        "leader time {leader}:\n{stdout}"
    );
    assert!(write > 0.0 && write < 20.0, "write time {write}:\n{stdout}");
    assert!(
        stdout.contains("| zk-server | 1 |"),
        "one run row:\n{stdout}"
    );
}
