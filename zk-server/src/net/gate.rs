//! The serving gate: a member of an ensemble serves clients only while it is in contact with
//! a quorum (`Consensus::quorum_contact`: a follower heard from its leader, a leader was
//! acknowledged by a quorum, within `syncLimit × tickTime`), as Apache ZooKeeper's servers do.
//!
//! Out of contact, the server closes every client connection and refuses new ones (it reads
//! the ConnectRequest and closes without answering, as Apache's "not running" server), and the
//! four-letter words report it. Its clients see Disconnected and move to a server of the
//! majority with their session, well before the majority can expire the session and hand its
//! locks and leaderships to someone else. Back in contact, it serves again.
//!
//! A standalone server is always in contact with itself; a member of an ensemble starts out
//! of contact and opens once it has joined a quorum.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::server::Shared;

/// Whether the server serves clients now.
#[derive(Debug)]
pub struct Gate {
    open: AtomicBool,
}

impl Gate {
    /// A gate, open or closed to begin with.
    pub fn new(open: bool) -> Self {
        Gate {
            open: AtomicBool::new(open),
        }
    }

    /// Whether clients are served now.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

/// What a four-letter word that needs a serving server answers otherwise (Apache's text).
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// Opens and closes the gate as contact with a quorum comes and goes, checking every
/// `tickTime / 10` (within 5–100 ms), until `stop`.
pub async fn watch_quorum(shared: Arc<Shared>, stop: CancellationToken) {
    let every = Duration::from_millis(u64::from(shared.config.tick_time_ms / 10).clamp(5, 100));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        let contact = shared.consensus.quorum_contact();
        // The gate closes before the connections do: a connection registered after
        // `close_all_conns` finds the gate closed (see `connection::serve_inner`).
        let was = shared.gate.open.swap(contact, Ordering::AcqRel);
        if was && !contact {
            let closed = shared.state.close_all_conns();
            warn!(
                limit_ms = u64::from(shared.config.tick_time_ms) * u64::from(shared.config.sync_limit),
                closed,
                "no contact with a quorum within syncLimit x tickTime: not serving; client connections closed"
            );
        } else if !was && contact {
            info!("in contact with a quorum: serving clients");
        }
    }
}
