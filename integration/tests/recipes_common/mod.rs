//! Shared pieces of the recipe tests: targets (zk-server in process, a shared standalone
//! Apache ZooKeeper) and client helpers.
#![allow(dead_code)]

pub mod curator;
pub mod holders;

use std::future::Future;
use std::time::Duration;

use integration::apache::ApacheEnsemble;
use integration::suite;
use tokio::sync::OnceCell;
use zk_core::Client;

/// Bound for one whole test.
pub const TEST_BOUND: Duration = Duration::from_secs(120);

/// The shared Apache server of this test binary.
pub async fn apache() -> &'static ApacheEnsemble {
    static SERVER: OnceCell<&'static ApacheEnsemble> = OnceCell::const_new();
    SERVER
        .get_or_init(|| async {
            let zk = ApacheEnsemble::start_standalone(suite::apache_options())
                .await
                .expect("start the shared standalone Apache ZooKeeper");
            zk.into_static().expect("keep the shared server")
        })
        .await
}

/// Runs `body` with a bound.
pub async fn bounded(body: impl Future<Output = ()>) {
    if tokio::time::timeout(TEST_BOUND, body).await.is_err() {
        panic!("test exceeded its {TEST_BOUND:?} bound");
    }
}

/// A client with a session timeout.
pub async fn connect_with(cs: &str, session: Duration) -> Client {
    Client::builder(cs)
        .session_timeout(session)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {cs}: {e}"))
}

/// A client with a 10 s session.
pub async fn connect(cs: &str) -> Client {
    connect_with(cs, Duration::from_secs(10)).await
}

/// A unique base path for one test.
pub fn unique(name: &str) -> String {
    format!("/recipes-{name}-{}", rand::random::<u32>())
}

/// Whether `name` is a Curator protected sequential node name for `lock_name`.
pub fn is_curator_name(name: &str, lock_name: &str) -> bool {
    let Some(rest) = name.strip_prefix("_c_") else {
        return false;
    };
    if rest.len() != 36 + 1 + lock_name.len() + 10 {
        return false;
    }
    let (uuid, tail) = rest.split_at(36);
    uuid.chars()
        .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && tail.starts_with('-')
        && tail[1..].starts_with(lock_name)
        && tail[1 + lock_name.len()..]
            .chars()
            .all(|c| c.is_ascii_digit())
}

/// Defines `<name>_zkserver` and `<name>_apache` tests running `body(connect_string, proxy
/// upstream)`.
#[macro_export]
macro_rules! both_targets {
    ($($name:ident => $body:ident;)*) => {
        mod zkserver {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let server = integration::ours::start_suite_server().await;
                    $crate::recipes_common::bounded($crate::$body(server.connect_string(), server.addr())).await;
                }
            )*
        }
        mod apache {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let _install = integration::require_apache!();
                    let zk = $crate::recipes_common::apache().await;
                    $crate::recipes_common::bounded($crate::$body(zk.connect_string(), zk.server_addr(0))).await;
                }
            )*
        }
    };
}
