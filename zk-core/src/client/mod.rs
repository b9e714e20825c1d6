//! The async client.
//!
//! A [`Client`] is a cheap handle to one session; one task owns the connection. Every method
//! enqueues its request when it is *called* (not when the returned future is first polled), so
//! requests made one after another reach the server in that order, as ZooKeeper promises.

mod actor;
mod builder;
mod connect_string;
mod create;
mod state;
mod transaction;
mod watch;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

pub use builder::ClientBuilder;
pub use connect_string::ConnectString;
pub use create::CreateOptions;
pub use state::{SessionState, StateStream};
pub use transaction::{ReadOp, ReadResult, Transaction};
pub use watch::{OneshotWatcher, PersistentWatcher, WatchedEvent};

use actor::{Command, OnReply};
use create::create_request;
use watch::WatchKind;

use crate::error::{Error, Result};
use crate::proto::path::validate_create_path;
use crate::proto::{
    validate_path, Acl, AddWatchMode, AddWatchRequest, AuthPacket, CheckVersionRequest,
    CheckWatchesRequest, Chroot, ClientInfo, DeleteRequest, Empty, ExistsRequest, GetAclRequest,
    GetAllChildrenNumberRequest, GetChildren2Request, GetChildrenRequest, GetDataRequest,
    GetEphemeralsRequest, ReconfigRequest, RemoveWatchesRequest, Request, Response, SetAclRequest,
    SetDataRequest, Stat, SyncRequest, WatcherType,
};

pub(crate) fn terminal_error(s: SessionState) -> Error {
    match s {
        SessionState::Expired => Error::SessionExpired,
        SessionState::AuthFailed => Error::AuthFailed,
        _ => Error::Closed,
    }
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::UnboundedSender<Command>,
    shared: Arc<state::Shared>,
    chroot: Chroot,
}

/// A handle to one ZooKeeper session. Clone it freely; when the last clone is dropped the
/// session is closed.
///
/// # Cancellation safety
/// Every operation is enqueued when the method is called; dropping the returned future only
/// discards the answer, the request is still sent and applied.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

type Reply<T> = std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

impl Client {
    /// Connects with default settings; see [`ClientBuilder::connect`].
    ///
    /// # Errors
    /// As [`ClientBuilder::connect`].
    pub async fn connect(connect_string: &str) -> Result<Client> {
        Self::builder(connect_string).connect().await
    }

    /// A builder for a client with custom settings.
    pub fn builder(connect_string: &str) -> ClientBuilder {
        ClientBuilder::new(connect_string)
    }

    /// The session id (0 before the first connection). It changes once if a session created by
    /// a read-only server moves to a read-write one: read-only servers keep their sessions to
    /// themselves, so the client asks for a new one, as Apache's client does.
    pub fn session_id(&self) -> i64 {
        self.inner.shared.session().0
    }

