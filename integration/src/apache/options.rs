//! Configuration knobs for an Apache ZooKeeper test server or ensemble.

use std::time::Duration;

use base64::Engine as _;

/// Options for [`super::ApacheEnsemble`]. `Default` gives a fast, permissive test setup:
/// tickTime 2000 ms, extended types (TTL nodes) on, every 4lw allowed, admin server off,
/// no per-IP connection limit, 256 MiB heap, 30 s startup bound.
#[derive(Debug, Clone)]
pub struct ApacheOptions {
    /// `tickTime` in milliseconds (session timeouts default to 2..20 ticks).
    pub tick_time_ms: u32,
    /// `initLimit` in ticks.
    pub init_limit: u32,
    /// `syncLimit` in ticks.
    pub sync_limit: u32,
    /// `minSessionTimeout` in milliseconds (server default: 2 × tickTime).
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout` in milliseconds (server default: 20 × tickTime).
    pub max_session_timeout_ms: Option<u32>,
    /// `-Dzookeeper.extendedTypesEnabled` (TTL nodes).
    pub extended_types: bool,
    /// `-Dzookeeper.DigestAuthenticationProvider.superDigest`, e.g. `super:<base64 sha1>`;
    /// see [`ApacheOptions::super_password`].
    pub super_digest: Option<String>,
    /// `-Dzookeeper.forceSync`; `None` keeps the server default (`yes`).
    pub force_sync: Option<bool>,
    /// `maxClientCnxns` per client IP (`0` = unlimited; the server default of 60 is easy to hit
    /// from one loopback address).
    pub max_client_cnxns: u32,
    /// Java heap limit (`-Xmx`) in MiB.
    pub heap_mb: u32,
    /// Server log level (`error`, `warn`, `info`, `debug`, `trace`).
    pub log_level: String,
    /// Bound for a start or restart to become ready.
    pub startup_timeout: Duration,
    /// Extra `key=value` lines appended to every `zoo.cfg`.
    pub extra_config: Vec<(String, String)>,
    /// Extra JVM arguments (e.g. `-Dzookeeper.foo=bar`), placed before the main class.
    pub extra_jvm_args: Vec<String>,
}

impl Default for ApacheOptions {
    fn default() -> Self {
        Self {
            tick_time_ms: 2000,
            init_limit: 10,
            sync_limit: 5,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            extended_types: true,
            super_digest: None,
            force_sync: None,
            max_client_cnxns: 0,
            heap_mb: 256,
            log_level: "info".into(),
            startup_timeout: Duration::from_secs(30),
            extra_config: Vec::new(),
            extra_jvm_args: Vec::new(),
        }
    }
}

impl ApacheOptions {
    /// Sets `tickTime` (e.g. 500 for fast session-expiry tests).
    pub fn tick_time(mut self, ms: u32) -> Self {
        self.tick_time_ms = ms;
        self
    }

    /// Sets `minSessionTimeout` and `maxSessionTimeout` (milliseconds).
    pub fn session_timeouts(mut self, min_ms: u32, max_ms: u32) -> Self {
        self.min_session_timeout_ms = Some(min_ms);
        self.max_session_timeout_ms = Some(max_ms);
        self
    }

    /// Enables the `super` digest user with this password (see [`super_digest`]).
    pub fn super_password(mut self, password: &str) -> Self {
        self.super_digest = Some(super_digest("super", password));
        self
    }

    /// Sets `zookeeper.forceSync`.
    pub fn force_sync(mut self, on: bool) -> Self {
        self.force_sync = Some(on);
        self
    }

    /// Sets the bound for starts and restarts.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Appends a raw `zoo.cfg` line `key=value`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_config.push((key.into(), value.into()));
        self
    }

    /// Appends a JVM argument.
    pub fn jvm_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_jvm_args.push(arg.into());
        self
    }
}

/// ZooKeeper's digest form of a credential: `user:base64(sha1("user:password"))`, as produced by
/// `DigestAuthenticationProvider.generateDigest` and expected by the `superDigest` property.
pub fn super_digest(user: &str, password: &str) -> String {
    let hash = sha1_smol::Sha1::from(format!("{user}:{password}"))
        .digest()
        .bytes();
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // From the ZooKeeper admin guide: super:test -> D/InIHSb7yEEbrWz8b9l71RjZJU=
        assert_eq!(
            super_digest("super", "test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }
}
