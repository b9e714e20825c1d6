//! multi: a transaction builder whose operations all succeed or all fail, and multiRead.

use std::future::Future;

use bytes::Bytes;

use super::{Client, CreateOptions};
use crate::error::{Error, Result};
use crate::proto::path::validate_create_path;
use crate::proto::{
    validate_path, CheckVersionRequest, DeleteRequest, GetChildrenRequest, GetDataRequest, MultiOp,
    MultiRequest, MultiResult, Request, Response, SetDataRequest, Stat,
};

/// A multi under construction; see [`Client::transaction`].
#[derive(Debug)]
#[must_use = "a transaction does nothing until committed"]
pub struct Transaction {
    client: Client,
    ops: Vec<MultiOp>,
    invalid: Option<Error>,
}

impl Transaction {
    pub(super) fn new(client: Client) -> Self {
        Self {
            client,
            ops: Vec::new(),
            invalid: None,
        }
    }

    fn path(&mut self, path: &str, sequential: bool) -> String {
        if let Err(e) = validate_create_path(path, sequential) {
            self.invalid.get_or_insert(e.into());
        }
        self.client.inner.chroot.prepend(path)
    }

    /// Adds a create (opcode create, createContainer or createTTL, by mode, as Apache's `Op`).
    pub fn create(mut self, path: &str, data: &[u8], opts: &CreateOptions) -> Self {
        let p = self.path(path, opts.mode.is_sequential());
        match super::create_request(p, data, opts, false) {
            Ok(Request::CreateTtl(r)) => self.ops.push(MultiOp::CreateTtl(r)),
            Ok(Request::CreateContainer(r)) => self.ops.push(MultiOp::CreateContainer(r)),
            Ok(Request::Create(r)) => self.ops.push(MultiOp::Create(r)),
            Ok(_) => {}
            Err(e) => {
                self.invalid.get_or_insert(e);
            }
        }
        self
    }

    /// Adds a delete; `version` None matches any version.
    pub fn delete(mut self, path: &str, version: Option<i32>) -> Self {
        let path = self.path(path, false);
        self.ops.push(MultiOp::Delete(DeleteRequest {
            path,
            version: version.unwrap_or(-1),
        }));
        self
    }

    /// Adds a setData; `version` None matches any version.
    pub fn set_data(mut self, path: &str, data: &[u8], version: Option<i32>) -> Self {
        let path = self.path(path, false);
        self.ops.push(MultiOp::SetData(SetDataRequest {
            path,
            data: Some(Bytes::copy_from_slice(data)),
            version: version.unwrap_or(-1),
        }));
        self
    }

    /// Adds a version check.
    pub fn check(mut self, path: &str, version: i32) -> Self {
        let path = self.path(path, false);
        self.ops
            .push(MultiOp::Check(CheckVersionRequest { path, version }));
        self
    }

    /// Sends the transaction.
    ///
    /// # Errors
    /// [`Error::Multi`] naming the first failing op (nothing was applied); connection and
    /// session errors; [`Error::InvalidPath`] before sending.
    ///
    /// # Cancellation safety
    /// The request is enqueued when `commit` is called; dropping the future only drops the
    /// answer.
    pub fn commit(self) -> impl Future<Output = Result<Vec<MultiResult>>> + Send + 'static {
        let chroot = self.client.inner.chroot.clone();
        let fut = match self.invalid {
            Some(e) => Err(e),
            None => Ok(self
                .client
                .call(Request::Multi(MultiRequest { ops: self.ops }), None)),
        };
        async move {
            let resp = fut?.await?;
            let Response::Multi(m) = resp else {
                return Err(Error::Protocol("multi answered with another reply".into()));
            };
            let results: Vec<MultiResult> = m
                .results
                .into_iter()
                .map(|r| match r {
                    MultiResult::Create { path } => MultiResult::Create {
                        path: chroot.strip(&path),
                    },
                    MultiResult::Create2 { op, path, stat } => MultiResult::Create2 {
                        op,
                        path: chroot.strip(&path),
                        stat,
                    },
                    other => other,
                })
                .collect();
            let failed = results.iter().enumerate().find_map(|(i, r)| match r {
                MultiResult::Error { err } if *err != 0 => Some((i, *err)),
                _ => None,
            });
            match failed {
                Some((index, err)) => Err(Error::Multi {
                    index,
                    error: Box::new(Error::from_code(err).unwrap_or(Error::SystemError)),
                    results,
                }),
                None => Ok(results),
            }
        }
    }
}

/// One read of a multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    /// getData of a path.
    GetData(String),
    /// getChildren of a path.
    GetChildren(String),
}

/// The outcome of one read of a multiRead (each read succeeds or fails on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    /// Data and stat.
    Data(Bytes, Stat),
    /// Child names.
    Children(Vec<String>),
    /// This read failed.
    Error(Error),
}

pub(super) fn multi_read(
    client: &Client,
    ops: &[ReadOp],
) -> impl Future<Output = Result<Vec<ReadResult>>> + Send + 'static {
    let chroot = &client.inner.chroot;
    let mut req = MultiRequest::default();
    let mut invalid = None;
    for op in ops {
        let p = match op {
            ReadOp::GetData(p) | ReadOp::GetChildren(p) => p,
        };
        if let Err(e) = validate_path(p) {
            invalid.get_or_insert(Error::from(e));
        }
        let path = chroot.prepend(p);
        req.ops.push(match op {
            ReadOp::GetData(_) => MultiOp::GetData(GetDataRequest { path, watch: false }),
            ReadOp::GetChildren(_) => {
                MultiOp::GetChildren(GetChildrenRequest { path, watch: false })
            }
        });
    }
    let fut = match invalid {
        Some(e) => Err(e),
        None => Ok(client.call(Request::MultiRead(req), None)),
    };
    async move {
        let Response::Multi(m) = fut?.await? else {
            return Err(Error::Protocol(
                "multiRead answered with another reply".into(),
            ));
        };
        Ok(m.results
            .into_iter()
            .map(|r| match r {
                MultiResult::GetData { data, stat } => {
                    ReadResult::Data(data.unwrap_or_default(), stat)
                }
                MultiResult::GetChildren { children } => ReadResult::Children(children),
                MultiResult::Error { err } => {
                    ReadResult::Error(Error::from_code(err).unwrap_or(Error::SystemError))
                }
                other => ReadResult::Error(Error::Protocol(format!("unexpected result {other:?}"))),
            })
            .collect())
    }
}
