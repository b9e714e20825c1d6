//! Watches as values: one-shot watches are futures, persistent watches are streams.
//!
//! The registry lives inside the connection task, so registering a watch (when its reply is
//! processed) and dispatching a notification never race: a watch is in place before any event
//! that follows its reply on the wire.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::proto::{EventType, KeeperState, SetWatches2, WatcherType};

/// A node event or a terminal session event delivered to a watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    /// What happened; [`EventType::None`] for session events.
    pub event_type: EventType,
    /// The session state when it happened.
    pub state: KeeperState,
    /// The node's path (client-side, chroot stripped); empty for session events.
    pub path: String,
}

impl WatchedEvent {
    pub(crate) fn session(state: KeeperState) -> Self {
        Self {
            event_type: EventType::None,
            state,
            path: String::new(),
        }
    }
}

/// A one-shot watch: resolves once, on the first event for its node, or on a terminal session
/// event (Expired, Closed, AuthFailed) with [`EventType::None`].
///
/// # Cancellation safety
/// Dropping it forgets the watch locally; the server-side watch stays until it fires.
#[derive(Debug)]
pub struct OneshotWatcher {
    rx: oneshot::Receiver<WatchedEvent>,
}

impl Future for OneshotWatcher {
    type Output = WatchedEvent;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WatchedEvent> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| WatchedEvent::session(KeeperState::Closed)))
    }
}

/// A persistent (or persistent-recursive) watch: a stream of events that ends after
/// [`EventType::PersistentWatchRemoved`] or a terminal session event.
#[derive(Debug)]
pub struct PersistentWatcher {
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
}

impl Stream for PersistentWatcher {
    type Item = WatchedEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchedEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// The kind of watch a successful request leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WatchKind {
    Data,
    Exist,
    Child,
    Persistent,
    PersistentRecursive,
}

/// A watcher waiting for its request's reply before it is registered.
#[derive(Debug)]
pub(crate) enum WatchSender {
    Oneshot(oneshot::Sender<WatchedEvent>),
    Stream(mpsc::UnboundedSender<WatchedEvent>),
}

pub(crate) fn oneshot_pair() -> (WatchSender, OneshotWatcher) {
    let (tx, rx) = oneshot::channel();
    (WatchSender::Oneshot(tx), OneshotWatcher { rx })
}

pub(crate) fn stream_pair() -> (WatchSender, PersistentWatcher) {
    let (tx, rx) = mpsc::unbounded_channel();
    (WatchSender::Stream(tx), PersistentWatcher { rx })
}

/// Every watch of one session, by kind and client path.
#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    oneshot: HashMap<(WatchKind, String), Vec<oneshot::Sender<WatchedEvent>>>,
    streams: HashMap<(WatchKind, String), Vec<mpsc::UnboundedSender<WatchedEvent>>>,
}

impl WatchRegistry {
    pub(crate) fn add(&mut self, kind: WatchKind, path: String, w: WatchSender) {
        match w {
            WatchSender::Oneshot(s) => self.oneshot.entry((kind, path)).or_default().push(s),
            WatchSender::Stream(s) => self.streams.entry((kind, path)).or_default().push(s),
        }
    }

