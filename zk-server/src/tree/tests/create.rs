//! create / create2 / createContainer / createTTL.

use bytes::Bytes;
use zk_core::proto::{
    Acl, CreateRequest, ErrorCode, EventType, GetDataRequest, Request, Response,
    CONTAINER_EPHEMERAL_OWNER,
};

use super::{cr, ev, S, T};

#[test]
fn create_stat_is_fresh_and_bumps_parent_cversion_and_pzxid() {
    let mut t = T::new();
    let (path, stat) = t.create2("/a", 0).expect("created");
    assert_eq!(path, "/a");
    let z = t.zxid;
    assert_eq!((stat.czxid, stat.mzxid, stat.pzxid), (z, z, z));
    assert_eq!((stat.ctime, stat.mtime), (t.time, t.time));
    assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
    assert_eq!(
        (stat.ephemeral_owner, stat.data_length, stat.num_children),
        (0, 1, 0)
    );
    let root = t.stat("/");
    assert_eq!((root.cversion, root.pzxid, root.num_children), (0, z, 2));
}

#[test]
fn create_events_are_node_created_then_parent_children_changed() {
    let mut t = T::new();
    let a = t.req_as(S, &Request::Create(cr("/a", b"", 0)));
    assert_eq!(
        a.events,
        vec![
            ev("/a", EventType::NodeCreated),
            ev("/", EventType::NodeChildrenChanged)
        ]
    );
    let b = t.req_as(S, &Request::Create(cr("/a/b", b"", 0)));
    assert_eq!(
        b.events,
        vec![
            ev("/a/b", EventType::NodeCreated),
            ev("/a", EventType::NodeChildrenChanged)
        ]
    );
}

// Checked on 3.8.0: s-0000000000, s-0000000001, delete the first, then s-0000000002; the
// parent then shows cversion 4 (3 creates + 1 delete) with 2 children.
#[test]
fn sequence_suffix_counts_creates_only_and_visible_cversion_counts_changes() {
    let mut t = T::new();
    t.create("/c1", 0).expect("parent");
    assert_eq!(t.create("/c1/s-", 2), Ok("/c1/s-0000000000".into()));
    assert_eq!(t.create("/c1/s-", 2), Ok("/c1/s-0000000001".into()));
    t.delete("/c1/s-0000000000", -1).expect("deleted");
    assert_eq!(t.create("/c1/s-", 2), Ok("/c1/s-0000000002".into()));
    let s = t.stat("/c1");
    assert_eq!((s.cversion, s.num_children), (4, 2));
}

#[test]
fn sequence_suffix_is_signed_and_wraps_like_a_java_int() {
    let mut t = T::new();
    t.create("/w", 0).expect("parent");
    let id = t.tree.nodes.lookup("/w").expect("exists");
    if let Some(n) = t.tree.nodes.get_mut(id) {
        n.cversion = i32::MAX;
    }
    assert_eq!(t.create("/w/", 2), Ok("/w/2147483647".into()));
    assert_eq!(t.create("/w/", 2), Ok("/w/-2147483648".into()));
}

// Checked on 3.8.0 (raw requests): each path/flags case and its code.
#[test]
fn create_rejects_bad_paths_and_flags_with_apache_codes() {
    let mut t = T::new();
    t.create("/p", 0).expect("parent");
    for (path, flags, code) in [
        ("/p/x", 7, ErrorCode::BadArguments),
        ("/p/x", -1, ErrorCode::BadArguments),
        ("/p/x", 5, ErrorCode::Unimplemented),
        ("a", 0, ErrorCode::BadArguments),
        ("", 0, ErrorCode::BadArguments),
        ("/", 0, ErrorCode::NodeExists),
        ("/p/", 0, ErrorCode::BadArguments),
        ("/px/", 0, ErrorCode::NoNode),
        ("/p//x", 0, ErrorCode::NoNode),
        ("/p/./x", 0, ErrorCode::NoNode),
        ("/p/.", 0, ErrorCode::BadArguments),
        ("/p/a\0b", 0, ErrorCode::BadArguments),
    ] {
        assert_eq!(t.create(path, flags), Err(code), "{path:?} flags {flags}");
    }
    // A sequential create may end in "/": the suffix is the name.
    assert_eq!(t.create("/p/", 2), Ok("/p/0000000000".into()));
}

