//! ZooKeeper's promises under partitions, on an in-process 3-server ensemble whose peer links
//! are cut by `TestingCluster` (tickTime 500 ms, syncLimit 5, sessions of 8 s, as the issue's
//! schedule):
//!
//! - a server cut off from the quorum stops serving: its clients see Disconnected well before
//!   the majority expires their sessions (and deletes their ephemeral nodes, hands their locks
//!   on), and a client that can reach the majority moves there with its session;
//! - a follower whose leader goes silent does not wedge: its clients write again soon after
//!   the majority elects a new leader, and new sessions open on it.

use integration::observe::{
    disconnected_and_deleted, first_disconnect, keep_writing, longest_gap, new_session_first_write,
};
use std::time::{Duration, Instant};

use integration::four_letter::{four_letter_word, DEFAULT_TIMEOUT};
use zk_core::{Client, CreateMode, CreateOptions, SessionState};
use zk_server::testing::TestingCluster;

const TICK_MS: u32 = 500;
const SYNC_LIMIT: u32 = 5;
const SESSION: Duration = Duration::from_secs(8);
/// syncLimit x tickTime: how long a server may go without contact before it stops serving.
const CONTACT_LIMIT: Duration = Duration::from_millis((TICK_MS * SYNC_LIMIT) as u64);
/// Room for the gate's check period and a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(1500);
const BOUND: Duration = Duration::from_secs(30);

async fn cluster() -> TestingCluster {
    let c = TestingCluster::start_with(3, |c| {
        c.tick_time_ms = TICK_MS;
        c.sync_limit = SYNC_LIMIT;
    })
    .await
    .expect("start cluster");
    c.wait_for_leader(BOUND).await.expect("a leader");
    c
}

/// The leader and one of its followers.
fn leader_and_follower(cluster: &TestingCluster) -> (u64, u64) {
    let leader = cluster.leader().expect("leader");
    let follower = cluster
        .ids()
        .into_iter()
        .find(|&i| i != leader)
        .expect("follower");
    (leader, follower)
}

async fn client(connect: &str) -> Client {
    Client::builder(connect)
        .session_timeout(SESSION)
        .connect()
        .await
        .expect("connect")
}

async fn srvr(cluster: &TestingCluster, id: u64) -> String {
    four_letter_word(cluster.client_addr(id), "srvr", DEFAULT_TIMEOUT)
        .await
        .expect("srvr")
}

