//! Compressed chunks for the in-memory head.
//!
//! A head chunk holds one series' recent samples as a bit stream, in one of
//! two encodings named by its format byte (layouts in `docs/format/chunks.md`):
//!
//! * [`XorChunk`] (format 1, Gorilla): timestamps as delta-of-deltas in
//!   variable-width buckets, values XOR-ed with the previous value. It takes
//!   every `f64`.
//! * [`DecimalChunk`] (format 2): the same timestamps, but values that are
//!   all exactly `m / 10^k` for one small `k` (integer counters, two-decimal
//!   gauges) stored as the integers `m`, predicted from the previous one or
//!   two and the residual Rice-coded with an adaptive parameter. A value that
//!   does not fit (NaN, a stale marker, `-0.0`, too many decimals) is refused
//!   with `false` and the head starts a new chunk for it.
//!
//! [`HeadChunk`] is either one; the head appends to it with
//! [`HeadChunk::try_append`]. Every `f64` bit pattern (NaN payloads, stale
//! markers, `-0.0`, ±Inf) and every strictly increasing run of `i64`
//! timestamps round-trips exactly; [`decode`] reads both formats.
//!
//! ```
//! use argus_tsdb::chunk::{decode, DecimalChunk, XorChunk};
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
//!
//! // Two-decimal gauges take a fraction of the space as decimals.
//! let mut d = DecimalChunk::new(0);
//! for i in 0..120 {
//!     assert!(d.try_append(1_700_000_000_000 + i * 15_000, 20.0 + (i % 7) as f64 * 0.25));
//! }
//! assert!(!d.try_append(1_700_000_000_000 + 120 * 15_000, f64::NAN)); // refused, unchanged
//! assert_eq!((d.len(), d.scale()), (120, 2));
//! assert!(d.bytes().len() < c.bytes().len());
//! assert_eq!(decode(d.bytes()).unwrap()[3].v, 20.75);
//! ```

use argus_model::Sample;

/// The format byte of an XOR chunk, written in byte 0.
pub const FORMAT_VERSION: u8 = 1;
/// The format byte of a decimal chunk, written in byte 0.
pub const FORMAT_DECIMAL: u8 = 2;
/// The largest decimal scale `k` (values `m / 10^k`).
pub const MAX_SCALE: u8 = 4;
/// Bytes before an XOR chunk's bit stream: the format byte and a little-endian `u32` sample count.
const HEADER_LEN: usize = 5;
/// A decimal chunk's header adds the scale byte.
const DEC_HEADER_LEN: usize = 6;
/// Marks "no leading/trailing window yet" in the value encoder.
const NO_WINDOW: u8 = 0xff;
/// Delta-of-delta buckets after the `'0'` case: (control bits, control length, payload bits).
const DOD_BUCKETS: [(u64, u32, u32); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];
/// `10^k` for each decimal scale; exact in `f64`.
const POW10: [f64; MAX_SCALE as usize + 1] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
/// Largest `|m|` of a decimal chunk: every such integer is exact in `f64`.
const MAX_SCALED: i64 = 1 << 53;
/// A Rice quotient this large is written as an escape instead.
const RICE_ESCAPE: u32 = 10;
/// Rice statistics are halved when their count reaches this.
const RICE_RESET: u8 = 16;
/// Residuals added to the Rice statistics are capped here (keeps the sum in a `u32`).
const RICE_CAP: u64 = 1 << 24;
/// The sample count the head cuts chunks at; buffers are sized for it.
const EXPECTED_SAMPLES: usize = 120;
/// Rough bytes taken by a chunk's header and first sample, left out of the
/// per-sample estimate that sizes the buffer.
const FIRST_SAMPLE_BYTES: usize = 20;
/// Initial buffer capacity: with glibc's 8-byte chunk header, a 32-byte allocation.
const INITIAL_CAPACITY: usize = 24;
/// Empty decimal chunks for each scale, so that an empty chunk allocates nothing.
const EMPTY_DECIMAL: [[u8; DEC_HEADER_LEN]; MAX_SCALE as usize + 1] = [
    [FORMAT_DECIMAL, 0, 0, 0, 0, 0],
    [FORMAT_DECIMAL, 0, 0, 0, 0, 1],
    [FORMAT_DECIMAL, 0, 0, 0, 0, 2],
    [FORMAT_DECIMAL, 0, 0, 0, 0, 3],
    [FORMAT_DECIMAL, 0, 0, 0, 0, 4],
];

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
        /// Which encoding ("xor chunk", "head chunk" or "block series").
        format: &'static str,
        /// The version found.
        version: u8,
        /// The highest version this build reads.
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

/// What the XOR writer and reader both track from one sample to the next.
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

