//! A server that breaks the protocol cannot crash the client or wedge it.
//!
//! A scripted fake server on a real socket completes a proper handshake, reads one request and
//! then misbehaves (a truncated frame, a wrong xid, an oversized or negative frame length, a
//! garbage body, a notification of an unknown type). Each time the pending request must fail
//! with a clear error (ConnectionLoss or Protocol), the client must drop the connection and
//! re-attach the same session (the server checks the second ConnectRequest's session id and
//! password), and the next request must succeed once the server behaves. A server that answers
//! the handshake with timeout 0 expires the session: the state stream says Expired and calls
//! fail with SessionExpired.
//!
//! Every wait is bounded by [`STEP`]; a hang is a failure, not a stuck test.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;
use zk_core::proto::{
    decode_request, xid, ConnectRequest, ConnectResponse, Decode, Empty, Encode, ErrorCode,
    ExistsResponse, GetDataResponse, ReplyHeader, Request, RequestHeader, WatcherEvent,
};
use zk_core::{Client, Error, SessionState, StateStream};

const SESSION: i64 = 0x0123_4567_89ab_cdef;
const PASSWD: &[u8; 16] = b"0123456789abcdef";
/// The longest any single step may take.
const STEP: Duration = Duration::from_secs(3);
/// The client's frame limit in these tests.
const MAX_FRAME: usize = 1024;

/// One server-side connection.
struct Conn {
    s: TcpStream,
}

impl Conn {
    /// Accepts a connection and reads its ConnectRequest (no answer yet).
    async fn accept(listener: &TcpListener) -> (Conn, ConnectRequest) {
        let (s, _) = timeout(STEP, listener.accept())
            .await
            .expect("the client connects in time")
            .expect("accept");
        let mut c = Conn { s };
        let frame = c.read_frame().await.expect("a ConnectRequest");
        let req = ConnectRequest::from_bytes(frame).expect("a valid ConnectRequest");
        (c, req)
    }

    /// Accepts a connection and completes the handshake for [`SESSION`].
    async fn handshake(listener: &TcpListener) -> (Conn, ConnectRequest) {
        let (mut c, req) = Conn::accept(listener).await;
        c.answer_connect(10_000, SESSION, PASSWD).await;
        (c, req)
    }

