//! A 3-server zk-server ensemble on a real network: each server in its own container (the
//! image built locally by `integration::docker`, started with `testcontainers`) on a
//! user-defined Docker network, clients on the host reaching each container's address.
//! Faults as an operator meets them: a firewall between servers (iptables in the container's
//! network namespace), `docker pause`, `docker network disconnect`, `docker kill`.
//!
//! tickTime 500 ms, syncLimit 5 (a server out of contact with a quorum for 2.5 s stops
//! serving), sessions of 8 s. The tests run one at a time (they share the machine's two cores
//! with everything else). Without Docker they are SKIPPED, except under `CI=true`.

use integration::observe::{
    disconnected_and_deleted, keep_writing, longest_gap, new_session_first_write,
};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use integration::docker::{self, build_image};
use integration::four_letter::{four_letter_word, DEFAULT_TIMEOUT};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use zk_core::{Client, CreateMode, CreateOptions, SessionState};

const SESSION: Duration = Duration::from_secs(8);
const CONTACT_LIMIT: Duration = Duration::from_millis(2500);
const SLACK: Duration = Duration::from_millis(1500);
const BOUND: Duration = Duration::from_secs(40);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Ensemble {
    network: String,
    names: Vec<String>,
    ips: Vec<IpAddr>,
    containers: Vec<ContainerAsync<GenericImage>>,
}

