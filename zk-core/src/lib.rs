//! zk-core: the ZooKeeper wire protocol and a minimal async (tokio) client that works against
//! Apache ZooKeeper (3.5–3.9) and zk-server alike.
//!
//! ```no_run
//! use zk_core::{Client, CreateMode, CreateOptions};
//!
//! # async fn tour() -> zk_core::Result<()> {
//! let client = Client::connect("127.0.0.1:2181").await?;
//! let path = client
//!     .create("/jobs", b"queue", &CreateOptions::new(CreateMode::Persistent))
//!     .await?;
//! let (data, stat, watch) = client.get_data_w(&path).await?;
//! assert_eq!(&data[..], b"queue");
//! client.set_data(&path, b"changed", Some(stat.version)).await?;
//! let event = watch.await; // NodeDataChanged
//! println!("{:?} on {}", event.event_type, event.path);
//! client.delete(&path, None).await?;
//! client.close().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod auth;
mod client;
mod error;
pub mod proto;

pub use client::{
    Client, ClientBuilder, ConnectString, CreateOptions, OneshotWatcher, PersistentWatcher, ReadOp,
    ReadResult, SessionState, StateStream, Transaction, WatchedEvent,
};
pub use error::{Error, Result};
pub use proto::{
    perms, Acl, AddWatchMode, ClientInfo, CreateMode, EventType, Id, KeeperState, MultiResult,
    Stat, WatcherType,
};
