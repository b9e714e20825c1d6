//! zk-server against bad input on real sockets: malformed frames, unknown opcodes, requests
//! before the handshake, bad session passwords, a client ahead of the server, invalid paths,
//! oversize packets, a connection flood from one address, a client that never reads, and a
//! seeded random-bytes blast. In every case the offending connection gets Apache's answer or is
//! closed, and a healthy client on the same server keeps working.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use integration::four_letter::{four_letter_word, DEFAULT_TIMEOUT};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zk_core::proto::{
    ConnectRequest, CreateRequest, Encode, ErrorCode, GetDataRequest, RequestHeader,
    SetDataRequest, DEFAULT_MAX_FRAME,
};
use zk_core::{Acl, Client, CreateMode, CreateOptions};
use zk_server::testing::TestingServer;

/// Bound for one whole test.
const TEST_BOUND: Duration = Duration::from_secs(120);
/// Bound for one read from the server.
const READ_BOUND: Duration = Duration::from_secs(5);

async fn bounded(body: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_BOUND, body).await.is_err() {
        panic!("test exceeded its {TEST_BOUND:?} bound");
    }
}

async fn start() -> TestingServer {
    TestingServer::start().await.expect("start zk-server")
}

/// A healthy client on the same server: connect, create a fresh node, read it back, close.
async fn assert_healthy(server: &TestingServer, what: &str) {
    let client = tokio::time::timeout(
        Duration::from_secs(10),
        Client::connect(&server.connect_string()),
    )
    .await
    .unwrap_or_else(|_| panic!("after {what}: connecting a healthy client timed out"))
    .unwrap_or_else(|e| panic!("after {what}: healthy client cannot connect: {e}"));
    check_client(&client, what).await;
    client.close().await;
}

static NEXT_NODE: AtomicUsize = AtomicUsize::new(0);

