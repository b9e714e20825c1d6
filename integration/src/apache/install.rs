//! Finding a usable Apache ZooKeeper installation (java + jars).

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Environment variable: path of the `java` executable to use.
pub const ENV_JAVA: &str = "APACHE_ZK_JAVA";
/// Environment variable: directory holding Debian-style unversioned jars (default `/usr/share/java`).
pub const ENV_JAR_DIR: &str = "APACHE_ZK_JAR_DIR";
/// Environment variable: root of an Apache release tarball (uses `lib/*.jar` and `conf/`).
pub const ENV_HOME: &str = "APACHE_ZK_HOME";
/// Environment variable: when set to a non-empty value other than `0`, a missing installation
/// fails the test instead of skipping it (use in CI).
pub const ENV_REQUIRED: &str = "APACHE_ZK_REQUIRED";

const DEFAULT_JAR_DIR: &str = "/usr/share/java";

/// Jars that must be present in the Debian layout.
const REQUIRED_JARS: &[&str] = &["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar"];

/// Runtime dependencies of the server. Debian's `zookeeper.jar` already names most of them in
/// its manifest `Class-Path`, but not all of Netty's transitive jars; listing them explicitly
/// keeps the classpath independent of the manifest. Missing ones are skipped.
const OPTIONAL_JARS: &[&str] = &[
    "commons-cli.jar",
    "commons-io.jar",
    "jackson-annotations.jar",
    "jackson-core.jar",
    "jackson-databind.jar",
    "metrics-core.jar",
    "snappy-java.jar",
    "netty-buffer.jar",
    "netty-codec.jar",
    "netty-common.jar",
    "netty-handler.jar",
    "netty-resolver.jar",
    "netty-transport.jar",
    "netty-transport-native-epoll.jar",
    "netty-transport-native-unix-common.jar",
];

/// Which SLF4J binding the server's classpath carries, and therefore how logging is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogBinding {
    /// `slf4j-simple`: configured with `-Dorg.slf4j.simpleLogger.*` properties, writes to stderr.
    Simple,
    /// `slf4j-log4j12` + log4j 1.2: configured with a generated `log4j.properties`.
    Log4j12,
    /// Whatever the installation ships (e.g. logback in a release tarball); left alone.
    Bundled,
    /// No binding found: SLF4J falls back to a no-op logger and the server log stays nearly empty.
    None,
}

/// A located Apache ZooKeeper installation.
#[derive(Debug, Clone)]
pub struct Installation {
    /// The `java` executable.
    pub java: PathBuf,
    /// First line of `java -version`.
    pub java_version: String,
    /// Classpath entries (jars, and for a tarball the `conf/` directory).
    pub classpath: Vec<PathBuf>,
    /// ZooKeeper version guessed from jar file names (e.g. `3.8.0`), if any.
    pub version: Option<String>,
    /// The logging binding found on the classpath.
    pub log_binding: LogBinding,
}

impl Installation {
    /// The classpath joined with `:`, ready for `java -cp`.
    pub fn classpath_string(&self) -> String {
        let parts: Vec<String> = self
            .classpath
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        parts.join(":")
    }

    /// A `java` command running `main_class` on this installation's classpath with quiet
    /// logging (warnings only, to stderr), e.g. `org.apache.zookeeper.ZooKeeperMain` for the
    /// CLI or `org.apache.zookeeper.server.auth.DigestAuthenticationProvider`. Add the program
    /// arguments and run it.
    pub fn java_command(&self, main_class: &str) -> Command {
        let mut cmd = Command::new(&self.java);
        cmd.arg("-Xmx128m").arg("-XX:-UsePerfData");
        match self.log_binding {
            LogBinding::Simple => {
                cmd.arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
            }
            // log4j 1.2 without a configuration file logs nothing (after a one-line warning).
            LogBinding::Log4j12 | LogBinding::Bundled | LogBinding::None => {}
        }
        cmd.arg("-cp").arg(self.classpath_string()).arg(main_class);
        cmd
    }
}

/// Entry point for detecting Apache ZooKeeper on this machine.
#[derive(Debug, Clone, Copy)]
pub struct ApacheZk;

impl ApacheZk {
    /// Locates java and the ZooKeeper jars (cached after the first call).
    ///
    /// Returns `Err(reason)` when anything needed is missing; tests should then skip, see
    /// [`crate::require_apache!`]. Honors [`ENV_JAVA`], [`ENV_HOME`] and [`ENV_JAR_DIR`].
    pub fn available() -> Result<Installation, String> {
        static CACHE: OnceLock<Result<Installation, String>> = OnceLock::new();
        CACHE.get_or_init(detect).clone()
    }

