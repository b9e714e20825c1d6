//! zk-server on real networks: a container image built locally and the faults tests inflict
//! on containers.
//!
//! No image registry is reachable from our machines, so [`build_image`] makes the image from
//! nothing: `FROM scratch` with the zk-server binary of this build and the shared libraries
//! `ldd` lists for it, tagged with a hash of that root so each build is made once per machine
//! (later calls find it with `docker image inspect`). The container runs
//! `/zk-server /conf/zoo.cfg`; tests copy in `zoo.cfg` and `/data/myid`.
//!
//! Faults beyond what the `testcontainers` crate offers go through the docker CLI and, for
//! firewall rules, `nsenter` into the container's network namespace with the host's
//! `iptables` (the image has no shell and no tools).
//!
//! [`docker_or_skip`] decides whether container tests run: without a working Docker engine
//! they print `SKIPPED` and pass, except under `CI=true`, where every machine has Docker and a
//! missing engine is a failure.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::bins::workspace_bin;

/// The image's repository name; the tag is a hash of its contents.
pub const IMAGE: &str = "zk-rs-test";

/// Runs `docker args...`; its stdout on success, a message with stderr otherwise.
///
/// # Errors
/// When docker cannot be run or exits non-zero.
pub fn docker(args: &[&str]) -> Result<String, String> {
    run(Command::new("docker").args(args))
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let what = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{what} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether a Docker engine answers.
pub fn docker_available() -> bool {
    docker(&["info", "--format", "{{.ServerVersion}}"]).is_ok()
}

/// True when container tests should run. Without Docker: prints `SKIPPED: <test>` and returns
/// false, unless `CI` is `true`, where it panics.
///
/// # Panics
/// Under `CI=true` when no Docker engine answers.
pub fn docker_or_skip(test: &str) -> bool {
    if docker_available() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{test}: Docker is required under CI=true but no engine answers"
    );
    eprintln!("SKIPPED: {test}: no Docker engine");
    false
}

/// The shared libraries `ldd` lists for `bin` (absolute paths, the loader included).
fn shared_libraries(bin: &Path) -> Result<Vec<PathBuf>, String> {
    let out = run(Command::new("ldd").arg(bin))?;
    let mut libs = Vec::new();
    for line in out.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

/// Builds (once per machine and binary) the zk-server image and returns `name:tag`.
///
/// # Errors
/// When the binary, `ldd` or `docker build` fails.
pub fn build_image() -> Result<String, String> {
    static BUILT: OnceLock<Result<String, String>> = OnceLock::new();
    BUILT.get_or_init(build).clone()
}

fn build() -> Result<String, String> {
    let bin = workspace_bin("zk-server");
    let ctx = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = ctx.path().join("root");
    let copy = |from: &Path, to: &Path| -> Result<(), String> {
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(|e| format!("copy {} -> {}: {e}", from.display(), to.display()))
    };
    let mut hash = sha1_smol::Sha1::new();
    let mut files = vec![(bin.clone(), root.join("zk-server"))];
    for lib in shared_libraries(&bin)? {
        let inside = root.join(lib.strip_prefix("/").unwrap_or(&lib));
        files.push((lib, inside));
    }
    for (from, to) in &files {
        copy(from, to)?;
        let bytes = std::fs::read(to).map_err(|e| format!("{}: {e}", to.display()))?;
        hash.update(
            to.strip_prefix(&root)
                .unwrap_or(to)
                .to_string_lossy()
                .as_bytes(),
        );
        hash.update(&bytes);
    }
    for dir in ["data", "conf", "tmp"] {
        std::fs::create_dir_all(root.join(dir)).map_err(|e| e.to_string())?;
    }
    let tag = format!("{IMAGE}:{}", &hash.digest().to_string()[..12]);
    if docker(&["image", "inspect", &tag]).is_ok() {
        return Ok(tag);
    }
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY root/ /\nENTRYPOINT [\"/zk-server\"]\nCMD [\"/conf/zoo.cfg\"]\n",
    )
    .map_err(|e| e.to_string())?;
    let context = ctx.path().to_string_lossy().into_owned();
    docker(&["build", "--quiet", "-t", &tag, &context])?;
    Ok(tag)
}

/// The container's address on `network`.
///
/// # Errors
/// When docker cannot inspect it or it has no address there.
pub fn container_ip(container: &str, network: &str) -> Result<IpAddr, String> {
    let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
    let ip = docker(&["inspect", "-f", &format, container])?;
    ip.parse()
        .map_err(|e| format!("{container} on {network}: address {ip:?}: {e}"))
}

/// The host pid of the container's main process (for `nsenter`).
///
/// # Errors
/// When docker cannot inspect it.
pub fn container_pid(container: &str) -> Result<u32, String> {
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", container])?;
    pid.parse()
        .map_err(|e| format!("{container}: pid {pid:?}: {e}"))
}

/// Drops, inside `container`'s network namespace, every packet from and to `peers`, as a
/// firewall between hosts would; the host (and so the test's clients) still reach it.
///
/// # Errors
/// When `nsenter` or `iptables` fails.
pub fn firewall_drop(container: &str, peers: &[IpAddr]) -> Result<(), String> {
    let pid = container_pid(container)?.to_string();
    for ip in peers {
        let ip = ip.to_string();
        for rule in [["-A", "INPUT", "-s"], ["-A", "OUTPUT", "-d"]] {
            run(Command::new("nsenter")
                .args(["-t", &pid, "-n", "iptables"])
                .args(rule)
                .args([ip.as_str(), "-j", "DROP"]))?;
        }
    }
    Ok(())
}

/// Removes every firewall rule [`firewall_drop`] added in `container`.
///
/// # Errors
/// When `nsenter` or `iptables` fails.
pub fn firewall_clear(container: &str) -> Result<(), String> {
    let pid = container_pid(container)?.to_string();
    for chain in ["INPUT", "OUTPUT"] {
        run(Command::new("nsenter").args(["-t", &pid, "-n", "iptables", "-F", chain]))?;
    }
    Ok(())
}