async fn check_client(client: &Client, what: &str) {
    let path = format!("/healthy-{}", NEXT_NODE.fetch_add(1, Ordering::Relaxed));
    let work = async {
        let created = client
            .create(
                &path,
                what.as_bytes(),
                &CreateOptions::new(CreateMode::Persistent),
            )
            .await
            .unwrap_or_else(|e| panic!("after {what}: create {path}: {e}"));
        assert_eq!(created, path);
        let (data, _) = client
            .get_data(&path)
            .await
            .unwrap_or_else(|e| panic!("after {what}: get {path}: {e}"));
        assert_eq!(&data[..], what.as_bytes(), "after {what}");
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .unwrap_or_else(|_| panic!("after {what}: healthy client's create/get timed out"));
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 4);
    v.extend_from_slice(&(body.len() as i32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn connect_request(session_id: i64, passwd: [u8; 16], last_zxid_seen: i64) -> Vec<u8> {
    framed(
        &ConnectRequest {
            protocol_version: 0,
            last_zxid_seen,
            timeout: 4000,
            session_id,
            passwd: Bytes::copy_from_slice(&passwd),
            read_only: Some(false),
        }
        .to_bytes(),
    )
}

fn request(xid: i32, op: i32, body: &impl Encode) -> Vec<u8> {
    let mut w = BytesMut::new();
    RequestHeader { xid, op_type: op }.encode(&mut w);
    body.encode(&mut w);
    framed(&w)
}

fn header_only(xid: i32, op: i32) -> Vec<u8> {
    let mut w = BytesMut::new();
    RequestHeader { xid, op_type: op }.encode(&mut w);
    framed(&w)
}

/// Reads one frame; None when the server closed the connection (EOF or reset).
async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let read = async {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.ok()?;
        let n = usize::try_from(i32::from_be_bytes(len)).expect("server sent a negative length");
        let mut body = vec![0u8; n];
        s.read_exact(&mut body).await.ok()?;
        Some(body)
    };
    tokio::time::timeout(READ_BOUND, read)
        .await
        .expect("the server neither answered nor closed in time")
}

/// (xid, zxid, err) of a reply.
fn reply_header(body: &[u8]) -> (i32, i64, i32) {
    assert!(body.len() >= 16, "short reply: {body:?}");
    let xid = i32::from_be_bytes(body[0..4].try_into().expect("4 bytes"));
    let zxid = i64::from_be_bytes(body[4..12].try_into().expect("8 bytes"));
    let err = i32::from_be_bytes(body[12..16].try_into().expect("4 bytes"));
    (xid, zxid, err)
}

/// Asserts the server closes the connection (within a bound) and returns what it sent first.
async fn expect_closed(s: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let drain = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(READ_BOUND, drain)
        .await
        .unwrap_or_else(|_| panic!("{what}: the server did not close the connection"));
    got
}

/// A raw connection with a new session.
async fn session(server: &TestingServer) -> TcpStream {
    let mut s = TcpStream::connect(server.addr()).await.expect("connect");
    s.write_all(&connect_request(0, [0; 16], 0))
        .await
        .expect("write");
    let resp = read_frame(&mut s).await.expect("a ConnectResponse");
    // protocolVersion, timeout, sessionId, passwd (4 + 16), readOnly.
    assert_eq!(resp.len(), 37, "ConnectResponse: {resp:?}");
    let session_id = i64::from_be_bytes(resp[8..16].try_into().expect("8 bytes"));
    assert_ne!(session_id, 0, "a new session");
    s
}

/// A ping on `s` is answered: the connection is still served.
async fn assert_served(s: &mut TcpStream, what: &str) {
    s.write_all(&header_only(-2, 11)).await.expect("write ping");
    let body = read_frame(s)
        .await
        .unwrap_or_else(|| panic!("{what}: the connection was closed"));
    let (xid, _, err) = reply_header(&body);
    assert_eq!((xid, err), (-2, 0), "{what}: ping reply");
}

#[tokio::test]
async fn malformed_frames_close_only_their_connection() {
    bounded(async {
        let server = start().await;
        let max = DEFAULT_MAX_FRAME as i32;
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            (
                "a 3-byte frame (shorter than a header)",
                framed(&[1, 2, 3]),
                false,
            ),
            (
                "an HTTP request",
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                false,
            ),
            ("a negative length", (-16i32).to_be_bytes().to_vec(), false),
            ("a zero length", 0i32.to_be_bytes().to_vec(), false),
            (
                "a length beyond jute.maxbuffer",
                (max + 1).to_be_bytes().to_vec(),
                false,
            ),
            ("i32::MAX length", i32::MAX.to_be_bytes().to_vec(), false),
            // The body never comes; the client then closes its sending side.
            (
                "a truncated body",
                {
                    let mut v = 100i32.to_be_bytes().to_vec();
                    v.extend_from_slice(&[0u8; 10]);
                    v
                },
                true,
            ),
        ];
        for (what, bytes, half_close) in cases {
            let mut s = session(&server).await;
            s.write_all(&bytes).await.expect("write");
            if half_close {
                s.shutdown().await.expect("half-close");
            }
            let got = expect_closed(&mut s, what).await;
            assert!(got.is_empty(), "{what}: unexpected answer {got:?}");
            assert_healthy(&server, what).await;
        }
        // The same before the handshake.
        for (what, bytes) in [
            (
                "a negative handshake length",
                (-1i32).to_be_bytes().to_vec(),
            ),
            (
                "an oversize handshake length",
                (max + 1).to_be_bytes().to_vec(),
            ),
            ("random junk as a handshake", framed(&[7u8; 30])),
        ] {
            let mut s = TcpStream::connect(server.addr()).await.expect("connect");
            s.write_all(&bytes).await.expect("write");
            let got = expect_closed(&mut s, what).await;
            assert!(got.is_empty(), "{what}: unexpected answer {got:?}");
            assert_healthy(&server, what).await;
        }
        // A truncated handshake, then the client half-closes.
        let mut s = TcpStream::connect(server.addr()).await.expect("connect");
        let full = connect_request(0, [0; 16], 0);
        s.write_all(&full[..full.len() - 5]).await.expect("write");
        s.shutdown().await.expect("half-close");
        assert!(expect_closed(&mut s, "a truncated handshake")
            .await
            .is_empty());
        assert_healthy(&server, "a truncated handshake").await;
    })
    .await;
}

#[tokio::test]
async fn unknown_opcodes_get_unimplemented_and_keep_the_connection() {
    bounded(async {
        let server = start().await;
        let mut s = session(&server).await;
        for (xid, op) in [(7, 999), (8, 1234), (9, -77), (10, 102)] {
            s.write_all(&header_only(xid, op)).await.expect("write");
            let body = read_frame(&mut s)
                .await
                .unwrap_or_else(|| panic!("opcode {op}: closed"));
            let (rxid, _, err) = reply_header(&body);
            assert_eq!(rxid, xid, "opcode {op}");
            assert_eq!(err, ErrorCode::Unimplemented.code(), "opcode {op}");
            assert_eq!(body.len(), 16, "opcode {op}: a bare header");
            assert_served(&mut s, &format!("opcode {op}")).await;
        }
        // A real read on the same connection still works.
        s.write_all(&request(
            11,
            4,
            &GetDataRequest {
                path: "/".into(),
                watch: false,
            },
        ))
        .await
        .expect("write");
        let body = read_frame(&mut s).await.expect("getData reply");
        assert_eq!(reply_header(&body).2, 0);
        assert_healthy(&server, "unknown opcodes").await;
    })
    .await;
}

#[tokio::test]
async fn a_request_before_the_handshake_is_closed() {
    bounded(async {
        let server = start().await;
        let mut s = TcpStream::connect(server.addr()).await.expect("connect");
        s.write_all(&request(
            1,
            4,
            &GetDataRequest {
                path: "/".into(),
                watch: false,
            },
        ))
        .await
        .expect("write");
        let got = expect_closed(&mut s, "getData before the handshake").await;
        assert!(got.is_empty(), "unexpected answer {got:?}");
        let mut s = TcpStream::connect(server.addr()).await.expect("connect");
        s.write_all(&header_only(-2, 11)).await.expect("write");
        let got = expect_closed(&mut s, "ping before the handshake").await;
        assert!(got.is_empty(), "unexpected answer {got:?}");
        assert_healthy(&server, "requests before the handshake").await;
    })
    .await;
}

#[tokio::test]
async fn a_bad_password_gets_the_expired_answer_then_close() {
    bounded(async {
        let server = start().await;
        let owner = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        let mut s = TcpStream::connect(server.addr()).await.expect("connect");
        s.write_all(&connect_request(owner.session_id(), [1; 16], 0))
            .await
            .expect("write");
        let got = expect_closed(&mut s, "a bad password").await;
        let mut expected = vec![0u8; 4 + 37];
        expected[3] = 37; // frame length
        expected[4 + 19] = 16; // passwd length; everything else (timeout, session, passwd) is 0
        assert_eq!(got, expected, "Apache's expired-session answer");
        // A session that never existed gets the same.
        let mut s = TcpStream::connect(server.addr()).await.expect("connect");
        s.write_all(&connect_request(0x1234_5678, [0; 16], 0))
            .await
            .expect("write");
        assert_eq!(expect_closed(&mut s, "an unknown session").await, expected);
        // The real owner is unaffected.
        check_client(&owner, "a bad password for this session").await;
        owner.close().await;
        assert_healthy(&server, "a bad password").await;
    })
    .await;
}

#[tokio::test]
async fn a_client_ahead_of_the_server_is_refused() {
    bounded(async {
        let server = start().await;
        let mut s = TcpStream::connect(server.addr()).await.expect("connect");
        s.write_all(&connect_request(0, [0; 16], 1 << 40))
            .await
            .expect("write");
        let got = expect_closed(&mut s, "lastZxidSeen ahead").await;
        assert!(got.is_empty(), "unexpected answer {got:?}");
        assert_healthy(&server, "lastZxidSeen ahead").await;
    })
    .await;
}

#[tokio::test]
async fn invalid_paths_get_errors_and_keep_the_connection() {
    bounded(async {
        let server = start().await;
        let mut s = session(&server).await;
        // Apache checks a create's parent before the whole path: make the parents exist so
        // the path rule is what fails.
        let parent = CreateRequest {
            path: "/trailing".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        };
        s.write_all(&request(1, 1, &parent)).await.expect("write");
        let body = read_frame(&mut s).await.expect("create /trailing");
        assert_eq!(reply_header(&body).2, 0, "create /trailing");
        let mut xid = 1;
        for path in [
            "noslash",
            "//double",
            "/trailing/",
            "/.",
            "/..",
            "/trailing/.",
            "/trailing/..",
            "/nul\0",
            "",
        ] {
            xid += 1;
            let create = CreateRequest {
                path: path.into(),
                data: Some(Bytes::from_static(b"x")),
                acl: Acl::open_unsafe(),
                flags: 0,
            };
            s.write_all(&request(xid, 1, &create)).await.expect("write");
            let body = read_frame(&mut s)
                .await
                .unwrap_or_else(|| panic!("create {path:?}: closed"));
            assert_eq!(
                reply_header(&body),
                (xid, reply_header(&body).1, ErrorCode::BadArguments.code()),
                "create {path:?}"
            );
            xid += 1;
            let set = SetDataRequest {
                path: path.into(),
                data: Some(Bytes::from_static(b"y")),
                version: -1,
            };
            s.write_all(&request(xid, 5, &set)).await.expect("write");
            let body = read_frame(&mut s)
                .await
                .unwrap_or_else(|| panic!("setData {path:?}: closed"));
            assert_eq!(
                (reply_header(&body).0, reply_header(&body).2),
                (xid, ErrorCode::BadArguments.code()),
                "setData {path:?}"
            );
        }
        // Reads look the path up (Apache does not validate it): no such node.
        for path in ["noslash", "//double", "/trailing/"] {
            xid += 1;
            s.write_all(&request(
                xid,
                4,
                &GetDataRequest {
                    path: path.into(),
                    watch: false,
                },
            ))
            .await
            .expect("write");
            let body = read_frame(&mut s)
                .await
                .unwrap_or_else(|| panic!("getData {path:?}: closed"));
            assert_eq!(
                (reply_header(&body).0, reply_header(&body).2),
                (xid, ErrorCode::NoNode.code()),
                "getData {path:?}"
            );
        }
        assert_served(&mut s, "invalid paths").await;
        assert_healthy(&server, "invalid paths").await;
    })
    .await;
}

#[tokio::test]
async fn an_oversize_set_data_closes_the_connection() {
    bounded(async {
        let server = start().await;
        let client = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        client
            .create("/big", b"", &CreateOptions::new(CreateMode::Persistent))
            .await
            .expect("create");
        let mut s = session(&server).await;
        let set = SetDataRequest {
            path: "/big".into(),
            data: Some(Bytes::from(vec![b'x'; DEFAULT_MAX_FRAME + 1])),
            version: -1,
        };
        // The server may close before reading it all.
        let _ = s.write_all(&request(2, 5, &set)).await;
        let got = expect_closed(&mut s, "oversize setData").await;
        assert!(got.is_empty(), "unexpected answer {got:?}");
        let (data, stat) = client.get_data("/big").await.expect("get");
        assert!(
            data.is_empty() && stat.version == 0,
            "the oversize write was not applied"
        );
        check_client(&client, "oversize setData").await;
        client.close().await;
        assert_healthy(&server, "oversize setData").await;
    })
    .await;
}

#[tokio::test]
async fn connections_beyond_max_client_cnxns_are_closed() {
    bounded(async {
        let server = TestingServer::start_with(|c| c.max_client_cnxns = 5)
            .await
            .expect("start");
        // The healthy client holds one of the five slots of 127.0.0.1.
        let healthy = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(session(&server).await);
        }
        for i in 0..10 {
            let mut s = TcpStream::connect(server.addr()).await.expect("connect");
            // Writing may fail when the server has already closed it.
            let _ = s.write_all(&connect_request(0, [0; 16], 0)).await;
            let got = expect_closed(&mut s, &format!("extra connection {i}")).await;
            assert!(
                got.is_empty(),
                "extra connection {i}: unexpected answer {got:?}"
            );
        }
        for s in &mut held {
            assert_served(s, "a connection within the limit").await;
        }
        check_client(&healthy, "a connection flood").await;
        // Slots come back when connections close.
        drop(held);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mut s = TcpStream::connect(server.addr()).await.expect("connect");
            let _ = s.write_all(&connect_request(0, [0; 16], 0)).await;
            if read_frame(&mut s).await.is_some() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "slots were not given back after the connections closed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        healthy.close().await;
    })
    .await;
}