    /// Whether a missing installation should fail tests rather than skip them
    /// (environment variable [`ENV_REQUIRED`]).
    pub fn required() -> bool {
        env::var(ENV_REQUIRED).is_ok_and(|v| !v.is_empty() && v != "0")
    }
}

fn detect() -> Result<Installation, String> {
    let java = find_java()?;
    let java_version = java_version(&java)?;
    let (classpath, version, log_binding) = match env::var_os(ENV_HOME) {
        Some(home) => tarball_classpath(Path::new(&home))?,
        None => {
            let dir = env::var_os(ENV_JAR_DIR)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_JAR_DIR));
            debian_classpath(&dir)?
        }
    };
    Ok(Installation {
        java,
        java_version,
        classpath,
        version,
        log_binding,
    })
}

fn find_java() -> Result<PathBuf, String> {
    if let Some(explicit) = env::var_os(ENV_JAVA) {
        let path = PathBuf::from(explicit);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{ENV_JAVA}={} is not a file", path.display()))
        };
    }
    if let Some(home) = env::var_os("JAVA_HOME") {
        let path = Path::new(&home).join("bin").join("java");
        if path.is_file() {
            return Ok(path);
        }
    }
    let path_var = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path_var)
        .map(|dir| dir.join("java"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            "java not found (set JAVA_HOME or APACHE_ZK_JAVA, or put java on PATH)".into()
        })
}

fn java_version(java: &Path) -> Result<String, String> {
    let output = Command::new(java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} -version: {e}", java.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} -version failed with {}",
            java.display(),
            output.status
        ));
    }
    // `java -version` prints to stderr.
    let text = String::from_utf8_lossy(&output.stderr);
    Ok(text.lines().next().unwrap_or("unknown").trim().to_string())
}

type Classpath = (Vec<PathBuf>, Option<String>, LogBinding);

fn debian_classpath(dir: &Path) -> Result<Classpath, String> {
    for jar in REQUIRED_JARS {
        if !dir.join(jar).is_file() {
            return Err(format!(
                "Apache ZooKeeper not installed: {} is missing \
                 (apt-get install zookeeper, or set {ENV_JAR_DIR} / {ENV_HOME})",
                dir.join(jar).display()
            ));
        }
    }
    let mut classpath: Vec<PathBuf> = REQUIRED_JARS
        .iter()
        .chain(OPTIONAL_JARS)
        .map(|jar| dir.join(jar))
        .filter(|path| path.is_file())
        .collect();
    // Debian ships no default SLF4J binding for ZooKeeper (upstream uses logback, which Debian
    // does not package); without one every log line is dropped. Prefer slf4j-simple (no config
    // file needed), else log4j 1.2.
    let log_binding = if dir.join("slf4j-simple.jar").is_file() {
        classpath.push(dir.join("slf4j-simple.jar"));
        LogBinding::Simple
    } else if dir.join("slf4j-log4j12.jar").is_file() && dir.join("log4j-1.2.jar").is_file() {
        classpath.push(dir.join("slf4j-log4j12.jar"));
        classpath.push(dir.join("log4j-1.2.jar"));
        LogBinding::Log4j12
    } else {
        LogBinding::None
    };
    let version = versioned_name(dir);
    Ok((classpath, version, log_binding))
}

fn tarball_classpath(home: &Path) -> Result<Classpath, String> {
    let lib = home.join("lib");
    let entries = std::fs::read_dir(&lib)
        .map_err(|e| format!("{ENV_HOME}: cannot read {}: {e}", lib.display()))?;
    let mut jars: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "jar"))
        .collect();
    jars.sort();
    if !jars.iter().any(|j| file_name(j).starts_with("zookeeper-3")) {
        return Err(format!(
            "{ENV_HOME}: no zookeeper-3*.jar in {}",
            lib.display()
        ));
    }
    let version = versioned_name(&lib);
    // conf/ carries the tarball's logback.xml.
    jars.push(home.join("conf"));
    Ok((jars, version, LogBinding::Bundled))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Finds `zookeeper-<version>.jar` in `dir` and returns `<version>`.
fn versioned_name(dir: &Path) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(|entry| entry.ok().map(|e| file_name(&e.path())))
        .filter_map(|name| {
            let version = name.strip_prefix("zookeeper-")?.strip_suffix(".jar")?;
            version
                .starts_with(|c: char| c.is_ascii_digit())
                .then(|| version.to_string())
        })
        .next()
}
