//! Gorilla-style compressed chunks for the in-memory head.
//!
//! A [`XorChunk`] holds one series' recent samples as a bit stream: timestamps
//! as delta-of-deltas in variable-width buckets, values XOR-ed with the
//! previous value. The layout is documented in `docs/format/chunks.md`. Every
//! `f64` bit pattern (NaN payloads, stale markers, `-0.0`, ±Inf) and every
//! strictly increasing run of `i64` timestamps round-trips exactly.
//!
//! ```
//! use argus_tsdb::chunk::{decode, XorChunk};
//!
//! let mut c = XorChunk::new();
//! for i in 0..120 {
//!     c.append(1_700_000_000_000 + i * 15_000, i as f64);
//! }
//! assert_eq!(c.len(), 120);
//! assert_eq!(c.last_v(), Some(119.0));
//! let samples = decode(c.bytes()).unwrap();
//! assert_eq!(samples[7].t, 1_700_000_105_000);
//! // A stored encoding can be reopened and appended to.
//! let mut again = XorChunk::from_bytes(c.bytes().to_vec()).unwrap();
//! again.append(1_700_000_000_000 + 120 * 15_000, 120.0);
//! assert_eq!(again.iter().count(), 121);
//! ```

use argus_model::Sample;

/// The format version written in byte 0 of every chunk.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the bit stream: the version byte and a little-endian `u32` sample count.
const HEADER_LEN: usize = 5;
/// Marks "no leading/trailing window yet" in the value encoder.
const NO_WINDOW: u8 = 0xff;
/// Delta-of-delta buckets after the `'0'` case: (control bits, control length, payload bits).
const DOD_BUCKETS: [(u64, u32, u32); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];

/// Why a chunk or block-series encoding could not be decoded.
///
/// Positions count from the start of the encoding that was passed in.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// The input ended before a complete field could be read.
    #[error("encoding is truncated: {what} at byte {}, bit {} runs past the end", .bit / 8, .bit % 8)]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bit offset where the field starts.
        bit: u64,
    },
    /// The version byte names a format this build does not read.
    #[error("unsupported {format} format version {version} at byte 0 (this build reads version {supported})")]
    UnsupportedVersion {
        /// Which encoding ("xor chunk" or "block series").
        format: &'static str,
        /// The version found.
        version: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// A field holds a value that no encoder writes.
    #[error("corrupt encoding at byte {}, bit {}: {reason}", .bit / 8, .bit % 8)]
    Corrupt {
        /// Bit offset of the offending field.
        bit: u64,
        /// What was wrong.
        reason: String,
    },
    /// A pco-compressed column of a block series failed to decode.
    #[error("corrupt {column} column at byte {byte}: {reason}")]
    Column {
        /// `"timestamp"` or `"value"`.
        column: &'static str,
        /// Byte offset where the column starts.
        byte: usize,
        /// What was wrong (pco's message or a count mismatch).
        reason: String,
    },
}

/// What the writer and the reader both track from one sample to the next.
#[derive(Debug, Clone, Copy)]
struct State {
    /// Last timestamp.
    t: i64,
    /// Wrapping difference of the last two timestamps.
    delta: i64,
    /// Bits of the last value.
    v: u64,
    /// The XOR window; `leading` is `NO_WINDOW` until the first one is set.
    leading: u8,
    trailing: u8,
    /// Writer only: unused low bits in the last byte (0..=7).
    free: u8,
}

const START: State = State {
    t: 0,
    delta: 0,
    v: 0,
    leading: NO_WINDOW,
    trailing: 0,
    free: 0,
};

/// An appendable Gorilla-compressed run of samples from one series.
///
/// The encoding in [`XorChunk::bytes`] is always complete and self-describing;
/// besides it the struct keeps only the writer's state (56 bytes in all).
#[derive(Debug, Clone)]
pub struct XorChunk {
    bytes: Vec<u8>,
    st: State,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// Creates an empty chunk (just the 5-byte header).
    pub fn new() -> Self {
        let mut bytes = Vec::with_capacity(32);
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
            self.put_varint(zigzag(t));
            self.put(bits, 64);
        } else {
            let delta = t.wrapping_sub(self.st.t);
            match n {
                1 => self.put_varint(delta as u64),
                _ => self.put_dod(delta.wrapping_sub(self.st.delta)),
            }
            self.put_value(bits);
            self.st.delta = delta;
        }
        self.st.t = t;
        self.st.v = bits;
        if let Some(h) = self.bytes.get_mut(1..HEADER_LEN) {
            h.copy_from_slice(&(n as u32 + 1).to_le_bytes());
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        header_count(&self.bytes).unwrap_or(0) as usize
    }

