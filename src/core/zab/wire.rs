//! The peer protocol's bytes: each [`Msg`] as a type tag and Jute-encoded
//! fields (big-endian integers, length-prefixed buffers), so decoding goes
//! through the same bounds-checked reader as client frames. Versioned by
//! the handshake ([`HELLO_MAGIC`], [`PROTOCOL_VERSION`]).
//!
//! Decoding never panics: a truncated, oversized or unknown message is an
//! error and the transport drops the link.

use super::{Entry, Msg, PeerState, Vote};
use jute::{write_i32, write_i64};
use jute::{DecodeError, Reader};
use std::sync::Arc;

/// First bytes of every peer connection: "CRLZ".
pub const HELLO_MAGIC: i32 = 0x4352_4c5a;
/// Bumped whenever a message's encoding changes.
pub const PROTOCOL_VERSION: i32 = 1;

fn state_tag(s: PeerState) -> i32 {
    match s {
        PeerState::Looking => 0,
        PeerState::Following => 1,
        PeerState::Leading => 2,
        PeerState::Observing => 3,
    }
}

fn state_from(t: i32) -> Result<PeerState, DecodeError> {
    Ok(match t {
        0 => PeerState::Looking,
        1 => PeerState::Following,
        2 => PeerState::Leading,
        3 => PeerState::Observing,
        _ => return Err(DecodeError::Invalid("peer state".into())),
    })
}

fn write_buf(out: &mut Vec<u8>, b: &[u8]) {
    write_i32(out, b.len() as i32);
    out.extend_from_slice(b);
}

fn write_entry(out: &mut Vec<u8>, e: &Entry) {
    write_i64(out, e.zxid);
    write_buf(out, &e.data);
}

fn read_entry(r: &mut Reader) -> Result<Entry, DecodeError> {
    let zxid = r.read_i64()?;
    let data = r.read_buffer()?.unwrap_or_default();
    Ok(Entry {
        zxid,
        data: Arc::new(data),
    })
}

fn epoch(r: &mut Reader) -> Result<u32, DecodeError> {
    Ok(r.read_i32()? as u32)
}

/// Appends the encoding of `m` (without a length prefix).
pub fn encode(m: &Msg, out: &mut Vec<u8>) {
    match m {
        Msg::Vote { round, vote, state } => {
            write_i32(out, 1);
            write_i64(out, *round as i64);
            write_i32(out, vote.epoch as i32);
            write_i64(out, vote.zxid);
            write_i64(out, vote.leader as i64);
            write_i32(out, state_tag(*state));
        }
        Msg::FollowerInfo {
            accepted_epoch,
            observer,
        } => {
            write_i32(out, 2);
            write_i32(out, *accepted_epoch as i32);
            out.push(u8::from(*observer));
        }
        Msg::LeaderInfo { epoch } => {
            write_i32(out, 3);
            write_i32(out, *epoch as i32);
        }
        Msg::AckEpoch {
            counts,
            current_epoch,
            last_zxid,
            applied,
        } => {
            write_i32(out, 4);
            out.push(u8::from(*counts));
            write_i32(out, *current_epoch as i32);
            write_i64(out, *last_zxid);
            write_i64(out, *applied);
        }
        Msg::Trunc { zxid } => {
            write_i32(out, 5);
            write_i64(out, *zxid);
        }
        Msg::Diff { entries } => {
            write_i32(out, 6);
            write_i32(out, entries.len() as i32);
            for e in entries {
                write_entry(out, e);
            }
        }
        Msg::Snap { zxid, image } => {
            write_i32(out, 7);
            write_i64(out, *zxid);
            write_buf(out, image);
        }
        Msg::NewLeader { epoch, zxid } => {
            write_i32(out, 8);
            write_i32(out, *epoch as i32);
            write_i64(out, *zxid);
        }
        Msg::AckNewLeader { zxid } => {
            write_i32(out, 9);
            write_i64(out, *zxid);
        }
        Msg::UpToDate { commit } => {
            write_i32(out, 10);
            write_i64(out, *commit);
        }
        Msg::Proposal(e) => {
            write_i32(out, 11);
            write_entry(out, e);
        }
        Msg::Ack { zxid } => {
            write_i32(out, 12);
            write_i64(out, *zxid);
        }
        Msg::Commit { zxid } => {
            write_i32(out, 13);
            write_i64(out, *zxid);
        }
        Msg::Ping => write_i32(out, 14),
        Msg::Pong => write_i32(out, 15),
        Msg::Server(b) => {
            write_i32(out, 16);
            write_buf(out, b);
        }
    }
}

