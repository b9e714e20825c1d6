//! Create, read, update, delete: every basic operation and the Stat fields it reports.
//!
//! Not here: `Client::check_version` (opcode check outside a multi). Apache 3.8 throws a
//! NullPointerException on it server-side and never replies, so calling it would hang the
//! call; `check` is covered inside multis ([`super::multi`]).

use zk_core::{Error, Stat};

use super::{fails, ok, persistent, Ctx};
use crate::ZkTarget;

/// create, exists, getData, setData, delete round trip, with every Stat field checked.
pub async fn create_read_update_delete(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "crud").await;
    let c = &ctx.client;
    let p = ctx.path("node");

    assert_eq!(ok("exists before create", c.exists(&p)).await, None);
    let created = ok("create", c.create(&p, b"v1", &persistent())).await;
    assert_eq!(created, p, "create returns the path");

    let (data, stat) = ok("get_data", c.get_data(&p)).await;
    assert_eq!(&data[..], b"v1");
    assert_eq!(stat.version, 0);
    assert_eq!(stat.cversion, 0);
    assert_eq!(stat.aversion, 0);
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(stat.data_length, 2);
    assert_eq!(stat.num_children, 0);
    assert!(stat.czxid > 0);
    assert_eq!(stat.mzxid, stat.czxid);
    assert_eq!(stat.pzxid, stat.czxid);
    assert_eq!(stat.mtime, stat.ctime);
    assert!(
        stat.ctime > 1_500_000_000_000,
        "ctime is ms since the epoch"
    );
    let exists = ok("exists", c.exists(&p)).await.expect("node exists");
    assert_eq!(exists, stat, "exists and getData report the same Stat");

    let set = ok("set_data", c.set_data(&p, b"version two", None)).await;
    assert_eq!(set.version, 1);
    assert_eq!(set.data_length, 11);
    assert!(set.mzxid > stat.mzxid);
    assert_eq!(set.czxid, stat.czxid);
    assert_eq!(set.ctime, stat.ctime);
    assert!(set.mtime >= stat.mtime);
    assert!(
        c.last_zxid() >= set.mzxid,
        "the client tracks the last zxid"
    );
    let (data, after) = ok("get_data after set", c.get_data(&p)).await;
    assert_eq!(&data[..], b"version two");
    assert_eq!(after, set);

    ok("delete", c.delete(&p, None)).await;
    assert_eq!(ok("exists after delete", c.exists(&p)).await, None);
    fails("get_data after delete", Error::NoNode, c.get_data(&p)).await;
}

/// create2 returns the new node's Stat, identical to what exists reports.
pub async fn create2_returns_the_stat(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "create2").await;
    let c = &ctx.client;
    let p = ctx.path("n");
    let (path, stat) = ok("create2", c.create2(&p, b"abc", &persistent())).await;
    assert_eq!(path, p);
    assert_eq!(stat.data_length, 3);
    assert_eq!(stat.version, 0);
    let exists = ok("exists", c.exists(&p)).await.expect("created");
    assert_eq!(stat, exists);
}

/// Versions are checked by setData and delete; `None` matches any version.
pub async fn versions_are_checked(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "versions").await;
    let c = &ctx.client;
    let p = ctx.create("v", b"0").await;
    let s = ok("set v0", c.set_data(&p, b"1", Some(0))).await;
    assert_eq!(s.version, 1);
    fails(
        "set with stale version",
        Error::BadVersion,
        c.set_data(&p, b"x", Some(0)),
    )
    .await;
    fails(
        "set with future version",
        Error::BadVersion,
        c.set_data(&p, b"x", Some(7)),
    )
    .await;
    let s = ok("set any version", c.set_data(&p, b"2", None)).await;
    assert_eq!(s.version, 2);
    let s = ok("set with version -1", c.set_data(&p, b"3", Some(-1))).await;
    assert_eq!(s.version, 3, "-1 matches any version");
    fails(
        "delete with stale version",
        Error::BadVersion,
        c.delete(&p, Some(2)),
    )
    .await;
    ok("delete with current version", c.delete(&p, Some(3))).await;
    assert_eq!(ok("exists", c.exists(&p)).await, None);
}

