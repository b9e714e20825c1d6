//! The live client suite (`integration::suite`) against zk-server: one standalone server in
//! this process, shared by every test of this file (each test works under its own base path).
//! It always runs; nothing needs to be installed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use integration::ours::{start_suite_server, suite_config};
use integration::ZkTarget;
use zk_server::testing::TestingServer;

/// Bound for one whole test.
const TEST_BOUND: Duration = Duration::from_secs(120);

/// The shared server's address as a target. The server runs on a runtime of its own (each
/// `#[tokio::test]` has its own runtime, which would stop the server when its test ends).
struct Shared(SocketAddr);

impl ZkTarget for Shared {
    fn name(&self) -> String {
        format!("zk-server (standalone, {})", self.0)
    }
    fn connect_string(&self) -> String {
        self.0.to_string()
    }
    fn server_addrs(&self) -> Vec<SocketAddr> {
        vec![self.0]
    }
}

async fn server() -> &'static Shared {
    static SERVER: OnceLock<Shared> = OnceLock::new();
    SERVER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let zk = start_suite_server().await;
                tx.send(zk.addr()).expect("send the address");
                // Serve until the test process exits.
                std::future::pending::<()>().await;
                drop(zk);
            });
        });
        Shared(rx.recv().expect("the shared zk-server started"))
    })
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
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_ttl_is_unimplemented_when_disabled() {
    bounded(async {
        let zk = TestingServer::start_with(|c| {
            suite_config(c);
            c.extended_types_enabled = false;
        })
        .await
        .expect("start zk-server without TTL nodes");
        integration::suite::errors::ttl_is_unimplemented_when_disabled(&zk).await;
    })
    .await;
}
