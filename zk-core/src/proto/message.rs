//! Requests and responses as one enum each, keyed by opcode: what a server decodes from a
//! request frame and what a client decodes from a reply body.

use bytes::BytesMut;

use super::codes::OpCode;
use super::jute::{Decode, Encode, JuteError, Reader};
use super::multi::{MultiRequest, MultiResponse};
use super::records::*;

/// Generates the request and response enums and their opcode dispatch.
macro_rules! messages {
    ($( $variant:ident = $op:ident ( $req:ty ) => $resp:ty ;)+) => {
        /// A request body, by opcode (the header is separate).
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Request { $($variant($req)),+ }

        /// A reply body, by the opcode of the request it answers.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Response { $($variant($resp)),+ }

        impl Request {
            /// The opcode of this request.
            pub fn op_code(&self) -> OpCode {
                match self { $(Self::$variant(_) => OpCode::$op),+ }
            }

            /// Decodes the body of a request with opcode `op`.
            ///
            /// # Errors
            /// Unknown or server-internal opcodes and malformed bodies.
            pub fn decode(op: i32, r: &mut Reader) -> Result<Self, JuteError> {
                match OpCode::from_code(op) {
                    $(Some(OpCode::$op) => Ok(Self::$variant(Decode::decode(r)?)),)+
                    _ => Err(JuteError::InvalidValue { what: "opcode", value: i64::from(op) }),
                }
            }
        }

        impl Encode for Request {
            fn encode(&self, w: &mut BytesMut) {
                match self { $(Self::$variant(v) => v.encode(w)),+ }
            }
        }

        impl Response {
            /// The opcode of the request this answers.
            pub fn op_code(&self) -> OpCode {
                match self { $(Self::$variant(_) => OpCode::$op),+ }
            }

            /// Decodes the body of a successful reply to a request with opcode `op`.
            ///
            /// # Errors
            /// Unknown opcodes and malformed bodies.
            pub fn decode(op: OpCode, r: &mut Reader) -> Result<Self, JuteError> {
                match op {
                    $(OpCode::$op => Ok(Self::$variant(Decode::decode(r)?)),)+
                    _ => Err(JuteError::InvalidValue { what: "opcode", value: i64::from(op.code()) }),
                }
            }
        }

        impl Encode for Response {
            fn encode(&self, w: &mut BytesMut) {
                match self { $(Self::$variant(v) => v.encode(w)),+ }
            }
        }
    };
}

/// A record with no fields (ping, closeSession, whoAmI requests; delete replies, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl Encode for Empty {
    fn encode(&self, _: &mut BytesMut) {}
}
impl Decode for Empty {
    fn decode(_: &mut Reader) -> Result<Self, JuteError> {
        Ok(Empty)
    }
}

messages! {
    Create = Create(CreateRequest) => CreateResponse;
    Delete = Delete(DeleteRequest) => Empty;
    Exists = Exists(ExistsRequest) => ExistsResponse;
    GetData = GetData(GetDataRequest) => GetDataResponse;
    SetData = SetData(SetDataRequest) => SetDataResponse;
    GetAcl = GetAcl(GetAclRequest) => GetAclResponse;
    SetAcl = SetAcl(SetAclRequest) => SetAclResponse;
    GetChildren = GetChildren(GetChildrenRequest) => GetChildrenResponse;
    Sync = Sync(SyncRequest) => SyncResponse;
    Ping = Ping(Empty) => Empty;
    GetChildren2 = GetChildren2(GetChildren2Request) => GetChildren2Response;
    Check = Check(CheckVersionRequest) => SetDataResponse;
    Multi = Multi(MultiRequest) => MultiResponse;
    Create2 = Create2(CreateRequest) => Create2Response;
    Reconfig = Reconfig(ReconfigRequest) => GetDataResponse;
    CheckWatches = CheckWatches(CheckWatchesRequest) => Empty;
    RemoveWatches = RemoveWatches(RemoveWatchesRequest) => Empty;
    CreateContainer = CreateContainer(CreateRequest) => Create2Response;
    CreateTtl = CreateTtl(CreateTtlRequest) => Create2Response;
    MultiRead = MultiRead(MultiRequest) => MultiResponse;
    Auth = Auth(AuthPacket) => Empty;
    SetWatches = SetWatches(SetWatches) => Empty;
    Sasl = Sasl(SaslPacket) => SaslPacket;
    GetEphemerals = GetEphemerals(GetEphemeralsRequest) => GetEphemeralsResponse;
    GetAllChildrenNumber = GetAllChildrenNumber(GetAllChildrenNumberRequest) => GetAllChildrenNumberResponse;
    SetWatches2 = SetWatches2(SetWatches2) => Empty;
    AddWatch = AddWatch(AddWatchRequest) => ErrorResponse;
    WhoAmI = WhoAmI(Empty) => WhoAmIResponse;
    CloseSession = CloseSession(Empty) => Empty;
}

/// Decodes a whole request frame: header, then body; no bytes may be left over except after
/// a multi (which ends at its terminator).
///
/// # Errors
/// Any malformed frame.
pub fn decode_request(frame: bytes::Bytes) -> Result<(RequestHeader, Request), JuteError> {
    let mut r = Reader::new(frame);
    let header = RequestHeader::decode(&mut r)?;
    let req = Request::decode(header.op_type, &mut r)?;
    r.finish()?;
    Ok((header, req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_with_header() {
        let req = Request::GetData(GetDataRequest {
            path: "/x".into(),
            watch: true,
        });
        let mut w = BytesMut::new();
        RequestHeader {
            xid: 7,
            op_type: req.op_code().code(),
        }
        .encode(&mut w);
        req.encode(&mut w);
        let (h, back) = decode_request(w.freeze()).expect("decodes");
        assert_eq!(h.xid, 7);
        assert_eq!(back, req);
    }

    #[test]
    fn unknown_opcode_is_an_error() {
        let mut w = BytesMut::new();
        RequestHeader {
            xid: 1,
            op_type: 10,
        }
        .encode(&mut w);
        assert!(decode_request(w.freeze()).is_err());
    }
}
