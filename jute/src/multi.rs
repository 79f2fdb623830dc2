//! multi (14) and multiRead (22): a sequence of `MultiHeader` + record pairs
//! ended by a header with `done = true`.

use crate::codec::{DecodeError, Jute, Reader};
use crate::codes::op;
use crate::records::*;

/// One operation of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum MultiOp {
    /// create (1), create2 (15) or createContainer (19): the opcode is kept
    /// because it decides the result's shape.
    Create {
        #[cfg_attr(test, proptest(strategy = "proptest::sample::select(vec![1, 15, 19])"))]
        op: i32,
        req: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetData(GetDataRequest),
    GetChildren(GetChildrenRequest),
}

impl MultiOp {
    /// The opcode written in this op's header.
    pub fn op_code(&self) -> i32 {
        match self {
            MultiOp::Create { op, .. } => *op,
            MultiOp::CreateTtl(_) => op::CREATE_TTL,
            MultiOp::Delete(_) => op::DELETE,
            MultiOp::SetData(_) => op::SET_DATA,
            MultiOp::Check(_) => op::CHECK,
            MultiOp::GetData(_) => op::GET_DATA,
            MultiOp::GetChildren(_) => op::GET_CHILDREN,
        }
    }

    /// The znode path the op acts on.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create { req, .. } => &req.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
        }
    }
}

/// The body of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

impl Jute for MultiRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let h = MultiHeader::read(r)?;
            if h.done {
                return Ok(MultiRequest { ops });
            }
            let o = match h.op {
                op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => MultiOp::Create {
                    op: h.op,
                    req: CreateRequest::read(r)?,
                },
                op::CREATE_TTL => MultiOp::CreateTtl(CreateTtlRequest::read(r)?),
                op::DELETE => MultiOp::Delete(DeleteRequest::read(r)?),
                op::SET_DATA => MultiOp::SetData(SetDataRequest::read(r)?),
                op::CHECK => MultiOp::Check(CheckVersionRequest::read(r)?),
                op::GET_DATA => MultiOp::GetData(GetDataRequest::read(r)?),
                op::GET_CHILDREN => MultiOp::GetChildren(GetChildrenRequest::read(r)?),
                other => return Err(DecodeError::Invalid(format!("multi op type {other}"))),
            };
            ops.push(o);
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        for o in &self.ops {
            MultiHeader {
                op: o.op_code(),
                done: false,
                err: -1,
            }
            .write(out);
            match o {
                MultiOp::Create { req, .. } => req.write(out),
                MultiOp::CreateTtl(r) => r.write(out),
                MultiOp::Delete(r) => r.write(out),
                MultiOp::SetData(r) => r.write(out),
                MultiOp::Check(r) => r.write(out),
                MultiOp::GetData(r) => r.write(out),
                MultiOp::GetChildren(r) => r.write(out),
            }
        }
        END.write(out);
    }
}

const END: MultiHeader = MultiHeader {
    op: -1,
    done: true,
    err: -1,
};

/// The outcome of one operation of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub enum MultiResult {
    /// Answer to a plain create (1).
    Create(CreateResponse),
    /// Answer to create2, createContainer and createTTL.
    Create2(Create2Response),
    Delete,
    SetData(SetDataResponse),
    Check,
    GetData(GetDataResponse),
    GetChildren(GetChildrenResponse),
    /// A failed op, or in a failed multi every op (0 before the failing one,
    /// -2 after it).
    Error(i32),
}

/// The body of a multi or multiRead reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct MultiResponse {
    pub results: Vec<MultiResult>,
}

impl Jute for MultiResponse {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::read(r)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let res = match h.op {
                op::CREATE => MultiResult::Create(CreateResponse::read(r)?),
                op::CREATE2 => MultiResult::Create2(Create2Response::read(r)?),
                op::DELETE => MultiResult::Delete,
                op::SET_DATA => MultiResult::SetData(SetDataResponse::read(r)?),
                op::CHECK => MultiResult::Check,
                op::GET_DATA => MultiResult::GetData(GetDataResponse::read(r)?),
                op::GET_CHILDREN => MultiResult::GetChildren(GetChildrenResponse::read(r)?),
                op::ERROR => MultiResult::Error(ErrorResponse::read(r)?.err),
                other => return Err(DecodeError::Invalid(format!("multi result type {other}"))),
            };
            results.push(res);
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        for res in &self.results {
            let (op, err) = match res {
                MultiResult::Create(_) => (op::CREATE, 0),
                MultiResult::Create2(_) => (op::CREATE2, 0),
                MultiResult::Delete => (op::DELETE, 0),
                MultiResult::SetData(_) => (op::SET_DATA, 0),
                MultiResult::Check => (op::CHECK, 0),
                MultiResult::GetData(_) => (op::GET_DATA, 0),
                MultiResult::GetChildren(_) => (op::GET_CHILDREN, 0),
                MultiResult::Error(e) => (op::ERROR, *e),
            };
            MultiHeader {
                op,
                done: false,
                err,
            }
            .write(out);
            match res {
                MultiResult::Create(x) => x.write(out),
                MultiResult::Create2(x) => x.write(out),
                MultiResult::SetData(x) => x.write(out),
                MultiResult::GetData(x) => x.write(out),
                MultiResult::GetChildren(x) => x.write(out),
                MultiResult::Error(e) => ErrorResponse { err: *e }.write(out),
                MultiResult::Delete | MultiResult::Check => {}
            }
        }
        END.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{from_bytes, to_bytes};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn multi_request_round_trips(v: MultiRequest) {
            prop_assert_eq!(from_bytes::<MultiRequest>(&to_bytes(&v)).unwrap(), v);
        }

        #[test]
        fn multi_response_round_trips(v: MultiResponse) {
            prop_assert_eq!(from_bytes::<MultiResponse>(&to_bytes(&v)).unwrap(), v);
        }

        #[test]
        fn connect_records_round_trip(a: ConnectRequest, b: ConnectResponse) {
            prop_assert_eq!(from_bytes::<ConnectRequest>(&to_bytes(&a)).unwrap(), a);
            prop_assert_eq!(from_bytes::<ConnectResponse>(&to_bytes(&b)).unwrap(), b);
        }

        #[test]
        fn truncated_multi_is_an_error(v: MultiRequest, cut in 0usize..512) {
            let bytes = to_bytes(&v);
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(from_bytes::<MultiRequest>(&bytes[..cut]).is_err());
        }
    }
}
