//! Bit reading and decoding of both chunk formats.

use super::codec::*;
use super::*;

/// Reads bits most significant first; `pos` is a bit offset into `data`.
#[derive(Debug, Clone)]
pub(super) struct BitReader<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: u64,
}

impl BitReader<'_> {
    pub(super) fn read(&mut self, n: u32, what: &'static str) -> Result<u64, ChunkError> {
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

    pub(super) fn read_varint(&mut self, what: &'static str) -> Result<u64, ChunkError> {
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
pub(super) struct Decoder<'a> {
    pub(super) r: BitReader<'a>,
    pub(super) count: u32,
    pub(super) done: u32,
    /// Timestamps, and the value bits of an XOR chunk.
    pub(super) st: State,
    /// True for a decimal chunk, with its scale (0 for XOR).
    pub(super) decimal: bool,
    pub(super) scale: u8,
    pub(super) model: Model,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(b: &'a [u8]) -> Result<Self, ChunkError> {
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
    pub(super) fn run(b: &'a [u8]) -> Result<Self, ChunkError> {
        let mut d = Decoder::new(b)?;
        while d.next_sample()?.is_some() {}
        d.finish()?;
        Ok(d)
    }

    pub(super) fn next_sample(&mut self) -> Result<Option<Sample>, ChunkError> {
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
    pub(super) fn next_decimal(&mut self) -> Result<f64, ChunkError> {
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
    pub(super) fn finish(&self) -> Result<(), ChunkError> {
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

pub(super) fn read_dod(r: &mut BitReader<'_>) -> Result<i64, ChunkError> {
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
pub(super) fn read_xor(r: &mut BitReader<'_>, st: &mut State) -> Result<u64, ChunkError> {
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
