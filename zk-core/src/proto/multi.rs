//! multi (opcode 14) and multiRead (opcode 22): operations framed by [`MultiHeader`]s and ended
//! by `MultiHeader { op_type: -1, done: true, err: -1 }`.

use bytes::BytesMut;

use super::codes::{ErrorCode, OpCode};
use super::jute::{Decode, Encode, JuteError, Reader};
use super::records::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, ErrorResponse, GetChildrenRequest, GetChildrenResponse, GetDataRequest,
    GetDataResponse, MultiHeader, SetDataRequest, SetDataResponse, Stat,
};

const END: MultiHeader = MultiHeader {
    op_type: -1,
    done: true,
    err: -1,
};

/// One operation of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create (opcode 1): the result carries the path only.
    Create(CreateRequest),
    /// create2 (opcode 15): the result carries path and stat.
    Create2(CreateRequest),
    /// createContainer (opcode 19).
    CreateContainer(CreateRequest),
    /// createTTL (opcode 21).
    CreateTtl(CreateTtlRequest),
    /// delete.
    Delete(DeleteRequest),
    /// setData.
    SetData(SetDataRequest),
    /// check (version check).
    Check(CheckVersionRequest),
    /// getData (multiRead only).
    GetData(GetDataRequest),
    /// getChildren (multiRead only).
    GetChildren(GetChildrenRequest),
}

impl MultiOp {
    /// The opcode written in this op's header.
    pub fn op_code(&self) -> OpCode {
        match self {
            Self::Create(_) => OpCode::Create,
            Self::Create2(_) => OpCode::Create2,
            Self::CreateContainer(_) => OpCode::CreateContainer,
            Self::CreateTtl(_) => OpCode::CreateTtl,
            Self::Delete(_) => OpCode::Delete,
            Self::SetData(_) => OpCode::SetData,
            Self::Check(_) => OpCode::Check,
            Self::GetData(_) => OpCode::GetData,
            Self::GetChildren(_) => OpCode::GetChildren,
        }
    }

    /// The path the op works on.
    pub fn path(&self) -> &str {
        match self {
            Self::Create(r) | Self::Create2(r) | Self::CreateContainer(r) => &r.path,
            Self::CreateTtl(r) => &r.path,
            Self::Delete(r) => &r.path,
            Self::SetData(r) => &r.path,
            Self::Check(r) => &r.path,
            Self::GetData(r) => &r.path,
            Self::GetChildren(r) => &r.path,
        }
    }

    fn encode_body(&self, w: &mut BytesMut) {
        match self {
            Self::Create(r) | Self::Create2(r) | Self::CreateContainer(r) => r.encode(w),
            Self::CreateTtl(r) => r.encode(w),
            Self::Delete(r) => r.encode(w),
            Self::SetData(r) => r.encode(w),
            Self::Check(r) => r.encode(w),
            Self::GetData(r) => r.encode(w),
            Self::GetChildren(r) => r.encode(w),
        }
    }
}

/// A multi or multiRead request body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    /// The operations, in order.
    pub ops: Vec<MultiOp>,
}

impl Encode for MultiRequest {
    fn encode(&self, w: &mut BytesMut) {
        for op in &self.ops {
            MultiHeader {
                op_type: op.op_code().code(),
                done: false,
                err: -1,
            }
            .encode(w);
            op.encode_body(w);
        }
        END.encode(w);
    }
}

impl Decode for MultiRequest {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        let mut ops = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(Self { ops });
            }
            let op = match OpCode::from_code(h.op_type) {
                Some(OpCode::Create) => MultiOp::Create(Decode::decode(r)?),
                Some(OpCode::Create2) => MultiOp::Create2(Decode::decode(r)?),
                Some(OpCode::CreateContainer) => MultiOp::CreateContainer(Decode::decode(r)?),
                Some(OpCode::CreateTtl) => MultiOp::CreateTtl(Decode::decode(r)?),
                Some(OpCode::Delete) => MultiOp::Delete(Decode::decode(r)?),
                Some(OpCode::SetData) => MultiOp::SetData(Decode::decode(r)?),
                Some(OpCode::Check) => MultiOp::Check(Decode::decode(r)?),
                Some(OpCode::GetData) => MultiOp::GetData(Decode::decode(r)?),
                Some(OpCode::GetChildren) => MultiOp::GetChildren(Decode::decode(r)?),
                _ => {
                    return Err(JuteError::InvalidValue {
                        what: "multi op type",
                        value: i64::from(h.op_type),
                    })
                }
            };
            ops.push(op);
        }
    }
}

