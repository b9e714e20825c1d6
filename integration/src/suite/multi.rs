//! multi (transactions) and multiRead.

use zk_core::proto::OpCode;
use zk_core::{Acl, CreateMode, Error, EventType, MultiResult, ReadOp, ReadResult};

use super::{fired, mode, ok, persistent, within, Ctx};
use crate::ZkTarget;

/// A successful multi applies every op under one zxid and reports one result per op: create →
/// path, createContainer / createTTL → path and stat (Apache labels them create2), setData →
/// stat, check and delete → nothing.
pub async fn transaction_results(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "multiok").await;
    let c = &ctx.client;
    let gone = ctx.create("gone", b"").await;
    let kept = ctx.create("kept", b"0").await;
    let results = ok(
        "multi",
        c.transaction()
            .create(&ctx.path("new"), b"n", &persistent())
            .create(
                &ctx.path("seq-"),
                b"",
                &mode(CreateMode::PersistentSequential),
            )
            .create(&ctx.path("eph"), b"", &mode(CreateMode::Ephemeral))
            .create(&ctx.path("con"), b"", &mode(CreateMode::Container))
            .create(
                &ctx.path("ttl"),
                b"",
                &mode(CreateMode::PersistentWithTtl).ttl(60_000),
            )
            .check(&kept, 0)
            .set_data(&kept, b"1", Some(0))
            .delete(&gone, Some(0))
            .commit(),
    )
    .await;
    assert_eq!(results.len(), 8, "{results:?}");
    assert_eq!(
        results[0],
        MultiResult::Create {
            path: ctx.path("new")
        }
    );
    assert_eq!(
        results[1],
        MultiResult::Create {
            path: ctx.path("seq-0000000003")
        }
    );
    assert_eq!(
        results[2],
        MultiResult::Create {
            path: ctx.path("eph")
        }
    );
    let zxid = match &results[3] {
        MultiResult::Create2 { op, path, stat } => {
            assert_eq!(
                *op,
                OpCode::Create2,
                "Apache reports createContainer as create2"
            );
            assert_eq!(path, &ctx.path("con"));
            stat.czxid
        }
        other => panic!("container result: {other:?}"),
    };
    match &results[4] {
        MultiResult::Create2 { op, path, stat } => {
            assert_eq!(*op, OpCode::Create2, "Apache reports createTTL as create2");
            assert_eq!(path, &ctx.path("ttl"));
            assert_eq!(stat.czxid, zxid, "one zxid for the whole multi");
        }
        other => panic!("TTL result: {other:?}"),
    }
    assert_eq!(results[5], MultiResult::Check);
    match &results[6] {
        MultiResult::SetData { stat } => {
            assert_eq!(stat.version, 1);
            assert_eq!(stat.mzxid, zxid, "one zxid for the whole multi");
        }
        other => panic!("setData result: {other:?}"),
    }
    assert_eq!(results[7], MultiResult::Delete);

    for (rel, czxid) in [("new", zxid), ("eph", zxid)] {
        let s = ok("exists", c.exists(&ctx.path(rel)))
            .await
            .expect("created");
        assert_eq!(s.czxid, czxid);
    }
    let eph = ok("exists eph", c.exists(&ctx.path("eph")))
        .await
        .expect("eph");
    assert_eq!(eph.ephemeral_owner, c.session_id());
    assert_eq!(ok("deleted", c.exists(&gone)).await, None);
    let (d, _) = ok("get kept", c.get_data(&kept)).await;
    assert_eq!(&d[..], b"1");
}

