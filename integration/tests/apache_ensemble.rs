//! The failover part of the live client suite (`integration::suite::reconnect`) against a
//! 3-node Apache ZooKeeper ensemble: each test gets a fresh ensemble, and the tests run one at
//! a time (they kill servers, and three JVMs each are plenty for a small machine).
//!
//! Skipped (with `SKIPPED: <reason>` on stderr) when Apache ZooKeeper is not installed.

use std::time::Duration;

use integration::apache::ApacheEnsemble;
use integration::suite;
use integration::ZkCluster;
use tokio::sync::Mutex;

/// Bound for one whole test, ensemble start included.
const TEST_BOUND: Duration = Duration::from_secs(180);

/// Serializes the tests of this file.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

async fn with_ensemble<F>(test: F)
where
    F: for<'a> FnOnce(&'a mut dyn ZkCluster) -> futures::future::LocalBoxFuture<'a, ()>,
{
    with_ensemble_options(suite::apache_ensemble_options(), test).await;
}

async fn with_ensemble_options<F>(opts: integration::apache::ApacheOptions, test: F)
where
    F: for<'a> FnOnce(&'a mut dyn ZkCluster) -> futures::future::LocalBoxFuture<'a, ()>,
{
    let _serial = ONE_AT_A_TIME.lock().await;
    let body = async {
        let mut zk = ApacheEnsemble::start(3, opts)
            .await
            .expect("start a 3-node Apache ZooKeeper ensemble");
        test(&mut zk).await;
    };
    if tokio::time::timeout(TEST_BOUND, body).await.is_err() {
        panic!("test exceeded its {TEST_BOUND:?} bound");
    }
}

#[tokio::test]
async fn session_survives_killing_its_server() {
    let _install = integration::require_apache!();
    with_ensemble(|zk| {
        Box::pin(suite::reconnect::ensemble_session_survives_killing_its_server(zk))
    })
    .await;
}

#[tokio::test]
async fn watches_replay_after_failover() {
    let _install = integration::require_apache!();
    with_ensemble(|zk| Box::pin(suite::reconnect::ensemble_watches_replay_after_failover(zk)))
        .await;
}

#[tokio::test]
async fn in_flight_requests_fail_when_the_server_dies() {
    let _install = integration::require_apache!();
    with_ensemble(|zk| {
        Box::pin(suite::reconnect::ensemble_in_flight_requests_fail_when_the_server_dies(zk))
    })
    .await;
}

#[tokio::test]
async fn read_only_mode() {
    let _install = integration::require_apache!();
    with_ensemble_options(suite::apache_read_only_options(), |zk| {
        Box::pin(suite::read_only::ensemble_read_only_mode(zk))
    })
    .await;
}
