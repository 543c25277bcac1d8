//! Framing of syslog over TCP (RFC 6587): octet counting and newline-delimited frames.

use crate::push::short;

/// Why the framer skipped bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// An octet-counted frame longer than the limit; its bytes are skipped.
    #[error("a frame of {len} bytes is over the limit of {max} bytes; it was skipped")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A line longer than the limit; skipped up to the next newline.
    #[error("a line is over the limit of {max} bytes; it was skipped")]
    LineTooLarge {
        /// The limit.
        max: usize,
    },
    /// Digits that are not an octet count followed by a space.
    #[error("\"{found}\" is not an octet count followed by a space; skipped to the next line")]
    BadLength {
        /// What was there.
        found: String,
    },
    /// The stream ended inside an octet-counted frame.
    #[error("the stream ended {missing} bytes short of the end of a frame")]
    Truncated {
        /// Bytes missing.
        missing: usize,
    },
}

/// Cuts a TCP byte stream into syslog frames: octet counting (RFC 6587 3.4.1, `LEN SP MSG`)
/// when a frame starts with a digit, else one frame per line (`\n`, a `\r` before it
/// dropped). Push chunks as they come and take frames until [`next_frame`] says `None`
/// before pushing more; frames over `max_frame` bytes are skipped with an error.
///
/// [`next_frame`]: SyslogFramer::next_frame
///
/// ```
/// use argus_logs::push::SyslogFramer;
/// let mut f = SyslogFramer::new(1024);
/// f.push(b"11 <13>1 -");
/// assert_eq!(f.next_frame(), None);
/// f.push(b" - -6 <13>hi\n<14>there\n");
/// assert_eq!(f.next_frame(), Some(Ok(b"<13>1 - - -".to_vec())));
/// assert_eq!(f.next_frame(), Some(Ok(b"<13>hi".to_vec())));
/// assert_eq!(f.next_frame(), Some(Ok(b"<14>there".to_vec())));
/// assert_eq!(f.next_frame(), None);
/// ```
#[derive(Debug, Clone)]
pub struct SyslogFramer {
    buf: Vec<u8>,
    pos: usize,
    max_frame: usize,
    /// Octets of a too-large frame still to discard.
    skip: usize,
    /// Discarding up to the next newline.
    skip_line: bool,
}

impl SyslogFramer {
    /// A framer that refuses frames over `max_frame` bytes.
    pub fn new(max_frame: usize) -> SyslogFramer {
        SyslogFramer {
            buf: Vec::new(),
            pos: 0,
            max_frame: max_frame.max(1),
            skip: 0,
            skip_line: false,
        }
    }

    /// Adds bytes read from the connection.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete frame, an error for skipped bytes, or `None` until more bytes come.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        loop {
            let avail = &self.buf[self.pos..];
            if self.skip > 0 {
                let n = self.skip.min(avail.len());
                self.pos += n;
                self.skip -= n;
                if self.skip > 0 {
                    return None;
                }
                continue;
            }
            if self.skip_line {
                match avail.iter().position(|&b| b == b'\n') {
                    Some(p) => {
                        self.pos += p + 1;
                        self.skip_line = false;
                    }
                    None => {
                        self.pos = self.buf.len();
                        return None;
                    }
                }
                continue;
            }
            let blank = avail
                .iter()
                .take_while(|&&b| matches!(b, b'\n' | b'\r' | b' ' | 0))
                .count();
            self.pos += blank;
            let avail = &self.buf[self.pos..];
            if avail.is_empty() {
                return None;
            }
            if avail[0].is_ascii_digit() {
                let digits = avail.iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == avail.len() && digits <= 10 {
                    return None;
                }
                let len = std::str::from_utf8(&avail[..digits])
                    .ok()
                    .and_then(|d| d.parse::<usize>().ok());
                let len = match (len, avail.get(digits)) {
                    (Some(len), Some(b' ')) if digits <= 10 => len,
                    _ => {
                        let found =
                            String::from_utf8_lossy(&avail[..(digits + 1).min(avail.len())]);
                        let found = short(&found, 16);
                        self.skip_line = true;
                        return Some(Err(FrameError::BadLength { found }));
                    }
                };
                let start = digits + 1;
                if len > self.max_frame {
                    self.pos += start;
                    self.skip = len;
                    return Some(Err(FrameError::TooLarge {
                        len,
                        max: self.max_frame,
                    }));
                }
                if avail.len() - start < len {
                    return None;
                }
                let frame = avail[start..start + len].to_vec();
                self.pos += start + len;
                return Some(Ok(frame));
            }
            return match avail.iter().position(|&b| b == b'\n') {
                Some(p) => {
                    let line = &avail[..p];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let r = if line.len() > self.max_frame {
                        Err(FrameError::LineTooLarge {
                            max: self.max_frame,
                        })
                    } else {
                        Ok(line.to_vec())
                    };
                    self.pos += p + 1;
                    Some(r)
                }
                None if avail.len() > self.max_frame => {
                    self.pos = self.buf.len();
                    self.skip_line = true;
                    Some(Err(FrameError::LineTooLarge {
                        max: self.max_frame,
                    }))
                }
                None => None,
            };
        }
    }

    /// At the end of the stream: a last line without its newline, or an error for a frame
    /// cut short. Call after [`next_frame`](SyslogFramer::next_frame) returned `None`.
    pub fn finish(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        let avail = &self.buf[self.pos..];
        let blank = avail
            .iter()
            .take_while(|&&b| matches!(b, b'\n' | b'\r' | b' ' | 0))
            .count();
        let avail = &avail[blank..];
        self.pos = self.buf.len();
        let r = if self.skip > 0 || self.skip_line || avail.is_empty() {
            None
        } else if avail[0].is_ascii_digit() {
            let digits = avail.iter().take_while(|b| b.is_ascii_digit()).count();
            let len = std::str::from_utf8(&avail[..digits])
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
                .unwrap_or(0);
            Some(Err(FrameError::Truncated {
                missing: (digits + 1 + len).saturating_sub(avail.len()),
            }))
        } else {
            Some(Ok(avail.to_vec()))
        };
        self.skip = 0;
        self.skip_line = false;
        r
    }
}
