//! Reply bodies encoded in place: the body is written once, behind room
//! for the length prefix and the reply header, and that same buffer is the
//! frame that goes out. A reply costs one allocation instead of one for
//! the body, one for the frame and the copy between them.

use crate::core::Zxid;
use jute::codes::Code;
use jute::Jute;

/// Length prefix (4 bytes) and ReplyHeader: xid (4), zxid (8), err (4).
const HEAD: usize = 4 + 4 + 8 + 4;

/// Most replies (stat, path, small data) fit without growing.
const USUAL: usize = 160;

/// A reply body with its frame header still to be filled in.
#[derive(Debug)]
pub(super) struct Body(Vec<u8>);

impl Body {
    /// No body: errors, pings, close and most watch operations.
    pub(super) fn empty() -> Body {
        Body(vec![0; HEAD])
    }

    /// One Jute record.
    pub(super) fn of<T: Jute>(record: &T) -> Body {
        Body::with(|o| record.write(o))
    }

    /// Whatever `write` appends, for bodies built from borrowed parts.
    pub(super) fn with(write: impl FnOnce(&mut Vec<u8>)) -> Body {
        let mut o = Vec::with_capacity(USUAL);
        o.resize(HEAD, 0);
        write(&mut o);
        Body(o)
    }

    /// The whole frame: length prefix, header, body.
    pub(super) fn into_frame(self, xid: i32, zxid: Zxid, err: Code) -> Vec<u8> {
        let mut o = self.0;
        let len = (o.len() - 4) as i32;
        o[0..4].copy_from_slice(&len.to_be_bytes());
        o[4..8].copy_from_slice(&xid.to_be_bytes());
        o[8..16].copy_from_slice(&zxid.to_be_bytes());
        o[16..20].copy_from_slice(&err.as_i32().to_be_bytes());
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::records::{ReplyHeader, SetDataResponse, Stat};

    #[test]
    fn frame_matches_the_jute_encoding() {
        let stat = Stat {
            czxid: 7,
            version: 3,
            ..Stat::default()
        };
        let f = Body::of(&SetDataResponse { stat: stat.clone() }).into_frame(
            42,
            0x1_0000_0005,
            Code::BadVersion,
        );
        let mut want = Vec::new();
        ReplyHeader {
            xid: 42,
            zxid: 0x1_0000_0005,
            err: Code::BadVersion.as_i32(),
        }
        .write(&mut want);
        SetDataResponse { stat }.write(&mut want);
        assert_eq!(&f[4..], &want[..]);
        assert_eq!(
            i32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize,
            want.len()
        );
        assert_eq!(Body::empty().into_frame(-2, 9, Code::Ok).len(), HEAD);
    }
}
