//! Little helpers for the on-disk formats: LEB128 varints, zigzag signed
//! varints and a bounds-checked reader.
//!
//! ```text
//! let mut b = Vec::new();
//! put_uvarint(&mut b, 300);
//! put_varint(&mut b, -3);
//! let mut r = Reader::new(&b);
//! assert_eq!(r.uvarint().unwrap(), 300);
//! assert_eq!(r.varint().unwrap(), -3);
//! ```

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint.
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A bounds-checked cursor over a byte slice. Errors are static strings; the
/// caller adds the path and offset.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// True when everything was consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Reads an unsigned varint.
    #[inline]
    pub(crate) fn uvarint(&mut self) -> Result<u64, &'static str> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err("truncated varint");
            };
            self.pos += 1;
            if shift >= 64 {
                return Err("varint overflows 64 bits");
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    /// Reads a zigzag varint.
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<i64, &'static str> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// Reads a little-endian u64.
    #[inline]
    pub(crate) fn u64_le(&mut self) -> Result<u64, &'static str> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Reads exactly `n` bytes.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let end = self.pos.checked_add(n).ok_or("length overflows")?;
        let s = self.buf.get(self.pos..end).ok_or("truncated field")?;
        self.pos = end;
        Ok(s)
    }

    /// Reads a length-prefixed byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let n = self.uvarint()?;
        self.take(usize::try_from(n).map_err(|_| "length overflows")?)
    }

    /// Reads a length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self) -> Result<&'a str, &'static str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| "invalid UTF-8 in string")
    }

    /// Reads a count that must be plausible for the remaining bytes (each item
    /// takes at least one byte), so corrupt input cannot force a huge allocation.
    pub(crate) fn count(&mut self) -> Result<usize, &'static str> {
        let n = self.uvarint()?;
        if n > (self.buf.len() - self.pos.min(self.buf.len())) as u64 {
            return Err("item count larger than the remaining bytes");
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let mut b = Vec::new();
        let us = [0u64, 1, 127, 128, 300, u64::MAX];
        let is = [0i64, -1, 1, i64::MIN, i64::MAX, -300];
        for u in us {
            put_uvarint(&mut b, u);
        }
        for i in is {
            put_varint(&mut b, i);
        }
        put_bytes(&mut b, b"abc");
        let mut r = Reader::new(&b);
        for u in us {
            assert_eq!(r.uvarint().unwrap(), u);
        }
        for i in is {
            assert_eq!(r.varint().unwrap(), i);
        }
        assert_eq!(r.str().unwrap(), "abc");
        assert!(r.is_empty());
        assert!(r.uvarint().is_err());
        assert!(Reader::new(&[0xff; 11]).uvarint().is_err());
        assert!(Reader::new(&[5, 1]).count().is_err());
    }
}