/// What the decimal writer and reader both track. Shared code updates the
/// value model on both sides, so they cannot drift apart. (One flat struct
/// keeps a [`DecimalChunk`] small.)
#[derive(Debug, Clone, Copy)]
struct Model {
    /// Last timestamp (the writer's; the reader keeps its own).
    t: i64,
    /// Wrapping difference of the last two timestamps (the writer's).
    delta: i64,
    /// Last scaled value.
    m: i64,
    /// Wrapping difference of the last two scaled values.
    md: i64,
    /// Moving average of the differences, in sixteenths.
    mean: i64,
    /// Sum of recent non-zero zigzagged residuals (each capped at `RICE_CAP`).
    acc: u32,
    /// How many residuals `acc` sums (1..RICE_RESET; starts at 1).
    cnt: u8,
    /// Decaying frequency of zero residuals (0..=128).
    zeros: u8,
    /// Decaying bit costs of the three predictors: last value, last value plus
    /// last difference, last value plus average difference.
    cost: [u16; 3],
    /// Writer only: unused low bits in the last byte (0..=7).
    free: u8,
    /// The scale `k`: values are `m / 10^k`.
    scale: u8,
}

const MODEL_START: Model = Model {
    t: 0,
    delta: 0,
    m: 0,
    md: 0,
    mean: 0,
    acc: 8,
    cnt: 1,
    zeros: 0,
    cost: [0; 3],
    free: 0,
    scale: 0,
};

/// Zero residuals get a one-bit code once this share of recent ones (of 128) were zero.
const ZERO_MODE: u8 = 32;

impl Model {
    /// The predicted next scaled value, from whichever predictor has lately cost least.
    #[inline]
    fn predict(&self) -> i64 {
        let [c0, c1, c2] = self.cost;
        if c0 <= c1 && c0 <= c2 {
            self.m
        } else if c1 <= c2 {
            self.m.wrapping_add(self.md)
        } else {
            self.m.wrapping_add(self.mean.wrapping_add(8) >> 4)
        }
    }

    /// True when a zero residual is coded as one bit (and others pay one more).
    #[inline]
    fn zero_mode(&self) -> bool {
        self.zeros >= ZERO_MODE
    }

    /// The Rice parameter: the smallest `k` with `cnt · 2^k ≥ acc`.
    #[inline]
    fn rice_k(&self) -> u32 {
        let (a, n) = (u64::from(self.acc), u64::from(self.cnt));
        let k = (64 - a.leading_zeros()).saturating_sub(64 - n.leading_zeros());
        k + u32::from((n << k) < a)
    }

    /// Records scaled value `m` of sample `i ≥ 1`, which was coded as
    /// zigzagged residual `u`.
    #[inline]
    fn update(&mut self, m: i64, u: u64, i: usize) {
        let d = m.wrapping_sub(self.m);
        if i == 1 {
            // The first difference is the best guess of the average one.
            self.mean = d << 4;
        }
        let mean = self.mean.wrapping_add(8) >> 4;
        let costs = [d, d.wrapping_sub(self.md), d.wrapping_sub(mean)];
        for (c, r) in self.cost.iter_mut().zip(costs) {
            *c = *c - (*c >> 3) + bit_len(zigzag(r)) as u16;
        }
        self.mean = self
            .mean
            .wrapping_add((d << 4).wrapping_sub(self.mean) >> 2);
        (self.m, self.md) = (m, d);
        self.zeros = self.zeros - (self.zeros >> 3) + if u == 0 { 16 } else { 0 };
        if u != 0 {
            // An outlier at most doubles the sum, so one jump does not make
            // the next several residuals pay for it.
            let lim = (u64::from(self.acc) + 16).min(RICE_CAP);
            self.acc += u.min(lim) as u32;
            self.cnt += 1;
            if self.cnt >= RICE_RESET {
                self.acc = self.acc.div_ceil(2);
                self.cnt /= 2;
            }
        }
    }
}

fn bit_len(u: u64) -> u32 {
    64 - u.leading_zeros()
}

/// `v` as `m` with `m / 10^k == v` bit for bit, if there is such an `m` with `|m| ≤ 2^53`.
#[inline]
fn to_scaled(v: f64, k: u8) -> Option<i64> {
    let p = POW10[usize::from(k)];
    let x = v * p;
    if x.is_nan() || x.abs() > MAX_SCALED as f64 {
        return None;
    }
    // Round half away from zero with one conversion (`f64::round` is a libm
    // call without SSE4.1). A wrong guess only refuses: the check below is exact.
    let m = (x + 0.5f64.copysign(x)) as i64;
    ((m as f64 / p).to_bits() == v.to_bits()).then_some(m)
}

/// The value of scaled integer `m` at scale `k`: one correctly rounded division.
#[inline]
fn from_scaled(m: i64, k: u8) -> f64 {
    m as f64 / POW10[usize::from(k)]
}

/// The smallest scale at least `min` that represents `v`.
fn scale_for(v: f64, min: u8) -> Option<u8> {
    (min..=MAX_SCALE).find(|&k| to_scaled(v, k).is_some())
}

