//! zk-core
