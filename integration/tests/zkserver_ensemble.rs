//! A 3-server zk-server ensemble in one process, on 127.0.0.1: what a client connected to a
//! follower relies on.

use std::time::{Duration, Instant};

use zk_core::{Client, CreateMode, CreateOptions};
use zk_server::config::{Config, Peer};
use zk_server::server::{start, ServerHandle};

const LIMIT: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn ensemble(root: &std::path::Path) -> Vec<ServerHandle> {
    let peers: Vec<Peer> = (1..=3u64)
        .map(|id| Peer {
            id,
            host: "127.0.0.1".into(),
            quorum_port: free_port(),
            election_port: free_port(),
            observer: false,
            client_addr: None,
        })
        .collect();
    let mut starts = Vec::new();
    for id in 1..=3u64 {
        let mut c = Config::standalone_default();
        c.data_dir = root.join(format!("n{id}"));
        std::fs::create_dir_all(&c.data_dir).expect("data dir");
        std::fs::write(c.data_dir.join("myid"), id.to_string()).expect("myid");
        c.client_port = 0;
        c.tick_time_ms = 200;
        c.max_client_cnxns = 0;
        c.peers = peers.clone();
        starts.push(tokio::spawn(start(c)));
    }
    let mut servers = Vec::new();
    for s in starts {
        servers.push(s.await.expect("join").expect("start"));
    }
    let t = Instant::now();
    while !servers.iter().any(|s| s.shared().consensus.is_leader()) {
        assert!(t.elapsed() < LIMIT, "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    servers
}

/// A client of `server` only, asking for `timeout`.
async fn client_of(server: &ServerHandle, timeout: Duration) -> Client {
    Client::builder(&server.client_addr().to_string())
        .session_timeout(timeout)
        .connect()
        .await
        .expect("connect")
}

/// Apache's followers report the sessions they see to the leader, which alone expires them. A
/// session that only pings its follower must not expire on the leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_on_a_follower_outlives_its_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let servers = ensemble(dir.path()).await;
    let follower = servers
        .iter()
        .find(|s| !s.shared().consensus.is_leader())
        .expect("a follower");
    let leader = servers
        .iter()
        .find(|s| s.shared().consensus.is_leader())
        .expect("the leader");
    let timeout = Duration::from_millis(1000);
    let idle = client_of(follower, timeout).await;
    let opts = CreateOptions::new(CreateMode::Ephemeral);
    idle.create("/held", b"", &opts).await.expect("create");
    // Only the client's own pings for four session timeouts.
    tokio::time::sleep(timeout * 4).await;
    let observer = Client::connect(&leader.client_addr().to_string())
        .await
        .expect("connect to the leader");
    assert!(
        observer.exists("/held").await.expect("exists").is_some(),
        "the idle session's ephemeral node is gone: its session expired on the leader"
    );
    idle.exists("/held")
        .await
        .expect("the idle session still works");
    idle.close().await;
    observer.close().await;
    for s in servers {
        s.shutdown().await;
    }
}

/// The other side: a session whose follower dies (and whose client has no other server to go
/// to) stops being reported, and the leader expires it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_follower_dies_expires_on_the_leader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut servers = ensemble(dir.path()).await;
    let at = servers
        .iter()
        .position(|s| !s.shared().consensus.is_leader())
        .expect("a follower");
    let follower = servers.remove(at);
    let leader_addr = servers
        .iter()
        .find(|s| s.shared().consensus.is_leader())
        .expect("the leader")
        .client_addr()
        .to_string();
    let timeout = Duration::from_millis(1000);
    let lost = client_of(&follower, timeout).await;
    let opts = CreateOptions::new(CreateMode::Ephemeral);
    lost.create("/gone", b"", &opts).await.expect("create");
    follower.kill().await;
    let observer = Client::connect(&leader_addr)
        .await
        .expect("connect to the leader");
    let t = Instant::now();
    while observer.exists("/gone").await.expect("exists").is_some() {
        assert!(
            t.elapsed() < timeout * 10,
            "the session of a dead follower never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    observer.close().await;
    drop(lost);
    for s in servers {
        s.shutdown().await;
    }
}

/// The leader is killed: a session on a follower keeps its ephemeral node through the
/// election (its follower reports it to the new leader, which also renews every session on
/// taking over), and its next write succeeds well inside one session timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_session_survives_the_leaders_death() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut servers = ensemble(dir.path()).await;
    let at = servers
        .iter()
        .position(|s| s.shared().consensus.is_leader())
        .expect("the leader");
    let leader = servers.remove(at);
    let follower = &servers[0];
    let timeout = Duration::from_millis(2000);
    let client = client_of(follower, timeout).await;
    client
        .create("/held", b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .expect("create ephemeral");
    client
        .create(
            "/counter",
            b"0",
            &CreateOptions::new(CreateMode::Persistent),
        )
        .await
        .expect("create");
    // Idle for most of a timeout, so only the relayed pings kept the session on the leader.
    tokio::time::sleep(timeout * 3 / 4).await;
    leader.kill().await;
    let t = Instant::now();
    loop {
        match client.set_data("/counter", b"1", None).await {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    t.elapsed() < timeout,
                    "no write within a session timeout: {e}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    eprintln!("write after the leader's death: {:?}", t.elapsed());
    // Past the session timeout counted from before the kill: still alive.
    tokio::time::sleep(timeout).await;
    assert!(
        client.exists("/held").await.expect("exists").is_some(),
        "the follower's session expired across the election"
    );
    client.close().await;
    for s in servers {
        s.shutdown().await;
    }
}