/// Appends a byte to a chunk buffer. When the buffer is full it grows to an
/// estimate of the chunk's final size instead of doubling: bytes per sample
/// so far times the samples left to the head's cut.
#[inline]
fn push_byte(bytes: &mut Vec<u8>, byte: u8) {
    if bytes.len() == bytes.capacity() {
        grow(bytes);
    }
    bytes.push(byte);
}

#[cold]
fn grow(bytes: &mut Vec<u8>) {
    let len = bytes.len();
    let n = header_count(bytes).unwrap_or(0) as usize;
    let want = if len < INITIAL_CAPACITY {
        INITIAL_CAPACITY
    } else if n < 4 {
        // Too few samples for an estimate (the first one costs the most).
        2 * len
    } else if n < EXPECTED_SAMPLES {
        // `n` samples are complete and sample `n` is being written.
        let per = len.saturating_sub(FIRST_SAMPLE_BYTES).max(1) as f64 / n.max(1) as f64;
        let rest = per * (EXPECTED_SAMPLES - n) as f64;
        len + 8 + rest as usize
    } else {
        2 * len
    };
    // Allocations come in 16-byte steps after an 8-byte header: use all of it.
    let cap = (want + 8).next_multiple_of(16) - 8;
    bytes.reserve_exact(cap - len);
}

/// Writes the low `n` bits of `value` (n <= 64), most significant first;
/// `free` is the count of unused low bits in the last byte.
#[inline]
fn put_bits(bytes: &mut Vec<u8>, free: &mut u8, value: u64, n: u32) {
    if n == 0 {
        return;
    }
    let value = if n < 64 {
        value & ((1u64 << n) - 1)
    } else {
        value
    };
    let mut left = n;
    if *free > 0 {
        let f = u32::from(*free);
        if let Some(last) = bytes.last_mut() {
            if left <= f {
                *free -= left as u8;
                *last |= (value << *free) as u8;
                return;
            }
            left -= f;
            *last |= (value >> left) as u8;
        }
        *free = 0;
    }
    while left >= 8 {
        left -= 8;
        push_byte(bytes, (value >> left) as u8);
    }
    if left > 0 {
        push_byte(bytes, (value << (8 - left)) as u8);
        *free = (8 - left) as u8;
    }
}

fn put_varint(bytes: &mut Vec<u8>, free: &mut u8, mut u: u64) {
    while u >= 0x80 {
        put_bits(bytes, free, (u & 0x7f) | 0x80, 8);
        u >>= 7;
    }
    put_bits(bytes, free, u, 8);
}

fn put_dod(bytes: &mut Vec<u8>, free: &mut u8, dod: i64) {
    if dod == 0 {
        return put_bits(bytes, free, 0, 1);
    }
    for (ctl, ctl_len, width) in DOD_BUCKETS {
        let half = 1i64 << (width - 1);
        if (-half..half).contains(&dod) {
            put_bits(bytes, free, ctl, ctl_len);
            return put_bits(bytes, free, dod as u64, width);
        }
    }
    put_bits(bytes, free, 0b1111, 4);
    put_bits(bytes, free, dod as u64, 64);
}

