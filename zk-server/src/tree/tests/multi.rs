//! multi (opcode 14).

use zk_core::proto::{
    Acl, CheckVersionRequest, CreateTtlRequest, DeleteRequest, ErrorCode, EventType,
    GetDataRequest, MultiOp, MultiRequest, MultiResult, OpCode, Request, SetDataRequest,
    CONTAINER_EPHEMERAL_OWNER,
};

use super::{cr, ev, T};

fn errs(codes: &[i32]) -> Vec<MultiResult> {
    codes
        .iter()
        .map(|&err| MultiResult::Error { err })
        .collect()
}

// Checked on 3.8.0: [create, create seq, check(bad version), setData] → [0, 0, -103, -2].
#[test]
fn failed_multi_reports_ok_before_the_failure_and_runtime_inconsistency_after() {
    let mut t = T::new();
    t.create("/p", 0).expect("created");
    let before = t.stat("/p");
    let a = t.req_as(
        super::S,
        &Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(cr("/p/a", b"", 0)),
                MultiOp::Create(cr("/p/s-", b"", 2)),
                MultiOp::Check(CheckVersionRequest {
                    path: "/p".into(),
                    version: 5,
                }),
                MultiOp::SetData(SetDataRequest {
                    path: "/p".into(),
                    data: None,
                    version: -1,
                }),
            ],
        }),
    );
    let Ok(zk_core::proto::Response::Multi(m)) = a.reply else {
        panic!("{:?}", a.reply)
    };
    assert_eq!(m.results, errs(&[0, 0, -103, -2]));
    assert!(a.events.is_empty());
    assert_eq!(t.stat("/p"), before, "nothing applied");
    assert!(t.tree.stat("/p/a").is_none());
    // The first op failing: [-101, -2].
    let m = t
        .multi(vec![
            MultiOp::Delete(DeleteRequest {
                path: "/p/nonexist".into(),
                version: -1,
            }),
            MultiOp::Create(cr("/p/zz", b"", 0)),
        ])
        .expect("multi");
    assert_eq!(m.results, errs(&[-101, -2]));
}

// Checked on 3.8.0: ops see each other; sequence numbers follow the pending cversion;
// container and TTL creates answer with a create2 header; one zxid for all.
#[test]
fn successful_multi_applies_every_op_at_one_zxid_in_order() {
    let mut t = T::extended();
    t.create("/p", 0).expect("created");
    let a = t.req_as(
        super::S,
        &Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(cr("/p/a", b"", 0)),
                MultiOp::Create(cr("/p/a/b", b"", 0)),
                MultiOp::Create(cr("/p/s-", b"", 2)),
                MultiOp::Create(cr("/p/s-", b"", 2)),
                MultiOp::CreateContainer(cr("/p/c", b"d", 4)),
                MultiOp::CreateTtl(CreateTtlRequest {
                    path: "/p/t".into(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 5,
                    ttl: 1000,
                }),
                MultiOp::Check(CheckVersionRequest {
                    path: "/p".into(),
                    version: 0,
                }),
                MultiOp::SetData(SetDataRequest {
                    path: "/p".into(),
                    data: None,
                    version: -1,
                }),
                MultiOp::Delete(DeleteRequest {
                    path: "/p/a/b".into(),
                    version: -1,
                }),
            ],
        }),
    );
    let z = t.zxid;
    let Ok(zk_core::proto::Response::Multi(m)) = a.reply else {
        panic!("{:?}", a.reply)
    };
    let r = &m.results;
    assert_eq!(
        r[0],
        MultiResult::Create {
            path: "/p/a".into()
        }
    );
    assert_eq!(
        r[1],
        MultiResult::Create {
            path: "/p/a/b".into()
        }
    );
    assert_eq!(
        r[2],
        MultiResult::Create {
            path: "/p/s-0000000001".into()
        }
    );
    assert_eq!(
        r[3],
        MultiResult::Create {
            path: "/p/s-0000000002".into()
        }
    );
    assert!(
        matches!(&r[4], MultiResult::Create2 { op: OpCode::Create2, path, stat }
        if path == "/p/c" && stat.czxid == z && stat.ephemeral_owner == 0 && stat.data_length == 1)
    );
    assert!(
        matches!(&r[5], MultiResult::Create2 { op: OpCode::Create2, path, .. } if path == "/p/t")
    );
    assert_eq!(r[6], MultiResult::Check);
    let p = t.stat("/p");
    assert_eq!(r[7], MultiResult::SetData { stat: p });
    assert_eq!(r[8], MultiResult::Delete);
    assert_eq!(
        (p.mzxid, p.pzxid, p.version, p.num_children, p.cversion),
        (z, z, 1, 5, 5)
    );
    assert_eq!(
        t.tree.ephemeral_owner("/p/c"),
        Some(CONTAINER_EPHEMERAL_OWNER)
    );
    assert_eq!(a.events[0], ev("/p/a", EventType::NodeCreated));
    assert_eq!(a.events[1], ev("/p", EventType::NodeChildrenChanged));
    assert_eq!(
        a.events.last(),
        Some(&ev("/p/a", EventType::NodeChildrenChanged))
    );
    assert_eq!(t.multi(vec![]).map(|m| m.results), Ok(vec![]));
}

