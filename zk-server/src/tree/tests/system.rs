//! The system nodes and the metrics of a fresh tree.

use zk_core::proto::{perms, Acl, Request, Response, Stat};

use super::T;
use crate::tree::DataTree;

fn zero_stat(cversion: i32, aversion: i32, num_children: i32) -> Stat {
    Stat {
        cversion,
        aversion,
        num_children,
        ..Stat::default()
    }
}

// Checked on 3.8.0 with zkCli: `ls -R /`, `get -s`, `getAcl` on each system node.
#[test]
fn fresh_tree_has_apache_system_nodes_with_their_stats_and_acls() {
    let t = DataTree::default();
    assert_eq!(t.children("/"), Some(vec!["zookeeper".to_string()]));
    assert_eq!(
        t.children("/zookeeper"),
        Some(vec!["config".to_string(), "quota".to_string()])
    );
    // Children added without creates: the visible cversion is 0 * 2 - numChildren.
    assert_eq!(t.stat("/"), Some(zero_stat(-1, 0, 1)));
    assert_eq!(t.stat("/zookeeper"), Some(zero_stat(-2, 0, 2)));
    assert_eq!(t.stat("/zookeeper/quota"), Some(zero_stat(0, 0, 0)));
    assert_eq!(t.stat("/zookeeper/config"), Some(zero_stat(0, -1, 0)));
    assert_eq!(t.acl("/"), Some(Acl::open_unsafe()));
    assert_eq!(t.acl("/zookeeper"), Some(Acl::open_unsafe()));
    assert_eq!(t.acl("/zookeeper/quota"), Some(Acl::open_unsafe()));
    assert_eq!(
        t.acl("/zookeeper/config"),
        Some(vec![Acl::new(perms::READ, "world", "anyone")])
    );
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(t.data(p), Some(Some(bytes::Bytes::new())), "{p}");
    }
}

// Checked on 3.8.0 with `mntr` on a fresh server: zk_znode_count 5, zk_approximate_data_size 44,
// and 56 after `create /a 0123456789`.
#[test]
fn metrics_count_like_apache() {
    let mut t = T::new();
    assert_eq!(t.tree.znode_count(), 5);
    assert_eq!(t.tree.node_count(), 4);
    assert_eq!(t.tree.approximate_data_size(), 44);
    t.req(&Request::Create(super::cr("/a", b"0123456789", 0)))
        .ok();
    assert_eq!(t.tree.approximate_data_size(), 56);
    t.set("/a", Some(b"x"), -1).ok();
    assert_eq!(t.tree.approximate_data_size(), 47);
    t.delete("/a", -1).ok();
    assert_eq!(t.tree.approximate_data_size(), 44);
    assert_eq!(t.tree.ephemeral_count(), 0);
}

// Checked on 3.8.0: setData on /zookeeper/config is refused (ACL r), /zookeeper/quota is open.
#[test]
fn config_node_is_read_only_and_quota_node_writable() {
    let mut t = T::new();
    assert_eq!(
        t.set("/zookeeper/config", None, -1),
        Err(zk_core::proto::ErrorCode::NoAuth)
    );
    let s = t.set("/zookeeper/quota", None, -1).map(|s| s.version);
    assert_eq!(s, Ok(1));
    let r = t.read(&Request::GetData(zk_core::proto::GetDataRequest {
        path: "/zookeeper/config".into(),
        watch: false,
    }));
    assert!(matches!(r, Ok(Response::GetData(_))));
}
