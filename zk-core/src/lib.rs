//! zk-core: the ZooKeeper wire protocol and a minimal async (tokio) client.
#![deny(missing_docs)]

pub mod proto;