fn mntr_value(mntr: &str, key: &str) -> String {
    mntr.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")))
        .unwrap_or_else(|| panic!("no {key} in mntr:\n{mntr}"))
        .to_string()
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_hurt_others_and_is_dropped_at_expiry() {
    bounded(async {
        let server = start().await;
        let healthy = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        healthy
            .create(
                "/large",
                &vec![b'z'; 512 * 1024],
                &CreateOptions::new(CreateMode::Persistent),
            )
            .await
            .expect("create");
        let mut stalled = session(&server).await;
        // 200 replies of 512 KiB each, never read.
        let mut batch = Vec::new();
        for xid in 1..=200 {
            batch.extend_from_slice(&request(
                xid,
                4,
                &GetDataRequest {
                    path: "/large".into(),
                    watch: false,
                },
            ));
        }
        // The server stops reading once its output backs up, so this write may not finish.
        let writer = tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(30), stalled.write_all(&batch)).await;
            stalled
        });
        for i in 0..5 {
            check_client(&healthy, &format!("a stalled reader, round {i}")).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_healthy(&server, "a stalled reader").await;
        // Its session (4 s at most here) expires because nothing is read from it any more;
        // the server then drops the connection even though the client never reads.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mntr = four_letter_word(server.addr(), "mntr", DEFAULT_TIMEOUT)
                .await
                .expect("mntr");
            if mntr_value(&mntr, "zk_num_alive_connections") == "1" {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the stalled connection was never dropped:\n{mntr}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        check_client(&healthy, "the stalled reader was dropped").await;
        let _stalled = writer.await.expect("writer task");
        healthy.close().await;
    })
    .await;
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seeded_random_bytes_blast_does_not_panic_or_stop_the_server() {
    bounded(async {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
        let server = start().await;
        let healthy = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        let seed: u64 = std::env::var("ZK_BLAST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x5eed_2026);
        eprintln!("random blast seed {seed} (set ZK_BLAST_SEED to replay)");
        let mut rng = StdRng::seed_from_u64(seed);
        const OPS: &[i32] = &[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101,
            102, 103, 104, 105, 106, 107, -10, -11, -8, 999,
        ];
        let mut frames = 0usize;
        let mut batch = Vec::new();
        for conn in 0..240 {
            let mut bytes = Vec::new();
            let handshake = rng.gen_bool(0.75);
            if handshake {
                bytes.extend_from_slice(&connect_request(0, [0; 16], 0));
                for _ in 0..rng.gen_range(5..25) {
                    let mut body = BytesMut::new();
                    body.put_i32(rng.gen_range(1..1_000_000));
                    let op = if rng.gen_bool(0.9) {
                        OPS[rng.gen_range(0..OPS.len())]
                    } else {
                        rng.gen()
                    };
                    body.put_i32(op);
                    let n = rng.gen_range(0..120);
                    for _ in 0..n {
                        // Small big-endian numbers are likely, to hit lengths and counts.
                        body.put_u8(if rng.gen_bool(0.5) { 0 } else { rng.gen() });
                    }
                    if rng.gen_bool(0.05) {
                        // A lying length prefix.
                        bytes.extend_from_slice(&rng.gen::<i32>().to_be_bytes());
                        bytes.extend_from_slice(&body);
                    } else {
                        bytes.extend_from_slice(&framed(&body));
                    }
                    frames += 1;
                }
            } else {
                let n = rng.gen_range(1..300);
                bytes.extend((0..n).map(|_| rng.gen::<u8>()));
                frames += 1;
            }
            let addr = server.addr();
            batch.push(tokio::spawn(async move {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    return;
                };
                let _ = s.write_all(&bytes).await;
                let _ = s.shutdown().await;
                // Read whatever comes until the server closes (or give up after a bound).
                let mut sink = [0u8; 4096];
                let drain = async { while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {} };
                let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
            }));
            if batch.len() == 24 || conn == 239 {
                for t in batch.drain(..) {
                    t.await.expect("blast task");
                }
                check_client(&healthy, &format!("random blast up to connection {conn}")).await;
            }
        }
        assert!(frames > 2000, "only {frames} frames");
        assert_eq!(
            four_letter_word(server.addr(), "ruok", DEFAULT_TIMEOUT)
                .await
                .expect("ruok"),
            "imok"
        );
        assert_healthy(&server, "the random blast").await;
        healthy.close().await;
        assert_eq!(
            PANICS.load(Ordering::SeqCst),
            0,
            "something panicked during the blast"
        );
    })
    .await;
}