    /// The negotiated session timeout.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.inner.shared.session().1).unwrap_or(0))
    }

    /// The highest zxid seen in a reply.
    pub fn last_zxid(&self) -> i64 {
        self.inner.shared.last_zxid()
    }

    /// The current session state.
    pub fn state(&self) -> SessionState {
        self.inner.shared.state()
    }

    /// Every state change from now on, starting with the current state.
    pub fn state_stream(&self) -> StateStream {
        self.inner.shared.subscribe()
    }

    /// The chroot of this client, if any.
    pub fn chroot(&self) -> Option<&str> {
        self.inner.chroot.root()
    }

    /// Enqueues a request now; the future resolves with its reply.
    fn call(
        &self,
        req: Request,
        on_reply: Option<OnReply>,
    ) -> impl Future<Output = Result<Response>> {
        let (tx, rx) = oneshot::channel();
        let sent = self
            .inner
            .tx
            .send(Command::Request {
                req,
                on_reply,
                reply: tx,
            })
            .is_ok();
        let shared = self.inner.shared.clone();
        async move {
            if !sent {
                return Err(terminal_error(shared.state()));
            }
            rx.await
                .unwrap_or_else(|_| Err(terminal_error(shared.state())))
        }
    }

    /// Validates `path`, enqueues `build(server_path)` and maps the reply with `map`.
    fn op<T: Send + 'static>(
        &self,
        path: &str,
        build: impl FnOnce(String) -> Request,
        on_reply: Option<OnReply>,
        map: impl FnOnce(Response, &Chroot) -> Option<T> + Send + 'static,
    ) -> Reply<T> {
        if let Err(e) = validate_path(path) {
            return Box::pin(async move { Err(e.into()) });
        }
        let fut = self.call(build(self.inner.chroot.prepend(path)), on_reply);
        let chroot = self.inner.chroot.clone();
        Box::pin(async move {
            let resp = fut.await?;
            let op = resp.op_code();
            map(resp, &chroot).ok_or_else(|| Error::Protocol(format!("unexpected {op:?} reply")))
        })
    }

    fn watch_reg(
        path: &str,
        on_ok: WatchKind,
        on_no_node: Option<WatchKind>,
    ) -> (OnReply, OneshotWatcher) {
        let (sender, w) = watch::oneshot_pair();
        (
            OnReply::Watch {
                path: path.to_string(),
                on_ok,
                on_no_node,
                sender,
            },
            w,
        )
    }

    /// Creates a node and returns its path (with the sequence suffix for sequential modes).
    /// Uses opcode create, or createContainer / createTTL for those modes.
    ///
    /// # Errors
    /// NodeExists, NoNode (no parent), NoChildrenForEphemerals, NoAuth, InvalidAcl,
    /// Unimplemented (TTL disabled on the server), InvalidArgument (TTL missing or misplaced),
    /// InvalidPath, and connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn create(&self, path: &str, data: &[u8], opts: &CreateOptions) -> Reply<String> {
        self.create_op(path, data, opts, false, |r, c| match r {
            Response::Create(r) => Some(c.strip(&r.path)),
            Response::Create2(r) | Response::CreateContainer(r) | Response::CreateTtl(r) => {
                Some(c.strip(&r.path))
            }
            _ => None,
        })
    }

    /// Creates a node and returns its path and stat (opcode create2, or createContainer /
    /// createTTL for those modes).
    ///
    /// # Errors
    /// As [`Client::create`].
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn create2(&self, path: &str, data: &[u8], opts: &CreateOptions) -> Reply<(String, Stat)> {
        self.create_op(path, data, opts, true, |r, c| match r {
            Response::Create2(r) | Response::CreateContainer(r) | Response::CreateTtl(r) => {
                Some((c.strip(&r.path), r.stat))
            }
            _ => None,
        })
    }

    fn create_op<T: Send + 'static>(
        &self,
        path: &str,
        data: &[u8],
        opts: &CreateOptions,
        with_stat: bool,
        map: impl FnOnce(Response, &Chroot) -> Option<T> + Send + 'static,
    ) -> Reply<T> {
        if let Err(e) = validate_create_path(path, opts.mode.is_sequential()) {
            return Box::pin(async move { Err(e.into()) });
        }
        let req = match create_request(self.inner.chroot.prepend(path), data, opts, with_stat) {
            Ok(r) => r,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let fut = self.call(req, None);
        let chroot = self.inner.chroot.clone();
        Box::pin(async move {
            let resp = fut.await?;
            let op = resp.op_code();
            map(resp, &chroot).ok_or_else(|| Error::Protocol(format!("unexpected {op:?} reply")))
        })
    }

    /// Deletes a node; `version` None matches any version.
    ///
    /// # Errors
    /// NoNode, BadVersion, NotEmpty, NoAuth, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn delete(&self, path: &str, version: Option<i32>) -> Reply<()> {
        let version = version.unwrap_or(-1);
        self.op(
            path,
            |path| Request::Delete(DeleteRequest { path, version }),
            None,
            |r, _| matches!(r, Response::Delete(_)).then_some(()),
        )
    }

    /// The node's stat, or None if it does not exist.
    ///
    /// # Errors
    /// InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn exists(&self, path: &str) -> Reply<Option<Stat>> {
        let fut = self.op(
            path,
            |path| Request::Exists(ExistsRequest { path, watch: false }),
            None,
            |r, _| match r {
                Response::Exists(e) => Some(e.stat),
                _ => None,
            },
        );
        Box::pin(async move { none_if_no_node(fut.await) })
    }

    /// As [`Client::exists`], leaving a watch that fires on the node's creation, deletion or
    /// data change.
    ///
    /// # Errors
    /// As [`Client::exists`].
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn exists_w(&self, path: &str) -> Reply<(Option<Stat>, OneshotWatcher)> {
        let (reg, w) = Self::watch_reg(path, WatchKind::Data, Some(WatchKind::Exist));
        let fut = self.op(
            path,
            |path| Request::Exists(ExistsRequest { path, watch: true }),
            Some(reg),
            |r, _| match r {
                Response::Exists(e) => Some(e.stat),
                _ => None,
            },
        );
        Box::pin(async move { Ok((none_if_no_node(fut.await)?, w)) })
    }

    /// The node's data and stat.
    ///
    /// # Errors
    /// NoNode, NoAuth, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_data(&self, path: &str) -> Reply<(Bytes, Stat)> {
        self.op(
            path,
            |path| Request::GetData(GetDataRequest { path, watch: false }),
            None,
            get_data_reply,
        )
    }

    /// As [`Client::get_data`], leaving a watch that fires on the node's deletion or data change.
    ///
    /// # Errors
    /// As [`Client::get_data`].
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_data_w(&self, path: &str) -> Reply<(Bytes, Stat, OneshotWatcher)> {
        let (reg, w) = Self::watch_reg(path, WatchKind::Data, None);
        let fut = self.op(
            path,
            |path| Request::GetData(GetDataRequest { path, watch: true }),
            Some(reg),
            get_data_reply,
        );
        Box::pin(async move {
            let (d, s) = fut.await?;
            Ok((d, s, w))
        })
    }

    /// Sets the node's data; `version` None matches any version.
    ///
    /// # Errors
    /// NoNode, BadVersion, NoAuth, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn set_data(&self, path: &str, data: &[u8], version: Option<i32>) -> Reply<Stat> {
        let data = Some(Bytes::copy_from_slice(data));
        let version = version.unwrap_or(-1);
        self.op(
            path,
            |path| {
                Request::SetData(SetDataRequest {
                    path,
                    data,
                    version,
                })
            },
            None,
            |r, _| match r {
                Response::SetData(s) => Some(s.stat),
                _ => None,
            },
        )
    }

    /// The node's ACL and stat.
    ///
    /// # Errors
    /// NoNode, NoAuth, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_acl(&self, path: &str) -> Reply<(Vec<Acl>, Stat)> {
        self.op(
            path,
            |path| Request::GetAcl(GetAclRequest { path }),
            None,
            |r, _| match r {
                Response::GetAcl(a) => Some((a.acl, a.stat)),
                _ => None,
            },
        )
    }

    /// Sets the node's ACL; `aversion` None matches any ACL version.
    ///
    /// # Errors
    /// NoNode, BadVersion, NoAuth, InvalidAcl, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn set_acl(&self, path: &str, acl: Vec<Acl>, aversion: Option<i32>) -> Reply<Stat> {
        let version = aversion.unwrap_or(-1);
        self.op(
            path,
            |path| Request::SetAcl(SetAclRequest { path, acl, version }),
            None,
            |r, _| match r {
                Response::SetAcl(s) => Some(s.stat),
                _ => None,
            },
        )
    }

    /// The node's child names (unordered, as the server returns them).
    ///
    /// # Errors
    /// NoNode, NoAuth, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_children(&self, path: &str) -> Reply<Vec<String>> {
        self.op(
            path,
            |path| Request::GetChildren(GetChildrenRequest { path, watch: false }),
            None,
            children_reply,
        )
    }

    /// As [`Client::get_children`], leaving a watch that fires when a child is added or
    /// removed, or the node is deleted.
    ///
    /// # Errors
    /// As [`Client::get_children`].
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_children_w(&self, path: &str) -> Reply<(Vec<String>, OneshotWatcher)> {
        let (reg, w) = Self::watch_reg(path, WatchKind::Child, None);
        let fut = self.op(
            path,
            |path| Request::GetChildren(GetChildrenRequest { path, watch: true }),
            Some(reg),
            children_reply,
        );
        Box::pin(async move { Ok((fut.await?, w)) })
    }

    /// The node's child names and its stat (getChildren2).
    ///
    /// # Errors
    /// As [`Client::get_children`].
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_children2(&self, path: &str) -> Reply<(Vec<String>, Stat)> {
        self.op(
            path,
            |path| Request::GetChildren2(GetChildren2Request { path, watch: false }),
            None,
            children2_reply,
        )
    }

    /// As [`Client::get_children2`], with a child watch.
    ///
    /// # Errors
    /// As [`Client::get_children`].
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_children2_w(&self, path: &str) -> Reply<(Vec<String>, Stat, OneshotWatcher)> {
        let (reg, w) = Self::watch_reg(path, WatchKind::Child, None);
        let fut = self.op(
            path,
            |path| Request::GetChildren2(GetChildren2Request { path, watch: true }),
            Some(reg),
            children2_reply,
        );
        Box::pin(async move {
            let (c, s) = fut.await?;
            Ok((c, s, w))
        })
    }

    /// The number of descendants of a node.
    ///
    /// # Errors
    /// NoNode, NoAuth, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_all_children_number(&self, path: &str) -> Reply<i32> {
        self.op(
            path,
            |path| Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path }),
            None,
            |r, _| match r {
                Response::GetAllChildrenNumber(n) => Some(n.total_number),
                _ => None,
            },
        )
    }

    /// The paths of this session's ephemeral nodes whose path starts with `prefix` (a string
    /// prefix; `/` for all).
    ///
    /// # Errors
    /// InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn get_ephemerals(&self, prefix: &str) -> Reply<Vec<String>> {
        self.op(
            prefix,
            |prefix_path| Request::GetEphemerals(GetEphemeralsRequest { prefix_path }),
            None,
            |r, c| match r {
                Response::GetEphemerals(e) => {
                    Some(e.ephemerals.iter().map(|p| c.strip(p)).collect())
                }
                _ => None,
            },
        )
    }

    /// Waits until the server this client is connected to has caught up with the leader, so
    /// that reads after it see every write committed before it.
    ///
    /// # Errors
    /// InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn sync(&self, path: &str) -> Reply<()> {
        self.op(
            path,
            |path| Request::Sync(SyncRequest { path }),
            None,
            |r, _| matches!(r, Response::Sync(_)).then_some(()),
        )
    }

    /// Checks a node's version without changing anything (opcode check outside a multi;
    /// servers older than 3.9 may answer Unimplemented or fail).
    ///
    /// # Errors
    /// NoNode, BadVersion, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn check_version(&self, path: &str, version: i32) -> Reply<Stat> {
        self.op(
            path,
            |path| Request::Check(CheckVersionRequest { path, version }),
            None,
            |r, _| match r {
                Response::Check(s) => Some(s.stat),
                _ => None,
            },
        )
    }

    /// Starts a multi; see [`Transaction`].
    pub fn transaction(&self) -> Transaction {
        Transaction::new(self.clone())
    }

    /// Several reads in one round trip (multiRead); each succeeds or fails on its own.
    ///
    /// # Errors
    /// InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn multi_read(&self, ops: &[ReadOp]) -> Reply<Vec<ReadResult>> {
        Box::pin(transaction::multi_read(self, ops))
    }

    /// Adds a persistent watch (data and child events of `path`) or a persistent recursive
    /// watch (data events of `path` and every descendant). The stream ends when the watch is
    /// removed or the session ends.
    ///
    /// # Errors
    /// InvalidPath, Unimplemented (servers before 3.6), connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn add_watch(&self, path: &str, mode: AddWatchMode) -> Reply<PersistentWatcher> {
        let (sender, w) = watch::stream_pair();
        let on_ok = match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        };
        let reg = OnReply::Watch {
            path: path.to_string(),
            on_ok,
            on_no_node: None,
            sender,
        };
        let mode = mode.code();
        let fut = self.op(
            path,
            |path| Request::AddWatch(AddWatchRequest { path, mode }),
            Some(reg),
            |r, _| match r {
                Response::AddWatch(_) => Some(()),
                _ => None,
            },
        );
        Box::pin(async move {
            fut.await?;
            Ok(w)
        })
    }

    /// Removes this session's watches of `kind` on `path`, on the server and locally; each
    /// removed watcher gets a *WatchRemoved event and persistent streams end.
    ///
    /// # Errors
    /// NoWatcher when there is no such watch, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn remove_watches(&self, path: &str, kind: WatcherType) -> Reply<()> {
        let reg = OnReply::RemoveWatches {
            path: path.to_string(),
            kind,
        };
        let watcher_type = kind.code();
        self.op(
            path,
            |path| Request::RemoveWatches(RemoveWatchesRequest { path, watcher_type }),
            Some(reg),
            |r, _| matches!(r, Response::RemoveWatches(_)).then_some(()),
        )
    }

    /// Asks the server whether this session has a watch of `kind` on `path`.
    ///
    /// # Errors
    /// NoWatcher when there is none, InvalidPath, connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn check_watches(&self, path: &str, kind: WatcherType) -> Reply<()> {
        let watcher_type = kind.code();
        self.op(
            path,
            |path| Request::CheckWatches(CheckWatchesRequest { path, watcher_type }),
            None,
            |r, _| matches!(r, Response::CheckWatches(_)).then_some(()),
        )
    }

    /// Adds credentials to the connection (and to every later reconnection). Made while no
    /// server is reachable, it waits for the next connection rather than failing with
    /// ConnectionLoss.
    ///
    /// # Errors
    /// AuthFailed (which also ends the session, as Apache does), ConnectionLoss if the
    /// connection drops after the credentials were sent (they are presented again on the next
    /// connection), session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn add_auth(&self, scheme: &str, credentials: &[u8]) -> Reply<()> {
        let fut = self.call(
            Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: scheme.to_string(),
                auth: Bytes::copy_from_slice(credentials),
            }),
            None,
        );
        Box::pin(async move { fut.await.map(|_| ()) })
    }

    /// The identities this connection is authenticated as.
    ///
    /// # Errors
    /// Unimplemented (servers before 3.7), connection or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn who_am_i(&self) -> Reply<Vec<ClientInfo>> {
        let fut = self.call(Request::WhoAmI(Empty), None);
        Box::pin(async move {
            match fut.await? {
                Response::WhoAmI(w) => Ok(w.client_info),
                other => Err(Error::Protocol(format!(
                    "unexpected {:?} reply",
                    other.op_code()
                ))),
            }
        })
    }

    /// Reconfigures the ensemble (incremental with `joining`/`leaving`, or a whole
    /// `new_members` list); `from_config` −1 for any current version. Returns the new config.
    ///
    /// # Errors
    /// ReconfigDisabled, NewConfigNoQuorum, ReconfigInProgress, BadVersion, NoAuth, connection
    /// or session errors.
    ///
    /// # Cancellation safety
    /// See [`Client`].
    pub fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
    ) -> Reply<(Bytes, Stat)> {
        let fut = self.call(
            Request::Reconfig(ReconfigRequest {
                joining_servers: joining.map(str::to_string),
                leaving_servers: leaving.map(str::to_string),
                new_members: new_members.map(str::to_string),
                cur_config_id: from_config,
            }),
            None,
        );
        Box::pin(async move {
            match fut.await? {
                Response::Reconfig(r) => Ok((r.data.unwrap_or_default(), r.stat)),
                other => Err(Error::Protocol(format!(
                    "unexpected {:?} reply",
                    other.op_code()
                ))),
            }
        })
    }

    /// Closes the session: the server deletes its ephemerals and fires their watches. Every
    /// clone of this client stops working.
    ///
    /// # Cancellation safety
    /// The close is enqueued when called; dropping the future does not stop it.
    pub fn close(&self) -> impl Future<Output = ()> + Send + 'static {
        let (done, rx) = oneshot::channel();
        let sent = self.inner.tx.send(Command::Close { done }).is_ok();
        async move {
            if sent {
                let _ = rx.await;
            }
        }
    }
}

fn none_if_no_node<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::NoNode) => Ok(None),
        Err(e) => Err(e),
    }
}

fn get_data_reply(r: Response, _: &Chroot) -> Option<(Bytes, Stat)> {
    match r {
        Response::GetData(d) => Some((d.data.unwrap_or_default(), d.stat)),
        _ => None,
    }
}

fn children_reply(r: Response, _: &Chroot) -> Option<Vec<String>> {
    match r {
        Response::GetChildren(c) => Some(c.children),
        _ => None,
    }
}

fn children2_reply(r: Response, _: &Chroot) -> Option<(Vec<String>, Stat)> {
    match r {
        Response::GetChildren2(c) => Some((c.children, c.stat)),
        _ => None,
    }
}
