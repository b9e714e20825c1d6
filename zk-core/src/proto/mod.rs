//! The ZooKeeper wire protocol, shared by the client and the server.
//!
//! - [`jute`]: the binary encoding ([`Encode`], [`Decode`], [`Reader`]).
//! - [`records`]: every client-facing record of `zookeeper.jute`.
//! - [`connect`], [`multi`], [`message`]: the handshake, transactions, and the request/response
//!   enums keyed by opcode.
//! - [`codes`]: opcodes, error codes and the other numbered enums.
//! - [`path`]: Apache's path rules, chroot, sequential suffixes.
//! - [`frame`]: length-prefixed framing with a maximum size.

pub mod codes;
pub mod connect;
pub mod frame;
pub mod jute;
pub mod message;
pub mod multi;
pub mod path;
pub mod records;

pub use codes::{
    perms, AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, WatcherType,
};
pub use connect::{ConnectRequest, ConnectResponse};
pub use frame::{FrameCodec, FrameError, DEFAULT_MAX_FRAME};
pub use jute::{Decode, Encode, JuteError, Reader};
pub use message::{decode_request, Empty, Request, Response};
pub use multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use path::{validate_path, Chroot, PathError};
pub use records::*;

/// Special xids.
pub mod xid {
    /// A watch notification.
    pub const NOTIFICATION: i32 = -1;
    /// A ping.
    pub const PING: i32 = -2;
    /// An auth packet.
    pub const AUTH: i32 = -4;
    /// setWatches / setWatches2.
    pub const SET_WATCHES: i32 = -8;
}

/// ephemeralOwner value that marks a container node.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;

/// Encodes a TTL in an ephemeralOwner (high byte 0xFF, TTL in the low 5 bytes), as Apache's
/// `EphemeralType.TTL`. `None` when the TTL does not fit (must be 1 ..= 2^40 − 1 ms).
pub fn ttl_ephemeral_owner(ttl_ms: i64) -> Option<i64> {
    const MAX: i64 = (1 << 40) - 1;
    if !(1..=MAX).contains(&ttl_ms) {
        return None;
    }
    Some(((0xff_u64 << 56) as i64) | ttl_ms)
}

/// The TTL of a TTL node from its ephemeralOwner, `None` if it is not a TTL node.
pub fn ttl_from_ephemeral_owner(owner: i64) -> Option<i64> {
    let u = owner as u64;
    if (u >> 56) == 0xff && ((u >> 40) & 0xffff) == 0 {
        Some((u & ((1 << 40) - 1)) as i64)
    } else {
        None
    }
}
