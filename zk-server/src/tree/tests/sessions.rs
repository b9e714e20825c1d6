//! Sessions: createSession, closeSession, ephemerals, getEphemerals.

use zk_core::proto::{EventType, GetEphemeralsRequest, Request, Response};

use super::{ev, S, T};

#[test]
fn create_session_registers_the_timeout() {
    let mut t = T::new();
    let a = t.open(0x55, 4000);
    assert_eq!(a.reply, Ok(Response::Ping(zk_core::proto::Empty)));
    assert!(t.tree.session_exists(0x55));
    assert_eq!(t.tree.session_timeout(0x55), Some(4000));
    assert_eq!(
        t.tree.sessions().collect::<Vec<_>>(),
        vec![(0x55, 4000), (S, 30_000)]
    );
    assert_eq!(t.tree.session_count(), 2);
}

// Checked on 3.8.0: closing a session deletes its ephemerals, firing NodeDeleted and the
// parent's NodeChildrenChanged, and bumps the parent's pzxid.
#[test]
fn close_session_deletes_its_ephemerals_with_events() {
    let mut t = T::new();
    t.create("/p", 0).expect("created");
    t.create("/p/e", 1).expect("created");
    t.create("/e2", 1).expect("created");
    t.open(0x77, 5000);
    t.req_as(0x77, &Request::Create(super::cr("/other", b"", 1)));
    let a = t.close(S);
    assert_eq!(a.reply, Ok(Response::CloseSession(zk_core::proto::Empty)));
    assert_eq!(
        a.events,
        vec![
            ev("/e2", EventType::NodeDeleted),
            ev("/", EventType::NodeChildrenChanged),
            ev("/p/e", EventType::NodeDeleted),
            ev("/p", EventType::NodeChildrenChanged),
        ]
    );
    assert!(!t.tree.session_exists(S));
    assert!(t.tree.ephemerals(S).is_empty());
    assert_eq!(t.stat("/p").pzxid, t.zxid);
    assert_eq!(t.tree.ephemerals(0x77), vec!["/other".to_string()]);
    assert_eq!(t.tree.ephemeral_count(), 1);
}

// Checked on 3.8.0: "" and " / " list everything, a prefix is a string prefix, and another
// session sees none of them.
#[test]
fn get_ephemerals_filters_by_string_prefix() {
    let mut t = T::new();
    t.create("/p", 0).expect("created");
    t.create("/p/e", 1).expect("created");
    t.create("/p/e2-", 3).expect("created");
    t.create("/q", 1).expect("created");
    let list = |t: &T, s: i64, prefix: &str| match t.tree.read(
        &Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: prefix.into(),
        }),
        s,
        &[],
    ) {
        Ok(Response::GetEphemerals(g)) => g.ephemerals,
        other => panic!("{other:?}"),
    };
    let all = vec!["/p/e".to_string(), "/p/e2-0000000001".into(), "/q".into()];
    assert_eq!(list(&t, S, "/"), all);
    assert_eq!(list(&t, S, ""), all);
    assert_eq!(list(&t, S, " / "), all);
    assert_eq!(list(&t, S, "/p/e"), all[..2].to_vec());
    assert_eq!(list(&t, S, "/zz"), Vec::<String>::new());
    assert_eq!(list(&t, 0x999, "/"), Vec::<String>::new());
}

#[test]
fn close_of_an_unknown_session_is_harmless() {
    let mut t = T::new();
    let a = t.close(0x1234);
    assert!(a.reply.is_ok());
    assert!(a.events.is_empty());
}
