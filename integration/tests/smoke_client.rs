//! Quick end-to-end smoke of zk-core against Apache ZooKeeper.
use integration::apache::{ApacheEnsemble, ApacheOptions};
use zk_core::{Client, CreateMode, CreateOptions, EventType};

#[tokio::test]
async fn smoke_against_apache() {
    let _inst = integration::require_apache!();
    let zk = ApacheEnsemble::start_standalone(ApacheOptions::default())
        .await
        .expect("start");
    let c = Client::connect(&zk.connect_string())
        .await
        .expect("connect");
    assert!(c.session_id() != 0);
    let p = c
        .create("/smoke", b"hi", &CreateOptions::new(CreateMode::Persistent))
        .await
        .expect("create");
    assert_eq!(p, "/smoke");
    let (d, s, w) = c.get_data_w("/smoke").await.expect("get");
    assert_eq!(&d[..], b"hi");
    c.set_data("/smoke", b"x", Some(s.version))
        .await
        .expect("set");
    let ev = w.await;
    assert_eq!(ev.event_type, EventType::NodeDataChanged);
    let r = c
        .transaction()
        .create("/smoke/a", b"", &CreateOptions::new(CreateMode::Persistent))
        .check("/smoke", 99)
        .commit()
        .await;
    println!("{r:?}");
    assert!(matches!(r, Err(zk_core::Error::Multi { index: 1, .. })));
    let me = c.who_am_i().await.expect("whoami");
    assert_eq!(me[0].auth_scheme, "ip");
    c.close().await;
}