    /// True when the chunk holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let mut d = Decoder::new(&b)?;
        while d.next_sample()?.is_some() {}
        d.finish()?;
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

    /// Writes the low `n` bits of `value` (n <= 64), most significant first.
    fn put(&mut self, value: u64, n: u32) {
        let mut left = n;
        while left > 0 {
            if self.st.free == 0 {
                self.bytes.push(0);
                self.st.free = 8;
            }
            let take = left.min(u32::from(self.st.free));
            let part = ((value >> (left - take)) & ((1u64 << take) - 1)) as u8;
            self.st.free -= take as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= part << self.st.free;
            }
            left -= take;
        }
    }

    fn put_varint(&mut self, mut u: u64) {
        while u >= 0x80 {
            self.put((u & 0x7f) | 0x80, 8);
            u >>= 7;
        }
        self.put(u, 8);
    }

    fn put_dod(&mut self, dod: i64) {
        if dod == 0 {
            return self.put(0, 1);
        }
        for (ctl, ctl_len, width) in DOD_BUCKETS {
            let half = 1i64 << (width - 1);
            if (-half..half).contains(&dod) {
                self.put(ctl, ctl_len);
                return self.put(dod as u64, width);
            }
        }
        self.put(0b1111, 4);
        self.put(dod as u64, 64);
    }

    fn put_value(&mut self, bits: u64) {
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

/// Iterator over a chunk's samples, from [`XorChunk::iter`].
///
/// A chunk's own bytes are always valid, so the iterator never meets an
/// error; should it, it stops early.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    dec: Option<Decoder<'a>>,
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

/// Decodes and fully validates an encoding made by [`XorChunk::bytes`].
///
/// Rejects truncated input, trailing bytes, non-zero padding, impossible
/// field values and timestamps that do not strictly increase. Never panics.
pub fn decode(b: &[u8]) -> Result<Vec<Sample>, ChunkError> {
    let mut d = Decoder::new(b)?;
    // Every sample after the first takes at least 2 bits, so a garbage count
    // cannot make us reserve much more than the input could hold.
    let cap = (d.count as usize).min(b.len().saturating_mul(4).saturating_add(1));
    let mut out = Vec::with_capacity(cap);
    while let Some(s) = d.next_sample()? {
        out.push(s);
    }
    d.finish()?;
    Ok(out)
}

fn header_count(b: &[u8]) -> Option<u32> {
    let h: [u8; 4] = b.get(1..HEADER_LEN)?.try_into().ok()?;
    Some(u32::from_le_bytes(h))
}

fn zigzag(t: i64) -> u64 {
    ((t << 1) ^ (t >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn corrupt(bit: u64, reason: impl Into<String>) -> ChunkError {
    let reason = reason.into();
    ChunkError::Corrupt { bit, reason }
}

/// Reads bits most significant first; `pos` is a bit offset into `data`.
#[derive(Debug, Clone)]
struct BitReader<'a> {
    data: &'a [u8],
    pos: u64,
}

impl BitReader<'_> {
    fn read(&mut self, n: u32, what: &'static str) -> Result<u64, ChunkError> {
        let avail = (self.data.len() as u64 * 8).saturating_sub(self.pos);
        if u64::from(n) > avail {
            return Err(ChunkError::Truncated {
                what,
                bit: self.pos,
            });
        }
        let mut out = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = usize::try_from(self.pos / 8)
                .ok()
                .and_then(|i| self.data.get(i));
            let Some(&byte) = byte else {
                return Err(ChunkError::Truncated {
                    what,
                    bit: self.pos,
                });
            };
            let room = 8 - (self.pos % 8) as u32;
            let take = left.min(room);
            let part = (u64::from(byte) >> (room - take)) & ((1u64 << take) - 1);
            out = (out << take) | part;
            self.pos += u64::from(take);
            left -= take;
        }
        Ok(out)
    }

    fn read_varint(&mut self, what: &'static str) -> Result<u64, ChunkError> {
        let start = self.pos;
        let mut out = 0u64;
        for i in 0..10 {
            let byte = self.read(8, what)?;
            if byte < 0x80 && (i < 9 || byte <= 1) {
                return Ok(out | (byte << (7 * i)));
            }
            out |= (byte & 0x7f) << (7 * i);
        }
        Err(corrupt(start, format!("{what} varint overflows 64 bits")))
    }
}

/// Streaming decoder shared by [`decode`], [`XorIter`] and [`XorChunk::from_bytes`].
#[derive(Debug, Clone)]
struct Decoder<'a> {
    r: BitReader<'a>,
    count: u32,
    done: u32,
    st: State,
}