/// A client of the cut-off member `cut` (and of nobody else) holds an ephemeral node; the
/// majority must not delete it before that client has been told it is disconnected.
async fn cut_off_member_stops_serving_before_its_sessions_expire(
    cut: u64,
    cluster: TestingCluster,
) {
    let holder = client(&cluster.client_addr(cut).to_string()).await;
    let opts = CreateOptions::new(CreateMode::Ephemeral);
    holder.create("/held", b"", &opts).await.expect("create");
    let majority: Vec<u64> = cluster.ids().into_iter().filter(|&i| i != cut).collect();
    let observer = client(&cluster.client_addr(majority[0]).to_string()).await;
    let (disc, gone) =
        disconnected_and_deleted(&holder, &observer, "/held", BOUND, || cluster.isolate(cut)).await;
    eprintln!(
        "member {cut} cut off: holder disconnected after {:?}, node deleted by the majority after {:?}",
        disc,
        gone
    );
    assert!(
        disc < gone,
        "the holder was told it was disconnected only after its node was deleted"
    );
    assert!(
        disc <= CONTACT_LIMIT + SLACK,
        "the cut-off member served for {:?}, longer than syncLimit x tickTime ({CONTACT_LIMIT:?}) + {SLACK:?}",
        disc
    );
    assert!(!cluster.is_serving(cut));
    let out = srvr(&cluster, cut).await;
    assert!(out.contains("not currently serving"), "srvr said: {out}");
    let isro = four_letter_word(cluster.client_addr(cut), "isro", DEFAULT_TIMEOUT)
        .await
        .expect("isro");
    assert_eq!(isro, "null");
    // A new session on the cut-off member is refused (no answer to its ConnectRequest).
    let refused = Client::builder(&cluster.client_addr(cut).to_string())
        .session_timeout(Duration::from_secs(2))
        .connect()
        .await;
    assert!(refused.is_err(), "a cut-off member accepted a new session");

    cluster.heal();
    let t = Instant::now();
    while !cluster.is_serving(cut) {
        assert!(
            t.elapsed() < BOUND,
            "member {cut} did not serve again after the heal"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back = client(&cluster.client_addr(cut).to_string()).await;
    back.exists("/").await.expect("read after the heal");
    assert!(srvr(&cluster, cut).await.contains("Mode: "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_follower_stops_serving_before_the_majority_expires_its_sessions() {
    let cluster = cluster().await;
    let (_, follower) = leader_and_follower(&cluster);
    cut_off_member_stops_serving_before_its_sessions_expire(follower, cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_leader_stops_serving_before_the_majority_expires_its_sessions() {
    let cluster = cluster().await;
    let leader = cluster.leader().expect("leader");
    cut_off_member_stops_serving_before_its_sessions_expire(leader, cluster).await;
    // Cut off, it must not have kept calling itself leader either.
}

/// A client that can reach every member moves from a cut-off one to the majority with its
/// session, and its ephemeral node survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_a_cut_off_member_moves_to_the_majority_with_its_session() {
    let cluster = cluster().await;
    let holder = client(&cluster.connect_string()).await;
    let opts = CreateOptions::new(CreateMode::Ephemeral);
    holder.create("/held", b"", &opts).await.expect("create");
    let session = holder.session_id();
    let on = cluster
        .member_serving(session)
        .expect("the member serving the holder");
    let disconnected = first_disconnect(&holder);
    let cut_at = Instant::now();
    cluster.isolate(on);
    let disc = tokio::time::timeout(CONTACT_LIMIT + SLACK, disconnected)
        .await
        .expect("the holder was never disconnected from its cut-off member")
        .expect("join")
        .expect("terminal state instead of Disconnected");
    // Back on a majority member, same session, node intact.
    let t = Instant::now();
    loop {
        if holder.exists("/held").await.is_ok() {
            break;
        }
        assert!(t.elapsed() < BOUND, "the holder never got back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back = Instant::now();
    assert_eq!(holder.session_id(), session);
    assert!(holder.exists("/held").await.expect("exists").is_some());
    let now_on = cluster
        .member_serving(session)
        .expect("the member serving the holder now");
    assert_ne!(now_on, on);
    eprintln!(
        "member {on} cut off: holder disconnected after {:?}, served again by {now_on} after {:?}",
        disc - cut_at,
        back - cut_at
    );
    // Still there a full session timeout later: the session lives on the majority.
    tokio::time::sleep(SESSION + Duration::from_secs(1)).await;
    assert!(holder.exists("/held").await.expect("exists").is_some());
    assert_eq!(holder.state(), SessionState::Connected);
}

/// Writes through a follower keep going when the leader goes silent with writes in flight:
/// the follower gives up the call to the old leader once another is elected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_writes_again_soon_after_its_leader_goes_silent() {
    let cluster = cluster().await;
    let (leader, follower) = leader_and_follower(&cluster);
    let addr = cluster.client_addr(follower).to_string();
    let writer = client(&addr).await;
    let stop_at = Instant::now() + Duration::from_secs(9);
    let writes = keep_writing(writer.clone(), "/w", stop_at, Duration::from_secs(12)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cut_at = Instant::now();
    cluster.isolate(leader);
    // A new session on the follower, and its first write, while the old leader is silent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let opened = new_session_first_write(&addr, SESSION, "/fresh", BOUND).await;
    let ok = writes.await.expect("join");
    let gap = longest_gap(&ok, cut_at, Instant::now());
    let after = ok.iter().filter(|&&t| t > cut_at).count();
    eprintln!("leader {leader} cut off: longest gap between writes {gap:?}, {after} writes after the cut; a new session and its first write in {opened:?}");
    assert!(after > 10, "only {after} writes after the cut");
    assert!(
        gap < Duration::from_secs(5),
        "writes through the follower stopped for {gap:?}"
    );
    assert!(
        opened < Duration::from_secs(5),
        "a new session and its first write took {opened:?}"
    );
}

/// A paused leader (nothing in or out, connections open, as SIGSTOP) is replaced, writes through
/// a follower go on, and once resumed it rejoins and the ensemble serves with one leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_replaced_and_rejoins_when_resumed() {
    let cluster = cluster().await;
    let (leader, follower) = leader_and_follower(&cluster);
    let writer = client(&cluster.client_addr(follower).to_string()).await;
    let stop_at = Instant::now() + Duration::from_secs(8);
    let writes = keep_writing(writer.clone(), "/w", stop_at, Duration::from_secs(12)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let paused_at = Instant::now();
    cluster.pause(leader);
    tokio::time::sleep(Duration::from_secs(5)).await;
    cluster.resume(leader);
    let ok = writes.await.expect("join");
    let gap = longest_gap(&ok, paused_at, stop_at);
    let new_leader = cluster
        .wait_for_leader(BOUND)
        .await
        .expect("one serving leader");
    eprintln!("leader {leader} paused for 5 s: longest write gap {gap:?}; leader now {new_leader}");
    assert!(gap < Duration::from_secs(5), "writes stopped for {gap:?}");
    assert!(
        cluster.is_serving(leader),
        "the resumed member does not serve"
    );
}

/// Winning an election must not close the new leader's client connections: the gate counts the
/// contact it had as a follower until its first quorum acknowledgement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_the_followers_stay_connected_when_one_of_them_is_elected() {
    let mut cluster = cluster().await;
    for round in 0..5 {
        let leader = cluster.leader().expect("leader");
        let followers: Vec<u64> = cluster.ids().into_iter().filter(|&i| i != leader).collect();
        let mut watched = Vec::new();
        for &f in &followers {
            let c = client(&cluster.client_addr(f).to_string()).await;
            let d = first_disconnect(&c);
            watched.push((f, c, d));
        }
        cluster.kill(leader).await;
        let t = Instant::now();
        let new_leader = loop {
            if let Some(l) = cluster.leader() {
                break l;
            }
            assert!(t.elapsed() < BOUND, "no new leader");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // Give a closing gate time to show (it is checked every tickTime / 10).
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (f, c, d) in watched {
            assert!(
                !d.is_finished(),
                "round {round}: the client of member {f} was disconnected (new leader {new_leader})"
            );
            c.exists("/").await.expect("read");
        }
        cluster.restart(leader).await.expect("restart");
        cluster.wait_for_leader(BOUND).await.expect("all serving");
    }
}
