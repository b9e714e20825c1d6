//! Server configuration: Apache ZooKeeper's `zoo.cfg`, read as is.
//!
//! Unknown keys are kept and reported (the caller logs a warning naming them), like Apache turns
//! them into system properties.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// A configuration error: the key and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A value did not parse or is out of range.
    #[error("{key}: {message}")]
    Invalid {
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// One ensemble member (`server.N=host:quorumPort:electionPort[:participant|observer][;clientAddr]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The server id (N).
    pub id: u64,
    /// Host of the member.
    pub host: String,
    /// The quorum port; our peer RPC listens here.
    pub quorum_port: u16,
    /// The election port (accepted, unused: openraft elects over the peer RPC).
    pub election_port: u16,
    /// Whether the member is an observer (not supported yet; rejected at start).
    pub observer: bool,
    /// The client address given after `;`, if any.
    pub client_addr: Option<String>,
}

impl Peer {
    /// `host:quorumPort`.
    pub fn peer_addr(&self) -> String {
        format!("{}:{}", self.host, self.quorum_port)
    }
}

/// Everything the server reads from `zoo.cfg`.
#[derive(Debug, Clone)]
pub struct Config {
    /// tickTime in ms (default 3000).
    pub tick_time_ms: u32,
    /// Snapshots (and the log unless `data_log_dir` is set).
    pub data_dir: PathBuf,
    /// The write-ahead log, if separate.
    pub data_log_dir: Option<PathBuf>,
    /// Client port (default 2181).
    pub client_port: u16,
    /// Address to bind the client port on (default: all addresses; the standalone default
    /// without a config file is 127.0.0.1).
    pub client_port_address: Option<IpAddr>,
    /// Per-address connection limit (default 60; 0 = unlimited).
    pub max_client_cnxns: u32,
    /// Minimum session timeout in ms (default 2 × tickTime).
    pub min_session_timeout_ms: Option<u32>,
    /// Maximum session timeout in ms (default 20 × tickTime).
    pub max_session_timeout_ms: Option<u32>,
    /// Four-letter words allowed (default: `srvr` only, as Apache since 3.5.3); `*` = all.
    pub four_letter_whitelist: Vec<String>,
    /// TTL nodes allowed (`extendedTypesEnabled` / `zookeeper.extendedTypesEnabled`).
    pub extended_types_enabled: bool,
    /// Snapshots to keep (autopurge.snapRetainCount, min 3).
    pub snap_retain_count: u32,
    /// Hours between purges (autopurge.purgeInterval, 0 = off).
    pub purge_interval_hours: u32,
    /// Transactions between snapshots (snapCount, default 100000; as in ZooKeeper, each server
    /// draws its interval once in [snapCount/2 + 1, snapCount]).
    pub snap_count: u64,
    /// Largest packet (jute.maxbuffer, default 0xfffff).
    pub max_buffer: usize,
    /// `super:<digest>` (DigestAuthenticationProvider.superDigest).
    pub super_digest: Option<String>,
    /// Port of the Prometheus `/metrics` endpoint (metricsProvider.httpPort), if any.
    pub metrics_port: Option<u16>,
    /// Address of the Prometheus endpoint (metricsProvider.httpHost, default 0.0.0.0).
    pub metrics_host: Option<IpAddr>,
    /// Ensemble members; empty = standalone.
    pub peers: Vec<Peer>,
    /// initLimit and syncLimit in ticks (used for replication timeouts).
    pub init_limit: u32,
    /// See `init_limit`.
    pub sync_limit: u32,
    /// How often the leader looks for empty containers and expired TTL nodes
    /// (`znode.container.checkIntervalMs`, default 60000).
    pub container_check_interval_ms: u64,
    /// Hard quota limits are enforced (`zookeeper.enforceQuota`, default false).
    pub enforce_quota: bool,
    /// No ACL checks at all (`zookeeper.skipACL`, default false).
    pub skip_acl: bool,
    /// A container that never had a child is reaped after this many ms
    /// (`znode.container.maxNeverUsedIntervalMs`, default 0 = never, as Apache 3.8).
    pub container_max_never_used_ms: i64,
    /// Keys this server does not know.
    pub unknown_keys: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tick_time_ms: 3000,
            data_dir: PathBuf::from("zk-data"),
            data_log_dir: None,
            client_port: 2181,
            client_port_address: None,
            max_client_cnxns: 60,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            four_letter_whitelist: vec!["srvr".into()],
            extended_types_enabled: false,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            snap_count: 100_000,
            max_buffer: zk_core::proto::DEFAULT_MAX_FRAME,
            super_digest: None,
            metrics_port: None,
            metrics_host: None,
            peers: Vec::new(),
            init_limit: 10,
            sync_limit: 5,
            container_check_interval_ms: 60_000,
            enforce_quota: false,
            skip_acl: false,
            container_max_never_used_ms: 0,
            unknown_keys: Vec::new(),
        }
    }
}

