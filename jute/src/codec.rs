//! The primitive Jute types and the `Jute` trait every record implements.

use thiserror::Error;

/// Why a byte sequence is not a valid record. Every variant is an expected
/// outcome of untrusted input, never a bug.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame ended before the record did.
    #[error("record truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    /// A length prefix below -1.
    #[error("negative length {len} at offset {offset}")]
    NegativeLength { offset: usize, len: i32 },
    /// A length prefix larger than what is left of the frame.
    #[error("length {len} at offset {offset} exceeds the {left} bytes left")]
    TooLarge {
        offset: usize,
        len: usize,
        left: usize,
    },
    /// A string that is not UTF-8.
    #[error("invalid UTF-8 in string at offset {offset}")]
    InvalidUtf8 { offset: usize },
    /// Bytes left over after the record.
    #[error("{0} trailing bytes after record")]
    Trailing(usize),
    /// A value outside what the field allows (e.g. an unknown multi op type).
    #[error("invalid value: {0}")]
    Invalid(String),
}

/// A cursor over one frame's bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Current offset into the frame (for error messages).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Errors if bytes are left: a record must span its frame exactly.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads a big-endian 32-bit int.
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian 64-bit long.
    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// Reads a one-byte boolean (any non-zero byte is true, as in Java).
    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1)?[0] != 0)
    }

    /// Reads a length prefix and checks it against the bytes left, times
    /// `min_elem` bytes per element. Returns None for -1 (null).
    fn read_len(&mut self, min_elem: usize) -> Result<Option<usize>, DecodeError> {
        let offset = self.pos;
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::NegativeLength { offset, len });
        }
        let len = len as usize;
        if len.saturating_mul(min_elem) > self.remaining() {
            return Err(DecodeError::TooLarge {
                offset,
                len,
                left: self.remaining(),
            });
        }
        Ok(Some(len))
    }

    /// Reads a length-prefixed buffer; -1 is null.
    pub fn read_buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        Ok(self.read_buffer_ref()?.map(<[u8]>::to_vec))
    }

    /// Reads a length-prefixed buffer without copying it (bulk loads that
    /// store the bytes elsewhere anyway).
    pub fn read_buffer_ref(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.read_len(1)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?)),
        }
    }

    /// The bytes consumed since offset `from` (an earlier [`Reader::position`]):
    /// lets a caller keep a record's raw encoding next to its decoded form.
    pub fn consumed_since(&self, from: usize) -> &'a [u8] {
        &self.buf[from.min(self.pos)..self.pos]
    }

    /// Reads a length-prefixed UTF-8 string; null reads as the empty string.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        let offset = self.pos;
        match self.read_len(1)? {
            None => Ok(String::new()),
            Some(n) => {
                let b = self.take(n)?;
                std::str::from_utf8(b)
                    .map(str::to_owned)
                    .map_err(|_| DecodeError::InvalidUtf8 { offset })
            }
        }
    }

    /// Reads a counted vector; null reads as empty. Every element takes at
    /// least one byte, so the count is bounded by the bytes left.
    pub fn read_vec<T: Jute>(&mut self) -> Result<Vec<T>, DecodeError> {
        match self.read_len(1)? {
            None => Ok(Vec::new()),
            Some(n) => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(T::read(self)?);
                }
                Ok(v)
            }
        }
    }
}

/// Writes a big-endian int.
pub fn write_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian long.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Writes a Jute `buffer` from borrowed bytes; `None` is null (length -1).
pub fn write_buffer(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => write_i32(out, -1),
        Some(b) => {
            write_i32(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// A type with a Jute encoding.
pub trait Jute: Sized {
    /// Decodes one value from the reader.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    /// Appends the encoding of `self` to `out`.
    fn write(&self, out: &mut Vec<u8>);
}

impl Jute for i32 {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_i32()
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_i32(out, *self)
    }
}

impl Jute for i64 {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_i64()
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_i64(out, *self)
    }
}

impl Jute for bool {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_bool()
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self))
    }
}

impl Jute for String {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_string()
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_i32(out, self.len() as i32);
        out.extend_from_slice(self.as_bytes());
    }
}

/// A Jute `buffer`: `None` is null (length -1), distinct from empty.
impl Jute for Option<Vec<u8>> {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_buffer()
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_buffer(out, self.as_deref())
    }
}

impl<T: Jute> Jute for Vec<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.read_vec()
    }
    fn write(&self, out: &mut Vec<u8>) {
        write_i32(out, self.len() as i32);
        for x in self {
            x.write(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_length_is_rejected_before_allocating() {
        let bytes = [0x7f, 0xff, 0xff, 0xff, 1, 2, 3];
        let err = Reader::new(&bytes).read_buffer().unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { .. }));
        let err = Reader::new(&bytes).read_vec::<i64>().unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { .. }));
    }

    #[test]
    fn null_buffer_differs_from_empty() {
        let mut out = Vec::new();
        None::<Vec<u8>>.write(&mut out);
        Some(Vec::new()).write(&mut out);
        let mut r = Reader::new(&out);
        assert_eq!(r.read_buffer().unwrap(), None);
        assert_eq!(r.read_buffer().unwrap(), Some(vec![]));
        r.finish().unwrap();
    }

    #[test]
    fn negative_length_other_than_null_is_an_error() {
        let bytes = (-2i32).to_be_bytes();
        let err = Reader::new(&bytes).read_string().unwrap_err();
        assert!(matches!(err, DecodeError::NegativeLength { len: -2, .. }));
    }
}
