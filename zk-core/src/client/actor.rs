//! The connection task: it owns the socket, the pending-reply queue and the watch registry, and
//! runs one select loop over socket reads, socket writes, the request channel and the timers.
//!
//! Requests are written in the order they were enqueued and replies arrive in that order, so a
//! reply is matched with the front of the pending queue (a different xid is a protocol
//! violation). Auth packets are the exception: servers answer them at once, outside the
//! request pipeline (Apache's `ZooKeeperServer.processPacket`), so an auth reply may overtake
//! the replies of requests sent before it; auth replies (xid −4) are matched with their own
//! queue. On connection loss every in-flight request fails with ConnectionLoss and the task
//! tries the next host with backoff, re-attaches the session with its password, re-sends the
//! credentials and re-registers every watch with setWatches2.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use super::state::{SessionState, Shared};
use super::watch::{split_set_watches, WatchKind, WatchRegistry, WatchSender, WatchedEvent};
use crate::error::Error;
use crate::proto::frame::{finish_packet, start_packet};
use crate::proto::{
    xid, AuthPacket, Chroot, ConnectRequest, ConnectResponse, Decode, Empty, Encode, EventType,
    FrameCodec, KeeperState, MultiResponse, OpCode, Reader, ReplyHeader, Request, RequestHeader,
    Response, WatcherEvent, WatcherType,
};

/// Largest setWatches packet, as Apache's client (`SET_WATCHES_MAX_LENGTH`).
const SET_WATCHES_MAX: usize = 128 * 1024;
/// Stop taking new requests while this much is waiting to be written.
const WRITE_HIGH_WATER: usize = 4 << 20;

/// What to do with the watch registry when a reply arrives.
#[derive(Debug)]
pub(crate) enum OnReply {
    /// Register a watch: `on_ok` on success, `on_no_node` on NoNode (exists).
    Watch {
        path: String,
        on_ok: WatchKind,
        on_no_node: Option<WatchKind>,
        sender: WatchSender,
    },
    /// Drop local watchers after a successful removeWatches.
    RemoveWatches { path: String, kind: WatcherType },
}

pub(crate) type Reply = oneshot::Sender<Result<Response, Error>>;

/// A request from a handle.
#[derive(Debug)]
pub(crate) enum Command {
    Request {
        req: Request,
        on_reply: Option<OnReply>,
        reply: Reply,
    },
    Close {
        done: oneshot::Sender<()>,
    },
}

#[derive(Debug)]
struct Pending {
    xid: i32,
    op: OpCode,
    reply: Option<Reply>,
    on_reply: Option<OnReply>,
}

/// The shortest time one connect attempt gets when it is derived from the session timeout.
const MIN_ATTEMPT: Duration = Duration::from_millis(500);

/// Settings the task needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub hosts: Vec<String>,
    pub chroot: Chroot,
    pub session_timeout: Duration,
    pub connect_timeout: Option<Duration>,
    pub read_only: bool,
    pub max_frame: usize,
    pub backoff: ExponentialBuilder,
}

impl Settings {
    /// How long one connect attempt to one host may take: the configured connect timeout, or
    /// the session timeout divided by the number of hosts (as Apache's client), at least
    /// [`MIN_ATTEMPT`].
    pub(crate) fn attempt_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or_else(|| {
            let n = u32::try_from(self.hosts.len()).unwrap_or(1).max(1);
            (self.session_timeout / n).max(MIN_ATTEMPT)
        })
    }
}

pub(crate) struct Actor {
    settings: Settings,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Command>,
    session_id: i64,
    passwd: Bytes,
    /// Whether a read-write server ever accepted this session. Until then the session (if
    /// any) was created by a read-only server, which keeps it to itself, so reconnects ask for
    /// a new session, as Apache's client does (`seenRwServerBefore`).
    seen_rw: bool,
    negotiated: Duration,
    last_zxid: i64,
    next_xid: i32,
    host_index: usize,
    pending: VecDeque<Pending>,
    /// Auth packets awaiting their reply, answered out of band (see the module docs).
    pending_auth: VecDeque<Pending>,
    waiting: VecDeque<Command>,
    watches: WatchRegistry,
    auths: Vec<AuthPacket>,
    closing: Option<oneshot::Sender<()>>,
    handles_gone: bool,
}