#[test]
fn create_checks_acl_before_parent_and_auth_before_existence() {
    let mut t = T::new();
    // fixupACL comes before the parent lookup (checked on 3.8.0).
    assert_eq!(
        t.create_acl("/nonexist/x", vec![]),
        Err(ErrorCode::InvalidAcl)
    );
    t.create_acl(
        "/locked",
        vec![Acl::new(zk_core::proto::perms::READ, "world", "anyone")],
    )
    .expect("created");
    t.create_acl("/open", Acl::open_unsafe()).expect("created");
    assert_eq!(t.create("/locked/x", 0), Err(ErrorCode::NoAuth));
    // NoAuth on the parent wins over NodeExists: only CREATE matters.
    t.auth = vec![super::id("super", "")];
    t.create("/locked/x", 0).expect("super creates");
    t.auth = vec![];
    assert_eq!(t.create("/locked/x", 0), Err(ErrorCode::NoAuth));
    assert_eq!(t.create("/open", 0), Err(ErrorCode::NodeExists));
}

// Checked on 3.8.0: children of an ephemeral are refused, even ephemeral ones.
#[test]
fn ephemeral_nodes_cannot_have_children_and_record_their_owner() {
    let mut t = T::new();
    let (_, stat) = t.create2("/e", 1).expect("ephemeral");
    assert_eq!(stat.ephemeral_owner, S);
    assert_eq!(t.create("/e/x", 0), Err(ErrorCode::NoChildrenForEphemerals));
    assert_eq!(t.create("/e/x", 1), Err(ErrorCode::NoChildrenForEphemerals));
    assert_eq!(t.tree.ephemerals(S), vec!["/e".to_string()]);
    assert_eq!(t.create("/e2-", 3), Ok("/e2-0000000001".into()));
}

#[test]
fn writes_of_a_closed_or_unknown_session_fail_with_session_expired() {
    let mut t = T::new();
    for flags in [0, 1] {
        let r = t.req_as(0x999, &Request::Create(cr("/x", b"", flags)));
        assert_eq!(r.reply, Err(ErrorCode::SessionExpired));
    }
    t.open(0x7, 5000);
    t.close(0x7);
    let r = t.req_as(0x7, &Request::Create(cr("/x", b"", 0)));
    assert_eq!(r.reply, Err(ErrorCode::SessionExpired));
}

#[test]
fn null_data_is_kept_distinct_from_empty_data() {
    let mut t = T::new();
    t.req(&Request::Create(CreateRequest {
        data: None,
        ..cr("/null", b"", 0)
    }))
    .expect("created");
    t.req(&Request::Create(CreateRequest {
        data: Some(Bytes::new()),
        ..cr("/empty", b"", 0)
    }))
    .expect("created");
    let get = |t: &T, p: &str| match t.read(&Request::GetData(GetDataRequest {
        path: p.into(),
        watch: false,
    })) {
        Ok(Response::GetData(g)) => (g.data, g.stat.data_length),
        other => panic!("{other:?}"),
    };
    assert_eq!(get(&t, "/null"), (None, 0));
    assert_eq!(get(&t, "/empty"), (Some(Bytes::new()), 0));
}

