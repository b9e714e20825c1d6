//! Create options and the create request they select (create, create2, createContainer,
//! createTTL).

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::proto::{Acl, CreateMode, CreateRequest, CreateTtlRequest, Request};

/// How to create a node: mode, ACL and, for TTL modes, the TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// The create mode.
    pub mode: CreateMode,
    /// The ACL (default: `world:anyone` with every permission).
    pub acl: Vec<Acl>,
    /// TTL in ms, required by (and only allowed with) the TTL modes.
    pub ttl: Option<i64>,
}

impl CreateOptions {
    /// Options for `mode` with an open ACL.
    pub fn new(mode: CreateMode) -> Self {
        Self {
            mode,
            acl: Acl::open_unsafe(),
            ttl: None,
        }
    }

    /// Sets the ACL.
    pub fn acl(mut self, acl: Vec<Acl>) -> Self {
        self.acl = acl;
        self
    }

    /// Sets the TTL in milliseconds (TTL modes only).
    pub fn ttl(mut self, ms: i64) -> Self {
        self.ttl = Some(ms);
        self
    }
}

/// Builds the create request for `opts`: createTTL for TTL modes, createContainer for
/// containers, else create2 (`with_stat`) or create.
pub(super) fn create_request(
    path: String,
    data: &[u8],
    opts: &CreateOptions,
    with_stat: bool,
) -> Result<Request> {
    let data = Some(Bytes::copy_from_slice(data));
    let acl = opts.acl.clone();
    let flags = opts.mode.code();
    match (opts.mode.is_ttl(), opts.ttl) {
        (true, Some(ttl)) => Ok(Request::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl,
        })),
        (true, None) => Err(Error::InvalidArgument(format!(
            "{:?} needs a ttl",
            opts.mode
        ))),
        (false, Some(_)) => Err(Error::InvalidArgument(format!(
            "a ttl is only allowed with the TTL modes, not {:?}",
            opts.mode
        ))),
        (false, None) => {
            let r = CreateRequest {
                path,
                data,
                acl,
                flags,
            };
            Ok(if opts.mode.is_container() {
                Request::CreateContainer(r)
            } else if with_stat {
                Request::Create2(r)
            } else {
                Request::Create(r)
            })
        }
    }
}
