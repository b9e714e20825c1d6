//! Container and TTL reaping.

use zk_core::proto::{ErrorCode, EventType, Request};

use super::{cr, ev, T};
use crate::tree::TreeConfig;
use crate::txn::TxnOp;

fn reap(t: &mut T, path: &str) -> crate::tree::Applied {
    t.entry(0, TxnOp::Reap { path: path.into() })
}

#[test]
fn empty_container_that_had_a_child_is_reaped_with_delete_events() {
    let mut t = T::new();
    t.req(&Request::CreateContainer(cr("/c", b"", 4)))
        .expect("created");
    t.create("/c/x", 0).expect("created");
    assert!(t.tree.reap_candidates(t.time, 10).is_empty(), "not empty");
    t.delete("/c/x", -1).expect("deleted");
    assert_eq!(t.tree.reap_candidates(t.time, 10), vec!["/c".to_string()]);
    let a = reap(&mut t, "/c");
    assert!(a.reply.is_ok());
    assert_eq!(
        a.events,
        vec![
            ev("/c", EventType::NodeDeleted),
            ev("/", EventType::NodeChildrenChanged)
        ]
    );
    assert!(t.tree.stat("/c").is_none());
}

#[test]
fn never_used_container_is_reaped_only_after_the_configured_interval() {
    let mut t = T::new();
    t.req(&Request::CreateContainer(cr("/c", b"", 4)))
        .expect("created");
    assert!(
        t.tree.reap_candidates(t.time + 1_000_000, 10).is_empty(),
        "3.8 default: never"
    );
    assert_eq!(reap(&mut t, "/c").reply, Err(ErrorCode::BadVersion));
    let mut t = T::with(TreeConfig {
        container_max_never_used_ms: 5000,
        ..TreeConfig::default()
    });
    t.req(&Request::CreateContainer(cr("/c", b"", 4)))
        .expect("created");
    let created = t.stat("/c").mtime;
    assert!(t.tree.reap_candidates(created + 5000, 10).is_empty());
    assert_eq!(
        t.tree.reap_candidates(created + 5001, 10),
        vec!["/c".to_string()]
    );
}

#[test]
fn ttl_node_is_reaped_when_childless_and_unmodified_for_its_ttl() {
    let mut t = T::extended();
    t.create_ttl("/t", 5, 1000).expect("created");
    let mtime = t.stat("/t").mtime;
    assert!(t.tree.reap_candidates(mtime + 1000, 10).is_empty());
    assert_eq!(
        t.tree.reap_candidates(mtime + 1001, 10),
        vec!["/t".to_string()]
    );
    // Applied with the entry's time: too early → nothing happens.
    assert_eq!(reap(&mut t, "/t").reply, Err(ErrorCode::BadVersion));
    t.time = mtime + 2000;
    assert!(reap(&mut t, "/t").reply.is_ok());
    assert!(t.tree.stat("/t").is_none());
}

#[test]
fn reap_rechecks_eligibility_when_applied() {
    let mut t = T::new();
    t.req(&Request::CreateContainer(cr("/c", b"", 4)))
        .expect("created");
    t.create("/c/x", 0).expect("created");
    t.delete("/c/x", -1).expect("deleted");
    assert_eq!(t.tree.reap_candidates(t.time, 10), vec!["/c".to_string()]);
    t.create("/c/y", 0).expect("created");
    assert_eq!(reap(&mut t, "/c").reply, Err(ErrorCode::NotEmpty));
    assert_eq!(reap(&mut t, "/nope").reply, Err(ErrorCode::NoNode));
    t.create("/plain", 0).expect("created");
    assert_eq!(reap(&mut t, "/plain").reply, Err(ErrorCode::BadVersion));
    assert_eq!(
        reap(&mut t, "/zookeeper").reply,
        Err(ErrorCode::BadArguments)
    );
}

#[test]
fn reap_candidates_are_sorted_and_capped() {
    let mut t = T::new();
    for n in ["b", "a", "c"] {
        let p = format!("/{n}");
        t.req(&Request::CreateContainer(cr(&p, b"", 4)))
            .expect("created");
        t.create(&format!("{p}/x"), 0).expect("created");
        t.delete(&format!("{p}/x"), -1).expect("deleted");
    }
    assert_eq!(
        t.tree.reap_candidates(t.time, 2),
        vec!["/a".to_string(), "/b".into()]
    );
}
