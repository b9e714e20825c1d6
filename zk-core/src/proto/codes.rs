//! Numbered enums of the protocol: opcodes, error codes, states, event and watch types,
//! create modes and permissions, each with its wire number.

/// Defines a fieldless enum with explicit wire numbers, `code()` and `from_code()`.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $num:expr),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire number.
            pub const fn code(self) -> i32 {
                match self { $($name::$variant => $num),+ }
            }

            /// The variant with this wire number, if any.
            pub const fn from_code(code: i32) -> Option<Self> {
                match code { $($num => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

wire_enum! {
    /// Request types (`ZooDefs.OpCode`).
    OpCode {
        /// A watch notification (never sent as a request).
        Notification = 0,
        /// create
        Create = 1,
        /// delete
        Delete = 2,
        /// exists
        Exists = 3,
        /// getData
        GetData = 4,
        /// setData
        SetData = 5,
        /// getACL
        GetAcl = 6,
        /// setACL
        SetAcl = 7,
        /// getChildren
        GetChildren = 8,
        /// sync
        Sync = 9,
        /// ping
        Ping = 11,
        /// getChildren2 (children and the parent's stat)
        GetChildren2 = 12,
        /// check (version check, inside multi)
        Check = 13,
        /// multi (atomic transaction)
        Multi = 14,
        /// create2 (create returning the stat)
        Create2 = 15,
        /// reconfig
        Reconfig = 16,
        /// checkWatches
        CheckWatches = 17,
        /// removeWatches
        RemoveWatches = 18,
        /// createContainer
        CreateContainer = 19,
        /// deleteContainer (server internal)
        DeleteContainer = 20,
        /// createTTL
        CreateTtl = 21,
        /// multiRead
        MultiRead = 22,
        /// auth (addAuth)
        Auth = 100,
        /// setWatches
        SetWatches = 101,
        /// sasl
        Sasl = 102,
        /// getEphemerals
        GetEphemerals = 103,
        /// getAllChildrenNumber
        GetAllChildrenNumber = 104,
        /// setWatches2
        SetWatches2 = 105,
        /// addWatch
        AddWatch = 106,
        /// whoAmI
        WhoAmI = 107,
        /// createSession (server internal)
        CreateSession = -10,
        /// closeSession
        CloseSession = -11,
        /// error marker in multi results
        Error = -1,
    }
}

wire_enum! {
    /// Server error codes (`KeeperException.Code`).
    ErrorCode {
        /// Everything is OK.
        Ok = 0,
        /// A system or server-side error.
        SystemError = -1,
        /// A runtime inconsistency was found (also: an op after a failed op in multi).
        RuntimeInconsistency = -2,
        /// A data inconsistency was found.
        DataInconsistency = -3,
        /// Connection to the server has been lost.
        ConnectionLoss = -4,
        /// Error while marshalling or unmarshalling data.
        MarshallingError = -5,
        /// Operation is unimplemented.
        Unimplemented = -6,
        /// Operation timeout.
        OperationTimeout = -7,
        /// Invalid arguments.
        BadArguments = -8,
        /// Unknown session (internal).
        UnknownSession = -12,
        /// No quorum of the new config is connected and up to date.
        NewConfigNoQuorum = -13,
        /// Another reconfiguration is in progress.
        ReconfigInProgress = -14,
        /// API errors (generic).
        ApiError = -100,
        /// Node does not exist.
        NoNode = -101,
        /// Not authenticated.
        NoAuth = -102,
        /// Version conflict.
        BadVersion = -103,
        /// Ephemeral nodes may not have children.
        NoChildrenForEphemerals = -108,
        /// The node already exists.
        NodeExists = -110,
        /// The node has children.
        NotEmpty = -111,
        /// The session has been expired by the server.
        SessionExpired = -112,
        /// Invalid callback specified.
        InvalidCallback = -113,
        /// Invalid ACL specified.
        InvalidAcl = -114,
        /// Client authentication failed.
        AuthFailed = -115,
        /// Session moved to another server, so operation is ignored.
        SessionMoved = -118,
        /// State-changing request passed to a read-only server.
        NotReadOnly = -119,
        /// Attempt to create an ephemeral node on a local session.
        EphemeralOnLocalSession = -120,
        /// Attempts to remove a non-existing watcher.
        NoWatcher = -121,
        /// Request not completed within max allowed time.
        RequestTimeout = -122,
        /// Attempts to perform a reconfiguration operation when it is disabled.
        ReconfigDisabled = -123,
        /// The session is closed and requires SASL authentication.
        SessionClosedRequireSaslAuth = -124,
        /// Exceeded the quota that was set on the path.
        QuotaExceeded = -125,
        /// Operation was throttled and not executed at all.
        ThrottledOp = -127,
    }
}

wire_enum! {
    /// Session states reported in watch events (`Watcher.Event.KeeperState`).
    KeeperState {
        /// Unused (Unknown).
        Unknown = -1,
        /// The client is disconnected.
        Disconnected = 0,
        /// Unused (NoSyncConnected).
        NoSyncConnected = 1,
        /// The client is connected.
        SyncConnected = 3,
        /// Authentication failed.
        AuthFailed = 4,
        /// Connected to a read-only server.
        ConnectedReadOnly = 5,
        /// SASL authenticated.
        SaslAuthenticated = 6,
        /// The session expired.
        Expired = -112,
        /// The client closed the session.
        Closed = 7,
    }
}

wire_enum! {
    /// Watch event types (`Watcher.Event.EventType`).
    EventType {
        /// A state change, not a node event.
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// The node's children changed.
        NodeChildrenChanged = 4,
        /// A data watch was removed.
        DataWatchRemoved = 5,
        /// A child watch was removed.
        ChildWatchRemoved = 6,
        /// A persistent watch was removed.
        PersistentWatchRemoved = 7,
    }
}

wire_enum! {
    /// Watch kinds for checkWatches / removeWatches (`Watcher.WatcherType`).
    WatcherType {
        /// Child watches.
        Children = 1,
        /// Data (and exist) watches.
        Data = 2,
        /// Any watch.
        Any = 3,
        /// Persistent watches.
        Persistent = 4,
        /// Persistent recursive watches.
        PersistentRecursive = 5,
    }
}

wire_enum! {
    /// Modes of addWatch.
    AddWatchMode {
        /// Data and child events for one node, not removed on firing.
        Persistent = 0,
        /// Data events for a node and all its descendants, not removed on firing.
        PersistentRecursive = 1,
    }
}

wire_enum! {
    /// How a node is created (`CreateMode`); the number is the create `flags`.
    CreateMode {
        /// A node that lives until deleted.
        Persistent = 0,
        /// A node deleted when its session ends.
        Ephemeral = 1,
        /// Persistent with a sequence suffix.
        PersistentSequential = 2,
        /// Ephemeral with a sequence suffix.
        EphemeralSequential = 3,
        /// A container: deleted by the server once its last child is gone.
        Container = 4,
        /// Persistent, deleted when unmodified and childless for the TTL.
        PersistentWithTtl = 5,
        /// Persistent sequential with a TTL.
        PersistentSequentialWithTtl = 6,
    }
}

impl CreateMode {
    /// Whether the name gets a sequence suffix.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            Self::PersistentSequential
                | Self::EphemeralSequential
                | Self::PersistentSequentialWithTtl
        )
    }

    /// Whether the node is tied to its session.
    pub const fn is_ephemeral(self) -> bool {
        matches!(self, Self::Ephemeral | Self::EphemeralSequential)
    }

    /// Whether the node is a container.
    pub const fn is_container(self) -> bool {
        matches!(self, Self::Container)
    }

    /// Whether the node has a TTL.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            Self::PersistentWithTtl | Self::PersistentSequentialWithTtl
        )
    }
}

/// Permission bits of an ACL entry (`ZooDefs.Perms`).
pub mod perms {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set the ACL.
    pub const ADMIN: i32 = 16;
    /// Everything.
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        for &c in OpCode::ALL {
            assert_eq!(OpCode::from_code(c.code()), Some(c));
        }
        assert_eq!(ErrorCode::ALL.len(), 32);
        assert_eq!(ErrorCode::from_code(-9999), None);
    }
}