// Checked on 3.8.0: createContainer with flags 1 makes a container (not an ephemeral), flags 2
// a sequential container; containers show ephemeralOwner 0.
#[test]
fn create_container_makes_a_container_whatever_the_flags() {
    let mut t = T::new();
    let r = t.req(&Request::CreateContainer(cr("/c", b"", 4)));
    let Ok(Response::CreateContainer(c)) = r else {
        panic!("{r:?}")
    };
    assert_eq!((c.path.as_str(), c.stat.ephemeral_owner), ("/c", 0));
    assert_eq!(
        t.tree.ephemeral_owner("/c"),
        Some(CONTAINER_EPHEMERAL_OWNER)
    );
    t.req(&Request::CreateContainer(cr("/c1", b"", 1)))
        .expect("created");
    assert_eq!(
        t.tree.ephemeral_owner("/c1"),
        Some(CONTAINER_EPHEMERAL_OWNER)
    );
    assert!(t.tree.ephemerals(S).is_empty());
    let r = t.req(&Request::CreateContainer(cr("/c2-", b"", 2)));
    assert!(matches!(r, Ok(Response::CreateContainer(c)) if c.path == "/c2-0000000002"));
    // A plain create with container flags makes a plain node (Apache's CreateTxn has no owner).
    t.create("/plain", 4).expect("created");
    assert_eq!(t.tree.ephemeral_owner("/plain"), Some(0));
}

// Checked on 3.8.0 with extendedTypesEnabled=true (and without: Unimplemented).
#[test]
fn create_ttl_validates_mode_and_range() {
    let mut t = T::new();
    assert_eq!(t.create_ttl("/t", 5, 1000), Err(ErrorCode::Unimplemented));
    let mut t = T::extended();
    for (flags, ttl, code) in [
        (5, 0, ErrorCode::BadArguments),
        (5, -1, ErrorCode::BadArguments),
        (5, 1 << 40, ErrorCode::BadArguments),
        (0, 100, ErrorCode::BadArguments),
        (7, 10, ErrorCode::BadArguments),
        // Apache accepts this one and then crashes applying it; refused here.
        (0, -1, ErrorCode::BadArguments),
    ] {
        assert_eq!(
            t.create_ttl("/t", flags, ttl),
            Err(code),
            "flags {flags} ttl {ttl}"
        );
    }
    let r = t.create_ttl("/t", 5, (1 << 40) - 1);
    let Ok(Response::CreateTtl(c)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(c.stat.ephemeral_owner, 0, "TTL nodes show owner 0");
    assert_eq!(
        t.tree.ephemeral_owner("/t"),
        zk_core::proto::ttl_ephemeral_owner((1 << 40) - 1)
    );
    let r = t.create_ttl("/t6-", 6, 10);
    assert!(matches!(r, Ok(Response::CreateTtl(c)) if c.path == "/t6-0000000001"));
    // TTL flags on a plain create: no TTL given → BadArguments.
    assert_eq!(t.create("/x", 5), Err(ErrorCode::BadArguments));
}

#[test]
fn failed_writes_consume_their_zxid_and_emit_nothing() {
    let mut t = T::new();
    let a = t.req_as(S, &Request::Create(cr("/nope/x", b"", 0)));
    assert_eq!(a.reply, Err(ErrorCode::NoNode));
    assert!(a.events.is_empty());
    assert_eq!(t.tree.last_zxid(), t.zxid);
}

#[test]
fn undecodable_or_non_write_bodies_are_refused_without_panicking() {
    let mut t = T::new();
    let a = t.entry(
        S,
        crate::txn::TxnOp::Client {
            op: 1,
            body: bytes::Bytes::from_static(&[0, 0, 0, 9]),
        },
    );
    assert_eq!(a.reply, Err(ErrorCode::MarshallingError));
    let a = t.entry(
        S,
        crate::txn::TxnOp::Client {
            op: 4,
            body: bytes::Bytes::new(),
        },
    );
    assert_eq!(a.reply, Err(ErrorCode::Unimplemented));
    let a = t.entry(
        S,
        crate::txn::TxnOp::Client {
            op: 9999,
            body: bytes::Bytes::from_static(&[1, 2]),
        },
    );
    assert_eq!(a.reply, Err(ErrorCode::Unimplemented));
    let a = t.req_as(
        S,
        &Request::Reconfig(zk_core::proto::ReconfigRequest {
            joining_servers: None,
            leaving_servers: None,
            new_members: Some("server.1=x".into()),
            cur_config_id: -1,
        }),
    );
    assert_eq!(a.reply, Err(ErrorCode::ReconfigDisabled));
}