/// Keys Apache accepts that this server reads or deliberately ignores.
const IGNORED_KEYS: &[&str] = &[
    "standaloneEnabled",
    "reconfigEnabled",
    "admin.enableServer",
    "admin.serverPort",
    "admin.serverAddress",
    "dynamicConfigFile",
    "preAllocSize",
    "syncEnabled",
    "globalOutstandingLimit",
    "forceSync",
    "zookeeper.forceSync",
    "metricsProvider.className",
    "metricsProvider.exportJvmInfo",
    "secureClientPort",
    "quorumListenOnAllIPs",
    "electionAlg",
    "peerType",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "maxCnxns",
];

impl Config {
    /// The standalone default: 127.0.0.1:2181, data in `./zk-data`, every four-letter word.
    pub fn standalone_default() -> Self {
        Self {
            client_port_address: Some(IpAddr::from([127, 0, 0, 1])),
            four_letter_whitelist: vec!["*".into()],
            extended_types_enabled: true,
            ..Self::default()
        }
    }

    /// Reads a `zoo.cfg` file.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read or a value is invalid.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses `zoo.cfg` text (Java properties: `key=value`, `#`/`!` comments).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut props = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let (k, v) = match line.find(['=', ':']) {
                Some(i) => (line[..i].trim(), line[i + 1..].trim()),
                None => (line, ""),
            };
            props.insert(k.to_string(), v.to_string());
        }
        let mut c = Config::default();
        let mut data_dir = None;
        for (k, v) in &props {
            let key = k.strip_prefix("zookeeper.").unwrap_or(k);
            match key {
                "tickTime" => c.tick_time_ms = num(k, v)?,
                "dataDir" => data_dir = Some(PathBuf::from(v)),
                "dataLogDir" => c.data_log_dir = Some(PathBuf::from(v)),
                "clientPort" => c.client_port = num(k, v)?,
                "clientPortAddress" => {
                    c.client_port_address =
                        Some(v.parse().map_err(|_| invalid(k, "not an IP address"))?)
                }
                "maxClientCnxns" => c.max_client_cnxns = num(k, v)?,
                "minSessionTimeout" => c.min_session_timeout_ms = Some(num(k, v)?),
                "maxSessionTimeout" => c.max_session_timeout_ms = Some(num(k, v)?),
                "4lw.commands.whitelist" => {
                    c.four_letter_whitelist = v
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                }
                "extendedTypesEnabled" => c.extended_types_enabled = boolean(k, v)?,
                "autopurge.snapRetainCount" => c.snap_retain_count = num::<u32>(k, v)?.max(3),
                "autopurge.purgeInterval" => c.purge_interval_hours = num(k, v)?,
                "snapCount" => c.snap_count = num::<u64>(k, v)?.max(2),
                "jute.maxbuffer" => c.max_buffer = num(k, v)?,
                "DigestAuthenticationProvider.superDigest" => c.super_digest = Some(v.clone()),
                "metricsProvider.httpPort" => c.metrics_port = Some(num(k, v)?),
                "metricsProvider.httpHost" => {
                    c.metrics_host = Some(v.parse().map_err(|_| invalid(k, "not an IP address"))?)
                }
                "initLimit" => c.init_limit = num(k, v)?,
                "syncLimit" => c.sync_limit = num(k, v)?,
                "enforceQuota" => c.enforce_quota = boolean(k, v)?,
                "skipACL" => c.skip_acl = boolean(k, v)?,
                "znode.container.maxNeverUsedIntervalMs" => {
                    c.container_max_never_used_ms = num(k, v)?
                }
                "znode.container.checkIntervalMs" => {
                    c.container_check_interval_ms = num::<u64>(k, v)?.max(1)
                }
                _ if key.starts_with("server.") => c.peers.push(parse_peer(k, v)?),
                _ if IGNORED_KEYS.contains(&key) || IGNORED_KEYS.contains(&k.as_str()) => {}
                _ => c.unknown_keys.push(k.clone()),
            }
        }
        c.data_dir = data_dir.ok_or_else(|| invalid("dataDir", "is required"))?;
        if c.tick_time_ms == 0 {
            return Err(invalid("tickTime", "must be positive"));
        }
        let (min, max) = c.session_timeout_bounds();
        if min > max {
            return Err(invalid(
                "minSessionTimeout",
                format!("{min} is larger than maxSessionTimeout {max}"),
            ));
        }
        c.peers.sort_by_key(|p| p.id);
        if let Some(w) = c.peers.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(invalid(&format!("server.{}", w[0].id), "listed twice"));
        }
        Ok(c)
    }

    /// The clamp applied to requested session timeouts, in ms.
    pub fn session_timeout_bounds(&self) -> (u32, u32) {
        (
            self.min_session_timeout_ms.unwrap_or(self.tick_time_ms * 2),
            self.max_session_timeout_ms
                .unwrap_or(self.tick_time_ms * 20),
        )
    }

    /// Where the write-ahead log lives.
    pub fn log_dir(&self) -> &Path {
        self.data_log_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// The address the client port binds.
    pub fn client_addr(&self) -> SocketAddr {
        SocketAddr::new(
            self.client_port_address
                .unwrap_or(IpAddr::from([0, 0, 0, 0])),
            self.client_port,
        )
    }

    /// Whether a four-letter word is enabled (`srvr` always is, as in Apache).
    pub fn four_letter_enabled(&self, cmd: &str) -> bool {
        cmd == "srvr"
            || self
                .four_letter_whitelist
                .iter()
                .any(|w| w == "*" || w == cmd)
    }

    /// Reads `myid` from the data dir (required when there are peers).
    ///
    /// # Errors
    /// When the file is missing or not a number.
    pub fn read_myid(&self) -> Result<u64, ConfigError> {
        let path = self.data_dir.join("myid");
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        text.trim()
            .parse()
            .map_err(|_| invalid("myid", format!("{} does not hold a number", path.display())))
    }
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.parse()
        .map_err(|_| invalid(key, format!("{v:?} is not a valid number")))
}