/// Decodes one whole message; trailing bytes are an error.
pub fn decode(b: &[u8]) -> Result<Msg, DecodeError> {
    let mut r = Reader::new(b);
    let m = match r.read_i32()? {
        1 => Msg::Vote {
            round: r.read_i64()? as u64,
            vote: Vote {
                epoch: epoch(&mut r)?,
                zxid: r.read_i64()?,
                leader: r.read_i64()? as u64,
            },
            state: state_from(r.read_i32()?)?,
        },
        2 => Msg::FollowerInfo {
            accepted_epoch: epoch(&mut r)?,
            observer: r.read_bool()?,
        },
        3 => Msg::LeaderInfo {
            epoch: epoch(&mut r)?,
        },
        4 => Msg::AckEpoch {
            counts: r.read_bool()?,
            current_epoch: epoch(&mut r)?,
            last_zxid: r.read_i64()?,
            applied: r.read_i64()?,
        },
        5 => Msg::Trunc {
            zxid: r.read_i64()?,
        },
        6 => {
            let n = r.read_i32()?;
            // Each entry takes at least 12 bytes: refuse counts the
            // remaining bytes cannot hold before allocating.
            if n < 0 || n as usize > r.remaining() / 12 {
                return Err(DecodeError::Invalid("entry count".into()));
            }
            let mut entries = Vec::with_capacity(n as usize);
            for _ in 0..n {
                entries.push(read_entry(&mut r)?);
            }
            Msg::Diff { entries }
        }
        7 => Msg::Snap {
            zxid: r.read_i64()?,
            image: Arc::new(r.read_buffer()?.unwrap_or_default()),
        },
        8 => Msg::NewLeader {
            epoch: epoch(&mut r)?,
            zxid: r.read_i64()?,
        },
        9 => Msg::AckNewLeader {
            zxid: r.read_i64()?,
        },
        10 => Msg::UpToDate {
            commit: r.read_i64()?,
        },
        11 => Msg::Proposal(read_entry(&mut r)?),
        12 => Msg::Ack {
            zxid: r.read_i64()?,
        },
        13 => Msg::Commit {
            zxid: r.read_i64()?,
        },
        14 => Msg::Ping,
        15 => Msg::Pong,
        16 => Msg::Server(r.read_buffer()?.unwrap_or_default()),
        _ => return Err(DecodeError::Invalid("peer message type".into())),
    };
    r.finish()?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::zab::make_zxid;

    fn samples() -> Vec<Msg> {
        let e = |c| Entry {
            zxid: make_zxid(2, c),
            data: Arc::new(vec![c as u8; c as usize]),
        };
        vec![
            Msg::Vote {
                round: 7,
                vote: Vote {
                    epoch: 3,
                    zxid: make_zxid(3, 9),
                    leader: 2,
                },
                state: PeerState::Observing,
            },
            Msg::FollowerInfo {
                accepted_epoch: 4,
                observer: true,
            },
            Msg::LeaderInfo { epoch: 5 },
            Msg::AckEpoch {
                counts: false,
                current_epoch: 4,
                last_zxid: 77,
                applied: 70,
            },
            Msg::Trunc { zxid: 12 },
            Msg::Diff {
                entries: vec![e(1), e(2), e(0)],
            },
            Msg::Snap {
                zxid: 99,
                image: Arc::new(vec![1, 2, 3]),
            },
            Msg::NewLeader {
                epoch: u32::MAX >> 1,
                zxid: 5,
            },
            Msg::AckNewLeader { zxid: 5 },
            Msg::UpToDate { commit: 4 },
            Msg::Proposal(e(3)),
            Msg::Ack { zxid: 6 },
            Msg::Commit { zxid: 6 },
            Msg::Ping,
            Msg::Pong,
            Msg::Server(vec![9, 8, 7]),
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in samples() {
            let mut b = Vec::new();
            encode(&m, &mut b);
            assert_eq!(decode(&b), Ok(m));
        }
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        for m in samples() {
            let mut b = Vec::new();
            encode(&m, &mut b);
            for cut in 0..b.len() {
                assert!(decode(&b[..cut]).is_err(), "{m:?} cut at {cut}");
            }
            b.push(0);
            assert!(decode(&b).is_err(), "{m:?} with a trailing byte");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = crate::sim::Rng::new(11);
        for _ in 0..20_000 {
            let len = rng.range(0, 64) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if len >= 4 {
                // Mostly valid tags, so the field decoders get exercised.
                b[..4].copy_from_slice(&(rng.range(1, 16) as i32).to_be_bytes());
            }
            let _ = decode(&b);
        }
        // A huge entry count with no bytes behind it allocates nothing.
        let mut b = Vec::new();
        write_i32(&mut b, 6);
        write_i32(&mut b, i32::MAX);
        assert!(decode(&b).is_err());
    }
}