impl<'a> Decoder<'a> {
    fn new(b: &'a [u8]) -> Result<Self, ChunkError> {
        match (b.first(), header_count(b)) {
            (Some(&version), _) if version != FORMAT_VERSION => {
                let (format, supported) = ("xor chunk", FORMAT_VERSION);
                Err(ChunkError::UnsupportedVersion {
                    format,
                    version,
                    supported,
                })
            }
            (_, None) => Err(ChunkError::Truncated {
                what: "header",
                bit: 0,
            }),
            (_, Some(count)) => {
                let r = BitReader {
                    data: b,
                    pos: HEADER_LEN as u64 * 8,
                };
                Ok(Decoder {
                    r,
                    count,
                    done: 0,
                    st: START,
                })
            }
        }
    }

    fn next_sample(&mut self) -> Result<Option<Sample>, ChunkError> {
        if self.done >= self.count {
            return Ok(None);
        }
        let start = self.r.pos;
        let st = &mut self.st;
        if self.done == 0 {
            st.t = unzigzag(self.r.read_varint("first timestamp")?);
            st.v = self.r.read(64, "first value")?;
        } else {
            let delta = match self.done {
                1 => self.r.read_varint("first timestamp delta")? as i64,
                _ => st.delta.wrapping_add(read_dod(&mut self.r)?),
            };
            let t = st.t.wrapping_add(delta);
            if t <= st.t {
                let reason = format!(
                    "timestamp {t} of sample {} does not follow {}",
                    self.done, st.t
                );
                return Err(corrupt(start, reason));
            }
            (st.t, st.delta) = (t, delta);
            st.v ^= read_xor(&mut self.r, st)?;
        }
        self.done += 1;
        Ok(Some(Sample {
            t: st.t,
            v: f64::from_bits(st.v),
        }))
    }

    /// Checks that the stream ends exactly in the last byte with zero padding.
    fn finish(&self) -> Result<(), ChunkError> {
        let (pos, data) = (self.r.pos, self.r.data);
        let extra = (data.len() as u64).saturating_sub(pos.div_ceil(8));
        if extra > 0 {
            return Err(corrupt(
                pos,
                format!("{extra} trailing byte(s) after the last sample"),
            ));
        }
        let pad = (8 - pos % 8) % 8;
        let last = data.last().copied().unwrap_or(0);
        if pad > 0 && u64::from(last) & ((1u64 << pad) - 1) != 0 {
            return Err(corrupt(
                pos,
                "padding bits after the last sample are not zero",
            ));
        }
        Ok(())
    }
}

fn read_dod(r: &mut BitReader<'_>) -> Result<i64, ChunkError> {
    let what = "timestamp delta-of-delta";
    if r.read(1, what)? == 0 {
        return Ok(0);
    }
    for (_, _, width) in DOD_BUCKETS {
        if r.read(1, what)? == 0 {
            let shift = 64 - width;
            return Ok(((r.read(width, what)? << shift) as i64) >> shift);
        }
    }
    Ok(r.read(64, what)? as i64)
}