/// Why a connection ended.
enum End {
    Lost(String),
    Terminal(SessionState),
}

impl Actor {
    pub(crate) fn new(
        settings: Settings,
        shared: Arc<Shared>,
        rx: mpsc::UnboundedReceiver<Command>,
    ) -> Self {
        let host_index = rand::random::<usize>() % settings.hosts.len().max(1);
        Self {
            negotiated: settings.session_timeout,
            settings,
            shared,
            rx,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            seen_rw: false,
            last_zxid: 0,
            next_xid: 1,
            host_index,
            pending: VecDeque::new(),
            pending_auth: VecDeque::new(),
            waiting: VecDeque::new(),
            watches: WatchRegistry::default(),
            auths: Vec::new(),
            closing: None,
            handles_gone: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut backoff = self.settings.backoff.build();
        let mut attempts_in_round = 0;
        loop {
            let nothing_to_send = self.waiting.iter().all(|c| {
                matches!(
                    c,
                    Command::Request {
                        req: Request::Auth(_),
                        ..
                    }
                )
            });
            if self.closing.is_some() || (self.handles_gone && nothing_to_send) {
                // Closed while disconnected: the server will expire the session.
                return self.terminate(SessionState::Closed);
            }
            let host = self.settings.hosts[self.host_index].clone();
            self.host_index = (self.host_index + 1) % self.settings.hosts.len();
            match self.attempt(&host).await {
                Ok((stream, resp)) => {
                    backoff = self.settings.backoff.build();
                    attempts_in_round = 0;
                    match self.serve(stream, resp).await {
                        End::Terminal(s) => return self.terminate(s),
                        End::Lost(why) => {
                            warn!(%host, reason = %why, "connection lost");
                            self.shared.set_state(SessionState::Disconnected);
                            self.fail_in_flight(Error::ConnectionLoss);
                        }
                    }
                }
                Err(End::Terminal(s)) => return self.terminate(s),
                Err(End::Lost(why)) => {
                    debug!(%host, reason = %why, "connect attempt failed");
                    self.fail_in_flight(Error::ConnectionLoss);
                    attempts_in_round += 1;
                    if attempts_in_round >= self.settings.hosts.len() {
                        attempts_in_round = 0;
                        let delay = backoff.next().unwrap_or(Duration::from_secs(1));
                        self.idle_for(delay).await;
                    }
                }
            }
        }
    }

    /// Waits, queueing requests that arrive meanwhile.
    async fn idle_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            tokio::select! {
                _ = sleep_until(until) => return,
                cmd = self.rx.recv(), if !self.handles_gone => self.queue(cmd),
            }
        }
    }

    fn queue(&mut self, cmd: Option<Command>) {
        match cmd {
            Some(Command::Close { done }) => self.closing = Some(done),
            Some(c) => self.waiting.push_back(c),
            None => self.handles_gone = true,
        }
    }

    /// One connect attempt: TCP, ConnectRequest, ConnectResponse.
    async fn attempt(&mut self, host: &str) -> Result<(TcpStream, ConnectResponse), End> {
        let per_host = self.settings.attempt_timeout();
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            timeout: i32::try_from(self.settings.session_timeout.as_millis()).unwrap_or(i32::MAX),
            session_id: if self.seen_rw { self.session_id } else { 0 },
            passwd: self.passwd.clone(),
            read_only: Some(self.settings.read_only),
        };
        let max = self.settings.max_frame;
        let host_owned = host.to_string();
        let handshake = async move {
            let mut s = TcpStream::connect(&host_owned)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let _ = s.set_nodelay(true);
            let mut w = BytesMut::new();
            let at = start_packet(&mut w);
            req.encode(&mut w);
            finish_packet(&mut w, at);
            s.write_all(&w).await.map_err(|e| format!("write: {e}"))?;
            let mut framed = FramedRead::new(&mut s, FrameCodec::new(max));
            let frame = match framed.next().await {
                Some(Ok(f)) => f,
                Some(Err(e)) => return Err(format!("handshake: {e}")),
                None => return Err("server closed the connection during the handshake".into()),
            };
            if !framed.read_buffer().is_empty() {
                return Err("server sent data before the handshake finished".into());
            }
            let resp = ConnectResponse::from_bytes(frame)
                .map_err(|e| format!("bad ConnectResponse: {e}"))?;
            Ok::<_, String>((s, resp))
        };
        let deadline = Instant::now() + per_host;
        tokio::pin!(handshake);
        let (stream, resp) = loop {
            tokio::select! {
                r = &mut handshake => break r.map_err(End::Lost)?,
                _ = sleep_until(deadline) => return Err(End::Lost(format!("timed out after {per_host:?}"))),
                cmd = self.rx.recv(), if !self.handles_gone => self.queue(cmd),
            }
        };
        if resp.timeout <= 0 {
            info!(
                session_id = format_args!("{:#x}", self.session_id),
                "session expired"
            );
            return Err(End::Terminal(SessionState::Expired));
        }
        Ok((stream, resp))
    }

    /// Serves one established connection until it ends.
    async fn serve(&mut self, stream: TcpStream, resp: ConnectResponse) -> End {
        if self.seen_rw && resp.session_id != self.session_id {
            return End::Lost(format!(
                "server answered with session {:#x}, expected {:#x}",
                resp.session_id, self.session_id
            ));
        }
        if self.session_id != 0 && resp.session_id != self.session_id {
            info!(
                old = format_args!("{:#x}", self.session_id),
                new = format_args!("{:#x}", resp.session_id),
                "the read-only session was replaced"
            );
        }
        self.session_id = resp.session_id;
        self.seen_rw |= resp.read_only != Some(true);
        self.passwd = resp.passwd.clone();
        self.negotiated = Duration::from_millis(u64::try_from(resp.timeout).unwrap_or(0));
        self.shared.set_session(resp.session_id, resp.timeout);
        tracing::Span::current().record("session_id", format_args!("{:#x}", resp.session_id));
        let (read, mut write) = stream.into_split();
        let mut frames = FramedRead::new(read, FrameCodec::new(self.settings.max_frame));
        let mut out = BytesMut::new();
        self.prime(&mut out);
        self.shared.set_state(if resp.read_only == Some(true) {
            SessionState::ConnectedReadOnly
        } else {
            SessionState::Connected
        });
        info!(
            session_id = format_args!("{:#x}", self.session_id),
            timeout_ms = resp.timeout,
            "connected"
        );
        let read_timeout = self.negotiated * 2 / 3;
        let ping_every = (read_timeout / 2).min(Duration::from_secs(10));
        let mut last_recv = Instant::now();
        let mut last_send = Instant::now();
        let mut close_deadline: Option<Instant> = None;
        if self.closing.is_some() || self.handles_gone {
            self.send_close(&mut out);
            close_deadline = Some(Instant::now() + read_timeout);
        }
        loop {
            let ping_at = last_send + ping_every;
            let dead_at = close_deadline.unwrap_or(last_recv + read_timeout);
            tokio::select! {
                frame = frames.next() => match frame {
                    Some(Ok(f)) => {
                        last_recv = Instant::now();
                        if let Err(end) = self.on_frame(f) {
                            return end;
                        }
                    }
                    Some(Err(e)) => return End::Lost(format!("read: {e}")),
                    None if close_deadline.is_some() => return End::Terminal(SessionState::Closed),
                    None => return End::Lost("server closed the connection".into()),
                },
                r = write.write_buf(&mut out), if !out.is_empty() => {
                    if let Err(e) = r {
                        return End::Lost(format!("write: {e}"));
                    }
                    last_send = Instant::now();
                }
                cmd = self.rx.recv(), if close_deadline.is_none() && !self.handles_gone && out.len() < WRITE_HIGH_WATER => {
                    self.queue(cmd);
                    while out.len() < WRITE_HIGH_WATER {
                        match self.rx.try_recv() {
                            Ok(c) => self.queue(Some(c)),
                            Err(_) => break,
                        }
                    }
                    self.send_waiting(&mut out);
                    if self.closing.is_some() || self.handles_gone {
                        self.send_close(&mut out);
                        close_deadline = Some(Instant::now() + read_timeout);
                    }
                }
                _ = sleep_until(ping_at), if out.is_empty() && close_deadline.is_none() => {
                    write_packet(&mut out, RequestHeader { xid: xid::PING, op_type: OpCode::Ping.code() }, &Empty);
                    last_send = Instant::now();
                }
                _ = sleep_until(dead_at) => {
                    if close_deadline.is_some() {
                        return End::Terminal(SessionState::Closed);
                    }
                    return End::Lost(format!("no reply from the server within {read_timeout:?}"));
                }
            }
        }
    }

    /// Queues what a fresh connection needs before anything else: credentials, then watches,
    /// then the requests that waited for the connection.
    fn prime(&mut self, out: &mut BytesMut) {
        for a in self.auths.clone() {
            self.push(out, xid::AUTH, Request::Auth(a), None, None);
        }
        let chroot = self.settings.chroot.clone();
        let sw = self
            .watches
            .set_watches_packet(self.last_zxid, |p| chroot.prepend(p));
        for part in split_set_watches(sw, SET_WATCHES_MAX) {
            self.push(
                out,
                xid::SET_WATCHES,
                Request::SetWatches2(part),
                None,
                None,
            );
        }
        self.send_waiting(out);
    }

    fn send_waiting(&mut self, out: &mut BytesMut) {
        while let Some(cmd) = self.waiting.pop_front() {
            match cmd {
                Command::Request {
                    req,
                    on_reply,
                    reply,
                } => {
                    let x = match &req {
                        Request::Auth(a) => {
                            self.auths.push(a.clone());
                            xid::AUTH
                        }
                        _ => self.take_xid(),
                    };
                    self.push(out, x, req, Some(reply), on_reply);
                }
                Command::Close { done } => self.closing = Some(done),
            }
        }
    }

    fn send_close(&mut self, out: &mut BytesMut) {
        let x = self.take_xid();
        self.push(out, x, Request::CloseSession(Empty), None, None);
    }

    fn take_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }

    fn push(
        &mut self,
        out: &mut BytesMut,
        xid: i32,
        req: Request,
        reply: Option<Reply>,
        on_reply: Option<OnReply>,
    ) {
        let op = req.op_code();
        let start = out.len();
        write_packet(
            out,
            RequestHeader {
                xid,
                op_type: op.code(),
            },
            &req,
        );
        let size = out.len() - start - 4;
        if size > self.settings.max_frame {
            out.truncate(start);
            if let Some(r) = reply {
                let _ = r.send(Err(Error::InvalidArgument(format!(
                    "request of {size} bytes exceeds the maximum packet size {}",
                    self.settings.max_frame
                ))));
            }
            return;
        }
        debug!(xid, ?op, "request");
        let p = Pending {
            xid,
            op,
            reply,
            on_reply,
        };
        if xid == xid::AUTH {
            self.pending_auth.push_back(p);
        } else {
            self.pending.push_back(p);
        }
    }

    /// Handles one frame from the server.
    fn on_frame(&mut self, frame: Bytes) -> Result<(), End> {
        let mut r = Reader::new(frame);
        let h =
            ReplyHeader::decode(&mut r).map_err(|e| End::Lost(format!("bad reply header: {e}")))?;
        match h.xid {
            xid::NOTIFICATION => {
                let ev = WatcherEvent::decode(&mut r)
                    .map_err(|e| End::Lost(format!("bad notification: {e}")))?;
                let event_type = EventType::from_code(ev.event_type)
                    .ok_or_else(|| End::Lost(format!("unknown event type {}", ev.event_type)))?;
                let state = KeeperState::from_code(ev.state).unwrap_or(KeeperState::SyncConnected);
                let ev = WatchedEvent {
                    event_type,
                    state,
                    path: self.settings.chroot.strip(&ev.path),
                };
                debug!(?ev, "watch event");
                self.watches.dispatch(&ev);
                Ok(())
            }
            xid::PING => Ok(()),
            x => {
                let queue = if x == xid::AUTH {
                    &mut self.pending_auth
                } else {
                    &mut self.pending
                };
                let Some(p) = queue.pop_front() else {
                    return Err(End::Lost(format!("reply with xid {x} to no request")));
                };
                if p.xid != x {
                    let why = format!("reply xid {x} out of order, expected {}", p.xid);
                    if let Some(reply) = p.reply {
                        let _ = reply.send(Err(Error::Protocol(why.clone())));
                    }
                    return Err(End::Lost(why));
                }
                if h.zxid > 0 {
                    self.last_zxid = h.zxid;
                    self.shared.set_last_zxid(h.zxid);
                }
                self.complete(p, h.err, r)
            }
        }
    }

    fn complete(&mut self, p: Pending, err: i32, mut r: Reader) -> Result<(), End> {
        let multi = matches!(p.op, OpCode::Multi | OpCode::MultiRead);
        let result = if err != 0 && !(multi && r.remaining() > 0) {
            Err(Error::from_code(err).unwrap_or(Error::SystemError))
        } else {
            let decoded = if multi {
                MultiResponse::decode(&mut r).map(Response::Multi)
            } else {
                Response::decode(p.op, &mut r)
            };
            match decoded {
                Ok(resp) => Ok(resp),
                Err(e) => {
                    let why = format!("malformed {:?} reply: {e}", p.op);
                    if let Some(reply) = p.reply {
                        let _ = reply.send(Err(Error::Protocol(why.clone())));
                    }
                    return Err(End::Lost(why));
                }
            }
        };
        match (&result, p.op) {
            (Err(Error::AuthFailed), OpCode::Auth) => {
                if let Some(reply) = p.reply {
                    let _ = reply.send(Err(Error::AuthFailed));
                }
                return Err(End::Terminal(SessionState::AuthFailed));
            }
            (Err(e), OpCode::SetWatches2) => warn!(error = %e, "setWatches2 failed"),
            (_, OpCode::CloseSession) => return Err(End::Terminal(SessionState::Closed)),
            _ => {}
        }
        match p.on_reply {
            Some(OnReply::Watch {
                path,
                on_ok,
                on_no_node,
                sender,
            }) => match (&result, on_no_node) {
                (Ok(_), _) => self.watches.add(on_ok, path, sender),
                (Err(Error::NoNode), Some(kind)) => self.watches.add(kind, path, sender),
                _ => {}
            },
            Some(OnReply::RemoveWatches { path, kind }) if result.is_ok() => {
                self.watches.remove(&path, kind)
            }
            _ => {}
        }
        if let Some(reply) = p.reply {
            let _ = reply.send(result);
        }
        Ok(())
    }

    /// Fails everything sent but unanswered, and everything waiting, with `e`.
    ///
    /// On a connection loss, credentials not sent yet (addAuth, or the builder's, made while no
    /// connection was up) stay queued for the next connection instead of failing: like
    /// Apache's client, credentials once given are presented on every connection.
    fn fail_in_flight(&mut self, e: Error) {
        let auth = std::mem::take(&mut self.pending_auth);
        for p in self.pending.drain(..).chain(auth) {
            if let Some(r) = p.reply {
                let _ = r.send(Err(e.clone()));
            }
        }
        let keep_auth = e == Error::ConnectionLoss;
        for c in std::mem::take(&mut self.waiting) {
            match c {
                Command::Request {
                    req: Request::Auth(_),
                    ..
                } if keep_auth => self.waiting.push_back(c),
                Command::Request { reply, .. } => {
                    let _ = reply.send(Err(e.clone()));
                }
                Command::Close { done } => self.closing = Some(done),
            }
        }
    }

    /// Ends the session for good.
    fn terminate(mut self, state: SessionState) {
        let (err, ks) = match state {
            SessionState::Expired => (Error::SessionExpired, KeeperState::Expired),
            SessionState::AuthFailed => (Error::AuthFailed, KeeperState::AuthFailed),
            _ => (Error::Closed, KeeperState::Closed),
        };
        info!(
            session_id = format_args!("{:#x}", self.session_id),
            ?state,
            "session ended"
        );
        self.shared.set_state(state);
        self.fail_in_flight(err.clone());
        self.watches.terminate(ks);
        self.rx.close();
        while let Ok(c) = self.rx.try_recv() {
            match c {
                Command::Request { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
                Command::Close { done } => {
                    let _ = done.send(());
                }
            }
        }
        if let Some(done) = self.closing.take() {
            let _ = done.send(());
        }
    }
}

