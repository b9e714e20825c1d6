//! Reads: exists, getData, getChildren(2), getAllChildrenNumber, multiRead.

use zk_core::proto::{
    ErrorCode, ExistsRequest, GetAllChildrenNumberRequest, GetChildren2Request, GetChildrenRequest,
    GetDataRequest, MultiOp, MultiRequest, MultiResult, Request, Response, SyncRequest,
};

use super::{cr, T};

fn exists(t: &T, p: &str) -> Result<Response, ErrorCode> {
    t.read(&Request::Exists(ExistsRequest {
        path: p.into(),
        watch: false,
    }))
}

fn count(t: &T, p: &str) -> Result<i32, ErrorCode> {
    match t.read(&Request::GetAllChildrenNumber(
        GetAllChildrenNumberRequest { path: p.into() },
    ))? {
        Response::GetAllChildrenNumber(r) => Ok(r.total_number),
        other => panic!("{other:?}"),
    }
}

// Checked on 3.8.0 (raw requests): "" is the root; paths are not validated by reads.
#[test]
fn reads_treat_empty_path_as_root_and_malformed_paths_as_missing() {
    let t = T::new();
    assert!(matches!(exists(&t, ""), Ok(Response::Exists(e)) if e.stat == t.stat("/")));
    let r = t.read(&Request::GetChildren(GetChildrenRequest {
        path: "".into(),
        watch: false,
    }));
    assert!(matches!(r, Ok(Response::GetChildren(c)) if c.children == ["zookeeper"]));
    let r = t.read(&Request::GetData(GetDataRequest {
        path: "".into(),
        watch: false,
    }));
    assert!(matches!(r, Ok(Response::GetData(g)) if g.data == Some(bytes::Bytes::new())));
    assert_eq!(exists(&t, "a"), Err(ErrorCode::NoNode));
    assert_eq!(exists(&t, "/a/"), Err(ErrorCode::NoNode));
    assert_eq!(exists(&t, "/a\0"), Err(ErrorCode::BadArguments));
    let r = t.read(&Request::GetData(GetDataRequest {
        path: "/a\0".into(),
        watch: false,
    }));
    assert_eq!(r, Err(ErrorCode::NoNode));
}

// Checked on 3.8.0: "/" counts every node but the root, "" every node, others descendants.
#[test]
fn get_all_children_number_counts_like_apache() {
    let mut t = T::new();
    assert_eq!(count(&t, "/"), Ok(3));
    assert_eq!(count(&t, ""), Ok(4));
    assert_eq!(count(&t, "/zookeeper"), Ok(2));
    t.create("/p", 0).expect("created");
    t.create("/p/a", 0).expect("created");
    t.create("/p/a/b", 0).expect("created");
    assert_eq!(count(&t, "/p"), Ok(2));
    assert_eq!(count(&t, "/p/a/b"), Ok(0));
    assert_eq!(count(&t, "/"), Ok(6));
    assert_eq!(count(&t, "/nope"), Err(ErrorCode::NoNode));
}

#[test]
fn get_children_lists_sorted_names_and_children2_adds_the_stat() {
    let mut t = T::new();
    t.create("/p", 0).expect("created");
    for n in ["c", "a", "b"] {
        t.create(&format!("/p/{n}"), 0).expect("created");
    }
    let r = t.read(&Request::GetChildren2(GetChildren2Request {
        path: "/p".into(),
        watch: false,
    }));
    let Ok(Response::GetChildren2(c)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(c.children, vec!["a", "b", "c"]);
    assert_eq!(c.stat, t.stat("/p"));
}

// Checked on 3.8.0: per-op errors, null data kept; a write op fails the whole request.
#[test]
fn multi_read_answers_each_op_and_refuses_write_ops() {
    let mut t = T::new();
    t.req(&Request::Create(zk_core::proto::CreateRequest {
        data: None,
        ..cr("/p", b"", 0)
    }))
    .expect("created");
    let r = t.read(&Request::MultiRead(MultiRequest {
        ops: vec![
            MultiOp::GetData(GetDataRequest {
                path: "/p".into(),
                watch: false,
            }),
            MultiOp::GetData(GetDataRequest {
                path: "/p/nonexist".into(),
                watch: false,
            }),
            MultiOp::GetChildren(GetChildrenRequest {
                path: "/p".into(),
                watch: false,
            }),
        ],
    }));
    let Ok(Response::MultiRead(m)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        m.results[0],
        MultiResult::GetData {
            data: None,
            stat: t.stat("/p")
        }
    );
    assert_eq!(m.results[1], MultiResult::Error { err: -101 });
    assert_eq!(m.results[2], MultiResult::GetChildren { children: vec![] });
    let r = t.read(&Request::MultiRead(MultiRequest {
        ops: vec![
            MultiOp::GetData(GetDataRequest {
                path: "/p".into(),
                watch: false,
            }),
            MultiOp::Create(cr("/p/r2", b"", 0)),
        ],
    }));
    assert_eq!(r, Err(ErrorCode::MarshallingError));
}

#[test]
fn non_read_requests_are_not_answered_by_read() {
    let t = T::new();
    let r = t.read(&Request::Sync(SyncRequest { path: "/".into() }));
    assert_eq!(r, Err(ErrorCode::Unimplemented));
}
