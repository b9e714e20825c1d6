//! Every create mode: persistent, ephemeral, the sequential ones, containers and TTL nodes,
//! through create, create2 and (for containers and TTL) createContainer / createTTL.

use zk_core::{CreateMode, Error, EventType};

use super::{eventually, fails, fired, mode, ok, persistent, Ctx};
use crate::ZkTarget;

/// Persistent nodes have no owner and outlive their creator's session.
pub async fn persistent_outlives_its_session(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "persistent").await;
    let creator = ctx.client().await;
    let p = ctx.path("p");
    let (_, stat) = ok("create2", creator.create2(&p, b"x", &persistent())).await;
    assert_eq!(stat.ephemeral_owner, 0);
    creator.close().await;
    let s = ok("exists", ctx.client.exists(&p)).await;
    assert!(s.is_some(), "persistent node vanished with its session");
}

/// Ephemeral nodes are owned by their session (ephemeralOwner = session id) and are deleted
/// when it closes.
pub async fn ephemeral_belongs_to_its_session(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "ephemeral").await;
    let owner = ctx.client().await;
    let p = ctx.path("e");
    let (_, stat) = ok(
        "create2 ephemeral",
        owner.create2(&p, b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    assert_eq!(stat.ephemeral_owner, owner.session_id());
    let seen = ok("exists from another session", ctx.client.exists(&p))
        .await
        .expect("visible to other sessions");
    assert_eq!(seen.ephemeral_owner, owner.session_id());
    let (_, gone) = ok("exists_w", ctx.client.exists_w(&p)).await;
    owner.close().await;
    fired(
        "ephemeral deleted at close",
        gone,
        EventType::NodeDeleted,
        &p,
    )
    .await;
    assert_eq!(ok("exists after close", ctx.client.exists(&p)).await, None);
}

/// The sequence suffix is `%010d` of the parent's counter of child creations.
///
/// Apache surprise: the counter is the parent's *internal* cversion, which counts child
/// creations only, while the client-visible `Stat.cversion` counts creations and deletions
/// (`internal * 2 - numChildren`). So the next suffix is `(cversion + numChildren) / 2` of
/// the visible Stat, not `cversion`.
pub async fn sequential_suffix_counts_child_creations(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "sequential").await;
    let c = &ctx.client;
    let parent = ctx.create("p", b"").await;
    for n in ["a", "b", "c"] {
        ctx.create(&format!("p/{n}"), b"").await;
    }
    ok("delete b", c.delete(&format!("{parent}/b"), None)).await;
    let stat = ok("parent stat", c.exists(&parent)).await.expect("parent");
    assert_eq!((stat.cversion, stat.num_children), (4, 2));
    let next = (stat.cversion + stat.num_children) / 2;
    assert_eq!(next, 3);

    let s1 = ok(
        "persistent sequential",
        c.create(
            &format!("{parent}/s-"),
            b"",
            &mode(CreateMode::PersistentSequential),
        ),
    )
    .await;
    assert_eq!(s1, format!("{parent}/s-0000000003"));
    let (s2, st2) = ok(
        "ephemeral sequential",
        c.create2(
            &format!("{parent}/s-"),
            b"",
            &mode(CreateMode::EphemeralSequential),
        ),
    )
    .await;
    assert_eq!(s2, format!("{parent}/s-0000000004"));
    assert_eq!(st2.ephemeral_owner, c.session_id());
    // Every create of a child counts, whatever its name or mode.
    ctx.create("p/plain", b"").await;
    let s3 = ok(
        "sequential after a plain create",
        c.create(
            &format!("{parent}/x"),
            b"",
            &mode(CreateMode::PersistentSequential),
        ),
    )
    .await;
    assert_eq!(s3, format!("{parent}/x0000000006"));

    // A prefix ending in '/' gives a bare number; every parent has its own counter.
    let q = ctx.create("q", b"").await;
    let bare = ok(
        "sequential with a trailing slash",
        c.create(
            &format!("{q}/"),
            b"",
            &mode(CreateMode::PersistentSequential),
        ),
    )
    .await;
    assert_eq!(bare, format!("{q}/0000000000"));
    let mut kids = ok("children", c.get_children(&parent)).await;
    kids.sort();
    assert_eq!(
        kids,
        [
            "a",
            "c",
            "plain",
            "s-0000000003",
            "s-0000000004",
            "x0000000006"
        ]
    );
}