fn write_packet(out: &mut BytesMut, h: RequestHeader, body: &impl Encode) {
    let at = start_packet(out);
    h.encode(out);
    body.encode(out);
    finish_packet(out, at);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::{Bytes, BytesMut};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use crate::proto::frame::{finish_packet, start_packet};
    use crate::proto::{
        decode_request, xid, ConnectResponse, Encode, GetDataResponse, ReplyHeader, Request, Stat,
    };
    use crate::Client;

    async fn read_frame(s: &mut TcpStream) -> Bytes {
        let len = s.read_i32().await.expect("length");
        let mut buf = vec![0; usize::try_from(len).expect("length")];
        s.read_exact(&mut buf).await.expect("frame");
        buf.into()
    }

    async fn write_frame(s: &mut TcpStream, parts: &[&(dyn Encode + Sync)]) {
        let mut w = BytesMut::new();
        let at = start_packet(&mut w);
        for part in parts {
            part.encode(&mut w);
        }
        finish_packet(&mut w, at);
        s.write_all(&w).await.expect("write");
    }

    /// Apache answers auth packets at once, outside its request pipeline, so an auth reply can
    /// arrive before the reply of a request sent earlier. It must not be taken for an
    /// out-of-order reply (this used to drop the connection with a protocol violation).
    #[tokio::test]
    async fn an_auth_reply_may_overtake_earlier_requests() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let _connect = read_frame(&mut s).await;
            let resp = ConnectResponse {
                protocol_version: 0,
                timeout: 30_000,
                session_id: 0x42,
                passwd: Bytes::from_static(&[7; 16]),
                read_only: Some(false),
            };
            write_frame(&mut s, &[&resp]).await;
            let (get, get_req) = decode_request(read_frame(&mut s).await).expect("getData");
            assert!(matches!(get_req, Request::GetData(_)), "{get_req:?}");
            let (auth, auth_req) = decode_request(read_frame(&mut s).await).expect("auth");
            assert!(matches!(auth_req, Request::Auth(_)), "{auth_req:?}");
            assert_eq!(auth.xid, xid::AUTH);
            // The auth reply first, as Apache does, then the getData reply.
            let auth_reply = ReplyHeader {
                xid: xid::AUTH,
                zxid: 0,
                err: 0,
            };
            write_frame(&mut s, &[&auth_reply]).await;
            let get_reply = ReplyHeader {
                xid: get.xid,
                zxid: 5,
                err: 0,
            };
            let data = GetDataResponse {
                data: Some(Bytes::from_static(b"v")),
                stat: Stat::default(),
            };
            write_frame(&mut s, &[&get_reply, &data]).await;
            // Keep the connection open until the client is done.
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest).await;
        });
        let client = Client::connect(&addr.to_string()).await.expect("connect");
        let get = client.get_data("/x");
        let auth = client.add_auth("digest", b"u:p");
        let bound = Duration::from_secs(10);
        tokio::time::timeout(bound, auth)
            .await
            .expect("auth answered")
            .expect("auth ok");
        let (data, _) = tokio::time::timeout(bound, get)
            .await
            .expect("getData answered")
            .expect("getData ok");
        assert_eq!(&data[..], b"v");
        assert!(client.state().is_connected());
        assert_eq!(client.last_zxid(), 5);
        assert!(!server.is_finished(), "the fake server failed: {server:?}");
        server.abort();
    }
}