/// Writes the count into bytes 1..5.
fn set_count(bytes: &mut [u8], n: u32) {
    if let Some(h) = bytes.get_mut(1..HEADER_LEN) {
        h.copy_from_slice(&n.to_le_bytes());
    }
}

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

    fn put(&mut self, value: u64, n: u32) {
        put_bits(&mut self.bytes, &mut self.st.free, value, n);
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

/// An appendable run of samples whose values are all `m / 10^k` for one
/// scale `k` (0..=[`MAX_SCALE`]) and integers `|m| ≤ 2^53`.
///
/// [`DecimalChunk::try_append`] refuses a value that has no such form,
/// leaving the chunk unchanged; a value that needs a larger scale than the
/// chunk's re-encodes the chunk at that scale (at most [`MAX_SCALE`] times).
/// An empty chunk allocates nothing.
#[derive(Debug, Clone)]
pub struct DecimalChunk {
    bytes: Vec<u8>,
    st: Model,
}

impl Default for DecimalChunk {
    fn default() -> Self {
        Self::new(0)
    }
}

impl DecimalChunk {
    /// Creates an empty chunk whose first value picks the smallest scale at
    /// least `min_scale` (clamped to [`MAX_SCALE`]) that represents it.
    pub fn new(min_scale: u8) -> Self {
        DecimalChunk {
            bytes: Vec::new(),
            st: Model {
                scale: min_scale.min(MAX_SCALE),
                ..MODEL_START
            },
        }
    }

    /// The scale `k`: values are stored as `m / 10^k`.
    pub fn scale(&self) -> u8 {
        self.st.scale
    }

    /// True when `v` can be appended at the current scale, without a re-encode.
    pub fn fits(&self, v: f64) -> bool {
        to_scaled(v, self.st.scale).is_some()
    }

    /// Appends a sample if its value has a decimal form, re-encoding the chunk
    /// at a larger scale if the value needs one. Returns `false`, leaving the
    /// chunk unchanged, when the value has no form the chunk can take (NaN,
    /// ±Inf, `-0.0`, more than [`MAX_SCALE`] decimals, beyond `2^53 / 10^k`)
    /// or the chunk already holds `u32::MAX` samples. The caller guarantees
    /// `t > last_t()` when the chunk is not empty.
    pub fn try_append(&mut self, t: i64, v: f64) -> bool {
        let n = self.len();
        if n >= u32::MAX as usize {
            return false;
        }
        debug_assert!(
            n == 0 || t > self.st.t,
            "timestamps must be strictly increasing"
        );
        let m = match to_scaled(v, self.st.scale) {
            Some(m) => m,
            None if n == 0 => match scale_for(v, self.st.scale).or_else(|| scale_for(v, 0)) {
                Some(k) => {
                    self.st.scale = k;
                    match to_scaled(v, k) {
                        Some(m) => m,
                        None => return false,
                    }
                }
                None => return false,
            },
            None => return self.rescale_and_append(t, v),
        };
        self.push(n, t, m);
        true
    }

    /// Writes sample `n` with scaled value `m`.
    fn push(&mut self, n: usize, t: i64, m: i64) {
        let (b, st) = (&mut self.bytes, &mut self.st);
        if n == 0 {
            b.reserve_exact(INITIAL_CAPACITY);
            b.clear();
            b.extend_from_slice(&EMPTY_DECIMAL[usize::from(st.scale)]);
            *st = Model {
                m,
                scale: st.scale,
                ..MODEL_START
            };
            put_varint(b, &mut st.free, zigzag(t));
            put_varint(b, &mut st.free, zigzag(m));
        } else {
            let delta = t.wrapping_sub(st.t);
            let dod = delta.wrapping_sub(st.delta);
            // A zero delta-of-delta is a single `0` bit, written together with
            // the value code below.
            let ts_bit = u32::from(n >= 2 && dod == 0);
            match n {
                1 => put_varint(b, &mut st.free, delta as u64),
                _ if dod == 0 => {}
                _ => put_dod(b, &mut st.free, dod),
            }
            st.delta = delta;
            let u = zigzag(m.wrapping_sub(st.predict()));
            // In zero mode: `0` for a zero residual, else `1` and `u - 1`.
            let zero_mode = st.zero_mode();
            if zero_mode && u == 0 {
                put_bits(b, &mut st.free, 0, ts_bit + 1);
            } else {
                // One write for the timestamp bit, the flag, the unary quotient
                // and the remainder (at most 1 + 1 + 10 + 28 bits: `acc` stays
                // below 2^28, so `rice_k` does too).
                let (flag, r) = if zero_mode { (1, u - 1) } else { (0, u) };
                let f = u32::from(zero_mode);
                let k = st.rice_k();
                let q = r >> k;
                if q < u64::from(RICE_ESCAPE) {
                    let q = q as u32;
                    let code = (flag << (q + 1)) | ((1u64 << (q + 1)) - 2);
                    let code = (code << k) | (r & ((1u64 << k) - 1));
                    put_bits(b, &mut st.free, code, ts_bit + f + q + 1 + k);
                } else {
                    let w = bit_len(r); // >= 1: r > 0 here
                    let code = (flag << RICE_ESCAPE) | ((1u64 << RICE_ESCAPE) - 1);
                    let code = (code << 6) | u64::from(w - 1);
                    put_bits(b, &mut st.free, code, ts_bit + f + RICE_ESCAPE + 6);
                    put_bits(b, &mut st.free, r & ((1u64 << (w - 1)) - 1), w - 1);
                }
            }
            st.update(m, u, n);
        }
        st.t = t;
        set_count(b, n as u32 + 1);
    }

    /// Re-encodes the chunk at the smallest larger scale that takes every
    /// sample and `v`, then appends `(t, v)`. `false` (and no change) if none does.
    #[cold]
    fn rescale_and_append(&mut self, t: i64, v: f64) -> bool {
        let Some(k) = scale_for(v, self.st.scale + 1) else {
            return false;
        };
        let mut next = DecimalChunk::new(k);
        next.bytes.reserve_exact(self.bytes.capacity());
        for s in self.iter() {
            // Smaller-scale values are exact at larger scales unless `|m|` outgrows 2^53.
            let Some(m) = to_scaled(s.v, k) else {
                return false;
            };
            next.push(next.len(), s.t, m);
        }
        let Some(m) = to_scaled(v, k) else {
            return false;
        };
        next.push(next.len(), t, m);
        *self = next;
        true
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        header_count(&self.bytes).unwrap_or(0) as usize
    }

    /// True when the chunk holds no samples.
    pub fn is_empty(&self) -> bool {
        // The first sample takes more than one byte after the header.
        self.bytes.len() <= DEC_HEADER_LEN
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
        (!self.is_empty()).then(|| from_scaled(self.st.m, self.st.scale))
    }

    /// The complete encoding (header with sample count and scale, then the bit stream).
    pub fn bytes(&self) -> &[u8] {
        if self.bytes.is_empty() {
            &EMPTY_DECIMAL[usize::from(self.st.scale)]
        } else {
            &self.bytes
        }
    }

    /// Iterates over the samples in order.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter {
            dec: Decoder::new(self.bytes()).ok(),
        }
    }

    /// Validates a stored decimal encoding and reopens it for appending. Runs
    /// a full decode to rebuild the writer state.
    pub fn from_bytes(b: Vec<u8>) -> Result<DecimalChunk, ChunkError> {
        if let Some(&version) = b.first().filter(|&&f| f != FORMAT_DECIMAL) {
            let (format, supported) = ("decimal chunk", FORMAT_DECIMAL);
            return Err(ChunkError::UnsupportedVersion {
                format,
                version,
                supported,
            });
        }
        let d = Decoder::run(&b)?;
        let st = Model {
            t: d.st.t,
            delta: d.st.delta,
            free: ((8 - d.r.pos % 8) % 8) as u8,
            scale: d.scale,
            ..d.model
        };
        Ok(DecimalChunk { bytes: b, st })
    }

    /// Heap memory held by the chunk, in bytes (the buffer's capacity).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Releases unused buffer capacity, e.g. once the chunk is full.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }
}

