//! `zk-bench smoke`: every workload runs for a moment against a zk-server that zk-bench starts
//! itself (the binary next to it), and reports operations and no errors. Asserts only that the
//! load generator works, never how fast anything is.

use integration::bins::workspace_bin;
use std::process::Command;

#[test]
fn smoke_mode_runs_every_workload_without_errors() {
    // zk-bench starts the zk-server next to itself.
    workspace_bin("zk-server");
    let bench = workspace_bin("zk-bench");
    let out = Command::new(&bench)
        .args(["smoke", "--duration", "300ms"])
        .output()
        .expect("run zk-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "zk-bench smoke failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("SMOKE workload="))
        .collect();
    assert_eq!(
        lines.len(),
        9,
        "one line per workload, and paced get-data:\n{stdout}"
    );
    for line in &lines {
        let field = |k: &str| -> u64 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {line:?}"))
        };
        assert!(field("ops=") > 0, "no operations: {line}");
        assert_eq!(field("errors="), 0, "errors: {line}");
    }
    // The paced run offers 200 ops/s for 300 ms: about 60 operations, where a closed loop
    // against a local server does thousands.
    let paced = lines
        .iter()
        .find(|l| l.contains("rate=200 "))
        .unwrap_or_else(|| panic!("no paced run:\n{stdout}"));
    let ops: u64 = paced
        .split_whitespace()
        .find_map(|f| f.strip_prefix("ops="))
        .and_then(|v| v.parse().ok())
        .expect("ops");
    assert!(ops <= 120, "pacing not applied: {paced}");
    assert!(stdout.contains("SMOKE OK"), "{stdout}");
}
