//! Our own server as a suite target: [`TestingServer`] configured the way
//! [`crate::suite`] needs (tickTime 200 ms, its session timeout bounds, its super user, TTL
//! nodes, fast container/TTL reaping, enforced quotas).

use std::net::SocketAddr;

use zk_server::config::Config;
use zk_server::testing::TestingServer;

use crate::suite;
use crate::ZkTarget;

impl ZkTarget for TestingServer {
    fn name(&self) -> String {
        format!("zk-server (standalone, {})", self.connect_string())
    }

    fn connect_string(&self) -> String {
        TestingServer::connect_string(self)
    }

    fn server_addrs(&self) -> Vec<SocketAddr> {
        vec![self.addr()]
    }
}

/// Applies the suite's requirements to a configuration.
pub fn suite_config(c: &mut Config) {
    c.tick_time_ms = 200;
    c.min_session_timeout_ms = Some(suite::MIN_SESSION_TIMEOUT.as_millis() as u32);
    c.max_session_timeout_ms = Some(suite::MAX_SESSION_TIMEOUT.as_millis() as u32);
    c.super_digest = Some(zk_core::auth::digest_id("super", suite::SUPER_PASSWORD));
    c.extended_types_enabled = true;
    c.container_check_interval_ms = u64::from(suite::REAP_CHECK_INTERVAL_MS);
    c.enforce_quota = true;
}

/// A standalone zk-server the suite can run against.
///
/// # Panics
/// When the server cannot start.
pub async fn start_suite_server() -> TestingServer {
    TestingServer::start_with(suite_config)
        .await
        .expect("start zk-server for the suite")
}