/// A failed multi applies nothing and fails with Error::Multi: the index and error of the
/// first failing op, and per-op results 0 for the ops before it, its code, and
/// RuntimeInconsistency (−2) for the ops after it.
pub async fn failed_transaction_applies_nothing(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "multifail").await;
    let c = &ctx.client;
    let exists = ctx.create("exists", b"").await;
    let kids = ctx.create("kids", b"").await;
    ctx.create("kids/k", b"").await;

    let cases: Vec<(&str, zk_core::Transaction, usize, Error, usize)> = vec![
        (
            "NodeExists in the middle",
            c.transaction()
                .create(&ctx.path("a"), b"", &persistent())
                .create(&exists, b"", &persistent())
                .set_data(&exists, b"x", None),
            1,
            Error::NodeExists,
            3,
        ),
        (
            "BadVersion check first",
            c.transaction()
                .check(&exists, 5)
                .create(&ctx.path("a"), b"", &persistent()),
            0,
            Error::BadVersion,
            2,
        ),
        (
            "NoNode delete last",
            c.transaction()
                .create(&ctx.path("a"), b"", &persistent())
                .set_data(&exists, b"changed", None)
                .delete(&ctx.path("missing"), None),
            2,
            Error::NoNode,
            3,
        ),
        (
            "NotEmpty",
            c.transaction()
                .delete(&kids, None)
                .create(&ctx.path("a"), b"", &persistent()),
            0,
            Error::NotEmpty,
            2,
        ),
        (
            "a child of an ephemeral created in the same multi",
            c.transaction()
                .create(&ctx.path("e"), b"", &mode(CreateMode::Ephemeral))
                .create(&ctx.path("e/c"), b"", &persistent()),
            1,
            Error::NoChildrenForEphemerals,
            2,
        ),
        (
            "the same node twice",
            c.transaction()
                .create(&ctx.path("a"), b"", &persistent())
                .create(&ctx.path("a"), b"", &persistent()),
            1,
            Error::NodeExists,
            2,
        ),
        (
            "an invalid ACL",
            c.transaction()
                .create(&ctx.path("a"), b"", &persistent().acl(vec![]))
                .create(&ctx.path("b"), b"", &persistent()),
            0,
            Error::InvalidAcl,
            2,
        ),
    ];
    for (what, txn, index, error, len) in cases {
        let r = within(what, txn.commit()).await;
        let Err(Error::Multi {
            index: got_index,
            error: got_error,
            results,
        }) = r
        else {
            panic!("{what}: expected Error::Multi, got {r:?}");
        };
        assert_eq!((got_index, *got_error), (index, error.clone()), "{what}");
        assert_eq!(results.len(), len, "{what}: {results:?}");
        for (i, res) in results.iter().enumerate() {
            let want = match i.cmp(&index) {
                std::cmp::Ordering::Less => 0,
                std::cmp::Ordering::Equal => error.code().expect("server error"),
                std::cmp::Ordering::Greater => Error::RuntimeInconsistency.code().expect("code"),
            };
            assert_eq!(res, &MultiResult::Error { err: want }, "{what}: result {i}");
        }
        for rel in ["a", "b", "e"] {
            assert_eq!(
                ok("nothing created", c.exists(&ctx.path(rel))).await,
                None,
                "{what}: {rel} was created"
            );
        }
        let (d, s) = ok("untouched", c.get_data(&exists)).await;
        assert_eq!(
            (&d[..], s.version),
            (&b""[..], 0),
            "{what}: setData applied"
        );
        assert!(ok("kids", c.exists(&kids)).await.is_some(), "{what}");
    }
}

/// An empty multi succeeds with no results.
pub async fn empty_transaction(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "multiempty").await;
    let results = ok("empty multi", ctx.client.transaction().commit()).await;
    assert!(results.is_empty());
}

