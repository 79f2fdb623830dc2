//! What followers and observers tell their leader about clients, and what
//! the leader answers: carried inside `zab::Msg::Server` on the same FIFO
//! peer link as proposals.
//!
//! A learner serves reads itself but every change goes through the leader:
//! it forwards the raw request with the identities the client authenticated
//! as (the leader checks ACLs against them), and replies when the txn comes
//! back committed. Sessions are global: the leader alone creates, closes
//! and expires them, so learners report which sessions their clients were
//! heard from.

use super::{SessionId, Zxid};
use jute::{write_i32, write_i64, DecodeError, Id, Jute, Reader};

/// One learner ↔ leader message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// Learner → leader: a client's write, `closeSession` included, to prep
    /// and propose. `body` is the request after its header.
    Request {
        session: SessionId,
        cxid: i32,
        op: i32,
        body: Vec<u8>,
        auth: Vec<Id>,
    },
    /// Learner → leader: a client asked this learner for a new session.
    CreateSession { session: SessionId, timeout_ms: i32 },
    /// Learner → leader: these sessions' clients were heard from.
    Touch { sessions: Vec<SessionId> },
    /// Learner → leader: a client's `sync`.
    Sync { session: SessionId, cxid: i32 },
    /// Leader → learner: the sync may be answered once the learner has
    /// applied `zxid` (everything the leader had proposed when it arrived).
    Synced {
        session: SessionId,
        cxid: i32,
        zxid: Zxid,
    },
}

impl Forward {
    /// The bytes that go into `Msg::Server`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Forward::Request {
                session,
                cxid,
                op,
                body,
                auth,
            } => {
                write_i32(&mut out, 1);
                write_i64(&mut out, *session);
                write_i32(&mut out, *cxid);
                write_i32(&mut out, *op);
                write_i32(&mut out, body.len() as i32);
                out.extend_from_slice(body);
                auth.write(&mut out);
            }
            Forward::CreateSession {
                session,
                timeout_ms,
            } => {
                write_i32(&mut out, 2);
                write_i64(&mut out, *session);
                write_i32(&mut out, *timeout_ms);
            }
            Forward::Touch { sessions } => {
                write_i32(&mut out, 3);
                write_i32(&mut out, sessions.len() as i32);
                for s in sessions {
                    write_i64(&mut out, *s);
                }
            }
            Forward::Sync { session, cxid } => {
                write_i32(&mut out, 4);
                write_i64(&mut out, *session);
                write_i32(&mut out, *cxid);
            }
            Forward::Synced {
                session,
                cxid,
                zxid,
            } => {
                write_i32(&mut out, 5);
                write_i64(&mut out, *session);
                write_i32(&mut out, *cxid);
                write_i64(&mut out, *zxid);
            }
        }
        out
    }

    /// Decodes what [`Forward::encode`] wrote; anything else is an error.
    pub fn decode(bytes: &[u8]) -> Result<Forward, DecodeError> {
        let mut r = Reader::new(bytes);
        let f = match r.read_i32()? {
            1 => Forward::Request {
                session: r.read_i64()?,
                cxid: r.read_i32()?,
                op: r.read_i32()?,
                body: r.read_buffer()?.unwrap_or_default(),
                auth: Vec::<Id>::read(&mut r)?,
            },
            2 => Forward::CreateSession {
                session: r.read_i64()?,
                timeout_ms: r.read_i32()?,
            },
            3 => {
                let n = r.read_i32()?;
                if n < 0 || n as usize > r.remaining() / 8 {
                    return Err(DecodeError::Invalid("session count".into()));
                }
                let mut sessions = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    sessions.push(r.read_i64()?);
                }
                Forward::Touch { sessions }
            }
            4 => Forward::Sync {
                session: r.read_i64()?,
                cxid: r.read_i32()?,
            },
            5 => Forward::Synced {
                session: r.read_i64()?,
                cxid: r.read_i32()?,
                zxid: r.read_i64()?,
            },
            t => return Err(DecodeError::Invalid(format!("forward type {t}"))),
        };
        r.finish()?;
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Forward> {
        vec![
            Forward::Request {
                session: 0x0100_0000_0000_0001,
                cxid: 7,
                op: 5,
                body: vec![1, 2, 3],
                auth: vec![Id {
                    scheme: "digest".into(),
                    id: "u:h".into(),
                }],
            },
            Forward::CreateSession {
                session: 3,
                timeout_ms: 4000,
            },
            Forward::Touch {
                sessions: vec![1, 2, -3],
            },
            Forward::Sync {
                session: 9,
                cxid: 10,
            },
            Forward::Synced {
                session: 9,
                cxid: 10,
                zxid: 0x3_0000_0001,
            },
        ]
    }

    #[test]
    fn every_forward_round_trips_and_truncations_fail() {
        for f in samples() {
            let b = f.encode();
            assert_eq!(Forward::decode(&b), Ok(f));
            for cut in 0..b.len() {
                assert!(Forward::decode(&b[..cut]).is_err());
            }
        }
        assert!(Forward::decode(&[0, 0, 0, 99]).is_err());
    }
}