/// A head chunk in either encoding.
#[derive(Debug, Clone)]
pub enum HeadChunk {
    /// Gorilla XOR values: takes any `f64`.
    Xor(XorChunk),
    /// Scaled decimal values: takes only values of its form.
    Decimal(DecimalChunk),
}

impl Default for HeadChunk {
    /// An empty decimal chunk (it allocates nothing).
    fn default() -> Self {
        HeadChunk::Decimal(DecimalChunk::new(0))
    }
}

impl HeadChunk {
    /// An empty chunk in the encoding that best takes `v` as its first value:
    /// decimal (at a scale of at least `min_scale` where that works) when `v`
    /// has a decimal form, XOR otherwise. The returned chunk accepts `v`.
    pub fn for_value(v: f64, min_scale: u8) -> HeadChunk {
        if scale_for(v, 0).is_some() {
            HeadChunk::Decimal(DecimalChunk::new(min_scale))
        } else {
            HeadChunk::Xor(XorChunk::new())
        }
    }

    /// Appends a sample if this chunk's encoding can take its value (an XOR
    /// chunk always can); `false` leaves the chunk unchanged. The caller
    /// guarantees `t > last_t()` when the chunk is not empty.
    #[inline]
    pub fn try_append(&mut self, t: i64, v: f64) -> bool {
        match self {
            HeadChunk::Xor(c) => {
                if c.len() >= u32::MAX as usize {
                    return false;
                }
                c.append(t, v);
                true
            }
            HeadChunk::Decimal(c) => c.try_append(t, v),
        }
    }

    /// The decimal scale, or `None` for an XOR chunk.
    pub fn scale(&self) -> Option<u8> {
        match self {
            HeadChunk::Xor(_) => None,
            HeadChunk::Decimal(c) => Some(c.scale()),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        header_count(self.bytes()).unwrap_or(0) as usize
    }

    /// True when the chunk holds no samples.
    #[inline]
    pub fn is_empty(&self) -> bool {
        match self {
            HeadChunk::Xor(c) => c.is_empty(),
            HeadChunk::Decimal(c) => c.is_empty(),
        }
    }

    /// Timestamp of the first sample.
    pub fn first_t(&self) -> Option<i64> {
        self.iter().next().map(|s| s.t)
    }

    /// Timestamp of the last sample.
    pub fn last_t(&self) -> Option<i64> {
        match self {
            HeadChunk::Xor(c) => c.last_t(),
            HeadChunk::Decimal(c) => c.last_t(),
        }
    }

    /// Value of the last sample, bit-exact.
    pub fn last_v(&self) -> Option<f64> {
        match self {
            HeadChunk::Xor(c) => c.last_v(),
            HeadChunk::Decimal(c) => c.last_v(),
        }
    }

    /// The complete encoding; byte 0 names the format.
    pub fn bytes(&self) -> &[u8] {
        match self {
            HeadChunk::Xor(c) => c.bytes(),
            HeadChunk::Decimal(c) => c.bytes(),
        }
    }

    /// Iterates over the samples in order.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter {
            dec: Decoder::new(self.bytes()).ok(),
        }
    }

    /// Validates a stored encoding of either format and reopens it for appending.
    pub fn from_bytes(b: Vec<u8>) -> Result<HeadChunk, ChunkError> {
        match b.first() {
            Some(&FORMAT_DECIMAL) => DecimalChunk::from_bytes(b).map(HeadChunk::Decimal),
            _ => XorChunk::from_bytes(b).map(HeadChunk::Xor),
        }
    }

    /// Heap memory held by the chunk, in bytes.
    pub fn heap_bytes(&self) -> usize {
        match self {
            HeadChunk::Xor(c) => c.heap_bytes(),
            HeadChunk::Decimal(c) => c.heap_bytes(),
        }
    }

    /// Releases unused buffer capacity, e.g. once the chunk is full.
    pub fn shrink_to_fit(&mut self) {
        match self {
            HeadChunk::Xor(c) => c.shrink_to_fit(),
            HeadChunk::Decimal(c) => c.shrink_to_fit(),
        }
    }
}