/// The result of one operation of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// create: the created path.
    Create {
        /// The created path.
        path: String,
    },
    /// create2 / createContainer / createTTL: path and stat (the header keeps the opcode).
    Create2 {
        /// The opcode of the op (create2, createContainer or createTTL).
        op: OpCode,
        /// The created path.
        path: String,
        /// The new node's stat.
        stat: Stat,
    },
    /// delete succeeded.
    Delete,
    /// setData: the new stat.
    SetData {
        /// The stat after the change.
        stat: Stat,
    },
    /// check succeeded.
    Check,
    /// getData (multiRead).
    GetData {
        /// The data.
        data: Option<bytes::Bytes>,
        /// The stat.
        stat: Stat,
    },
    /// getChildren (multiRead).
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
    /// The op failed, or was rolled back because another op failed (code 0 before the failing
    /// op, RuntimeInconsistency after it).
    Error {
        /// The error code number.
        err: i32,
    },
}

impl MultiResult {
    /// The error code of an [`MultiResult::Error`], `None` for a success.
    pub fn error(&self) -> Option<ErrorCode> {
        match self {
            Self::Error { err } => {
                Some(ErrorCode::from_code(*err).unwrap_or(ErrorCode::SystemError))
            }
            _ => None,
        }
    }
}

/// A multi or multiRead reply body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    /// One result per op, in order.
    pub results: Vec<MultiResult>,
}

impl Encode for MultiResponse {
    fn encode(&self, w: &mut BytesMut) {
        for res in &self.results {
            let (op, err) = match res {
                MultiResult::Create { .. } => (OpCode::Create, 0),
                MultiResult::Create2 { op, .. } => (*op, 0),
                MultiResult::Delete => (OpCode::Delete, 0),
                MultiResult::SetData { .. } => (OpCode::SetData, 0),
                MultiResult::Check => (OpCode::Check, 0),
                MultiResult::GetData { .. } => (OpCode::GetData, 0),
                MultiResult::GetChildren { .. } => (OpCode::GetChildren, 0),
                MultiResult::Error { err } => (OpCode::Error, *err),
            };
            MultiHeader {
                op_type: op.code(),
                done: false,
                err,
            }
            .encode(w);
            match res {
                MultiResult::Create { path } => path.encode(w),
                MultiResult::Create2 { path, stat, .. } => {
                    path.encode(w);
                    stat.encode(w);
                }
                MultiResult::Delete | MultiResult::Check => {}
                MultiResult::SetData { stat } => stat.encode(w),
                MultiResult::GetData { data, stat } => {
                    data.encode(w);
                    stat.encode(w);
                }
                MultiResult::GetChildren { children } => children.encode(w),
                MultiResult::Error { err } => err.encode(w),
            }
        }
        END.encode(w);
    }
}

impl Decode for MultiResponse {
    fn decode(r: &mut Reader) -> Result<Self, JuteError> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(Self { results });
            }
            let res = match OpCode::from_code(h.op_type) {
                Some(OpCode::Create) => MultiResult::Create {
                    path: CreateResponse::decode(r)?.path,
                },
                Some(op @ (OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl)) => {
                    let c = Create2Response::decode(r)?;
                    MultiResult::Create2 {
                        op,
                        path: c.path,
                        stat: c.stat,
                    }
                }
                Some(OpCode::Delete) => MultiResult::Delete,
                Some(OpCode::Check) => MultiResult::Check,
                Some(OpCode::SetData) => MultiResult::SetData {
                    stat: SetDataResponse::decode(r)?.stat,
                },
                Some(OpCode::GetData) => {
                    let g = GetDataResponse::decode(r)?;
                    MultiResult::GetData {
                        data: g.data,
                        stat: g.stat,
                    }
                }
                Some(OpCode::GetChildren) => MultiResult::GetChildren {
                    children: GetChildrenResponse::decode(r)?.children,
                },
                Some(OpCode::Error) => MultiResult::Error {
                    err: ErrorResponse::decode(r)?.err,
                },
                _ => {
                    return Err(JuteError::InvalidValue {
                        what: "multi result type",
                        value: i64::from(h.op_type),
                    })
                }
            };
            results.push(res);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Acl;

    #[test]
    fn request_and_response_round_trip() {
        let req = MultiRequest {
            ops: vec![
                MultiOp::Create(CreateRequest {
                    path: "/a".into(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 0,
                }),
                MultiOp::Check(CheckVersionRequest {
                    path: "/a".into(),
                    version: 3,
                }),
                MultiOp::Delete(DeleteRequest {
                    path: "/a".into(),
                    version: -1,
                }),
            ],
        };
        assert_eq!(MultiRequest::from_bytes(req.to_bytes()), Ok(req));
        let resp = MultiResponse {
            results: vec![
                MultiResult::Error { err: 0 },
                MultiResult::Error { err: -101 },
                MultiResult::Error { err: -2 },
            ],
        };
        assert_eq!(MultiResponse::from_bytes(resp.to_bytes()), Ok(resp));
    }

    #[test]
    fn empty_multi_is_just_the_terminator() {
        let b = MultiRequest::default().to_bytes();
        assert_eq!(&b[..], &[255, 255, 255, 255, 1, 255, 255, 255, 255]);
    }
}
