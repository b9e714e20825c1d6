//! The live client suite (`integration::suite`) against one standalone Apache ZooKeeper
//! server, shared by every test of this file (each test works under its own base path).
//!
//! Skipped (with `SKIPPED: <reason>` on stderr) when Apache ZooKeeper is not installed.

use std::future::Future;
use std::time::Duration;

use integration::apache::ApacheEnsemble;
use integration::suite;
use tokio::sync::OnceCell;

/// Bound for one whole test.
const TEST_BOUND: Duration = Duration::from_secs(120);

/// The shared server, started by the first test that needs it and killed (its directory
/// removed) when the test process exits.
async fn server() -> &'static ApacheEnsemble {
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

async fn bounded(body: impl Future<Output = ()>) {
    if tokio::time::timeout(TEST_BOUND, body).await.is_err() {
        panic!("test exceeded its {TEST_BOUND:?} bound");
    }
}

/// One `#[tokio::test]` per suite function, grouped in a module per suite topic.
macro_rules! suite_tests {
    ($($topic:ident { $($test:ident),* $(,)? })*) => {$(
        mod $topic {
            $(
                #[tokio::test]
                async fn $test() {
                    let _install = integration::require_apache!();
                    super::bounded(async {
                        integration::suite::$topic::$test(super::server().await).await
                    })
                    .await;
                }
            )*
        }
    )*};
}

integration::for_each_suite_test!(suite_tests);

/// Unimplemented needs a server of its own, with TTL nodes disabled.
#[tokio::test]
async fn errors_ttl_is_unimplemented_when_disabled() {
    let _install = integration::require_apache!();
    bounded(async {
        let mut opts = suite::apache_options();
        opts.extended_types = false;
        let zk = ApacheEnsemble::start_standalone(opts)
            .await
            .expect("start a standalone server without TTL nodes");
        suite::errors::ttl_is_unimplemented_when_disabled(&zk).await;
    })
    .await;
}
