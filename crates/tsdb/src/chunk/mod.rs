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
pub(super) const HEADER_LEN: usize = 5;
/// A decimal chunk's header adds the scale byte.
pub(super) const DEC_HEADER_LEN: usize = 6;
/// Marks "no leading/trailing window yet" in the value encoder.
pub(super) const NO_WINDOW: u8 = 0xff;
/// Delta-of-delta buckets after the `'0'` case: (control bits, control length, payload bits).
pub(super) const DOD_BUCKETS: [(u64, u32, u32); 3] =
    [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];
/// `10^k` for each decimal scale; exact in `f64`.
pub(super) const POW10: [f64; MAX_SCALE as usize + 1] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
/// Largest `|m|` of a decimal chunk: every such integer is exact in `f64`.
pub(super) const MAX_SCALED: i64 = 1 << 53;
/// A Rice quotient this large is written as an escape instead.
pub(super) const RICE_ESCAPE: u32 = 10;
/// Rice statistics are halved when their count reaches this.
pub(super) const RICE_RESET: u8 = 16;
/// Residuals added to the Rice statistics are capped here (keeps the sum in a `u32`).
pub(super) const RICE_CAP: u64 = 1 << 24;
/// The sample count the head cuts chunks at; buffers are sized for it.
pub(super) const EXPECTED_SAMPLES: usize = 120;
/// Rough bytes taken by a chunk's header and first sample, left out of the
/// per-sample estimate that sizes the buffer.
pub(super) const FIRST_SAMPLE_BYTES: usize = 20;
/// Initial buffer capacity: with glibc's 8-byte chunk header, a 32-byte allocation.
pub(super) const INITIAL_CAPACITY: usize = 24;
/// Empty decimal chunks for each scale, so that an empty chunk allocates nothing.
pub(super) const EMPTY_DECIMAL: [[u8; DEC_HEADER_LEN]; MAX_SCALE as usize + 1] = [
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

mod codec;
mod decimal;
#[cfg(test)]
mod load_generator;
mod read;
#[cfg(test)]
pub(crate) mod tests;
mod xor;

use codec::*;
pub use decimal::DecimalChunk;
use read::*;
pub use xor::{XorChunk, XorIter};

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

pub(super) fn header_count(b: &[u8]) -> Option<u32> {
    let h: [u8; 4] = b.get(1..HEADER_LEN)?.try_into().ok()?;
    Some(u32::from_le_bytes(h))
}

pub(super) fn zigzag(t: i64) -> u64 {
    ((t << 1) ^ (t >> 63)) as u64
}

pub(super) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

pub(super) fn corrupt(bit: u64, reason: impl Into<String>) -> ChunkError {
    let reason = reason.into();
    ChunkError::Corrupt { bit, reason }
}
