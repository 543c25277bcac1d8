//! The decimal-aware chunk: values stored as scaled integers with predicted deltas.

use super::codec::*;
use super::read::*;
use super::*;

/// An appendable run of samples whose values are all `m / 10^k` for one
/// scale `k` (0..=[`MAX_SCALE`]) and integers `|m| ≤ 2^53`.
///
/// [`DecimalChunk::try_append`] refuses a value that has no such form,
/// leaving the chunk unchanged; a value that needs a larger scale than the
/// chunk's re-encodes the chunk at that scale (at most [`MAX_SCALE`] times).
/// An empty chunk allocates nothing.
#[derive(Debug, Clone)]
pub struct DecimalChunk {
    pub(super) bytes: Vec<u8>,
    pub(super) st: Model,
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
    pub(super) fn push(&mut self, n: usize, t: i64, m: i64) {
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
    pub(super) fn rescale_and_append(&mut self, t: i64, v: f64) -> bool {
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
