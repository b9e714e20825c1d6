//! The records of `zookeeper.jute` that clients exchange with servers.
//!
//! Field names follow the jute file in snake case; `buffer` fields are [`Bytes`] (null decodes
//! as empty) or `Option<Bytes>` where null is observable (node data).

use bytes::{Bytes, BytesMut};

use super::jute::{Decode, Encode, JuteError, Reader};

/// Defines a record struct whose encoding is its fields in order.
macro_rules! record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$fm])* pub $f: $t),* }

        impl Encode for $name {
            #[allow(unused_variables)]
            fn encode(&self, w: &mut BytesMut) { $(self.$f.encode(w);)* }
        }

        impl Decode for $name {
            #[allow(unused_variables)]
            fn decode(r: &mut Reader) -> Result<Self, JuteError> {
                Ok(Self { $($f: Decode::decode(r)?),* })
            }
        }
    };
}

record! {
    /// An identity: a scheme and an id in it (`world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`).
    pub struct Id {
        /// The scheme.
        pub scheme: String,
        /// The id within the scheme.
        pub id: String,
    }
}

impl Id {
    /// An id from its parts.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            scheme: scheme.into(),
            id: id.into(),
        }
    }
}

record! {
    /// One ACL entry: permissions granted to an identity.
    pub struct Acl {
        /// Permission bits, see [`perms`](super::perms).
        pub perms: i32,
        /// Who gets them.
        pub id: Id,
    }
}

impl Acl {
    /// An entry from its parts.
    pub fn new(perms: i32, scheme: &str, id: &str) -> Self {
        Self {
            perms,
            id: Id::new(scheme, id),
        }
    }

    /// `world:anyone` with every permission (`ZooDefs.Ids.OPEN_ACL_UNSAFE`).
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Self::new(super::perms::ALL, "world", "anyone")]
    }

    /// `world:anyone` with read only (`ZooDefs.Ids.READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Self::new(super::perms::READ, "world", "anyone")]
    }

    /// Every permission to the connection's authenticated ids (`ZooDefs.Ids.CREATOR_ALL_ACL`).
    pub fn creator_all() -> Vec<Acl> {
        vec![Self::new(super::perms::ALL, "auth", "")]
    }
}

record! {
    /// A node's metadata.
    #[derive(Copy)]
    pub struct Stat {
        /// zxid of the create.
        pub czxid: i64,
        /// zxid of the last data change.
        pub mzxid: i64,
        /// Creation time, ms since the epoch.
        pub ctime: i64,
        /// Last modification time, ms since the epoch.
        pub mtime: i64,
        /// Number of data changes.
        pub version: i32,
        /// Number of child changes.
        pub cversion: i32,
        /// Number of ACL changes.
        pub aversion: i32,
        /// Owning session for ephemerals; container/TTL markers; 0 otherwise.
        pub ephemeral_owner: i64,
        /// Length of the data.
        pub data_length: i32,
        /// Number of children.
        pub num_children: i32,
        /// zxid of the last child change.
        pub pzxid: i64,
    }
}

record! {
    /// An authenticated identity as reported by whoAmI.
    pub struct ClientInfo {
        /// The scheme, e.g. `digest` or `ip`.
        pub auth_scheme: String,
        /// The user within it.
        pub user: String,
    }
}

record! {
    /// Re-registers watches after a reconnect (opcode 101).
    pub struct SetWatches {
        /// The client's last seen zxid.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
    }
}

record! {
    /// Re-registers watches including persistent ones (opcode 105).
    pub struct SetWatches2 {
        /// The client's last seen zxid.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
        /// Paths with persistent watches.
        pub persistent_watches: Vec<String>,
        /// Paths with persistent recursive watches.
        pub persistent_recursive_watches: Vec<String>,
    }
}

record! {
    /// Precedes every request.
    #[derive(Copy)]
    pub struct RequestHeader {
        /// Request id, echoed in the reply; negative ids are special (ping −2, auth −4, ...).
        pub xid: i32,
        /// The [`OpCode`](super::OpCode) number.
        pub op_type: i32,
    }
}

record! {
    /// Precedes every reply and notification.
    #[derive(Copy)]
    pub struct ReplyHeader {
        /// The request's xid, or −1 for a notification, −2 for a ping.
        pub xid: i32,
        /// The server's last processed zxid.
        pub zxid: i64,
        /// The [`ErrorCode`](super::ErrorCode) number.
        pub err: i32,
    }
}