/// A multi fires the watches of every op, like the single ops would.
pub async fn transaction_fires_watches(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "multiwatch").await;
    let c = &ctx.client;
    let other = ctx.client().await;
    let d = ctx.create("d", b"").await;
    let del = ctx.create("del", b"").await;
    let (_, _, wd) = ok("get_data_w", c.get_data_w(&d)).await;
    let (_, wdel) = ok("exists_w", c.exists_w(&del)).await;
    let (_, wnew) = ok("exists_w new", c.exists_w(&ctx.path("new"))).await;
    let (_, wkids) = ok("get_children_w base", c.get_children_w(&ctx.base)).await;
    ok(
        "multi",
        other
            .transaction()
            .set_data(&d, b"x", None)
            .delete(&del, None)
            .create(&ctx.path("new"), b"", &persistent())
            .commit(),
    )
    .await;
    fired("setData", wd, EventType::NodeDataChanged, &d).await;
    fired("delete", wdel, EventType::NodeDeleted, &del).await;
    fired("create", wnew, EventType::NodeCreated, &ctx.path("new")).await;
    fired("children", wkids, EventType::NodeChildrenChanged, &ctx.base).await;
}

/// Under a chroot, multi paths are given and returned relative to it.
pub async fn transaction_under_a_chroot(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "multichroot").await;
    let chrooted = super::connect(&format!("{}{}", ctx.connect_string, ctx.base)).await;
    let results = ok(
        "multi",
        chrooted
            .transaction()
            .create("/x", b"", &persistent())
            .create("/s-", b"", &mode(CreateMode::PersistentSequential))
            .create("/c", b"", &mode(CreateMode::Container))
            .set_data("/x", b"1", None)
            .check("/x", 1)
            .delete("/x", None)
            .commit(),
    )
    .await;
    assert_eq!(results[0], MultiResult::Create { path: "/x".into() });
    assert_eq!(
        results[1],
        MultiResult::Create {
            path: "/s-0000000001".into()
        }
    );
    assert!(
        matches!(&results[2], MultiResult::Create2 { path, .. } if path == "/c"),
        "{results:?}"
    );
    let seen = ok("from outside", ctx.client.exists(&ctx.path("s-0000000001"))).await;
    assert!(seen.is_some());
}

/// multiRead runs reads in one round trip; each succeeds or fails on its own.
pub async fn multi_read_mixes_successes_and_failures(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "multiread").await;
    let c = &ctx.client;
    let a = ctx.create("a", b"data-a").await;
    ctx.create("a/k1", b"").await;
    ctx.create("a/k2", b"").await;
    let secret = ctx.path("secret");
    ok(
        "create unreadable",
        c.create(
            &secret,
            b"s",
            &persistent().acl(vec![Acl::new(
                zk_core::perms::ALL,
                "digest",
                &zk_core::auth::digest_id("nobody", "x"),
            )]),
        ),
    )
    .await;
    let results = ok(
        "multi_read",
        c.multi_read(&[
            ReadOp::GetData(a.clone()),
            ReadOp::GetChildren(a.clone()),
            ReadOp::GetData(ctx.path("missing")),
            ReadOp::GetChildren(ctx.path("missing")),
            ReadOp::GetData(secret.clone()),
            ReadOp::GetChildren(secret.clone()),
            ReadOp::GetData(a.clone()),
        ]),
    )
    .await;
    assert_eq!(results.len(), 7, "{results:?}");
    let (_, stat_a) = ok("get a", c.get_data(&a)).await;
    assert_eq!(
        results[0],
        ReadResult::Data(bytes::Bytes::from_static(b"data-a"), stat_a)
    );
    match &results[1] {
        ReadResult::Children(kids) => {
            let mut kids = kids.clone();
            kids.sort();
            assert_eq!(kids, ["k1", "k2"]);
        }
        other => panic!("children: {other:?}"),
    }
    assert_eq!(results[2], ReadResult::Error(Error::NoNode));
    assert_eq!(results[3], ReadResult::Error(Error::NoNode));
    assert_eq!(results[4], ReadResult::Error(Error::NoAuth));
    assert_eq!(results[5], ReadResult::Error(Error::NoAuth));
    assert_eq!(results[6], results[0]);
    let empty = ok("empty multi_read", c.multi_read(&[])).await;
    assert!(empty.is_empty());
}
