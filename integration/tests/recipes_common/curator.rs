//! Compiling and starting the Curator side (`Interop.java`) of the interop tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

const JAVA_SOURCE: &str = include_str!("Interop.java");
const JAR_DIR: &str = "/usr/share/java";
const JARS: &[&str] = &[
    "curator-framework.jar",
    "curator-client.jar",
    "curator-recipes.jar",
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "guava.jar",
    "slf4j-api.jar",
    "slf4j-nop.jar",
];

/// Prints `SKIPPED: <reason>`, or panics when `APACHE_ZK_REQUIRED` is set (CI), so a missing
/// Curator or javac cannot pass as a skipped test.
fn skip(reason: String) {
    if integration::apache::ApacheZk::required() {
        panic!(
            "Curator interop required ({}) but unavailable: {reason}",
            integration::apache::ENV_REQUIRED
        );
    }
    eprintln!("SKIPPED: {reason}");
}

/// Compiles the Curator program into a temp dir and returns it with the class path; `None`
/// (after printing SKIPPED) when Java or Curator is missing. Panics instead when
/// `APACHE_ZK_REQUIRED` is set.
pub async fn compile() -> Option<(tempfile::TempDir, String)> {
    let missing: Vec<_> = JARS
        .iter()
        .filter(|j| !Path::new(JAR_DIR).join(j).exists())
        .collect();
    if !missing.is_empty() {
        skip(format!("Curator jars missing in {JAR_DIR}: {missing:?}"));
        return None;
    }
    let javac_ok = Command::new("javac")
        .arg("-version")
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !javac_ok {
        skip("javac not found".to_string());
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("Interop.java");
    std::fs::write(&src, JAVA_SOURCE).expect("write java source");
    let mut cp: Vec<String> = JARS
        .iter()
        .map(|j| PathBuf::from(JAR_DIR).join(j).display().to_string())
        .collect();
    let out = Command::new("javac")
        .arg("-cp")
        .arg(cp.join(":"))
        .arg("-d")
        .arg(dir.path())
        .arg(&src)
        .output()
        .await
        .expect("run javac");
    assert!(
        out.status.success(),
        "javac failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cp.insert(0, dir.path().display().to_string());
    Some((dir, cp.join(":")))
}

/// Starts `Interop` with `args` (killed when dropped), stdin and stdout piped.
pub fn java(cp: &str, args: &[&str]) -> Child {
    Command::new("java")
        .arg("-cp")
        .arg(cp)
        .arg("Interop")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start java")
}

/// Appends `line` to `file` (O_APPEND, so lines of both languages interleave whole) and
/// returns once it is in the file.
///
/// A tokio `File` only hands the bytes to a blocking-pool task in `write_all`; without the
/// flush, the line could land after the caller's next step (a release, and a Java holder's
/// `enter` behind it), and a holder log would show an overlap that never happened.
pub async fn append(file: &Path, line: String) {
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .await
        .expect("open log");
    f.write_all(line.as_bytes()).await.expect("append");
    f.flush().await.expect("append written");
}

/// Waits (bounded) until the Java side has logged its first `enter`.
pub async fn wait_for_java(log: &Path) {
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while !tokio::fs::read_to_string(log)
            .await
            .unwrap_or_default()
            .contains("enter java")
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("java got in");
}
