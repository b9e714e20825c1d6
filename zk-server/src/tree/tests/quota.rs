//! Quotas: stats kept up to date, hard limits enforced. Every expectation here was checked on
//! 3.8.0 with `zookeeper.enforceQuota=true` (raw requests, same sequence).

use zk_core::proto::{CreateRequest, ErrorCode, MultiOp, MultiResult, Request, Response};

use super::{cr, T};
use crate::tree::{DataTree, TreeConfig};

const LIMITS: &str = "/zookeeper/quota/p/q/zookeeper_limits";
const STATS: &str = "/zookeeper/quota/p/q/zookeeper_stats";

fn mk(t: &mut T, path: &str, data: &[u8]) -> Result<Response, ErrorCode> {
    t.req(&Request::Create(cr(path, data, 0)))
}

fn stats(t: &DataTree) -> String {
    match t.data(STATS) {
        Some(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{other:?}"),
    }
}

fn quota_tree(enforce: bool) -> T {
    let mut t = T::with(TreeConfig {
        enforce_quota: enforce,
        ..TreeConfig::default()
    });
    for p in ["/p", "/p/q", "/zookeeper/quota/p", "/zookeeper/quota/p/q"] {
        mk(&mut t, p, b"d").expect("created");
    }
    mk(
        &mut t,
        LIMITS,
        b"count=-1,bytes=-1,countHardLimit=3,byteHardLimit=10",
    )
    .expect("limits");
    mk(&mut t, STATS, b"count=0,bytes=0").expect("stats");
    t
}

#[test]
fn stats_node_is_recomputed_on_create_then_tracked_without_a_version_change() {
    let mut t = quota_tree(false);
    assert_eq!(stats(&t.tree), "count=1,bytes=1");
    let before = t.stat(STATS);
    mk(&mut t, "/p/q/a", b"12345").expect("created");
    mk(&mut t, "/p/q/b", b"").expect("created");
    assert_eq!(stats(&t.tree), "count=3,bytes=6");
    t.set("/p/q/a", Some(b"0123456789"), -1).expect("set");
    assert_eq!(stats(&t.tree), "count=3,bytes=11");
    t.delete("/p/q/b", -1).expect("deleted");
    assert_eq!(stats(&t.tree), "count=2,bytes=11");
    let after = t.stat(STATS);
    assert_eq!((after.mzxid, after.version), (before.mzxid, before.version));
    // Outside the quota'd path nothing is counted.
    mk(&mut t, "/p/other", b"zz").expect("created");
    assert_eq!(stats(&t.tree), "count=2,bytes=11");
}

#[test]
fn hard_limits_fail_creates_and_set_data_with_quota_exceeded() {
    let mut t = quota_tree(true);
    mk(&mut t, "/p/q/a", b"12345").expect("second node");
    mk(&mut t, "/p/q/b", b"").expect("third node");
    assert_eq!(mk(&mut t, "/p/q/c", b""), Err(ErrorCode::QuotaExceeded));
    let m = t
        .multi(vec![MultiOp::Create(cr("/p/q/c", b"d", 0))])
        .expect("multi");
    assert_eq!(m.results, vec![MultiResult::Error { err: -125 }]);
    // bytes: 6 + 5 > 10
    assert_eq!(
        t.set("/p/q/a", Some(b"0123456789"), -1),
        Err(ErrorCode::QuotaExceeded)
    );
    assert_eq!(stats(&t.tree), "count=3,bytes=6");
    mk(&mut t, "/p/free", b"").expect("outside the quota");
    t.delete("/p/q/b", -1).expect("deleted");
    mk(&mut t, "/p/q/c", b"").expect("room again");
}

#[test]
fn malformed_limits_fail_the_request_and_soft_limits_pass() {
    let mut t = quota_tree(true);
    t.set(LIMITS, Some(b"count"), -1).expect("set");
    assert_eq!(mk(&mut t, "/p/q/d", b""), Err(ErrorCode::MarshallingError));
    assert_eq!(
        t.multi(vec![MultiOp::Create(cr("/p/q/e", b"d", 0))]),
        Err(ErrorCode::MarshallingError)
    );
    t.set(LIMITS, Some(b"count=1,countHardLimit=-1,bytes=-1"), -1)
        .expect("set");
    mk(&mut t, "/p/q/f", b"xx").expect("soft limit only logs");
    assert_eq!(stats(&t.tree), "count=2,bytes=3");
}

#[test]
fn extra_stats_keys_are_written_back_with_apaches_stray_equals() {
    let mut t = quota_tree(false);
    t.set(STATS, Some(b"count=1,bytes=2,zz=5"), -1)
        .expect("set");
    mk(&mut t, "/p/q/g", b"").expect("created");
    assert_eq!(stats(&t.tree), "count=2,bytes=2=;zz=5");
}

#[test]
fn deleting_the_limits_node_ends_tracking_and_snapshots_keep_it() {
    let mut t = quota_tree(true);
    let mut buf = Vec::new();
    t.tree.write_snapshot(&mut buf).expect("written");
    let back = DataTree::read_snapshot(&mut &buf[..]).expect("read");
    let mut u = T {
        tree: back,
        zxid: t.zxid,
        time: t.time,
        auth: t.auth.clone(),
    };
    for tt in [&mut t, &mut u] {
        mk(tt, "/p/q/a", b"").expect("created");
        mk(tt, "/p/q/b", b"").expect("created");
        assert_eq!(mk(tt, "/p/q/c", b""), Err(ErrorCode::QuotaExceeded));
    }
    t.delete(LIMITS, -1).expect("deleted");
    mk(&mut t, "/p/q/c", b"").expect("no quota any more");
    assert_eq!(stats(&t.tree), "count=3,bytes=1");
}

#[test]
fn null_data_counts_zero_bytes_and_a_null_limits_node_is_malformed() {
    let mut t = quota_tree(true);
    let null_data = CreateRequest {
        data: None,
        ..cr("/p/q/n", b"", 0)
    };
    t.req(&Request::Create(null_data)).expect("created");
    assert_eq!(stats(&t.tree), "count=2,bytes=1");
    t.set(LIMITS, None, -1).expect("set");
    assert_eq!(mk(&mut t, "/p/q/x", b""), Err(ErrorCode::MarshallingError));
}
