//! Memory of a large tree (ignored by default; run in release and alone):
//! `cargo test --release -p zk-server million_nodes -- --ignored --nocapture`

use zk_core::proto::{Acl, CreateRequest, Encode, Request};

use super::T;
use crate::txn::TxnOp;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[test]
#[ignore = "measures memory: run alone, in release"]
fn million_nodes_of_100_bytes_memory() {
    let before = rss_kb();
    let mut t = T::new();
    t.create("/bench", 0).expect("created");
    let data = bytes::Bytes::from(vec![b'x'; 100]);
    let started = std::time::Instant::now();
    for i in 0..1_000_000u32 {
        let req = Request::Create(CreateRequest {
            path: format!("/bench/node{i:07}"),
            data: Some(data.clone()),
            acl: Acl::open_unsafe(),
            flags: 0,
        });
        let body = req.to_bytes().to_vec();
        let a = t.entry(super::S, TxnOp::Client { op: 1, body });
        assert!(a.reply.is_ok());
    }
    let build = started.elapsed();
    let after = rss_kb();
    let started = std::time::Instant::now();
    let mut snap = Vec::new();
    t.tree.write_snapshot(&mut snap).expect("written");
    let write = started.elapsed();
    let started = std::time::Instant::now();
    let back = crate::tree::DataTree::read_snapshot(&mut &snap[..]).expect("read");
    let read = started.elapsed();
    assert_eq!(back.node_count(), t.tree.node_count());
    println!(
        "1M nodes x 100 B: RSS {} MB -> {} MB (tree ~{} MB, {} B/node); build {build:?}; \
         snapshot {} MB, write {write:?}, read {read:?}",
        before / 1024,
        after / 1024,
        (after - before) / 1024,
        (after - before) * 1024 / 1_000_000,
        snap.len() / (1 << 20),
    );
}
