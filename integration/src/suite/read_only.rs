//! Read-only mode: a partitioned server serving reads to clients that allow it, and the way
//! back to the read-write ensemble.

use std::time::Duration;

use zk_core::{Acl, Client, CreateMode, Error, EventType, SessionState};

use super::{
    connect_with, eventually, fails, fired, mode, ok, persistent, reconnect::retry, wait_state,
    within, Ctx, BOUND,
};
use crate::ZkCluster;

/// 3-node ensemble with read-only mode and local sessions ([`super::apache_read_only_options`]).
///
/// - A local session cannot own ephemerals (EphemeralOnLocalSession) when upgrading is off.
/// - When two servers die the survivor turns read-only. A client that allows it connects
///   (state ConnectedReadOnly), reads, and gets NotReadOnly for every write, a multi
///   included; a client that does not allow it cannot connect.
/// - When the quorum is back the client moves to a read-write server. Its read-only session
///   was local to the survivor, so it asks for a new session there (as Apache's client does,
///   `seenRwServerBefore`) instead of being told its session expired; its watches and
///   credentials come along.
///
/// Apache surprise: without `localSessionsEnabled`, a 3.8 read-only server cannot create
/// sessions at all (it answers the handshake with a bare NotReadOnly reply header), and an
/// existing global session is not let back in either.
pub async fn ensemble_read_only_mode(cluster: &mut dyn ZkCluster) {
    let ctx = Ctx::new(&*cluster, "readonly").await;
    let data = ctx.create("data", b"before").await;
    ctx.create("data/kid", b"").await;
    fails(
        "ephemeral on a local session",
        Error::EphemeralOnLocalSession,
        ctx.client
            .create(&ctx.path("eph"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    let survivor = 0;
    let n = cluster.server_addrs().len();
    for i in (0..n).filter(|&i| i != survivor) {
        cluster.kill_server(i).expect("kill");
    }
    eventually("the survivor turns read-only", || async {
        matches!(
            cluster.four_letter_word(survivor, "isro").await.as_deref(),
            Ok("ro")
        )
    })
    .await;
    let cs = cluster.connect_string();
    let ro = connect_with(
        Client::builder(&cs)
            .read_only(true)
            .digest_auth("kim", "pw"),
    )
    .await;
    assert_eq!(ro.state(), SessionState::ConnectedReadOnly);
    let ro_sid = ro.session_id();
    assert_ne!(ro_sid, 0);
    let (d, _) = ok("read", ro.get_data(&data)).await;
    assert_eq!(&d[..], b"before");
    assert_eq!(ok("children", ro.get_children(&data)).await, ["kid"]);
    assert!(ok("exists", ro.exists(&data)).await.is_some());
    let (_, _, w) = ok("get_data_w", ro.get_data_w(&data)).await;
    fails(
        "create",
        Error::NotReadOnly,
        ro.create(&ctx.path("x"), b"", &persistent()),
    )
    .await;
    fails(
        "setData",
        Error::NotReadOnly,
        ro.set_data(&data, b"x", None),
    )
    .await;
    fails(
        "delete",
        Error::NotReadOnly,
        ro.delete(&format!("{data}/kid"), None),
    )
    .await;
    fails(
        "setACL",
        Error::NotReadOnly,
        ro.set_acl(&data, Acl::open_unsafe(), None),
    )
    .await;
    fails(
        "multi",
        Error::NotReadOnly,
        ro.transaction().set_data(&data, b"x", None).commit(),
    )
    .await;
    assert_eq!(
        ro.state(),
        SessionState::ConnectedReadOnly,
        "a refused write keeps the session"
    );
    // A client that does not accept read-only servers finds none it can use.
    let r = within(
        "connect without read-only",
        Client::builder(&cs)
            .session_timeout(Duration::from_millis(2000))
            .connect(),
    )
    .await;
    assert!(matches!(r, Err(Error::ConnectionLoss)), "{r:?}");

    let mut states = ro.state_stream();
    for i in (0..n).filter(|&i| i != survivor) {
        cluster.restart_server(i).await.expect("restart");
    }
    cluster.wait_for_quorum(BOUND).await.expect("quorum again");
    wait_state("read-write again", &mut states, SessionState::Connected).await;
    assert_ne!(
        ro.session_id(),
        ro_sid,
        "a new session on the read-write ensemble"
    );
    let created = retry("create after the quorum is back", || {
        ro.create(&ctx.path("after"), b"", &persistent())
    })
    .await;
    assert_eq!(created, ctx.path("after"));
    let ids = ok("whoAmI", ro.who_am_i()).await;
    assert!(
        ids.iter()
            .any(|i| i.auth_scheme == "digest" && i.user == "kim"),
        "{ids:?}"
    );
    // The watch set in read-only mode came along to the new session.
    let writer = ctx.client().await;
    retry("set", || writer.set_data(&data, b"after", None)).await;
    fired(
        "watch from read-only mode",
        w,
        EventType::NodeDataChanged,
        &data,
    )
    .await;
    ro.close().await;
}