    async fn answer_connect(&mut self, timeout_ms: i32, session_id: i64, passwd: &[u8]) {
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout: timeout_ms,
            session_id,
            passwd: Bytes::copy_from_slice(passwd),
            read_only: Some(false),
        };
        self.send(&[&resp]).await;
    }

    /// The next frame, `None` at end of stream (or a reset).
    async fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0; 4];
        timeout(STEP, self.s.read_exact(&mut len))
            .await
            .expect("the client sends in time")
            .ok()?;
        let n = usize::try_from(i32::from_be_bytes(len)).expect("a sane length from the client");
        let mut body = vec![0; n];
        timeout(STEP, self.s.read_exact(&mut body))
            .await
            .expect("the client sends in time")
            .ok()?;
        Some(body.into())
    }

    /// The next request, answering pings on the way.
    async fn next_request(&mut self) -> (RequestHeader, Request) {
        loop {
            let frame = self.read_frame().await.expect("a request, not a close");
            let (h, req) = decode_request(frame).expect("a valid request");
            if h.xid == xid::PING {
                self.reply(xid::PING, 0, &Empty).await;
                continue;
            }
            return (h, req);
        }
    }

    async fn raw(&mut self, b: &[u8]) {
        self.s.write_all(b).await.expect("write");
    }

    /// Writes one frame: the length, then the parts.
    async fn send(&mut self, parts: &[&(dyn Encode + Sync)]) {
        let mut body = BytesMut::new();
        for p in parts {
            p.encode(&mut body);
        }
        let mut w = BytesMut::new();
        w.put_i32(i32::try_from(body.len()).expect("small"));
        w.put_slice(&body);
        self.raw(&w).await;
    }

    async fn reply(&mut self, xid: i32, err: i32, body: &(dyn Encode + Sync)) {
        let h = ReplyHeader { xid, zxid: 7, err };
        self.send(&[&h, body]).await;
    }

    /// Waits until the client drops the connection (end of stream or a reset).
    async fn expect_closed(mut self) {
        let mut sink = [0; 256];
        loop {
            match timeout(STEP, self.s.read(&mut sink))
                .await
                .expect("the client drops the connection in time")
            {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// Serves correctly until the client closes the session or the connection.
    async fn serve_well(mut self) {
        while let Some(frame) = self.read_frame().await {
            let (h, req) = decode_request(frame).expect("a valid request");
            match req {
                Request::GetData(_) => {
                    let body = GetDataResponse {
                        data: Some(Bytes::from_static(b"fine")),
                        stat: Default::default(),
                    };
                    self.reply(h.xid, 0, &body).await;
                }
                Request::Exists(_) => {
                    let body = ExistsResponse {
                        stat: Default::default(),
                    };
                    self.reply(h.xid, 0, &body).await;
                }
                Request::CloseSession(_) => {
                    self.reply(h.xid, 0, &Empty).await;
                    return;
                }
                Request::Ping(_) | Request::SetWatches2(_) => self.reply(h.xid, 0, &Empty).await,
                _ => {
                    let unimplemented = ErrorCode::Unimplemented.code();
                    self.reply(h.xid, unimplemented, &Empty).await;
                }
            }
        }
    }
}

/// How the server breaks the protocol after reading a request.
#[derive(Debug, Clone, Copy)]
enum Misbehavior {
    /// Half a frame, then the connection closes.
    TruncatedThenClose,
    /// A reply carrying another request's xid.
    WrongXid,
    /// A length prefix above the client's max_frame.
    OverMaxFrame,
    /// A negative length prefix.
    NegativeLength,
    /// A reply whose header is fine but whose body is garbage.
    GarbageBody,
    /// A frame too short for a reply header.
    ShortHeader,
    /// A watch notification with an event type that does not exist.
    UnknownEventType,
}

impl Misbehavior {
    async fn act(self, mut c: Conn, h: RequestHeader) {
        match self {
            Misbehavior::TruncatedThenClose => {
                let mut w = BytesMut::new();
                w.put_i32(100);
                ReplyHeader {
                    xid: h.xid,
                    zxid: 7,
                    err: 0,
                }
                .encode(&mut w);
                c.raw(&w).await;
                // Dropping `c` closes the connection mid-frame.
                return;
            }
            Misbehavior::WrongXid => c.reply(h.xid + 100, 0, &Empty).await,
            Misbehavior::OverMaxFrame => {
                let len = i32::try_from(MAX_FRAME + 1).expect("small");
                c.raw(&len.to_be_bytes()).await;
                c.raw(&[0; 64]).await;
            }
            Misbehavior::NegativeLength => c.raw(&(-5_i32).to_be_bytes()).await,
            Misbehavior::GarbageBody => {
                let h = ReplyHeader {
                    xid: h.xid,
                    zxid: 7,
                    err: 0,
                };
                let mut w = BytesMut::new();
                h.encode(&mut w);
                w.put_slice(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]);
                let len = i32::try_from(w.len()).expect("small");
                c.raw(&len.to_be_bytes()).await;
                c.raw(&w).await;
            }
            Misbehavior::ShortHeader => c.raw(&[0, 0, 0, 3, 0, 0, 0]).await,
            Misbehavior::UnknownEventType => {
                let h = ReplyHeader {
                    xid: xid::NOTIFICATION,
                    zxid: -1,
                    err: 0,
                };
                let ev = WatcherEvent {
                    event_type: 999,
                    state: 3,
                    path: "/a".into(),
                };
                c.send(&[&h, &ev]).await;
            }
        }
        c.expect_closed().await;
    }
}

/// The whole server side of one misbehavior test: handshake, one request answered badly, then
/// a re-attach served correctly. Returns both ConnectRequests.
async fn misbehaving_server(listener: TcpListener, how: Misbehavior) -> [ConnectRequest; 2] {
    let (c, first) = Conn::handshake(&listener).await;
    let mut c = c;
    let (h, _) = c.next_request().await;
    how.act(c, h).await;
    let (c, second) = Conn::handshake(&listener).await;
    c.serve_well().await;
    [first, second]
}

async fn client(addr: std::net::SocketAddr) -> Result<Client, Error> {
    timeout(
        STEP,
        Client::builder(&addr.to_string())
            .session_timeout(Duration::from_secs(10))
            .max_frame(MAX_FRAME)
            .connect(),
    )
    .await
    .expect("connect finishes in time")
}

/// The next states on the stream are exactly `want`.
async fn expect_states(states: &mut StateStream, want: &[SessionState]) {
    for w in want {
        let got = timeout(STEP, states.next())
            .await
            .expect("the state changes in time");
        assert_eq!(got, Some(*w), "state sequence {want:?}");
    }
}

async fn survives(how: Misbehavior, expected: fn(&Error) -> bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(misbehaving_server(listener, how));
    let client = client(addr).await.expect("connects");
    assert_eq!(client.session_id(), SESSION);
    let mut states = client.state_stream();
    expect_states(&mut states, &[SessionState::Connected]).await;

    let err = timeout(STEP, client.get_data("/a"))
        .await
        .expect("the pending request fails in time")
        .expect_err("a broken reply cannot succeed");
    assert!(expected(&err), "{how:?}: unexpected error {err:?}");

    // The connection is dropped and the session re-attached.
    expect_states(
        &mut states,
        &[SessionState::Disconnected, SessionState::Connected],
    )
    .await;
    let (data, _) = timeout(STEP, client.get_data("/b"))
        .await
        .expect("the next request is answered in time")
        .expect("the next request succeeds");
    assert_eq!(&data[..], b"fine");
    assert_eq!(client.session_id(), SESSION);

    timeout(STEP, client.close())
        .await
        .expect("close finishes in time");
    let [first, second] = timeout(STEP, server)
        .await
        .expect("the server script ends in time")
        .expect("the server script did not panic");
    assert_eq!((first.session_id, &first.passwd[..]), (0, &[0; 16][..]));
    assert_eq!(
        (second.session_id, &second.passwd[..]),
        (SESSION, &PASSWD[..]),
        "the reconnect re-attaches the session with its password"
    );
    assert_eq!(second.timeout, 10_000);
}

fn connection_loss(e: &Error) -> bool {
    matches!(e, Error::ConnectionLoss)
}

fn protocol(e: &Error) -> bool {
    matches!(e, Error::Protocol(_))
}

#[tokio::test]
async fn truncated_frame_then_close_is_a_connection_loss() {
    survives(Misbehavior::TruncatedThenClose, connection_loss).await;
}

#[tokio::test]
async fn reply_with_the_wrong_xid_is_a_protocol_error() {
    survives(Misbehavior::WrongXid, protocol).await;
}

#[tokio::test]
async fn frame_over_max_frame_is_a_connection_loss() {
    survives(Misbehavior::OverMaxFrame, connection_loss).await;
}

#[tokio::test]
async fn negative_frame_length_is_a_connection_loss() {
    survives(Misbehavior::NegativeLength, connection_loss).await;
}

#[tokio::test]
async fn garbage_reply_body_is_a_protocol_error() {
    survives(Misbehavior::GarbageBody, protocol).await;
}

#[tokio::test]
async fn frame_too_short_for_a_reply_header_is_a_connection_loss() {
    survives(Misbehavior::ShortHeader, connection_loss).await;
}

#[tokio::test]
async fn notification_of_an_unknown_event_type_is_a_connection_loss() {
    survives(Misbehavior::UnknownEventType, connection_loss).await;
}

#[tokio::test]
async fn timeout_zero_on_the_first_handshake_fails_connect_with_session_expired() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut c, req) = Conn::accept(&listener).await;
        c.answer_connect(0, 0, &[0; 16]).await;
        req
    });
    let err = client(addr).await.expect_err("an expired session");
    assert_eq!(err, Error::SessionExpired);
    let req = timeout(STEP, server)
        .await
        .expect("in time")
        .expect("no panic");
    assert_eq!(req.session_id, 0);
}