impl Ensemble {
    /// Starts three containers and waits until one leads and all serve; None when skipped.
    async fn start(test: &str) -> Option<Ensemble> {
        if !docker::docker_or_skip(test) {
            return None;
        }
        let image = build_image().expect("build the zk-server image");
        let (repo, tag) = image.split_once(':').expect("name:tag");
        let run = format!("{:08x}", rand::random::<u32>());
        let network = format!("zk-net-{run}");
        let names: Vec<String> = (1..=3).map(|i| format!("zk{i}-{run}")).collect();
        let mut cfg = String::from(
            "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=/data\nclientPort=2181\n\
             maxClientCnxns=0\n4lw.commands.whitelist=*\n",
        );
        for (i, name) in names.iter().enumerate() {
            cfg.push_str(&format!("server.{}={name}:2888:3888\n", i + 1));
        }
        let mut containers = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let c = GenericImage::new(repo, tag)
                .with_network(network.clone())
                .with_container_name(name.clone())
                .with_copy_to("/conf/zoo.cfg", cfg.clone().into_bytes())
                .with_copy_to("/data/myid", (i + 1).to_string().into_bytes())
                .start()
                .await
                .expect("start a container");
            containers.push(c);
        }
        let ips = names
            .iter()
            .map(|n| docker::container_ip(n, &network).expect("container address"))
            .collect();
        let e = Ensemble {
            network,
            names,
            ips,
            containers,
        };
        e.wait_for_leader().await;
        Some(e)
    }

    fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::new(self.ips[i], 2181)
    }

    fn connect_string(&self) -> String {
        (0..3)
            .map(|i| self.addr(i).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    async fn fourlw(&self, i: usize, cmd: &str) -> String {
        four_letter_word(self.addr(i), cmd, DEFAULT_TIMEOUT)
            .await
            .unwrap_or_default()
    }

    async fn mode(&self, i: usize) -> Option<String> {
        let out = self.fourlw(i, "srvr").await;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
    }

    /// The index of the leader once every server serves.
    async fn wait_for_leader(&self) -> usize {
        let t = Instant::now();
        loop {
            let mut modes = Vec::new();
            for i in 0..3 {
                modes.push(self.mode(i).await);
            }
            if modes.iter().all(Option::is_some) {
                if let Some(l) = modes.iter().position(|m| m.as_deref() == Some("leader")) {
                    return l;
                }
            }
            assert!(t.elapsed() < BOUND, "no serving leader: {modes:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn others(&self, i: usize) -> Vec<usize> {
        (0..3).filter(|&j| j != i).collect()
    }
}

async fn client(connect: &str) -> Client {
    Client::builder(connect)
        .session_timeout(SESSION)
        .connect()
        .await
        .expect("connect")
}

/// A firewall between one server and the other two: the cut-off server's client is told it is
/// disconnected before the majority deletes its ephemeral node; the server reports that it does
/// not serve, and serves again once the firewall is lifted.
async fn firewalled_server_stops_serving(leader: bool) {
    let _serial = SERIAL.lock().await;
    let test = if leader {
        "firewalled leader"
    } else {
        "firewalled follower"
    };
    let Some(e) = Ensemble::start(test).await else {
        return;
    };
    let l = e.wait_for_leader().await;
    let cut = if leader { l } else { e.others(l)[0] };
    let holder = client(&e.addr(cut).to_string()).await;
    holder
        .create("/held", b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .expect("create");
    let observer = client(&e.addr(e.others(cut)[0]).to_string()).await;
    let peers: Vec<IpAddr> = e.others(cut).into_iter().map(|j| e.ips[j]).collect();
    let firewall = || docker::firewall_drop(&e.names[cut], &peers).expect("firewall");
    let (disc, gone) = disconnected_and_deleted(&holder, &observer, "/held", BOUND, firewall).await;
    eprintln!(
        "{test}: holder disconnected after {:?}, node deleted by the majority after {:?}",
        disc, gone
    );
    assert!(disc < gone);
    assert!(disc <= CONTACT_LIMIT + SLACK, "served for {:?}", disc);
    let out = e.fourlw(cut, "srvr").await;
    assert!(
        out.contains("not currently serving"),
        "srvr on the cut-off server: {out}"
    );
    docker::firewall_clear(&e.names[cut]).expect("clear firewall");
    let t = Instant::now();
    while e.mode(cut).await.is_none() {
        assert!(
            t.elapsed() < BOUND,
            "the server did not serve again after the firewall went"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firewalled_follower_stops_serving_before_its_sessions_expire() {
    firewalled_server_stops_serving(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firewalled_leader_stops_serving_before_its_sessions_expire() {
    firewalled_server_stops_serving(true).await;
}

/// Writes through a follower while the leader's container is paused (SIGSTOP of every
/// process in it), then killed: the longest gap without a successful write stays bounded,
/// and a new session opens on the follower meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_a_follower_survive_a_paused_then_killed_leader() {
    let _serial = SERIAL.lock().await;
    let Some(e) = Ensemble::start("paused leader").await else {
        return;
    };
    let l = e.wait_for_leader().await;
    let f = e.others(l)[0];
    let writer = client(&e.addr(f).to_string()).await;
    let stop_at = Instant::now() + Duration::from_secs(14);
    let writes = keep_writing(writer.clone(), "/w", stop_at, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let paused_at = Instant::now();
    e.containers[l].pause().await.expect("docker pause");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A new session on the follower, and its first write.
    let opened = new_session_first_write(&e.addr(f).to_string(), SESSION, "/fresh", BOUND).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    e.containers[l].unpause().await.expect("docker unpause");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Now kill whoever leads.
    let l2 = e.wait_for_leader().await;
    let killed_at = Instant::now();
    docker::docker(&["kill", "-s", "KILL", &e.names[l2]]).expect("docker kill");
    let ok = writes.await.expect("join");
    let pause_gap = longest_gap(&ok, paused_at, killed_at);
    let kill_gap = longest_gap(&ok, killed_at, stop_at);
    eprintln!(
        "paused leader: longest gap {pause_gap:?}, new session and its first write in {opened:?}; killed leader: longest gap {kill_gap:?}"
    );
    assert!(
        pause_gap < Duration::from_secs(5),
        "writes stopped for {pause_gap:?} after the pause"
    );
    assert!(
        opened < Duration::from_secs(5),
        "a new session and its first write took {opened:?}"
    );
    if l2 != f {
        assert!(
            kill_gap < Duration::from_secs(5),
            "writes stopped for {kill_gap:?} after the kill"
        );
    }
    assert!(ok.iter().filter(|&&t| t > killed_at).count() > 10 || l2 == f);
}

/// A server disconnected from the network: its client (which can no longer reach it either)
/// moves to another server with its session, and its ephemeral node survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_moves_with_its_session_when_its_server_leaves_the_network() {
    let _serial = SERIAL.lock().await;
    let Some(e) = Ensemble::start("network disconnect").await else {
        return;
    };
    let holder = client(&e.connect_string()).await;
    holder
        .create("/held", b"", &CreateOptions::new(CreateMode::Ephemeral))
        .await
        .expect("create");
    let session = holder.session_id();
    // The server with the holder's connection: the only one with a client.
    let mut on = None;
    for i in 0..3 {
        let mntr = e.fourlw(i, "mntr").await;
        if mntr.lines().any(|l| l == "zk_num_alive_connections\t1") {
            on = Some(i);
        }
    }
    let on = on.expect("the holder's server");
    docker::docker(&["network", "disconnect", &e.network, &e.names[on]]).expect("disconnect");
    let t = Instant::now();
    loop {
        if holder.exists("/held").await.is_ok() && holder.state() == SessionState::Connected {
            break;
        }
        assert!(t.elapsed() < BOUND, "the holder never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("network disconnect: holder back after {:?}", t.elapsed());
    assert_eq!(holder.session_id(), session);
    tokio::time::sleep(SESSION + Duration::from_secs(1)).await;
    assert!(holder.exists("/held").await.expect("exists").is_some());
    docker::docker(&["network", "connect", &e.network, &e.names[on]]).expect("reconnect");
}