/// Iterator over a head chunk's samples (either format), from
/// [`XorChunk::iter`], [`DecimalChunk::iter`] or [`HeadChunk::iter`].
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

/// Decodes and fully validates a head chunk of either format (an encoding
/// made by [`XorChunk::bytes`], [`DecimalChunk::bytes`] or [`HeadChunk::bytes`]).
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

/// Streaming decoder of both formats, shared by [`decode`], [`XorIter`] and
/// the `from_bytes` functions.
#[derive(Debug, Clone)]
struct Decoder<'a> {
    r: BitReader<'a>,
    count: u32,
    done: u32,
    /// Timestamps, and the value bits of an XOR chunk.
    st: State,
    /// True for a decimal chunk, with its scale (0 for XOR).
    decimal: bool,
    scale: u8,
    model: Model,
}

impl<'a> Decoder<'a> {
    fn new(b: &'a [u8]) -> Result<Self, ChunkError> {
        let (decimal, start) = match b.first() {
            None | Some(&FORMAT_VERSION) => (false, HEADER_LEN),
            Some(&FORMAT_DECIMAL) => (true, DEC_HEADER_LEN),
            Some(&version) => {
                let (format, supported) = ("head chunk", FORMAT_DECIMAL);
                return Err(ChunkError::UnsupportedVersion {
                    format,
                    version,
                    supported,
                });
            }
        };
        let (Some(count), Some(&scale)) = (header_count(b), b.get(start - 1)) else {
            return Err(ChunkError::Truncated {
                what: "header",
                bit: 0,
            });
        };
        if decimal && scale > MAX_SCALE {
            let reason = format!("decimal scale {scale} is above {MAX_SCALE}");
            return Err(corrupt(HEADER_LEN as u64 * 8, reason));
        }
        let r = BitReader {
            data: b,
            pos: start as u64 * 8,
        };
        Ok(Decoder {
            r,
            count,
            done: 0,
            st: START,
            decimal,
            scale: if decimal { scale } else { 0 },
            model: MODEL_START,
        })
    }

    /// Decodes and validates all of `b`, returning the final state.
    fn run(b: &'a [u8]) -> Result<Self, ChunkError> {
        let mut d = Decoder::new(b)?;
        while d.next_sample()?.is_some() {}
        d.finish()?;
        Ok(d)
    }

    fn next_sample(&mut self) -> Result<Option<Sample>, ChunkError> {
        if self.done >= self.count {
            return Ok(None);
        }
        let start = self.r.pos;
        if self.done == 0 {
            self.st.t = unzigzag(self.r.read_varint("first timestamp")?);
        } else {
            let delta = match self.done {
                1 => self.r.read_varint("first timestamp delta")? as i64,
                _ => self.st.delta.wrapping_add(read_dod(&mut self.r)?),
            };
            let t = self.st.t.wrapping_add(delta);
            if t <= self.st.t {
                let reason = format!(
                    "timestamp {t} of sample {} does not follow {}",
                    self.done, self.st.t
                );
                return Err(corrupt(start, reason));
            }
            (self.st.t, self.st.delta) = (t, delta);
        }
        let v = if self.decimal {
            self.next_decimal()?
        } else {
            if self.done == 0 {
                self.st.v = self.r.read(64, "first value")?;
            } else {
                self.st.v ^= read_xor(&mut self.r, &mut self.st)?;
            }
            f64::from_bits(self.st.v)
        };
        self.done += 1;
        Ok(Some(Sample { t: self.st.t, v }))
    }

