//! Shared pieces of the head-chunk encoders: bit writing, the XOR state, the
//! decimal predictor model and the scaling helpers.

use super::*;

/// What the XOR writer and reader both track from one sample to the next.
#[derive(Debug, Clone, Copy)]
pub(super) struct State {
    /// Last timestamp.
    pub(super) t: i64,
    /// Wrapping difference of the last two timestamps.
    pub(super) delta: i64,
    /// Bits of the last value.
    pub(super) v: u64,
    /// The XOR window; `leading` is `NO_WINDOW` until the first one is set.
    pub(super) leading: u8,
    pub(super) trailing: u8,
    /// Writer only: unused low bits in the last byte (0..=7).
    pub(super) free: u8,
}

pub(super) const START: State = State {
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
pub(super) struct Model {
    /// Last timestamp (the writer's; the reader keeps its own).
    pub(super) t: i64,
    /// Wrapping difference of the last two timestamps (the writer's).
    pub(super) delta: i64,
    /// Last scaled value.
    pub(super) m: i64,
    /// Wrapping difference of the last two scaled values.
    pub(super) md: i64,
    /// Moving average of the differences, in sixteenths.
    pub(super) mean: i64,
    /// Sum of recent non-zero zigzagged residuals (each capped at `RICE_CAP`).
    pub(super) acc: u32,
    /// How many residuals `acc` sums (1..RICE_RESET; starts at 1).
    pub(super) cnt: u8,
    /// Decaying frequency of zero residuals (0..=128).
    pub(super) zeros: u8,
    /// Decaying bit costs of the three predictors: last value, last value plus
    /// last difference, last value plus average difference.
    pub(super) cost: [u16; 3],
    /// Writer only: unused low bits in the last byte (0..=7).
    pub(super) free: u8,
    /// The scale `k`: values are `m / 10^k`.
    pub(super) scale: u8,
}

pub(super) const MODEL_START: Model = Model {
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
pub(super) const ZERO_MODE: u8 = 32;

impl Model {
    /// The predicted next scaled value, from whichever predictor has lately cost least.
    #[inline]
    pub(super) fn predict(&self) -> i64 {
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
    pub(super) fn zero_mode(&self) -> bool {
        self.zeros >= ZERO_MODE
    }

    /// The Rice parameter: the smallest `k` with `cnt · 2^k ≥ acc`.
    #[inline]
    pub(super) fn rice_k(&self) -> u32 {
        let (a, n) = (u64::from(self.acc), u64::from(self.cnt));
        let k = (64 - a.leading_zeros()).saturating_sub(64 - n.leading_zeros());
        k + u32::from((n << k) < a)
    }

    /// Records scaled value `m` of sample `i ≥ 1`, which was coded as
    /// zigzagged residual `u`.
    #[inline]
    pub(super) fn update(&mut self, m: i64, u: u64, i: usize) {
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

pub(super) fn bit_len(u: u64) -> u32 {
    64 - u.leading_zeros()
}

/// `v` as `m` with `m / 10^k == v` bit for bit, if there is such an `m` with `|m| ≤ 2^53`.
#[inline]
pub(super) fn to_scaled(v: f64, k: u8) -> Option<i64> {
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
pub(super) fn from_scaled(m: i64, k: u8) -> f64 {
    m as f64 / POW10[usize::from(k)]
}

/// The smallest scale at least `min` that represents `v`.
pub(super) fn scale_for(v: f64, min: u8) -> Option<u8> {
    (min..=MAX_SCALE).find(|&k| to_scaled(v, k).is_some())
}

/// Appends a byte to a chunk buffer. When the buffer is full it grows to an
/// estimate of the chunk's final size instead of doubling: bytes per sample
/// so far times the samples left to the head's cut.
#[inline]
pub(super) fn push_byte(bytes: &mut Vec<u8>, byte: u8) {
    if bytes.len() == bytes.capacity() {
        grow(bytes);
    }
    bytes.push(byte);
}

#[cold]
pub(super) fn grow(bytes: &mut Vec<u8>) {
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
pub(super) fn put_bits(bytes: &mut Vec<u8>, free: &mut u8, value: u64, n: u32) {
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

pub(super) fn put_varint(bytes: &mut Vec<u8>, free: &mut u8, mut u: u64) {
    while u >= 0x80 {
        put_bits(bytes, free, (u & 0x7f) | 0x80, 8);
        u >>= 7;
    }
    put_bits(bytes, free, u, 8);
}

pub(super) fn put_dod(bytes: &mut Vec<u8>, free: &mut u8, dod: i64) {
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
pub(super) fn set_count(bytes: &mut [u8], n: u32) {
    if let Some(h) = bytes.get_mut(1..HEADER_LEN) {
        h.copy_from_slice(&n.to_le_bytes());
    }
}
