//! `TestingCluster`: an ensemble of real zk-servers in this process, with faults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::links::Links;
use crate::config::{Config, Peer};
use crate::server::{start, ServerHandle, StartError};

/// One member: its configuration (peer addresses through the relays) and the running server.
#[derive(Debug)]
struct Member {
    config: Config,
    client_addr: SocketAddr,
    handle: Option<ServerHandle>,
}

/// N servers on 127.0.0.1 in one process, each link between two of them running through a
/// relay the test controls (see [`TestingCluster::cut`]). Every member keeps its client port
/// and data across [`TestingCluster::restart`]. Dropping the cluster stops everything.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use zk_server::testing::TestingCluster;
/// let mut cluster = TestingCluster::start(3).await?;
/// let leader = cluster.wait_for_leader(std::time::Duration::from_secs(10)).await.expect("leader");
/// cluster.isolate(leader);          // the others elect a new leader; `leader` stops serving
/// cluster.heal();
/// cluster.pause(leader);            // a frozen process: silence both ways, connections open
/// cluster.resume(leader);
/// cluster.kill(leader).await;       // a crash: no goodbye to clients or peers
/// cluster.restart(leader).await?;   // same port, same data
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TestingCluster {
    dir: tempfile::TempDir,
    members: BTreeMap<u64, Member>,
    links: Links,
}

fn free_port() -> Result<u16, StartError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| StartError::Bind {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            source,
        })
}

fn dir_error(path: &Path) -> impl FnOnce(std::io::Error) -> StartError + '_ {
    move |source| StartError::DataDir {
        path: path.to_path_buf(),
        source,
    }
}

impl TestingCluster {
    /// Starts `n` members (ids 1..=n) with test settings (tickTime 200 ms, syncLimit 5, all
    /// 4lw, no connection limit), without waiting for a leader.
    ///
    /// # Errors
    /// When a member cannot start.
    pub async fn start(n: usize) -> Result<Self, StartError> {
        Self::start_with(n, |_| {}).await
    }

