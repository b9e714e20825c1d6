//! openraft's own storage conformance suite, run against the WAL-backed log store and the
//! snapshot-file state machine.

use std::sync::Arc;

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use openraft::StorageError;

use super::support::ListTarget;
use crate::raft::log_store::LogStore;
use crate::raft::state_machine::StateMachine;
use crate::raft::types::TypeConfig;
use crate::storage::{SnapshotStore, Wal, WalOptions};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let err = |e: &dyn std::fmt::Display| {
            StorageError::read(TypeConfig::err_from_string(e.to_string()))
        };
        let dir = tempfile::tempdir().map_err(|e| err(&e))?;
        let wal = Wal::open(&dir.path().join("wal"), WalOptions::default()).map_err(|e| err(&e))?;
        let snaps = SnapshotStore::open(&dir.path().join("snap")).map_err(|e| err(&e))?;
        let sm = StateMachine::new(Arc::new(ListTarget::default()), snaps, None, 1000);
        Ok((dir, LogStore::new(wal), sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_storage_passes_openraft_conformance_suite() {
    super::support::init_tracing();
    Suite::test_all(Builder)
        .await
        .expect("openraft storage suite");
}
