//! Snapshots: round trip, and corruption detected without panics.

use bytes::Bytes;
use zk_core::proto::{Acl, CreateRequest, Request, Stat};

use super::{cr, id, S, T};
use crate::tree::{DataTree, SnapshotError, TreeConfig};

type Dump = Vec<(String, Stat, Option<Option<Bytes>>, Option<Vec<Acl>>)>;

fn dump(t: &DataTree) -> Dump {
    let mut out = Vec::new();
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let stat = t.stat(&p).unwrap_or_default();
        out.push((p.clone(), stat, t.data(&p), t.acl(&p)));
        for c in t.children(&p).unwrap_or_default() {
            stack.push(if p == "/" {
                format!("/{c}")
            } else {
                format!("{p}/{c}")
            });
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn sample() -> T {
    let mut t = T::with(TreeConfig {
        extended_types_enabled: true,
        super_digest: Some("super:abc".into()),
        container_max_never_used_ms: 77,
        skip_acl: false,
        enforce_quota: true,
    });
    t.create("/a", 0).expect("created");
    t.create("/a/b", 0).expect("created");
    t.create("/a/b/s-", 2).expect("created");
    t.create("/a/e", 1).expect("created");
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
    t.req(&Request::CreateContainer(cr("/c", b"x", 4)))
        .expect("created");
    t.create_ttl("/t", 5, 12345).expect("created");
    t.auth = vec![id("digest", "u:h")];
    t.create_acl(
        "/acl",
        vec![Acl::new(31, "auth", ""), Acl::new(1, "world", "anyone")],
    )
    .expect("created");
    t.create("/ünï/", 2).ok();
    t.create("/ünï", 0).expect("created");
    t.set("/a", Some(&[7u8; 300]), -1).expect("set");
    t.open(0x99, 1234);
    t
}

#[test]
fn snapshot_round_trips_nodes_acls_sessions_and_config() {
    let t = sample();
    let mut buf = Vec::new();
    t.tree.write_snapshot(&mut buf).expect("written");
    let back = DataTree::read_snapshot(&mut &buf[..]).expect("read");
    assert_eq!(dump(&back), dump(&t.tree));
    assert_eq!(back.config(), t.tree.config());
    assert_eq!(back.last_zxid(), t.tree.last_zxid());
    assert_eq!(
        back.sessions().collect::<Vec<_>>(),
        t.tree.sessions().collect::<Vec<_>>()
    );
    assert_eq!(back.ephemerals(S), vec!["/a/e".to_string()]);
    assert_eq!(back.approximate_data_size(), t.tree.approximate_data_size());
    assert_eq!(back.node_count(), t.tree.node_count());
    assert_eq!(back.acl_count(), t.tree.acl_count());
    assert_eq!(back.ephemeral_owner("/t"), t.tree.ephemeral_owner("/t"));
    assert_eq!(
        back.reap_candidates(i64::MAX, 10),
        t.tree.reap_candidates(i64::MAX, 10)
    );
}

#[test]
fn restored_tree_applies_the_same_as_the_original() {
    let mut t = sample();
    let mut buf = Vec::new();
    t.tree.write_snapshot(&mut buf).expect("written");
    let mut u = T {
        tree: DataTree::read_snapshot(&mut &buf[..]).expect("read"),
        zxid: t.zxid,
        time: t.time,
        auth: t.auth.clone(),
    };
    for tt in [&mut t, &mut u] {
        tt.create("/a/b/s-", 2).expect("sequential");
        tt.delete("/a/b/s-0000000000", -1).expect("deleted");
        tt.close(S);
    }
    assert_eq!(dump(&u.tree), dump(&t.tree));
    assert_eq!(u.tree.acl_count(), t.tree.acl_count());
}

/// A snapshot serializes a clone while writes go on: the clone must keep the state it was
/// taken at, byte for byte, whatever happens to the original afterwards (the node slab is
/// shared in chunks and copied on write).
#[test]
fn a_clone_snapshots_the_state_it_was_taken_at_while_the_original_changes() {
    let mut t = sample();
    // Enough nodes to span several slab chunks.
    for i in 0..9000 {
        t.create(&format!("/a/b/n{i}"), 0).expect("created");
    }
    let mut before = Vec::new();
    t.tree.write_snapshot(&mut before).expect("written");
    let frozen = t.tree.clone();
    let frozen_dump = dump(&frozen);
    for i in (0..9000).step_by(7) {
        t.delete(&format!("/a/b/n{i}"), -1).expect("deleted");
    }
    for i in 0..3000 {
        t.create(&format!("/a/x{i}"), 0).expect("created");
    }
    t.set("/a/b/n1", Some(b"changed"), -1).expect("set");
    t.set("/a", None, -1).expect("set");
    t.close(S);
    let mut after = Vec::new();
    frozen.write_snapshot(&mut after).expect("written");
    assert!(
        before == after,
        "the clone's snapshot changed with the original"
    );
    assert_eq!(dump(&frozen), frozen_dump);
    assert_ne!(dump(&t.tree), frozen_dump);
    // And the original's own state is intact too.
    let mut now = Vec::new();
    t.tree.write_snapshot(&mut now).expect("written");
    let back = DataTree::read_snapshot(&mut &now[..]).expect("read");
    assert_eq!(dump(&back), dump(&t.tree));
}

#[test]
fn read_snapshot_with_overrides_the_stored_config() {
    let t = sample();
    let mut buf = Vec::new();
    t.tree.write_snapshot(&mut buf).expect("written");
    let back = DataTree::read_snapshot_with(&mut &buf[..], TreeConfig::default()).expect("read");
    assert_eq!(back.config(), &TreeConfig::default());
    // Without extended types the TTL owner is a session id: listed as an ephemeral.
    assert_eq!(back.ephemeral_count(), 2);
}

#[test]
fn every_corrupted_byte_is_detected() {
    let mut t = T::new();
    t.create("/a", 0).expect("created");
    t.create("/a/b", 1).expect("created");
    let mut buf = Vec::new();
    t.tree.write_snapshot(&mut buf).expect("written");
    for i in 0..buf.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = buf.clone();
            bad[i] ^= flip;
            assert!(
                DataTree::read_snapshot(&mut &bad[..]).is_err(),
                "byte {i} ^ {flip:#x}"
            );
        }
    }
    for len in 0..buf.len() {
        assert!(
            DataTree::read_snapshot(&mut &buf[..len]).is_err(),
            "truncated at {len}"
        );
    }
}

#[test]
fn foreign_or_hostile_input_is_an_error_not_a_panic() {
    assert!(matches!(
        DataTree::read_snapshot(&mut &b"not a snapshot at all"[..]),
        Err(SnapshotError::BadMagic)
    ));
    // A valid header claiming huge counts and lengths.
    let mut hostile = b"ZKRSNAP\x01".to_vec();
    hostile.extend_from_slice(&[0, 0, 0, 0, 0]);
    hostile.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    hostile.extend_from_slice(&[0xff; 64]);
    assert!(DataTree::read_snapshot(&mut &hostile[..]).is_err());
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        let mut junk = b"ZKRSNAP\x01".to_vec();
        for _ in 0..64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push(seed as u8);
        }
        let _ = DataTree::read_snapshot(&mut &junk[..]);
    }
}
