//! `TestingServer`: a real zk-server on 127.0.0.1:0 with a temporary data directory, for this
//! project's tests and for users' own (like Curator's TestingServer).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::server::{start, ServerHandle, StartError};

/// A standalone server in a temporary directory, stopped on drop.
#[derive(Debug)]
pub struct TestingServer {
    dir: tempfile::TempDir,
    config: Config,
    handle: Option<ServerHandle>,
    addr: SocketAddr,
}

impl TestingServer {
    /// Starts a server with default test settings (tickTime 200 ms, all 4lw, TTL enabled).
    ///
    /// # Errors
    /// When the server cannot start.
    pub async fn start() -> Result<Self, StartError> {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after letting `tune` adjust the configuration.
    ///
    /// # Errors
    /// When the server cannot start.
    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> Result<Self, StartError> {
        let dir = tempfile::tempdir().map_err(|source| StartError::DataDir {
            path: std::env::temp_dir(),
            source,
        })?;
        let mut config = Config::standalone_default();
        config.data_dir = dir.path().join("data");
        config.client_port = 0;
        config.tick_time_ms = 200;
        config.max_client_cnxns = 0;
        config.snap_count = 10_000;
        tune(&mut config);
        let handle = start(config.clone()).await?;
        let addr = handle.client_addr();
        // Restarts reuse the same port.
        config.client_port = addr.port();
        Ok(Self {
            dir,
            config,
            handle: Some(handle),
            addr,
        })
    }

    /// `127.0.0.1:port`.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// The client address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The temporary directory holding the data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// The running server, if any.
    pub fn handle(&self) -> Option<&ServerHandle> {
        self.handle.as_ref()
    }

    /// Stops the server cleanly (the data stays).
    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    /// Stops abruptly (no orderly shutdown of the client side; what was acknowledged is on
    /// disk). [`TestingServer::restart`] starts it again on the same port and data.
    pub async fn kill(&mut self) {
        if let Some(h) = self.handle.take() {
            h.kill().await;
        }
    }

    /// Stops and starts again on the same port and data.
    ///
    /// # Errors
    /// When the server cannot start again.
    pub async fn restart(&mut self) -> Result<(), StartError> {
        self.stop().await;
        self.handle = Some(start(self.config.clone()).await?);
        Ok(())
    }
}

impl Drop for TestingServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            // Best effort: stop accepting and close connections even without awaiting.
            h.abort();
        }
    }
}