    /// Like [`TestingCluster::start`], letting `tune` adjust every member's configuration
    /// (called once per member; ports, data dirs and `server.N` lines are the cluster's).
    ///
    /// # Errors
    /// When a member cannot start.
    pub async fn start_with(n: usize, tune: impl Fn(&mut Config)) -> Result<Self, StartError> {
        // Ports are picked free and bound a moment later: another process may take one in
        // between. Try again on fresh ports before giving up.
        let mut attempt = 1;
        loop {
            match Self::try_start(n, &tune).await {
                Err(e) if attempt < 3 => {
                    tracing::warn!(error = %e, attempt, "testing cluster did not start; retrying on fresh ports");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn try_start(n: usize, tune: &impl Fn(&mut Config)) -> Result<Self, StartError> {
        if n == 0 {
            return Err(StartError::Config("a cluster needs a member".into()));
        }
        let dir = tempfile::tempdir().map_err(dir_error(&std::env::temp_dir()))?;
        let ids: Vec<u64> = (1..=n as u64).collect();
        let mut real = BTreeMap::new();
        for &id in &ids {
            real.insert(id, SocketAddr::from(([127, 0, 0, 1], free_port()?)));
        }
        let mut clients = BTreeMap::new();
        for &id in &ids {
            clients.insert(id, SocketAddr::from(([127, 0, 0, 1], free_port()?)));
        }
        let links = Links::start(&real, &clients)
            .await
            .map_err(|source| StartError::Bind {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                source,
            })?;
        let mut members = BTreeMap::new();
        for &id in &ids {
            let peers = ids
                .iter()
                .map(|&other| {
                    let addr = if other == id {
                        real[&id]
                    } else {
                        links.relay(id, other).unwrap_or(real[&other])
                    };
                    Peer {
                        id: other,
                        host: "127.0.0.1".into(),
                        quorum_port: addr.port(),
                        election_port: 0,
                        observer: false,
                        client_addr: None,
                    }
                })
                .collect();
            let mut config = Config::standalone_default();
            config.data_dir = dir.path().join(format!("n{id}"));
            config.client_port = clients[&id].port();
            config.tick_time_ms = 200;
            config.max_client_cnxns = 0;
            config.snap_count = 10_000;
            tune(&mut config);
            config.peers = peers;
            std::fs::create_dir_all(&config.data_dir).map_err(dir_error(&config.data_dir))?;
            std::fs::write(config.data_dir.join("myid"), id.to_string())
                .map_err(dir_error(&config.data_dir))?;
            let client_addr = links.client_relay(id).unwrap_or(clients[&id]);
            members.insert(
                id,
                Member {
                    config,
                    client_addr,
                    handle: None,
                },
            );
        }
        let mut cluster = TestingCluster {
            dir,
            members,
            links,
        };
        let starts: Vec<_> = cluster
            .members
            .iter()
            .map(|(&id, m)| (id, tokio::spawn(start(m.config.clone()))))
            .collect();
        for (id, s) in starts {
            let handle = s
                .await
                .map_err(|e| StartError::Config(format!("member {id}: {e}")))??;
            if let Some(m) = cluster.members.get_mut(&id) {
                m.handle = Some(handle);
            }
        }
        Ok(cluster)
    }

    /// The member ids, ascending.
    pub fn ids(&self) -> Vec<u64> {
        self.members.keys().copied().collect()
    }

    /// Every member's client address, `host:port,...` in id order.
    pub fn connect_string(&self) -> String {
        self.members
            .values()
            .map(|m| m.client_addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client address of member `id` (a relay in front of its client port, so that
    /// [`TestingCluster::pause`] silences its clients too).
    ///
    /// # Panics
    /// When `id` is not a member.
    pub fn client_addr(&self, id: u64) -> SocketAddr {
        self.member(id).client_addr
    }

    /// The running server of member `id` (None while it is down).
    pub fn handle(&self, id: u64) -> Option<&ServerHandle> {
        self.members.get(&id).and_then(|m| m.handle.as_ref())
    }

    /// The temporary directory holding every member's data.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether member `id` is running and serves clients (in contact with a quorum).
    pub fn is_serving(&self, id: u64) -> bool {
        self.handle(id).is_some_and(|h| h.shared().gate.is_open())
    }

    /// The running member whose client connection serves `session_id`, if any.
    pub fn member_serving(&self, session_id: i64) -> Option<u64> {
        self.members.iter().find_map(|(&id, m)| {
            let h = m.handle.as_ref()?;
            h.shared().state.serves_session(session_id).then_some(id)
        })
    }

    /// The running member that leads and serves, if any.
    pub fn leader(&self) -> Option<u64> {
        self.members.iter().find_map(|(&id, m)| {
            let h = m.handle.as_ref()?;
            (h.shared().consensus.is_leader() && h.shared().gate.is_open()).then_some(id)
        })
    }

    /// Waits up to `timeout` until a member leads and every running member serves; returns
    /// the leader.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let t = Instant::now();
        loop {
            let all_serving = self
                .members
                .values()
                .filter_map(|m| m.handle.as_ref())
                .all(|h| h.shared().gate.is_open());
            if let (Some(l), true) = (self.leader(), all_serving) {
                return Some(l);
            }
            if t.elapsed() >= timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Crashes member `id`: its client port, client connections and peer links drop at once
    /// (what was acknowledged is on disk). No-op if it is down.
    pub async fn kill(&mut self, id: u64) {
        if let Some(h) = self.members.get_mut(&id).and_then(|m| m.handle.take()) {
            h.kill().await;
        }
    }

    /// Stops member `id` cleanly. No-op if it is down.
    pub async fn stop(&mut self, id: u64) {
        if let Some(h) = self.members.get_mut(&id).and_then(|m| m.handle.take()) {
            h.shutdown().await;
        }
    }

    /// Starts member `id` again on its client port and data (stopping it first if it runs).
    ///
    /// # Errors
    /// When it cannot start.
    ///
    /// # Panics
    /// When `id` is not a member.
    pub async fn restart(&mut self, id: u64) -> Result<(), StartError> {
        self.stop(id).await;
        let config = self.member(id).config.clone();
        let handle = start(config).await?;
        if let Some(m) = self.members.get_mut(&id) {
            m.handle = Some(handle);
        }
        Ok(())
    }

    /// Cuts the link between `a` and `b` both ways, as a firewall dropping packets would:
    /// nothing is closed, nothing passes.
    pub fn cut(&self, a: u64, b: u64) {
        self.links.set(a, b, |s| s.cut = true);
    }

    /// Cuts every link of member `id`: it is alone, its clients can still reach it.
    pub fn isolate(&self, id: u64) {
        for other in self.ids().into_iter().filter(|&o| o != id) {
            self.cut(id, other);
        }
    }

    /// Splits the cluster into `groups`: links inside a group work, links between groups are
    /// cut. Members in no group are cut from everyone.
    pub fn partition(&self, groups: &[&[u64]]) {
        let group_of = |id: u64| groups.iter().position(|g| g.contains(&id));
        for (a, b) in self.links.pairs() {
            let same = group_of(a).is_some() && group_of(a) == group_of(b);
            self.links.set(a, b, |s| s.cut = !same);
        }
    }

    /// Delays every chunk crossing the link between `a` and `b` by `delay` (zero: none).
    pub fn delay(&self, a: u64, b: u64, delay: Duration) {
        self.links.set(a, b, |s| s.delay = delay);
    }

    /// Restores every link (no cut, no delay); paused members stay paused.
    pub fn heal(&self) {
        for (a, b) in self.links.pairs() {
            self.links.set(a, b, |s| {
                s.cut = false;
                s.delay = Duration::ZERO;
            });
        }
    }

    /// Freezes member `id` as SIGSTOP would look from outside: nothing it sends or is sent
    /// passes (peer links and client connections stay open, bytes are held) until
    /// [`TestingCluster::resume`]. Unlike a stopped process its own timers keep running, so
    /// it may notice the silence itself (and, say, stop serving) meanwhile.
    pub fn pause(&self, id: u64) {
        self.links.set_paused(id, true);
    }

    /// Ends [`TestingCluster::pause`] of member `id`; held bytes flow.
    pub fn resume(&self, id: u64) {
        self.links.set_paused(id, false);
    }

    fn member(&self, id: u64) -> &Member {
        match self.members.get(&id) {
            Some(m) => m,
            None => panic!("{id} is not a member of this cluster"),
        }
    }
}

impl Drop for TestingCluster {
    fn drop(&mut self) {
        for m in self.members.values_mut() {
            if let Some(h) = m.handle.take() {
                h.abort();
            }
        }
    }
}