#[tokio::test]
async fn timeout_zero_on_reconnect_expires_the_session() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (reattaching_tx, reattaching) = oneshot::channel::<ConnectRequest>();
    let (answer_tx, answer) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (mut c, _) = Conn::handshake(&listener).await;
        let _ = c.next_request().await;
        drop(c); // connection lost with the request in flight
        let (mut c, req) = Conn::accept(&listener).await;
        reattaching_tx.send(req).expect("the test waits");
        timeout(STEP, answer)
            .await
            .expect("in time")
            .expect("the test signals");
        // The session is gone: timeout 0, session 0, zero password, as Apache answers.
        c.answer_connect(0, 0, &[0; 16]).await;
        c.expect_closed().await;
    });
    let client = client(addr).await.expect("connects");
    let mut states = client.state_stream();
    expect_states(&mut states, &[SessionState::Connected]).await;

    let err = timeout(STEP, client.get_data("/a"))
        .await
        .expect("in time")
        .expect_err("the connection was lost");
    assert_eq!(err, Error::ConnectionLoss);
    expect_states(&mut states, &[SessionState::Disconnected]).await;

    let req = timeout(STEP, reattaching)
        .await
        .expect("the client reconnects in time")
        .expect("the server saw the reconnect");
    assert_eq!(
        (req.session_id, &req.passwd[..]),
        (SESSION, &PASSWD[..]),
        "the reconnect tries to re-attach the session"
    );
    // A request made while the re-attach is pending fails with the expiry too.
    let queued = client.exists("/queued");
    answer_tx.send(()).expect("the server waits");

    assert_eq!(
        timeout(STEP, queued).await.expect("in time"),
        Err(Error::SessionExpired)
    );
    expect_states(&mut states, &[SessionState::Expired]).await;
    assert_eq!(
        timeout(STEP, states.next()).await.expect("in time"),
        None,
        "the stream ends after a terminal state"
    );
    assert_eq!(client.state(), SessionState::Expired);
    assert_eq!(
        timeout(STEP, client.get_data("/b")).await.expect("in time"),
        Err(Error::SessionExpired)
    );
    timeout(STEP, server)
        .await
        .expect("in time")
        .expect("no panic");
}
