//! The workspace's binaries (`zk-server`, `zk-cli`, `zk-bench`) for process-level tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary `name` of the zk-server package in this test's target directory
/// (`target/<profile>/<name>`), first built or brought up to date with cargo (a no-op when it
/// is current, e.g. after CI's `cargo build -p zk-server --bins`). If that build fails, an
/// existing binary is used with a warning.
///
/// # Panics
/// When the binary can neither be built nor found.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in target/<profile>/deps");
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "zk-server", "--bin", name]);
    if let Some(target_dir) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target_dir);
    }
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    let built = cmd.output().expect("run cargo build");
    if !built.status.success() {
        let stderr = String::from_utf8_lossy(&built.stderr);
        assert!(
            bin.exists(),
            "building {name} failed and {} does not exist:\n{stderr}",
            bin.display()
        );
        eprintln!(
            "warning: building {name} failed, testing the existing {}:\n{stderr}",
            bin.display()
        );
    }
    bin
}
