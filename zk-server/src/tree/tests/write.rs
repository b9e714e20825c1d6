//! delete, setData, setACL, check.

use zk_core::proto::{perms, Acl, DeleteRequest, ErrorCode, EventType, Request, Response};

use super::{ev, id, S, T};

// Checked on 3.8.0 (raw requests).
#[test]
fn delete_refuses_system_and_malformed_paths() {
    let mut t = T::new();
    t.create("/p", 0).expect("created");
    for p in [
        "/",
        "/zookeeper",
        "/zookeeper/quota",
        "/zookeeper/config",
        "a",
        "",
        "/p\0",
    ] {
        assert_eq!(t.delete(p, -1), Err(ErrorCode::BadArguments), "{p:?}");
    }
    // delete does not validate the path: "/p/" simply does not exist.
    assert_eq!(t.delete("/p/", -1), Err(ErrorCode::NoNode));
    assert_eq!(t.delete("/nope/x", -1), Err(ErrorCode::NoNode));
}

#[test]
fn delete_checks_parent_delete_permission_then_node_version_then_children() {
    let mut t = T::new();
    // ADMIN only: DELETE on the parent is refused before the child is even looked up
    // (checked on 3.8.0: NoAuth for a missing child).
    t.create_acl(
        "/adminonly",
        vec![Acl::new(perms::ADMIN, "world", "anyone")],
    )
    .expect("created");
    assert_eq!(t.delete("/adminonly/nonexist", -1), Err(ErrorCode::NoAuth));
    t.create("/p", 0).expect("created");
    t.create("/p/c", 0).expect("created");
    assert_eq!(t.delete("/p", 5), Err(ErrorCode::BadVersion));
    assert_eq!(t.delete("/p", 0), Err(ErrorCode::NotEmpty));
    assert_eq!(
        t.delete("/p/c", 0),
        Ok(Response::Delete(zk_core::proto::Empty))
    );
}

#[test]
fn delete_emits_node_deleted_then_parent_children_changed_and_bumps_parent_pzxid() {
    let mut t = T::new();
    t.create("/p", 0).expect("created");
    t.create("/p/c", 0).expect("created");
    let before = t.stat("/p");
    let a = t.req_as(
        S,
        &Request::Delete(DeleteRequest {
            path: "/p/c".into(),
            version: -1,
        }),
    );
    assert_eq!(
        a.events,
        vec![
            ev("/p/c", EventType::NodeDeleted),
            ev("/p", EventType::NodeChildrenChanged)
        ]
    );
    let after = t.stat("/p");
    assert_eq!(after.pzxid, t.zxid);
    assert_eq!(after.cversion, before.cversion + 1);
    assert_eq!(after.num_children, 0);
    assert!(t.tree.stat("/p/c").is_none());
}

#[test]
fn set_data_bumps_version_mzxid_mtime_and_fires_data_changed() {
    let mut t = T::new();
    t.create("/a", 0).expect("created");
    let s = t.set("/a", Some(b"hello"), 0).expect("set");
    assert_eq!(
        (s.version, s.mzxid, s.mtime, s.data_length),
        (1, t.zxid, t.time, 5)
    );
    assert_ne!(s.czxid, s.mzxid);
    assert_eq!(t.set("/a", None, 0), Err(ErrorCode::BadVersion));
    let a = t.req_as(
        S,
        &Request::SetData(zk_core::proto::SetDataRequest {
            path: "/a".into(),
            data: None,
            version: 1,
        }),
    );
    assert_eq!(a.events, vec![ev("/a", EventType::NodeDataChanged)]);
    assert_eq!(t.stat("/a").data_length, 0);
}

// Checked on 3.8.0: setData validates the path ("/p/" and "" are BadArguments).
#[test]
fn set_data_validates_path_then_write_permission() {
    let mut t = T::new();
    t.create_acl("/ro", Acl::read_unsafe()).expect("created");
    assert_eq!(t.set("/ro/", None, -1), Err(ErrorCode::BadArguments));
    assert_eq!(t.set("", None, -1), Err(ErrorCode::BadArguments));
    assert_eq!(t.set("/missing", None, -1), Err(ErrorCode::NoNode));
    assert_eq!(t.set("/ro", None, 99), Err(ErrorCode::NoAuth));
}

#[test]
fn versions_wrap_like_java_ints() {
    let mut t = T::new();
    t.create("/v", 0).expect("created");
    let id = t.tree.nodes.lookup("/v").expect("exists");
    if let Some(n) = t.tree.nodes.get_mut(id) {
        n.version = i32::MAX;
    }
    assert_eq!(t.set("/v", None, i32::MAX).map(|s| s.version), Ok(i32::MIN));
}

// Checked on 3.8.0: setACL with an empty list is InvalidACL even without ADMIN.
#[test]
fn set_acl_fixes_up_then_checks_admin_then_acl_version() {
    let mut t = T::new();
    t.create_acl("/w", vec![Acl::new(perms::WRITE, "world", "anyone")])
        .expect("created");
    assert_eq!(t.set_acl("/w", vec![], -1), Err(ErrorCode::InvalidAcl));
    assert_eq!(
        t.set_acl("/w", Acl::open_unsafe(), -1),
        Err(ErrorCode::NoAuth)
    );
    t.create("/a", 0).expect("created");
    assert_eq!(
        t.set_acl("/a", Acl::read_unsafe(), 3),
        Err(ErrorCode::BadVersion)
    );
    let a = t.req_as(
        S,
        &Request::SetAcl(zk_core::proto::SetAclRequest {
            path: "/a".into(),
            acl: Acl::read_unsafe(),
            version: 0,
        }),
    );
    assert!(a.events.is_empty(), "setACL fires no watch");
    assert!(matches!(a.reply, Ok(Response::SetAcl(s)) if s.stat.aversion == 1));
    assert_eq!(t.tree.acl("/a"), Some(Acl::read_unsafe()));
    assert_eq!(t.set("/a", None, -1), Err(ErrorCode::NoAuth));
}

#[test]
fn set_acl_releases_unused_acl_lists() {
    let mut t = T::new();
    let base = t.tree.acl_count();
    t.create_acl("/a", vec![Acl::new(31, "digest", "u:h")])
        .expect("created");
    assert_eq!(t.tree.acl_count(), base + 1);
    t.auth = vec![id("digest", "u:h")];
    t.set_acl("/a", Acl::open_unsafe(), -1).expect("set");
    assert_eq!(t.tree.acl_count(), base);
}

// Apache 3.8 answers a standalone check with no reply (NPE); answered here with the stat, as
// 3.9 does. The READ check and the codes are 3.8's (checked: NoAuth without READ).
#[test]
fn check_answers_the_stat_or_version_and_read_errors() {
    let mut t = T::new();
    t.create("/a", 0).expect("created");
    let r = t.check("/a", 0);
    assert!(matches!(r, Ok(Response::Check(s)) if s.stat == t.stat("/a")));
    assert_eq!(t.check("/a", 3), Err(ErrorCode::BadVersion));
    assert_eq!(t.check("/zz", 3), Err(ErrorCode::NoNode));
    assert_eq!(t.check("/a/", 0), Err(ErrorCode::BadArguments));
    t.create_acl("/wonly", vec![Acl::new(perms::WRITE, "world", "anyone")])
        .expect("created");
    assert_eq!(t.check("/wonly", -1), Err(ErrorCode::NoAuth));
}
