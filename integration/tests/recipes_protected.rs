//! Protected mode: when the reply to a create is lost (the create was applied but the client
//! sees ConnectionLoss), the recipe finds its node by the `_c_<uuid>-` prefix, checks that its
//! ephemeralOwner is our session, and uses it instead of creating a second node.

mod recipes_common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use recipes_common::{connect, connect_with, unique};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zk_recipes::protected::{create_protected, node_name};
use zk_recipes::{InterProcessMutex, RetryPolicy};

both_targets! {
    lost_create_reply_is_recovered_by_prefix => lost_reply_recovered;
}

/// A relay that, once told to, keeps forwarding requests but swallows every reply on the
/// connections open at that moment; later connections are relayed normally.
struct ReplyDropper {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    drop_upto: Arc<AtomicUsize>,
    dropped_bytes: Arc<AtomicUsize>,
}

impl ReplyDropper {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let drop_upto = Arc::new(AtomicUsize::new(0));
        let dropped_bytes = Arc::new(AtomicUsize::new(0));
        let (acc, upto, dropped) = (accepted.clone(), drop_upto.clone(), dropped_bytes.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let id = acc.fetch_add(1, Ordering::SeqCst) + 1;
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let (upto, dropped) = (upto.clone(), dropped.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if id <= upto.load(Ordering::SeqCst) {
                            dropped.fetch_add(n, Ordering::SeqCst);
                            continue;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            accepted,
            drop_upto,
            dropped_bytes,
        }
    }

    fn drop_replies_now(&self) {
        self.drop_upto
            .store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

async fn lost_reply_recovered(cs: String, upstream: SocketAddr) {
    let dir = unique("protected");
    let proxy = ReplyDropper::start(upstream).await;
    let client = connect_with(&proxy.addr.to_string(), Duration::from_millis(4000)).await;
    let other = connect(&cs).await;
    other
        .create(
            &dir,
            b"",
            &zk_core::CreateOptions::new(zk_core::CreateMode::Persistent),
        )
        .await
        .expect("dir");

    proxy.drop_replies_now();
    let retry = RetryPolicy::Exponential {
        base: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
        max_retries: 30,
    };
    let (path, stat) = create_protected(&client, &dir, "lock-", b"me", &retry)
        .await
        .expect("create recovers");
    assert!(
        proxy.dropped_bytes.load(Ordering::SeqCst) > 0,
        "no reply was dropped"
    );
    assert!(proxy.accepted.load(Ordering::SeqCst) >= 2, "no reconnect");
    assert_eq!(stat.ephemeral_owner, client.session_id());
    let children = other.get_children(&dir).await.expect("children");
    assert_eq!(
        children,
        vec![node_name(&path).to_string()],
        "a second node was made"
    );
    let (data, _) = other.get_data(&path).await.expect("data");
    assert_eq!(&data[..], b"me");

    // The mutex on the same client takes the lock after the recovered node is deleted.
    client.delete(&path, None).await.expect("delete");
    let m = InterProcessMutex::new(client.clone(), dir.as_str());
    let g = m.acquire().await.expect("acquire");
    assert_eq!(m.participant_nodes().await.expect("nodes").len(), 1);
    g.release().await.expect("release");
}