record! {
    /// checkWatches request.
    pub struct CheckWatchesRequest {
        /// Path.
        pub path: String,
        /// [`WatcherType`](super::WatcherType) number.
        pub watcher_type: i32,
    }
}

record! {
    /// removeWatches request.
    pub struct RemoveWatchesRequest {
        /// Path.
        pub path: String,
        /// [`WatcherType`](super::WatcherType) number.
        pub watcher_type: i32,
    }
}

record! {
    /// getACL request.
    pub struct GetAclRequest {
        /// Path.
        pub path: String,
    }
}

record! {
    /// getData request.
    pub struct GetDataRequest {
        /// Path.
        pub path: String,
        /// Leave a data watch.
        pub watch: bool,
    }
}

record! {
    /// setData request.
    pub struct SetDataRequest {
        /// Path.
        pub path: String,
        /// New data (null allowed).
        pub data: Option<Bytes>,
        /// Expected version, −1 for any.
        pub version: i32,
    }
}

record! {
    /// reconfig request.
    pub struct ReconfigRequest {
        /// Servers to add.
        pub joining_servers: Option<String>,
        /// Servers to remove.
        pub leaving_servers: Option<String>,
        /// A whole new membership.
        pub new_members: Option<String>,
        /// Expected current config version, −1 for any.
        pub cur_config_id: i64,
    }
}

impl Encode for Option<String> {
    fn encode(&self, w: &mut BytesMut) {
        match self {
            Some(s) => s.encode(w),
            None => bytes::BufMut::put_i32(w, -1),
        }
    }
}
impl Decode for Option<String> {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        r.read_string_opt()
    }
}

record! {
    /// setData reply; also the check reply.
    pub struct SetDataResponse {
        /// The node's stat after the change.
        pub stat: Stat,
    }
}

record! {
    /// SASL token exchange (request and reply).
    pub struct SaslPacket {
        /// The token.
        pub token: Bytes,
    }
}

record! {
    /// addAuth request (xid −4, opcode 100).
    pub struct AuthPacket {
        /// Unused, 0.
        pub auth_type: i32,
        /// The scheme, e.g. `digest`.
        pub scheme: String,
        /// The credentials, e.g. `user:password`.
        pub auth: Bytes,
    }
}

record! {
    /// getData reply.
    pub struct GetDataResponse {
        /// The data (null if the node was created with null data).
        pub data: Option<Bytes>,
        /// The node's stat.
        pub stat: Stat,
    }
}

record! {
    /// getChildren request.
    pub struct GetChildrenRequest {
        /// Path.
        pub path: String,
        /// Leave a child watch.
        pub watch: bool,
    }
}

record! {
    /// getChildren2 request.
    pub struct GetChildren2Request {
        /// Path.
        pub path: String,
        /// Leave a child watch.
        pub watch: bool,
    }
}

record! {
    /// check request (inside multi, or opcode 13 alone).
    pub struct CheckVersionRequest {
        /// Path.
        pub path: String,
        /// Expected version.
        pub version: i32,
    }
}

record! {
    /// sync request.
    pub struct SyncRequest {
        /// Path.
        pub path: String,
    }
}

record! {
    /// sync reply.
    pub struct SyncResponse {
        /// Path.
        pub path: String,
    }
}

record! {
    /// getACL reply.
    pub struct GetAclResponse {
        /// The ACL.
        pub acl: Vec<Acl>,
        /// The node's stat.
        pub stat: Stat,
    }
}

record! {
    /// setACL request.
    pub struct SetAclRequest {
        /// Path.
        pub path: String,
        /// The new ACL.
        pub acl: Vec<Acl>,
        /// Expected ACL version (aversion), −1 for any.
        pub version: i32,
    }
}

record! {
    /// setACL reply.
    pub struct SetAclResponse {
        /// The node's stat after the change.
        pub stat: Stat,
    }
}

record! {
    /// addWatch request.
    pub struct AddWatchRequest {
        /// Path.
        pub path: String,
        /// [`AddWatchMode`](super::AddWatchMode) number.
        pub mode: i32,
    }
}

record! {
    /// A watch notification (after a reply header with xid −1).
    pub struct WatcherEvent {
        /// [`EventType`](super::EventType) number.
        pub event_type: i32,
        /// [`KeeperState`](super::KeeperState) number.
        pub state: i32,
        /// The path, server-side (chroot included).
        pub path: String,
    }
}

