//! Jute, ZooKeeper's binary encoding, and the records of its client protocol
//! and transaction log.
//!
//! Encoding rules: integers and longs are big-endian two's complement, a
//! boolean is one byte, buffers and strings carry a 4-byte length prefix where
//! -1 means null, and vectors carry a 4-byte element count (-1 = null, read as
//! empty). Records are their fields in declaration order with no framing.
//!
//! Decoding works on a borrowed byte slice that holds one whole frame, so a
//! declared length can be checked against the bytes actually present before
//! anything is allocated: garbage never causes a panic or an allocation larger
//! than the frame itself. This crate knows nothing about sockets or tokio.

mod codec;
pub mod codes;
pub mod multi;
pub mod records;

pub use codec::{write_buffer, write_i32, write_i64, DecodeError, Jute, Reader};
pub use records::*;

/// ZooKeeper's default `jute.maxbuffer`: the largest frame either side accepts.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// Encodes a record into a fresh buffer.
pub fn to_bytes<T: Jute>(record: &T) -> Vec<u8> {
    let mut out = Vec::new();
    record.write(&mut out);
    out
}

/// Decodes one record that must span `bytes` exactly (trailing bytes are an error).
pub fn from_bytes<T: Jute>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let v = T::read(&mut r)?;
    r.finish()?;
    Ok(v)
}