    /// Reads one decimal value and updates the model.
    fn next_decimal(&mut self) -> Result<f64, ChunkError> {
        let at = self.r.pos;
        let m = if self.done == 0 {
            let m = unzigzag(self.r.read_varint("first value")?);
            self.model.m = m;
            m
        } else {
            let what = "value";
            let zero_mode = self.model.zero_mode();
            let u = if zero_mode && self.r.read(1, what)? == 0 {
                0
            } else {
                let k = self.model.rice_k();
                let mut q = 0;
                while q < RICE_ESCAPE && self.r.read(1, what)? == 1 {
                    q += 1;
                }
                let r = if q < RICE_ESCAPE {
                    (u64::from(q) << k) | self.r.read(k, what)?
                } else {
                    let w = self.r.read(6, what)? as u32 + 1;
                    (1u64 << (w - 1)) | self.r.read(w - 1, what)?
                };
                if zero_mode {
                    r.wrapping_add(1)
                } else {
                    r
                }
            };
            let m = self.model.predict().wrapping_add(unzigzag(u));
            self.model.update(m, u, self.done as usize);
            m
        };
        if !(-MAX_SCALED..=MAX_SCALED).contains(&m) {
            return Err(corrupt(at, format!("scaled value {m} is beyond 2^53")));
        }
        Ok(from_scaled(m, self.scale))
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

    /// Values with a decimal form at some scale, of every magnitude up to `2^53 / 10^k`.
    fn decimal_value() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-MAX_SCALED..=MAX_SCALED, 0..=MAX_SCALE).prop_map(|(m, k)| from_scaled(m, k)),
            (-100_000i64..100_000, 0..=MAX_SCALE).prop_map(|(m, k)| from_scaled(m, k)),
            (0u32..1000).prop_map(f64::from),
        ]
    }

    /// Mostly decimal values with some that are not (NaN, stale, -0.0, noise).
    fn mixed_value() -> impl Strategy<Value = f64> {
        prop_oneof![8 => decimal_value(), 1 => value()]
    }

    fn walk() -> impl Strategy<Value = Vec<(i64, f64)>> {
        // A two-decimal random walk, the XOR encoding's worst case.
        let steps = prop::collection::vec((1u64..30_000, -1000i64..1000), 0..300);
        (any::<i64>(), -1_000_000i64..1_000_000, steps).prop_map(|(t, m0, steps)| {
            let mut m = m0;
            let s = steps.into_iter().map(|(g, d)| {
                m += d;
                (g, from_scaled(m, 2))
            });
            increasing(t, s.collect())
        })
    }

    fn decimal_series() -> impl Strategy<Value = Vec<(i64, f64)>> {
        let start = prop_oneof![any::<i64>(), Just(i64::MIN), Just(0i64)];
        let gap = prop_oneof![Just(15_000u64), 1u64..100, any::<u64>()];
        let s = (
            start.clone(),
            prop::collection::vec((gap.clone(), decimal_value()), 0..300),
        );
        let m = (start, prop::collection::vec((gap, mixed_value()), 0..300));
        prop_oneof![
            s.prop_map(|(t, s)| increasing(t, s)),
            m.prop_map(|(t, s)| increasing(t, s)),
            walk(),
        ]
    }

    /// Appends like the head does: a refused value cuts a chunk that takes it.
    fn build_head(samples: &[(i64, f64)]) -> Vec<HeadChunk> {
        let mut out = vec![HeadChunk::default()];
        for &(t, v) in samples {
            let c = out.last_mut().unwrap();
            if !c.try_append(t, v) {
                let mut next = HeadChunk::for_value(v, c.scale().unwrap_or(0));
                assert!(next.try_append(t, v), "a chunk for {v} refused it");
                out.push(next);
            }
        }
        out.retain(|c| !c.is_empty());
        out
    }

    proptest! {
        #[test]
        fn head_chunks_round_trip_bit_exact(s in decimal_series()) {
            let chunks = build_head(&s);
            let mut got = Vec::new();
            for c in &chunks {
                let d = decode(c.bytes()).unwrap();
                assert_bit_eq(&c.iter().collect::<Vec<_>>(), &d.iter().map(|x| (x.t, x.v)).collect::<Vec<_>>());
                prop_assert_eq!(c.len(), d.len());
                prop_assert_eq!(c.first_t(), d.first().map(|x| x.t));
                prop_assert_eq!(c.last_t(), d.last().map(|x| x.t));
                prop_assert_eq!(c.last_v().map(f64::to_bits), d.last().map(|x| x.v.to_bits()));
                got.extend(d);
            }
            assert_bit_eq(&got, &s);
        }

        #[test]
        fn pure_decimal_values_stay_in_one_chunk(s in walk()) {
            let chunks = build_head(&s);
            prop_assert!(chunks.len() <= 1);
            prop_assert!(chunks.iter().all(|c| c.bytes()[0] == FORMAT_DECIMAL));
        }

        #[test]
        fn reopened_head_chunk_stays_appendable(s in decimal_series(), split in 0usize..300) {
            let chunks = build_head(&s);
            let mut at = 0;
            for whole in &chunks {
                let n = whole.len();
                let cut = split.min(n);
                // An empty chunk of the same format (and final scale) as `whole`.
                let mut part = match whole {
                    HeadChunk::Xor(_) => HeadChunk::Xor(XorChunk::new()),
                    HeadChunk::Decimal(d) => HeadChunk::Decimal(DecimalChunk::new(d.scale())),
                };
                for &(t, v) in &s[at..at + cut] {
                    prop_assert!(part.try_append(t, v));
                }
                let bytes = part.bytes().to_vec();
                let mut c = HeadChunk::from_bytes(bytes).unwrap();
                for &(t, v) in &s[at + cut..at + n] {
                    prop_assert!(c.try_append(t, v));
                }
                prop_assert_eq!(c.bytes(), whole.bytes());
                at += n;
            }
        }

        #[test]
        fn decimal_truncations_and_corruptions_never_panic(s in decimal_series(), at in any::<prop::sample::Index>(), x in 1u8..) {
            for c in build_head(&s) {
                let mut b = c.bytes().to_vec();
                let i = at.index(b.len());
                prop_assert!(decode(&b[..i]).is_err());
                prop_assert!(HeadChunk::from_bytes(b[..i].to_vec()).is_err());
                b[i] ^= x;
                if let Ok(c) = HeadChunk::from_bytes(b) {
                    let _ = (c.iter().count(), c.first_t(), c.last_v());
                }
            }
        }

        #[test]
        fn decimal_garbage_never_panics(mut b in prop::collection::vec(any::<u8>(), 0..200), scale in 0u8..6) {
            if b.len() > 5 {
                (b[0], b[5]) = (FORMAT_DECIMAL, scale);
            }
            let _ = decode(&b);
            if let Ok(c) = HeadChunk::from_bytes(b) {
                let _ = c.iter().count();
            }
        }
    }

    #[test]
    fn decimal_chunk_refuses_and_rescales() {
        let mut c = DecimalChunk::new(0);
        assert!(c.is_empty() && c.heap_bytes() == 0);
        assert_eq!(decode(c.bytes()).unwrap().len(), 0);
        for (i, v) in [3.0, 4.0, 4.5, 4.25, 1e12].into_iter().enumerate() {
            assert!(c.try_append(i as i64, v), "{v}");
        }
        assert_eq!(c.scale(), 2);
        for v in [
            f64::NAN,
            STALE_NAN,
            -0.0,
            f64::INFINITY,
            0.1 + 0.2,
            1e-5,
            2f64.powi(60),
        ] {
            let before = c.bytes().to_vec();
            assert!(!c.try_append(10, v), "{v}");
            assert_eq!(c.bytes(), before);
        }
        // 1e12 · 10^4 is beyond 2^53, so scale 4 cannot take the chunk.
        assert!(!c.try_append(10, 0.0001));
        let got = decode(c.bytes()).unwrap();
        assert_eq!(
            got.iter().map(|s| s.v).collect::<Vec<_>>(),
            [3.0, 4.0, 4.5, 4.25, 1e12]
        );
        assert!(matches!(
            XorChunk::from_bytes(c.bytes().to_vec()),
            Err(ChunkError::UnsupportedVersion { version: 2, .. })
        ));
        assert!(DecimalChunk::from_bytes(XorChunk::new().bytes().to_vec()).is_err());
        let mut bad = c.bytes().to_vec();
        bad[5] = MAX_SCALE + 1;
        assert!(decode(&bad).unwrap_err().to_string().contains("scale"));
        assert!(
            std::mem::size_of::<HeadChunk>() <= 80,
            "{}",
            std::mem::size_of::<HeadChunk>()
        );
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
#[cfg(test)]
mod load_generator {
    use super::*;

    /// The values of `examples/mem.rs`: constant, integer counter, two-decimal
    /// sine gauge, byte counter.
    fn value(series: usize, k: usize) -> f64 {
        let k = k as f64;
        match series % 4 {
            0 => 1.0,
            1 => k * (series % 10 + 1) as f64,
            2 => ((series as f64 * 0.37 + k * 0.1).sin() * 100.0 * 100.0).round() / 100.0,
            _ => (k * 1_048_576.0 * ((series % 13) + 1) as f64 + (k * k) % 4096.0).floor(),
        }
    }

    /// Bytes per sample of 120-sample chunks, XOR against the head's choice.
    /// Run with `--nocapture` to see the figures in `docs/format/chunks.md`.
    #[test]
    fn head_chunks_beat_xor_on_every_kind() {
        for kind in 0..4 {
            let (mut xor, mut head, mut cap) = (0, 0, 0);
            for s in 0..400 {
                let series = s * 4 + kind;
                let mut c = XorChunk::new();
                let mut h = vec![HeadChunk::default()];
                for k in 0..120 {
                    let (t, v) = (1_700_000_000_000 + k as i64 * 15_000, value(series, k));
                    c.append(t, v);
                    if !h.last_mut().unwrap().try_append(t, v) {
                        let mut next = HeadChunk::for_value(v, 0);
                        assert!(next.try_append(t, v));
                        h.push(next);
                    }
                }
                xor += c.bytes().len();
                head += h.iter().map(|c| c.bytes().len()).sum::<usize>();
                cap += h.iter().map(HeadChunk::heap_bytes).sum::<usize>();
            }
            let per = |b: usize| b as f64 / (400.0 * 120.0);
            println!(
                "kind {kind}: xor {:.3}, head {:.3} bytes/sample; buffer {:.1} of {:.1} bytes used",
                per(xor),
                per(head),
                head as f64 / 400.0,
                cap as f64 / 400.0
            );
            assert!(head < xor, "kind {kind}");
            assert!(
                cap < head + head / 3 + 400 * 16,
                "kind {kind}: {cap} for {head}"
            );
        }
    }
}
