//! The Gorilla-style XOR chunk and its iterator.

use super::codec::*;
use super::read::*;
use super::*;

/// An appendable Gorilla-compressed run of samples from one series.
///
/// The encoding in [`XorChunk::bytes`] is always complete and self-describing;
/// besides it the struct keeps only the writer's state (56 bytes in all).
#[derive(Debug, Clone)]
pub struct XorChunk {
    pub(super) bytes: Vec<u8>,
    pub(super) st: State,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// Creates an empty chunk (just the 5-byte header).
    pub fn new() -> Self {
        let mut bytes = Vec::with_capacity(INITIAL_CAPACITY);
        bytes.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0, 0]);
        XorChunk { bytes, st: START }
    }

    /// Appends a sample. The caller guarantees `t > last_t()` when the chunk
    /// is not empty; otherwise the encoding would not decode.
    ///
    /// # Panics
    ///
    /// When the chunk already holds `u32::MAX` samples (the head cuts chunks
    /// long before that; the count field is 32 bits).
    pub fn append(&mut self, t: i64, v: f64) {
        let n = self.len();
        assert!(
            n < u32::MAX as usize,
            "an XorChunk holds at most u32::MAX samples"
        );
        debug_assert!(
            n == 0 || t > self.st.t,
            "timestamps must be strictly increasing"
        );
        let bits = v.to_bits();
        if n == 0 {
            put_varint(&mut self.bytes, &mut self.st.free, zigzag(t));
            self.put(bits, 64);
        } else {
            let delta = t.wrapping_sub(self.st.t);
            match n {
                1 => put_varint(&mut self.bytes, &mut self.st.free, delta as u64),
                _ => put_dod(
                    &mut self.bytes,
                    &mut self.st.free,
                    delta.wrapping_sub(self.st.delta),
                ),
            }
            self.put_value(bits);
            self.st.delta = delta;
        }
        self.st.t = t;
        self.st.v = bits;
        set_count(&mut self.bytes, n as u32 + 1);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        header_count(&self.bytes).unwrap_or(0) as usize
    }

    /// True when the chunk holds no samples.
    pub fn is_empty(&self) -> bool {
        // The first sample takes more than one byte after the header.
        self.bytes.len() <= HEADER_LEN
    }

    /// Timestamp of the first sample.
    pub fn first_t(&self) -> Option<i64> {
        self.iter().next().map(|s| s.t)
    }

    /// Timestamp of the last sample.
    pub fn last_t(&self) -> Option<i64> {
        (!self.is_empty()).then_some(self.st.t)
    }

    /// Value of the last sample, bit-exact.
    pub fn last_v(&self) -> Option<f64> {
        (!self.is_empty()).then_some(f64::from_bits(self.st.v))
    }

    /// The complete encoding (header with sample count, then the bit stream).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Iterates over the samples in order.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter {
            dec: Decoder::new(&self.bytes).ok(),
        }
    }

    /// Validates a stored encoding and reopens it for appending. Runs a full
    /// decode to rebuild the writer state.
    pub fn from_bytes(b: Vec<u8>) -> Result<XorChunk, ChunkError> {
        if let Some(&version) = b.first().filter(|&&f| f != FORMAT_VERSION) {
            let (format, supported) = ("xor chunk", FORMAT_VERSION);
            return Err(ChunkError::UnsupportedVersion {
                format,
                version,
                supported,
            });
        }
        let d = Decoder::run(&b)?;
        let free = ((8 - d.r.pos % 8) % 8) as u8;
        let st = State { free, ..d.st };
        Ok(XorChunk { bytes: b, st })
    }

    /// Heap memory held by the chunk, in bytes (the buffer's capacity).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Releases unused buffer capacity, e.g. once the chunk is full.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    pub(super) fn put(&mut self, value: u64, n: u32) {
        put_bits(&mut self.bytes, &mut self.st.free, value, n);
    }

    pub(super) fn put_value(&mut self, bits: u64) {
        let xor = bits ^ self.st.v;
        if xor == 0 {
            return self.put(0, 1);
        }
        let lead = (xor.leading_zeros() as u8).min(31);
        let trail = xor.trailing_zeros() as u8;
        let sig = 64 - u32::from(lead) - u32::from(trail);
        let (old_lead, old_trail) = (self.st.leading, self.st.trailing);
        if old_lead != NO_WINDOW && lead >= old_lead && trail >= old_trail {
            // Reuse the window when it costs no more than a new one
            // (2 + old_sig bits against 2 + 11 + sig bits).
            let old_sig = 64 - u32::from(old_lead) - u32::from(old_trail);
            if old_sig <= sig + 11 {
                self.put(0b10, 2);
                return self.put(xor >> old_trail, old_sig);
            }
        }
        self.put(0b11, 2);
        self.put(u64::from(lead), 5);
        self.put(u64::from(sig & 63), 6);
        self.put(xor >> trail, sig);
        (self.st.leading, self.st.trailing) = (lead, trail);
    }
}

/// Iterator over a head chunk's samples (either format), from
/// [`XorChunk::iter`], [`DecimalChunk::iter`] or [`HeadChunk::iter`].
///
/// A chunk's own bytes are always valid, so the iterator never meets an
/// error; should it, it stops early.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    pub(super) dec: Option<Decoder<'a>>,
}

impl Iterator for XorIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        let next = self.dec.as_mut()?.next_sample().ok().flatten();
        if next.is_none() {
            self.dec = None;
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.dec.as_ref().map_or(0, |d| (d.count - d.done) as usize);
        (0, Some(n))
    }
}
