//! The peer port survives hostile input.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::{config, eventually, hello, init_tracing, listeners, start};
use crate::raft::wire::Response;

const LIMIT: Duration = Duration::from_secs(20);

async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_peer_port_rejects_garbage_and_strangers_without_harm() {
    init_tracing();
    let dir = tempfile::tempdir().expect("tempdir");
    let (members, mut ls) = listeners(1).await;
    let (node, _t) = start(config(1, &members, dir.path()), ls.remove(0)).await;
    eventually("leadership", LIMIT, || node.is_leader().then_some(())).await;
    let addr = node.peer_addr();

    // An absurd frame length.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .await
        .expect("write");
    assert!(closed_by_server(&mut s).await);

    // Bytes that are not a message.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&[0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x99])
        .await
        .expect("write");
    assert!(closed_by_server(&mut s).await);

    // A handshake meant for another node is refused.
    let (mut s, resp) = hello(addr, 1, 7).await;
    assert!(matches!(resp, Response::Hello(Err(_))), "{resp:?}");
    assert!(closed_by_server(&mut s).await);

    // A stranger (not a member) is refused too.
    let (mut s, resp) = hello(addr, 99, 1).await;
    assert!(matches!(resp, Response::Hello(Err(_))), "{resp:?}");
    assert!(closed_by_server(&mut s).await);

    // A member that sends garbage after a good handshake is disconnected.
    let (mut s, resp) = hello(addr, 1, 1).await;
    assert!(matches!(resp, Response::Hello(Ok(()))), "{resp:?}");
    s.write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff])
        .await
        .expect("write");
    assert!(closed_by_server(&mut s).await);

    // The node is unharmed.
    let idx = node.propose(b"still fine".to_vec()).await.expect("propose");
    node.wait_applied(idx, LIMIT).await.expect("applied");
    node.shutdown().await;
}
