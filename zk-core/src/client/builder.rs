//! Building a client: connect string, session timeout, credentials, and connection settings.

use std::sync::Arc;
use std::time::Duration;

use backon::ExponentialBuilder;
use futures::StreamExt;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::actor::{Actor, Settings};
use super::connect_string::ConnectString;
use super::state::{SessionState, Shared};
use super::{Client, Inner};
use crate::error::Error;
use crate::proto::DEFAULT_MAX_FRAME;

/// Configures and connects a [`Client`].
///
/// ```no_run
/// # async fn f() -> zk_core::Result<()> {
/// use std::time::Duration;
/// let client = zk_core::Client::builder("127.0.0.1:2181/app")
///     .session_timeout(Duration::from_secs(10))
///     .digest_auth("user", "secret")
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    connect_string: String,
    session_timeout: Duration,
    connect_timeout: Option<Duration>,
    auths: Vec<(String, Vec<u8>)>,
    read_only: bool,
    max_frame: usize,
    backoff: ExponentialBuilder,
}

impl ClientBuilder {
    pub(crate) fn new(connect_string: &str) -> Self {
        Self {
            connect_string: connect_string.to_string(),
            session_timeout: Duration::from_secs(30),
            connect_timeout: None,
            auths: Vec::new(),
            read_only: false,
            max_frame: DEFAULT_MAX_FRAME,
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_secs(2))
                .with_jitter()
                .without_max_times(),
        }
    }

    /// The session timeout to ask for (the server clamps it; default 30 s).
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }

    /// How long one connect attempt to one host may take (default: session timeout divided
    /// by the number of hosts, as Apache's client, but at least 500 ms).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = Some(t);
        self
    }

    /// Authenticates with the `digest` scheme as `user:password` on every connection.
    pub fn digest_auth(self, user: &str, password: &str) -> Self {
        self.auth("digest", format!("{user}:{password}").as_bytes())
    }

    /// Authenticates with any scheme on every connection.
    pub fn auth(mut self, scheme: &str, credentials: &[u8]) -> Self {
        self.auths.push((scheme.to_string(), credentials.to_vec()));
        self
    }

    /// Whether a read-only server may be used (default false).
    pub fn read_only(mut self, allowed: bool) -> Self {
        self.read_only = allowed;
        self
    }

    /// The largest packet accepted from or sent to the server (default 1 MiB − 1, like
    /// `jute.maxbuffer`).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// The backoff between rounds of reconnect attempts over all hosts.
    pub fn reconnect_backoff(mut self, b: ExponentialBuilder) -> Self {
        self.backoff = b;
        self
    }

    /// Starts the connection task and waits for the first connection.
    ///
    /// # Errors
    /// [`Error::BadConnectString`] or [`Error::InvalidPath`] for a bad connect string;
    /// [`Error::ConnectionLoss`] when no server could be reached within the session timeout
    /// (or one connect attempt per host, if longer); [`Error::AuthFailed`]
    /// when the credentials were refused.
    ///
    /// # Cancellation safety
    /// Dropping the future drops the client, which closes the session.
    pub async fn connect(self) -> Result<Client, Error> {
        let cs = ConnectString::parse(&self.connect_string)?;
        let hosts_n = u32::try_from(cs.hosts.len()).unwrap_or(u32::MAX);
        let shared = Shared::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let settings = Settings {
            hosts: cs.hosts,
            chroot: cs.chroot.clone(),
            session_timeout: self.session_timeout,
            connect_timeout: self.connect_timeout,
            read_only: self.read_only,
            max_frame: self.max_frame,
            backoff: self.backoff,
        };
        // At least one attempt on every host, however short the session timeout.
        let wait = self
            .session_timeout
            .max(settings.attempt_timeout().saturating_mul(hosts_n));
        let actor = Actor::new(settings, shared.clone(), rx);
        let span = tracing::info_span!("zk_session", session_id = tracing::field::Empty);
        tokio::spawn(actor.run().instrument(span));
        let client = Client {
            inner: Arc::new(Inner {
                tx,
                shared: shared.clone(),
                chroot: cs.chroot,
            }),
        };
        // Credentials go first, so every request after them is authenticated.
        let auths: Vec<_> = self
            .auths
            .iter()
            .map(|(scheme, cred)| client.add_auth(scheme, cred))
            .collect();
        let mut states = shared.subscribe();
        let connected = tokio::time::timeout(wait, async {
            while let Some(s) = states.next().await {
                if s.is_connected() {
                    return Ok(());
                }
                if s.is_terminal() {
                    return Err(super::terminal_error(s));
                }
            }
            Err(Error::Closed)
        })
        .await
        .unwrap_or(Err(Error::ConnectionLoss));
        connected?;
        for a in auths {
            a.await?;
        }
        if shared.state() == SessionState::AuthFailed {
            return Err(Error::AuthFailed);
        }
        Ok(client)
    }
}
