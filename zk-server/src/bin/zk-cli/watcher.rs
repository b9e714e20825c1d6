//! zkCli's default watcher (`MyWatcher`): every session and node event is printed as
//!
//! ```text
//!
//! WATCHER::
//!
//! WatchedEvent state:SyncConnected type:NodeDataChanged path:/x
//! ```
//!
//! unless `printwatches off`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zk_core::{SessionState, WatchedEvent};

/// Prints watch and session events; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventPrinter {
    enabled: Arc<AtomicBool>,
}

impl EventPrinter {
    /// A printer with printing on.
    pub fn new() -> Self {
        Self {
            enabled: Arc::new(AtomicBool::new(true)),
        }
    }

    /// `printwatches on|off`.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    /// Whether events are printed.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    /// Prints a node event (or a watch-removed event).
    pub fn node_event(&self, e: &WatchedEvent) {
        let path = if e.path.is_empty() { "null" } else { &e.path };
        self.print(
            &format!("{:?}", e.state),
            &format!("{:?}", e.event_type),
            path,
        );
    }

    /// Prints a session state change as the `type:None` event Java delivers for it.
    pub fn session_event(&self, s: SessionState) {
        self.print(keeper_state(s), "None", "null");
    }

    fn print(&self, state: &str, event_type: &str, path: &str) {
        if !self.enabled() {
            return;
        }
        let mut o = std::io::stdout().lock();
        let _ = write!(
            o,
            "\nWATCHER::\n\nWatchedEvent state:{state} type:{event_type} path:{path}\n"
        );
        let _ = o.flush();
    }
}

/// The `Watcher.Event.KeeperState` Java reports for a session state.
fn keeper_state(s: SessionState) -> &'static str {
    match s {
        SessionState::Connected => "SyncConnected",
        SessionState::ConnectedReadOnly => "ConnectedReadOnly",
        SessionState::Expired => "Expired",
        SessionState::AuthFailed => "AuthFailed",
        SessionState::Closed => "Closed",
        _ => "Disconnected",
    }
}