fn boolean(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(invalid(key, format!("{v:?} is not true or false"))),
    }
}

fn parse_peer(key: &str, v: &str) -> Result<Peer, ConfigError> {
    let id: u64 = num(key, &key["server.".len()..])?;
    let (addr_part, client_addr) = match v.split_once(';') {
        Some((a, c)) => (a.trim(), Some(c.trim().to_string())),
        None => (v.trim(), None),
    };
    let parts: Vec<&str> = addr_part.split(':').collect();
    if parts.len() < 3 {
        return Err(invalid(key, "expected host:quorumPort:electionPort"));
    }
    let observer = match parts.get(3).copied() {
        None | Some("participant") => false,
        Some("observer") => true,
        Some(other) => return Err(invalid(key, format!("unknown role {other:?}"))),
    };
    Ok(Peer {
        id,
        host: parts[0].to_string(),
        quorum_port: num(key, parts[1])?,
        election_port: num(key, parts[2])?,
        observer,
        client_addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_apache_zoo_cfg() {
        let c = Config::parse(
            "# comment\ntickTime=2000\ndataDir=/var/lib/zookeeper\nclientPort=2182\n\
             initLimit=5\nsyncLimit=2\nserver.1=zk1:2888:3888\nserver.2=zk2:2888:3888;2181\n\
             4lw.commands.whitelist=ruok, mntr\nautopurge.purgeInterval=1\nfoo.bar=1\n\
             zookeeper.extendedTypesEnabled=true\nmetricsProvider.httpPort=7000\n",
        )
        .expect("parses");
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.client_port, 2182);
        assert_eq!(c.peers.len(), 2);
        assert_eq!(c.peers[1].client_addr.as_deref(), Some("2181"));
        assert_eq!(c.peers[0].peer_addr(), "zk1:2888");
        assert!(c.four_letter_enabled("mntr"));
        assert!(c.four_letter_enabled("srvr"));
        assert!(!c.four_letter_enabled("dump"));
        assert!(c.extended_types_enabled);
        assert_eq!(c.metrics_port, Some(7000));
        assert_eq!(c.unknown_keys, vec!["foo.bar".to_string()]);
        assert_eq!(c.session_timeout_bounds(), (4000, 40000));
    }

    #[test]
    fn rejects_bad_values_naming_the_key() {
        let e = Config::parse("dataDir=/x\ntickTime=abc\n").expect_err("bad");
        assert!(e.to_string().starts_with("tickTime:"), "{e}");
        let e = Config::parse("tickTime=2000\n").expect_err("no dataDir");
        assert!(e.to_string().starts_with("dataDir:"), "{e}");
        let e = Config::parse("dataDir=/x\nserver.1=a:1\n").expect_err("bad server");
        assert!(e.to_string().starts_with("server.1:"), "{e}");
        let e = Config::parse("dataDir=/x\nminSessionTimeout=9000\nmaxSessionTimeout=100\n")
            .expect_err("min > max");
        assert!(e.to_string().contains("minSessionTimeout"), "{e}");
    }
}
