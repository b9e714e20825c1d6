//! The connection zkCli commands run on: connecting (and `connect`ing elsewhere), closing,
//! the session state for the prompt, and printing session events as the default watcher.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use zk_core::{Client, ConnectString, Error, SessionState};

use crate::output::err;
use crate::watch_hub::WatchHub;
use crate::watcher::EventPrinter;

/// The current client, shared with the line editor's completer.
pub type SharedClient = Arc<Mutex<Option<Client>>>;

/// How long closing a session may take before we give up on a clean close.
const CLOSE_BOUND: Duration = Duration::from_secs(10);

#[derive(Debug)]
enum Conn {
    /// Not connected yet (or the last attempt failed): the next command tries again, as
    /// Java's client keeps trying in the background.
    Connecting,
    /// A session (possibly disconnected, expired or failed since).
    Live {
        client: Client,
        states: JoinHandle<()>,
    },
    /// Closed by `close`.
    Closed,
    /// Credentials queued before the first connection were refused.
    AuthFailed,
}

/// Connection settings and the current session.
#[derive(Debug)]
pub struct Session {
    host: String,
    timeout: Duration,
    read_only: bool,
    conn: Conn,
    printer: EventPrinter,
    /// Credentials given before the first connection, presented when it is made.
    pending_auths: Vec<(String, Vec<u8>)>,
    /// Where commands leave their watches.
    pub watches: WatchHub,
    shared: SharedClient,
}

impl Session {
    /// A session to `host` that is not connected yet.
    pub fn new(host: &str, timeout: Duration, read_only: bool, printer: EventPrinter) -> Self {
        Self {
            host: host.to_string(),
            timeout,
            read_only,
            conn: Conn::Connecting,
            pending_auths: Vec::new(),
            watches: WatchHub::spawn(printer.clone()),
            printer,
            shared: Arc::new(Mutex::new(None)),
        }
    }

    /// The connect string in use (shown in the prompt).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The current client, for the completer.
    pub fn shared_client(&self) -> SharedClient {
        self.shared.clone()
    }

    /// The event printer (for `printwatches`).
    pub fn printer(&self) -> &EventPrinter {
        &self.printer
    }

    /// Java's `ZooKeeper.States` name for the prompt.
    pub fn state_name(&self) -> &'static str {
        match &self.conn {
            Conn::Connecting => "CONNECTING",
            Conn::Closed => "CLOSED",
            Conn::AuthFailed => "AUTH_FAILED",
            Conn::Live { client, .. } => match client.state() {
                SessionState::Connected => "CONNECTED",
                SessionState::ConnectedReadOnly => "CONNECTEDREADONLY",
                SessionState::AuthFailed => "AUTH_FAILED",
                SessionState::Expired | SessionState::Closed => "CLOSED",
                _ => "CONNECTING",
            },
        }
    }

    /// Java's `States.isAlive()`: commands may run (or at least try to).
    pub fn alive(&self) -> bool {
        match &self.conn {
            Conn::Connecting => true,
            Conn::Closed | Conn::AuthFailed => false,
            Conn::Live { client, .. } => !client.state().is_terminal(),
        }
    }

    /// Connects to `host` (the current one when `None`), closing a live session first.
    pub async fn connect(&mut self, host: Option<&str>) {
        if self.alive() {
            self.close().await;
        }
        if let Some(h) = host {
            self.host = h.to_string();
        }
        // A new session, as Java's `connect` makes a new ZooKeeper handle: no credentials.
        self.pending_auths.clear();
        self.conn = Conn::Connecting;
        self.try_connect().await;
    }

    /// The client to run a command on, connecting first if no attempt succeeded yet.
    ///
    /// # Errors
    /// [`Error::ConnectionLoss`] when no server can be reached; [`Error::Closed`] after `close`.
    pub async fn client(&mut self) -> Result<Client, Error> {
        if matches!(self.conn, Conn::Connecting) {
            self.try_connect().await;
        }
        match &self.conn {
            Conn::Live { client, .. } => Ok(client.clone()),
            Conn::Connecting => Err(Error::ConnectionLoss),
            Conn::Closed => Err(Error::Closed),
            Conn::AuthFailed => Err(Error::AuthFailed),
        }
    }

    /// Adds credentials: to the session if there is one, else for the connection to come (as
    /// Java's client queues them until it connects).
    ///
    /// # Errors
    /// As [`Client::add_auth`]; [`Error::Closed`] after `close`.
    pub async fn add_auth(&mut self, scheme: &str, auth: &[u8]) -> Result<(), Error> {
        match &self.conn {
            Conn::Live { client, .. } => client.add_auth(scheme, auth).await,
            Conn::Connecting => {
                self.pending_auths.push((scheme.to_string(), auth.to_vec()));
                Ok(())
            }
            Conn::Closed => Err(Error::Closed),
            Conn::AuthFailed => Err(Error::AuthFailed),
        }
    }

    /// One connection attempt; on success prints the `SyncConnected` event and follows the
    /// session's state changes.
    async fn try_connect(&mut self) {
        let cs = match ConnectString::parse(&self.host) {
            Ok(cs) => cs,
            Err(e) => {
                err(&e.to_string());
                self.conn = Conn::Closed;
                return;
            }
        };
        // Fail fast, as Java's client does, when nothing listens on any host; the handshake
        // itself is bounded by the session timeout.
        if !any_reachable(&cs.hosts, self.timeout).await {
            return;
        }
        let builder = Client::builder(&self.host)
            .session_timeout(self.timeout)
            .read_only(self.read_only);
        let connected = self
            .pending_auths
            .iter()
            .fold(builder, |b, (scheme, auth)| b.auth(scheme, auth))
            .connect();
        let bound = self.timeout + Duration::from_secs(1);
        let client = match tokio::time::timeout(bound, connected).await {
            Ok(Ok(c)) => c,
            Ok(Err(Error::AuthFailed)) => {
                // Queued credentials were refused: that session is over, as in Java.
                self.pending_auths.clear();
                self.printer.session_event(SessionState::AuthFailed);
                self.conn = Conn::AuthFailed;
                return;
            }
            Ok(Err(_)) | Err(_) => return,
        };
        self.pending_auths.clear();
        let mut states = client.state_stream();
        // The stream starts with the current state: print it before any command output.
        if let Some(first) = states.next().await {
            self.printer.session_event(first);
        }
        let printer = self.printer.clone();
        let states = tokio::spawn(async move {
            while let Some(s) = states.next().await {
                printer.session_event(s);
            }
        });
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(client.clone());
        self.conn = Conn::Live { client, states };
    }

    /// Closes the session (its ephemerals go at once) and waits until its `Closed` event is
    /// printed.
    pub async fn close(&mut self) {
        if let Conn::Live { client, states } = std::mem::replace(&mut self.conn, Conn::Closed) {
            let _ = tokio::time::timeout(CLOSE_BOUND, client.close()).await;
            let _ = tokio::time::timeout(CLOSE_BOUND, states).await;
        }
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Closes the session without printing anything (on exit).
    pub async fn shutdown(&mut self) {
        self.printer.set_enabled(false);
        self.close().await;
    }
}

/// Whether a TCP connection to any of `hosts` can be opened.
async fn any_reachable(hosts: &[String], timeout: Duration) -> bool {
    let n = u32::try_from(hosts.len()).unwrap_or(1).max(1);
    let per_host = (timeout / n).max(Duration::from_millis(500));
    for h in hosts {
        if let Ok(Ok(_)) = tokio::time::timeout(per_host, TcpStream::connect(h.as_str())).await {
            return true;
        }
    }
    false
}