// Checked on 3.8.0: a multi re-reads creates by their flags — create2 answers like create,
// createContainer without container flags makes a plain node, createTTL without TTL flags too.
#[test]
fn multi_creates_follow_their_flags_not_their_opcode() {
    let mut t = T::extended();
    let m = t
        .multi(vec![
            MultiOp::Create2(cr("/b", b"", 0)),
            MultiOp::CreateContainer(cr("/plain", b"", 0)),
            MultiOp::Create(cr("/cont", b"", 4)),
            MultiOp::CreateTtl(CreateTtlRequest {
                path: "/nottl".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
                ttl: 5000,
            }),
        ])
        .expect("multi");
    assert_eq!(m.results[0], MultiResult::Create { path: "/b".into() });
    assert_eq!(
        m.results[1],
        MultiResult::Create {
            path: "/plain".into()
        }
    );
    assert!(matches!(&m.results[2], MultiResult::Create2 { path, .. } if path == "/cont"));
    assert_eq!(
        m.results[3],
        MultiResult::Create {
            path: "/nottl".into()
        }
    );
    assert_eq!(t.tree.ephemeral_owner("/plain"), Some(0));
    assert_eq!(
        t.tree.ephemeral_owner("/cont"),
        Some(CONTAINER_EPHEMERAL_OWNER)
    );
    assert_eq!(t.tree.ephemeral_owner("/nottl"), Some(0));
    // TTL flags on a plain create inside a multi: Apache fails the whole request.
    assert_eq!(
        t.multi(vec![MultiOp::Create(cr("/x", b"", 5))]),
        Err(ErrorCode::MarshallingError)
    );
}

// Checked on 3.8.0: a read op inside a write multi fails the request, nothing applied.
#[test]
fn read_ops_in_a_write_multi_are_a_marshalling_error() {
    let mut t = T::new();
    let r = t.multi(vec![
        MultiOp::Create(cr("/r1", b"", 0)),
        MultiOp::GetData(GetDataRequest {
            path: "/".into(),
            watch: false,
        }),
    ]);
    assert_eq!(r, Err(ErrorCode::MarshallingError));
    assert!(t.tree.stat("/r1").is_none());
}

#[test]
fn multi_of_an_expired_session_fails_at_its_first_op() {
    let mut t = T::new();
    let a = t.req_as(
        0x4242,
        &Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(cr("/x", b"", 0)),
                MultiOp::Create(cr("/y", b"", 0)),
            ],
        }),
    );
    assert!(
        matches!(a.reply, Ok(zk_core::proto::Response::Multi(m)) if m.results == errs(&[-112, -2]))
    );
}

#[test]
fn multi_delete_then_recreate_sees_pending_state() {
    let mut t = T::new();
    t.create("/a", 0).expect("created");
    let m = t
        .multi(vec![
            MultiOp::Delete(DeleteRequest {
                path: "/a".into(),
                version: 0,
            }),
            MultiOp::Create(cr("/a", b"new", 0)),
            MultiOp::SetData(SetDataRequest {
                path: "/a".into(),
                data: None,
                version: 0,
            }),
        ])
        .expect("multi");
    assert_eq!(m.results[0], MultiResult::Delete);
    assert_eq!(t.stat("/a").version, 1);
    assert_eq!(t.stat("/a").czxid, t.zxid);
}

// setData, delete, create and setData again of one path in one multi: the second setData must
// land on the new node (a slot remembered from the first read would be the freed one), and a
// sibling created in between must keep its data.
#[test]
fn set_data_after_delete_and_create_in_one_multi_writes_the_new_node() {
    let mut t = T::new();
    t.create("/p", 0).expect("created");
    t.create("/p/a", 0).expect("created");
    let set = |data: &[u8]| {
        MultiOp::SetData(SetDataRequest {
            path: "/p/a".into(),
            data: Some(bytes::Bytes::copy_from_slice(data)),
            version: -1,
        })
    };
    let r = t
        .multi(vec![
            set(b"one"),
            MultiOp::Delete(DeleteRequest {
                path: "/p/a".into(),
                version: -1,
            }),
            MultiOp::Create(cr("/p/b", b"bee", 0)),
            MultiOp::Create(cr("/p/a", b"", 0)),
            set(b"two"),
        ])
        .expect("multi");
    assert_eq!(r.results.len(), 5);
    let a = t.stat("/p/a");
    assert_eq!(a.version, 1, "the re-created node was set once");
    assert_eq!(a.data_length, 3);
    let get = |t: &T, path: &str| match t.read(&Request::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    })) {
        Ok(zk_core::proto::Response::GetData(g)) => g.data.map(|d| d.to_vec()),
        other => panic!("getData {path}: {other:?}"),
    };
    assert_eq!(get(&t, "/p/a"), Some(b"two".to_vec()));
    assert_eq!(get(&t, "/p/b"), Some(b"bee".to_vec()));
    // A single setData after the multi still finds the node.
    t.set("/p/a", Some(b"three"), 1).expect("set");
    assert_eq!(get(&t, "/p/a"), Some(b"three".to_vec()));
}