/// getChildren / getChildren2 list children by name; the parent's Stat counts them and its
/// cversion and pzxid track every child change.
pub async fn children_and_parent_stat(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "children").await;
    let c = &ctx.client;
    let parent = ctx.create("p", b"").await;
    assert!(ok("no children", c.get_children(&parent)).await.is_empty());
    let mut last_child_zxid = 0;
    for name in ["c", "a", "b"] {
        let (_, s) = ok(
            "create child",
            c.create2(&format!("{parent}/{name}"), b"", &persistent()),
        )
        .await;
        last_child_zxid = s.czxid;
    }
    // A grandchild changes its own parent, not this one.
    ok(
        "create grandchild",
        c.create(&format!("{parent}/a/x"), b"", &persistent()),
    )
    .await;
    let mut kids = ok("get_children", c.get_children(&parent)).await;
    kids.sort();
    assert_eq!(kids, ["a", "b", "c"]);
    let (mut kids2, stat) = ok("get_children2", c.get_children2(&parent)).await;
    kids2.sort();
    assert_eq!(kids2, kids);
    assert_eq!(stat.num_children, 3);
    assert_eq!(stat.cversion, 3);
    assert_eq!(stat.pzxid, last_child_zxid);
    assert_eq!(
        stat.version, 0,
        "child changes leave the data version alone"
    );
    assert_eq!(stat.mzxid, stat.czxid);

    ok("delete child", c.delete(&format!("{parent}/c"), None)).await;
    let (_, stat2) = ok("get_children2 after delete", c.get_children2(&parent)).await;
    assert_eq!(stat2.num_children, 2);
    assert_eq!(stat2.cversion, 4, "cversion counts deletes too");
    assert!(stat2.pzxid > stat.pzxid);
    // Data changes of a child do not touch the parent.
    ok("set child", c.set_data(&format!("{parent}/a"), b"x", None)).await;
    let (_, stat3) = ok("get_children2 after child set", c.get_children2(&parent)).await;
    assert_eq!((stat3.cversion, stat3.pzxid), (stat2.cversion, stat2.pzxid));
}

/// Empty, binary and large (near the 1 MiB packet limit) data round-trip unchanged.
pub async fn data_round_trips(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "data").await;
    let c = &ctx.client;
    let binary: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    let large: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    for (name, data) in [("empty", Vec::new()), ("binary", binary), ("large", large)] {
        let p = ctx.path(name);
        ok(format!("create {name}"), c.create(&p, &data, &persistent())).await;
        let (got, stat) = ok(format!("get {name}"), c.get_data(&p)).await;
        assert!(got[..] == data[..], "{name} data changed in transit");
        assert_eq!(stat.data_length as usize, data.len());
        let set = ok(format!("set {name}"), c.set_data(&p, &data, None)).await;
        assert_eq!(set.data_length as usize, data.len());
    }
    // A request beyond the 1 MiB packet limit (jute.maxbuffer) is refused before it is sent
    // (the server would drop the connection); the session carries on.
    let too_big = vec![7u8; 1 << 20];
    let r = super::within(
        "oversized create",
        c.create(&ctx.path("big"), &too_big, &persistent()),
    )
    .await;
    match r {
        Err(Error::InvalidArgument(msg)) => {
            assert!(msg.contains("exceeds the maximum packet size"), "{msg}");
            assert!(!msg.contains("request of 0 bytes"), "{msg}");
        }
        other => panic!("oversized create: {other:?}"),
    }
    let r = super::within(
        "oversized set",
        c.set_data(&ctx.path("empty"), &too_big, None),
    )
    .await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert_eq!(
        ok("nothing created", c.exists(&ctx.path("big"))).await,
        None
    );
    assert!(c.state().is_connected());
}

/// Paths may hold any Unicode the path rules allow, and come back unchanged.
pub async fn unicode_paths(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "unicode").await;
    let c = &ctx.client;
    let names = ["ünïcødé", "日本語", "a b", "...", "a.b", "ĳ-€"];
    for n in names {
        ok(
            format!("create {n}"),
            c.create(&ctx.path(n), n.as_bytes(), &persistent()),
        )
        .await;
    }
    let mut kids = ok("get_children", c.get_children(&ctx.base)).await;
    kids.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(kids, want);
    for n in names {
        let (d, _) = ok(format!("get {n}"), c.get_data(&ctx.path(n))).await;
        assert_eq!(&d[..], n.as_bytes());
    }
}

/// The root and the `/zookeeper` system subtree are there and readable.
pub async fn root_and_system_nodes(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "root").await;
    let c = &ctx.client;
    let root_kids = ok("get_children /", c.get_children("/")).await;
    assert!(root_kids.iter().any(|k| k == "zookeeper"), "{root_kids:?}");
    let base_name = ctx.base.trim_start_matches('/');
    assert!(root_kids.iter().any(|k| k == base_name), "{root_kids:?}");
    let root: Stat = ok("exists /", c.exists("/")).await.expect("root exists");
    assert!(root.num_children >= 2);
    let sys = ok("get_children /zookeeper", c.get_children("/zookeeper")).await;
    assert!(sys.iter().any(|k| k == "quota"), "{sys:?}");
    assert!(ok("exists /zookeeper/quota", c.exists("/zookeeper/quota"))
        .await
        .is_some());
}