/// Sequential names come out in creation order under concurrent pipelined creates.
pub async fn sequential_names_follow_creation_order(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "seqorder").await;
    let c = &ctx.client;
    let other = ctx.client().await;
    let prefix = ctx.path("n-");
    let opts = mode(CreateMode::EphemeralSequential);
    let mine: Vec<_> = (0..50).map(|_| c.create(&prefix, b"", &opts)).collect();
    let theirs: Vec<_> = (0..50).map(|_| other.create(&prefix, b"", &opts)).collect();
    let mine = ok("creates", futures::future::try_join_all(mine)).await;
    let theirs = ok("creates", futures::future::try_join_all(theirs)).await;
    let mut sorted = mine.clone();
    sorted.sort();
    assert_eq!(
        mine, sorted,
        "one session's sequential names follow its call order"
    );
    let mut all: Vec<_> = mine.iter().chain(theirs.iter()).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100, "every sequential name is unique");
    let want: Vec<String> = (0..100).map(|i| format!("{prefix}{i:010}")).collect();
    assert_eq!(all, want);
}

/// Containers (createContainer) report ephemeralOwner 0 and are deleted by the server once
/// their last child is gone, but not while they have one.
///
/// Apache surprise: the server marks containers internally with ephemeralOwner
/// 0x8000000000000000 but reports 0 to clients (`DataNode.getClientEphemeralOwner`).
pub async fn container_is_reaped_after_its_last_child(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "container").await;
    let c = &ctx.client;
    let con = ctx.path("con");
    let (path, stat) = ok(
        "create2 container",
        c.create2(&con, b"c", &mode(CreateMode::Container)),
    )
    .await;
    assert_eq!(path, con);
    assert_eq!(stat.ephemeral_owner, 0, "Apache hides the container marker");
    let plain = ok(
        "create container",
        c.create(&ctx.path("con2"), b"", &mode(CreateMode::Container)),
    )
    .await;
    assert_eq!(plain, ctx.path("con2"));

    // A container with a child stays: wait for a used-and-emptied sibling to be reaped twice
    // over (so at least one full reaping pass ran), then look.
    ok(
        "child",
        c.create(&format!("{con}/child"), b"", &persistent()),
    )
    .await;
    for round in 0..2 {
        let sib = ctx.path(&format!("sibling{round}"));
        ok("sibling", c.create(&sib, b"", &mode(CreateMode::Container))).await;
        ok(
            "sibling child",
            c.create(&format!("{sib}/x"), b"", &persistent()),
        )
        .await;
        ok("sibling child delete", c.delete(&format!("{sib}/x"), None)).await;
        eventually(format!("emptied container {sib} reaped"), || async {
            ok("exists", c.exists(&sib)).await.is_none()
        })
        .await;
    }
    assert!(
        ok("exists", c.exists(&con)).await.is_some(),
        "a container with a child was reaped"
    );

    // Its last child goes (here with the session that owned it): the container follows.
    let owner = ctx.client().await;
    ok(
        "ephemeral child",
        owner.create(&format!("{con}/eph"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    ok("delete child", c.delete(&format!("{con}/child"), None)).await;
    let (_, gone) = ok("exists_w", c.exists_w(&con)).await;
    owner.close().await;
    fired("container reaped", gone, EventType::NodeDeleted, &con).await;
}

/// TTL nodes (createTTL) report ephemeralOwner 0, get sequence suffixes in the sequential TTL
/// mode, and are deleted once unmodified and childless for longer than their TTL.
///
/// Apache surprise: like containers, the TTL encoding of ephemeralOwner (0xFF in the high
/// byte, TTL in the low 5 bytes) stays inside the server; clients see 0.
pub async fn ttl_node_expires_when_childless(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "ttl").await;
    let c = &ctx.client;
    let long = mode(CreateMode::PersistentWithTtl).ttl(3_600_000);
    let (p, stat) = ok("create2 TTL", c.create2(&ctx.path("t"), b"x", &long)).await;
    assert_eq!(p, ctx.path("t"));
    assert_eq!(stat.ephemeral_owner, 0, "Apache hides the TTL encoding");
    assert_eq!(stat.data_length, 1);
    let seq = mode(CreateMode::PersistentSequentialWithTtl).ttl(3_600_000);
    let s = ok(
        "create sequential TTL",
        c.create(&ctx.path("s-"), b"", &seq),
    )
    .await;
    assert_eq!(s, ctx.path("s-0000000001"));

    // A short TTL with a child survives its TTL; childless, it goes.
    let short = mode(CreateMode::PersistentWithTtl).ttl(100);
    let parent = ok("TTL parent", c.create(&ctx.path("parent"), b"", &short)).await;
    ok(
        "its child",
        c.create(&format!("{parent}/kid"), b"", &persistent()),
    )
    .await;
    for round in 0..2 {
        let sib = ok(
            "TTL sibling",
            c.create(&ctx.path(&format!("sib{round}")), b"", &short),
        )
        .await;
        eventually(format!("childless TTL node {sib} reaped"), || async {
            ok("exists", c.exists(&sib)).await.is_none()
        })
        .await;
    }
    assert!(
        ok("exists", c.exists(&parent)).await.is_some(),
        "a TTL node with a child was reaped"
    );
    let (_, gone) = ok("exists_w", c.exists_w(&parent)).await;
    ok("delete the child", c.delete(&format!("{parent}/kid"), None)).await;
    fired("TTL node reaped", gone, EventType::NodeDeleted, &parent).await;
    assert!(
        ok("exists", c.exists(&p)).await.is_some(),
        "a TTL node was reaped long before its TTL"
    );
}

/// TTL options are checked before sending: the TTL modes need a TTL, the others refuse one.
pub async fn ttl_options_are_checked_by_the_client(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "ttlopts").await;
    let c = &ctx.client;
    for m in [
        CreateMode::PersistentWithTtl,
        CreateMode::PersistentSequentialWithTtl,
    ] {
        let r = ok_or_err(c.create(&ctx.path("x"), b"", &mode(m))).await;
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "{m:?} without a TTL: {r:?}"
        );
    }
    for m in [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::Container,
    ] {
        let r = ok_or_err(c.create(&ctx.path("x"), b"", &mode(m).ttl(1000))).await;
        assert!(
            matches!(r, Err(Error::InvalidArgument(_))),
            "{m:?} with a TTL: {r:?}"
        );
    }
    assert_eq!(ok("nothing created", c.exists(&ctx.path("x"))).await, None);
    // The client still works.
    ok("create", c.create(&ctx.path("y"), b"", &persistent())).await;
}

async fn ok_or_err<T>(
    fut: impl std::future::Future<Output = zk_core::Result<T>>,
) -> zk_core::Result<T> {
    super::within("call", fut).await
}

/// Ephemeral nodes cannot have children, in any mode.
pub async fn ephemerals_cannot_have_children(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "ephkids").await;
    let c = &ctx.client;
    let e = ok(
        "ephemeral",
        c.create(&ctx.path("e"), b"", &mode(CreateMode::Ephemeral)),
    )
    .await;
    for m in [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
        CreateMode::Container,
    ] {
        fails(
            format!("{m:?} child of an ephemeral"),
            Error::NoChildrenForEphemerals,
            c.create(&format!("{e}/c"), b"", &mode(m)),
        )
        .await;
    }
    fails(
        "TTL child of an ephemeral",
        Error::NoChildrenForEphemerals,
        c.create(
            &format!("{e}/c"),
            b"",
            &mode(CreateMode::PersistentWithTtl).ttl(10_000),
        ),
    )
    .await;
}