record! {
    /// An error result inside a multi reply; also addWatch's reply.
    pub struct ErrorResponse {
        /// [`ErrorCode`](super::ErrorCode) number.
        pub err: i32,
    }
}

record! {
    /// create reply.
    pub struct CreateResponse {
        /// The created path (with its sequence suffix).
        pub path: String,
    }
}

record! {
    /// create2 / createContainer / createTTL reply.
    pub struct Create2Response {
        /// The created path.
        pub path: String,
        /// The new node's stat.
        pub stat: Stat,
    }
}

record! {
    /// exists request.
    pub struct ExistsRequest {
        /// Path.
        pub path: String,
        /// Leave a data (or exist) watch.
        pub watch: bool,
    }
}

record! {
    /// exists reply.
    pub struct ExistsResponse {
        /// The node's stat.
        pub stat: Stat,
    }
}

record! {
    /// getChildren reply.
    pub struct GetChildrenResponse {
        /// Child names.
        pub children: Vec<String>,
    }
}

record! {
    /// getChildren2 reply.
    pub struct GetChildren2Response {
        /// Child names.
        pub children: Vec<String>,
        /// The parent's stat.
        pub stat: Stat,
    }
}

record! {
    /// create / create2 / createContainer request.
    pub struct CreateRequest {
        /// Path (the prefix for sequential nodes).
        pub path: String,
        /// Data (null allowed).
        pub data: Option<Bytes>,
        /// The ACL.
        pub acl: Vec<Acl>,
        /// [`CreateMode`](super::CreateMode) number.
        pub flags: i32,
    }
}

record! {
    /// createTTL request.
    pub struct CreateTtlRequest {
        /// Path.
        pub path: String,
        /// Data (null allowed).
        pub data: Option<Bytes>,
        /// The ACL.
        pub acl: Vec<Acl>,
        /// [`CreateMode`](super::CreateMode) number (5 or 6).
        pub flags: i32,
        /// TTL in milliseconds.
        pub ttl: i64,
    }
}

record! {
    /// delete request.
    pub struct DeleteRequest {
        /// Path.
        pub path: String,
        /// Expected version, −1 for any.
        pub version: i32,
    }
}

record! {
    /// getEphemerals request.
    pub struct GetEphemeralsRequest {
        /// Only ephemerals under this prefix (a path prefix string, not a node).
        pub prefix_path: String,
    }
}

record! {
    /// getEphemerals reply.
    pub struct GetEphemeralsResponse {
        /// Paths of the session's ephemerals.
        pub ephemerals: Vec<String>,
    }
}

record! {
    /// getAllChildrenNumber request.
    pub struct GetAllChildrenNumberRequest {
        /// Path.
        pub path: String,
    }
}

record! {
    /// getAllChildrenNumber reply.
    pub struct GetAllChildrenNumberResponse {
        /// Number of descendants.
        pub total_number: i32,
    }
}

record! {
    /// whoAmI reply.
    pub struct WhoAmIResponse {
        /// The connection's identities.
        pub client_info: Vec<ClientInfo>,
    }
}

record! {
    /// Frames each operation of a multi request or reply.
    #[derive(Copy)]
    pub struct MultiHeader {
        /// The op's [`OpCode`](super::OpCode) number, −1 on the terminator or an error result.
        pub op_type: i32,
        /// True only on the terminator.
        pub done: bool,
        /// Error code (−1 in requests and on the terminator).
        pub err: i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_68_bytes_in_wire_order() {
        let s = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let b = s.to_bytes();
        assert_eq!(b.len(), 68);
        assert_eq!(b[7], 1);
        assert_eq!(b[35], 5);
        assert_eq!(b[67], 11);
        assert_eq!(Stat::from_bytes(b), Ok(s));
    }

    #[test]
    fn null_data_is_kept_distinct_from_empty() {
        let req = CreateRequest {
            path: "/a".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        };
        let back = CreateRequest::from_bytes(req.to_bytes()).expect("decodes");
        assert_eq!(back.data, None);
        let req = CreateRequest {
            data: Some(Bytes::new()),
            ..req
        };
        let back = CreateRequest::from_bytes(req.to_bytes()).expect("decodes");
        assert_eq!(back.data, Some(Bytes::new()));
    }
}