/// Reads one xor-value field, updating the window in `st`.
fn read_xor(r: &mut BitReader<'_>, st: &mut State) -> Result<u64, ChunkError> {
    let what = "value";
    if r.read(1, what)? == 0 {
        return Ok(0);
    }
    let at = r.pos;
    if r.read(1, what)? == 1 {
        let lead = r.read(5, what)? as u32;
        let sig = match r.read(6, what)? as u32 {
            0 => 64,
            s => s,
        };
        if lead + sig > 64 {
            let reason = format!("value window of {lead} leading and {sig} significant bits");
            return Err(corrupt(at, reason));
        }
        (st.leading, st.trailing) = (lead as u8, (64 - lead - sig) as u8);
    } else if st.leading == NO_WINDOW {
        return Err(corrupt(at, "value reuses a window before one was set"));
    }
    let sig = 64 - u32::from(st.leading) - u32::from(st.trailing);
    Ok(r.read(sig, what)? << st.trailing)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use argus_model::STALE_NAN;
    use proptest::prelude::*;

    fn build(samples: &[(i64, f64)]) -> XorChunk {
        let mut c = XorChunk::new();
        samples.iter().for_each(|&(t, v)| c.append(t, v));
        c
    }

    fn assert_bit_eq(got: &[Sample], want: &[(i64, f64)]) {
        let got: Vec<_> = got.iter().map(|s| (s.t, s.v.to_bits())).collect();
        let want: Vec<_> = want.iter().map(|s| (s.0, s.1.to_bits())).collect();
        assert_eq!(got, want);
    }

    /// Any bit pattern, small integers, and every special value.
    pub(crate) fn value() -> impl Strategy<Value = f64> {
        let special = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            STALE_NAN,
            -0.0,
            0.0,
        ];
        prop_oneof![
            any::<u64>().prop_map(f64::from_bits),
            (0u32..1000).prop_map(f64::from),
            prop::sample::select(special.to_vec()),
        ]
    }

    /// Strictly increasing timestamps from `start` after the given gaps
    /// (clamped so nothing passes `i64::MAX`), paired with values.
    pub(crate) fn increasing<V>(start: i64, steps: Vec<(u64, V)>) -> Vec<(i64, V)> {
        let mut t = start;
        let mut out = Vec::new();
        for (i, (gap, v)) in steps.into_iter().enumerate() {
            if i > 0 {
                let room = (i64::MAX as i128 - t as i128) as u64;
                if room == 0 {
                    break;
                }
                t = (t as i128 + gap.clamp(1, room) as i128) as i64;
            }
            out.push((t, v));
        }
        out
    }

    fn series() -> impl Strategy<Value = Vec<(i64, f64)>> {
        let start = prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MIN + 1), Just(0i64)];
        let gap = prop_oneof![Just(15_000u64), 1u64..100, any::<u64>(), Just(u64::MAX / 2)];
        (start, prop::collection::vec((gap, value()), 0..300)).prop_map(|(t, s)| increasing(t, s))
    }

    proptest! {
        #[test]
        fn round_trips_bit_exact(s in series()) {
            let c = build(&s);
            prop_assert_eq!(c.len(), s.len());
            assert_bit_eq(&decode(c.bytes()).unwrap(), &s);
            assert_bit_eq(&c.iter().collect::<Vec<_>>(), &s);
            prop_assert_eq!(c.first_t(), s.first().map(|x| x.0));
            prop_assert_eq!(c.last_t(), s.last().map(|x| x.0));
            prop_assert_eq!(c.last_v().map(f64::to_bits), s.last().map(|x| x.1.to_bits()));
        }

        #[test]
        fn reopened_chunk_stays_appendable(s in series(), split in 0usize..300) {
            let split = split.min(s.len());
            let mut c = XorChunk::from_bytes(build(&s[..split]).bytes().to_vec()).unwrap();
            s[split..].iter().for_each(|&(t, v)| c.append(t, v));
            let whole = build(&s);
            prop_assert_eq!(c.bytes(), whole.bytes());
        }

        #[test]
        fn truncations_and_corruptions_never_panic(s in series(), at in any::<prop::sample::Index>(), x in 1u8..) {
            let mut b = build(&s).bytes().to_vec();
            let i = at.index(b.len());
            prop_assert!(decode(&b[..i]).is_err());
            prop_assert!(XorChunk::from_bytes(b[..i].to_vec()).is_err());
            b[i] ^= x;
            if let Ok(c) = XorChunk::from_bytes(b) {
                let _ = (c.iter().count(), c.first_t());
            }
        }

        #[test]
        fn garbage_never_panics(mut b in prop::collection::vec(any::<u8>(), 0..200), ver in any::<bool>()) {
            if ver && !b.is_empty() {
                b[0] = FORMAT_VERSION;
            }
            let _ = decode(&b);
            if let Ok(c) = XorChunk::from_bytes(b) {
                let _ = c.iter().count();
            }
        }
    }

    #[test]
    fn extreme_gaps_and_special_values() {
        let s = [
            (i64::MIN, STALE_NAN),
            (0, -0.0),
            (i64::MAX / 2, f64::NAN),
            (i64::MAX, 1.0),
        ];
        let c = build(&s);
        assert_bit_eq(&decode(c.bytes()).unwrap(), &s);
        assert_eq!(XorChunk::from_bytes(c.bytes().to_vec()).unwrap().len(), 4);
    }

    #[test]
    fn errors_name_the_position() {
        let c = build(&[(1, 1.0), (2, 2.0)]);
        let mut b = c.bytes().to_vec();
        b.push(0);
        assert!(decode(&b)
            .unwrap_err()
            .to_string()
            .contains("trailing byte"));
        let err = decode(&c.bytes()[..7]).unwrap_err().to_string();
        assert!(err.contains("truncated") && err.contains("byte 6"), "{err}");
        let err = decode(&[9, 0, 0, 0, 0]).unwrap_err();
        assert!(matches!(
            err,
            ChunkError::UnsupportedVersion { version: 9, .. }
        ));
    }

    #[test]
    fn empty_chunk() {
        let c = XorChunk::new();
        assert!(c.is_empty() && c.first_t().is_none() && c.last_v().is_none());
        assert_eq!(decode(c.bytes()).unwrap().len(), 0);
        assert!(c.heap_bytes() >= c.bytes().len());
        assert!(std::mem::size_of::<XorChunk>() <= 56);
    }
}
