//! A TCP relay between a client and one server, for network faults that killing a process
//! cannot give: a silent network (the session times out while the server lives), a refused
//! reconnect (the client stays disconnected while other clients change things), and cutting a
//! connection at a chosen moment (in-flight requests).
//!
//! It is a plain byte relay that never looks at the protocol, so it works in front of any
//! ZooKeeper-compatible server. Tasks run on the runtime that called [`TcpProxy::start`];
//! dropping the proxy closes every connection it relays.
//!
//! ```no_run
//! # async fn demo(server: std::net::SocketAddr) -> std::io::Result<()> {
//! use integration::proxy::{ProxyMode, TcpProxy};
//! let proxy = TcpProxy::start(server).await?;
//! let connect_string = proxy.addr().to_string();
//! // ... connect a client to `connect_string` ...
//! proxy.set_mode(ProxyMode::Blackhole); // nothing gets through, nothing is closed
//! proxy.cut(); // close every relayed connection now
//! proxy.set_mode(ProxyMode::Forward);
//! # Ok(()) }
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Relay bytes both ways.
    Forward,
    /// Close new connections as soon as they are accepted; relayed ones keep going.
    Refuse,
    /// Accept new connections but relay nothing, and stop relaying on existing ones, without
    /// closing anything: a silent network. Bytes already sent wait in socket buffers and are
    /// delivered if the mode goes back to [`ProxyMode::Forward`] before a [`TcpProxy::cut`].
    Blackhole,
}

#[derive(Debug, Clone, Copy)]
struct State {
    mode: ProxyMode,
    /// Bumped by `cut`; a connection ends when it sees a generation other than its own.
    generation: u64,
}

/// A TCP relay to one upstream address; see the module docs.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    state: watch::Sender<State>,
    open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a fresh loopback port and relays every connection to `upstream`.
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn start(upstream: SocketAddr) -> io::Result<TcpProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (state, rx) = watch::channel(State {
            mode: ProxyMode::Forward,
            generation: 0,
        });
        let open = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(accept_loop(
            listener,
            upstream,
            rx,
            open.clone(),
            accepted.clone(),
        ));
        Ok(TcpProxy {
            addr,
            upstream,
            state,
            open,
            accepted,
            accept,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address traffic is relayed to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        self.state.borrow().mode
    }

    /// Switches the mode for new and existing connections.
    pub fn set_mode(&self, mode: ProxyMode) {
        self.state.send_modify(|s| s.mode = mode);
    }

    /// Closes every connection accepted so far (both sides see the connection close).
    pub fn cut(&self) {
        self.state.send_modify(|s| s.generation += 1);
    }

    /// How many accepted connections are still open (client side not yet closed).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// How many connections were accepted so far, refused ones included.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Dropping `state` ends every connection task.
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    rx: watch::Receiver<State>,
    open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        accepted.fetch_add(1, Ordering::SeqCst);
        if rx.borrow().mode == ProxyMode::Refuse {
            drop(client);
            continue;
        }
        let guard = OpenGuard::new(open.clone());
        tokio::spawn(relay(client, upstream, rx.clone(), guard));
    }
}

/// Counts an open connection until dropped.
#[derive(Debug)]
struct OpenGuard(Arc<AtomicUsize>);

impl OpenGuard {
    fn new(open: Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::SeqCst);
        Self(open)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    mut rx: watch::Receiver<State>,
    guard: OpenGuard,
) {
    let generation = rx.borrow().generation;
    // A connection accepted in Blackhole mode waits before it even reaches the server.
    loop {
        let s = *rx.borrow_and_update();
        if s.generation != generation || s.mode == ProxyMode::Refuse {
            return;
        }
        if s.mode == ProxyMode::Forward {
            break;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, rx.clone(), generation);
    let down = pump(server_read, client_write, rx, generation);
    // Either direction ending (EOF, error, cut) ends the connection: dropping both halves of
    // both sockets closes them.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
    drop(guard);
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut rx: watch::Receiver<State>,
    generation: u64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let s = *rx.borrow_and_update();
        if s.generation != generation {
            return;
        }
        if s.mode == ProxyMode::Blackhole {
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown().await;
                    return;
                }
                Ok(n) => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            },
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind echo");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn roundtrip(s: &mut TcpStream, msg: &[u8]) -> io::Result<Vec<u8>> {
        s.write_all(msg).await?;
        let mut got = vec![0; msg.len()];
        s.read_exact(&mut got).await?;
        Ok(got)
    }

    const BOUND: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn forwards_blackholes_cuts_and_refuses() {
        let proxy = TcpProxy::start(echo_server().await).await.expect("proxy");
        let mut c = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(roundtrip(&mut c, b"hello").await.expect("echo"), b"hello");
        assert_eq!(proxy.open_connections(), 1);

        // Blackhole: nothing comes back, the connection stays open.
        proxy.set_mode(ProxyMode::Blackhole);
        c.write_all(b"held").await.expect("write");
        let mut buf = [0u8; 4];
        assert!(
            tokio::time::timeout(Duration::from_millis(200), c.read_exact(&mut buf))
                .await
                .is_err(),
            "bytes got through a blackhole"
        );
        // Back to forward: the held bytes are delivered.
        proxy.set_mode(ProxyMode::Forward);
        tokio::time::timeout(BOUND, c.read_exact(&mut buf))
            .await
            .expect("held bytes delivered in time")
            .expect("read");
        assert_eq!(&buf, b"held");

        // Cut: the client sees the connection close.
        proxy.cut();
        let n = tokio::time::timeout(BOUND, c.read(&mut buf))
            .await
            .expect("cut seen in time");
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "connection survived a cut: {n:?}"
        );

        // Refuse: new connections are closed at once.
        proxy.set_mode(ProxyMode::Refuse);
        let before = proxy.accepted();
        let mut r = TcpStream::connect(proxy.addr()).await.expect("connect");
        let n = tokio::time::timeout(BOUND, r.read(&mut buf))
            .await
            .expect("refusal seen in time");
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "refused connection relayed: {n:?}"
        );
        assert_eq!(proxy.accepted(), before + 1);

        proxy.set_mode(ProxyMode::Forward);
        let mut d = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(roundtrip(&mut d, b"again").await.expect("echo"), b"again");
    }
}