    /// Delivers a node event to every watcher it concerns (as Apache's `ZKWatchManager`),
    /// removing the one-shot ones.
    pub(crate) fn dispatch(&mut self, ev: &WatchedEvent) {
        let p = ev.path.clone();
        let fire_oneshot = |reg: &mut Self, kind| {
            for s in reg.oneshot.remove(&(kind, p.clone())).unwrap_or_default() {
                let _ = s.send(ev.clone());
            }
        };
        match ev.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                fire_oneshot(self, WatchKind::Data);
                fire_oneshot(self, WatchKind::Exist);
            }
            EventType::NodeChildrenChanged => fire_oneshot(self, WatchKind::Child),
            EventType::NodeDeleted => {
                fire_oneshot(self, WatchKind::Data);
                fire_oneshot(self, WatchKind::Exist);
                fire_oneshot(self, WatchKind::Child);
            }
            _ => return,
        }
        self.send_stream(WatchKind::Persistent, &p, ev);
        if ev.event_type != EventType::NodeChildrenChanged {
            let mut anc = Some(p.as_str());
            while let Some(a) = anc {
                self.send_stream(WatchKind::PersistentRecursive, a, ev);
                anc = if a == "/" {
                    None
                } else {
                    Some(crate::proto::path::parent(a))
                };
            }
        }
    }

    fn send_stream(&mut self, kind: WatchKind, path: &str, ev: &WatchedEvent) {
        if let Some(v) = self.streams.get_mut(&(kind, path.to_string())) {
            v.retain(|s| s.send(ev.clone()).is_ok());
            if v.is_empty() {
                self.streams.remove(&(kind, path.to_string()));
            }
        }
    }

    /// Removes the watches a successful removeWatches took away on the server, telling each
    /// watcher with the matching "removed" event.
    pub(crate) fn remove(&mut self, path: &str, t: WatcherType) {
        let kinds: &[WatchKind] = match t {
            WatcherType::Children => &[WatchKind::Child],
            WatcherType::Data => &[WatchKind::Data, WatchKind::Exist],
            WatcherType::Persistent => &[WatchKind::Persistent],
            WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
            WatcherType::Any => &[
                WatchKind::Child,
                WatchKind::Data,
                WatchKind::Exist,
                WatchKind::Persistent,
                WatchKind::PersistentRecursive,
            ],
        };
        for &kind in kinds {
            let event_type = match kind {
                WatchKind::Child => EventType::ChildWatchRemoved,
                WatchKind::Data | WatchKind::Exist => EventType::DataWatchRemoved,
                _ => EventType::PersistentWatchRemoved,
            };
            let ev = WatchedEvent {
                event_type,
                state: KeeperState::SyncConnected,
                path: path.to_string(),
            };
            for s in self
                .oneshot
                .remove(&(kind, path.to_string()))
                .unwrap_or_default()
            {
                let _ = s.send(ev.clone());
            }
            for s in self
                .streams
                .remove(&(kind, path.to_string()))
                .unwrap_or_default()
            {
                let _ = s.send(ev.clone());
            }
        }
    }

    /// Ends every watch with a terminal session event.
    pub(crate) fn terminate(&mut self, state: KeeperState) {
        let ev = WatchedEvent::session(state);
        for (_, v) in self.oneshot.drain() {
            for s in v {
                let _ = s.send(ev.clone());
            }
        }
        for (_, v) in self.streams.drain() {
            for s in v {
                let _ = s.send(ev.clone());
            }
        }
    }

    /// Drops watchers nobody listens to any more.
    fn prune(&mut self) {
        self.oneshot.retain(|_, v| {
            v.retain(|s| !s.is_closed());
            !v.is_empty()
        });
        self.streams.retain(|_, v| {
            v.retain(|s| !s.is_closed());
            !v.is_empty()
        });
    }

    /// The watches to re-register after a reconnect, as server paths.
    pub(crate) fn set_watches_packet(
        &mut self,
        relative_zxid: i64,
        to_server: impl Fn(&str) -> String,
    ) -> SetWatches2 {
        self.prune();
        let mut sw = SetWatches2 {
            relative_zxid,
            ..Default::default()
        };
        let keys = self.oneshot.keys().chain(self.streams.keys());
        for (kind, path) in keys {
            let list = match kind {
                WatchKind::Data => &mut sw.data_watches,
                WatchKind::Exist => &mut sw.exist_watches,
                WatchKind::Child => &mut sw.child_watches,
                WatchKind::Persistent => &mut sw.persistent_watches,
                WatchKind::PersistentRecursive => &mut sw.persistent_recursive_watches,
            };
            list.push(to_server(path));
        }
        sw
    }
}

/// Splits a SetWatches2 into packets whose paths total at most `max_bytes` (Apache's client
/// uses 128 KiB), keeping the relative zxid on each.
pub(crate) fn split_set_watches(sw: SetWatches2, max_bytes: usize) -> Vec<SetWatches2> {
    let mut out = Vec::new();
    let mut cur = SetWatches2 {
        relative_zxid: sw.relative_zxid,
        ..Default::default()
    };
    let mut size = 0;
    let lists = [
        (0, sw.data_watches),
        (1, sw.exist_watches),
        (2, sw.child_watches),
        (3, sw.persistent_watches),
        (4, sw.persistent_recursive_watches),
    ];
    for (which, paths) in lists {
        for p in paths {
            if size > 0 && size + p.len() + 4 > max_bytes {
                out.push(std::mem::replace(
                    &mut cur,
                    SetWatches2 {
                        relative_zxid: sw.relative_zxid,
                        ..Default::default()
                    },
                ));
                size = 0;
            }
            size += p.len() + 4;
            match which {
                0 => cur.data_watches.push(p),
                1 => cur.exist_watches.push(p),
                2 => cur.child_watches.push(p),
                3 => cur.persistent_watches.push(p),
                _ => cur.persistent_recursive_watches.push(p),
            }
        }
    }
    if size > 0 {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_watches_split_respects_the_limit_and_keeps_every_path() {
        let sw = SetWatches2 {
            relative_zxid: 9,
            data_watches: (0..1000).map(|i| format!("/data/{i:0200}")).collect(),
            child_watches: vec!["/c".into()],
            persistent_recursive_watches: vec!["/r".into()],
            ..Default::default()
        };
        let parts = split_set_watches(sw, 128 * 1024);
        assert!(parts.len() >= 2);
        let total: usize = parts
            .iter()
            .map(|p| {
                p.data_watches.len() + p.child_watches.len() + p.persistent_recursive_watches.len()
            })
            .sum();
        assert_eq!(total, 1002);
        for p in &parts {
            assert_eq!(p.relative_zxid, 9);
            let bytes: usize = p.data_watches.iter().map(|s| s.len() + 4).sum();
            assert!(bytes <= 128 * 1024);
        }
    }

    #[tokio::test]
    async fn recursive_watch_sees_descendants_but_not_child_events() {
        let mut reg = WatchRegistry::default();
        let (tx, mut rx) = stream_pair();
        reg.add(WatchKind::PersistentRecursive, "/a".into(), tx);
        for (t, p) in [
            (EventType::NodeCreated, "/a/b/c"),
            (EventType::NodeChildrenChanged, "/a"),
            (EventType::NodeDataChanged, "/ab"),
            (EventType::NodeDeleted, "/a"),
        ] {
            reg.dispatch(&WatchedEvent {
                event_type: t,
                state: KeeperState::SyncConnected,
                path: p.into(),
            });
        }
        use futures::StreamExt;
        assert_eq!(rx.next().await.map(|e| e.path), Some("/a/b/c".into()));
        assert_eq!(
            rx.next().await.map(|e| e.event_type),
            Some(EventType::NodeDeleted)
        );
    }
}
