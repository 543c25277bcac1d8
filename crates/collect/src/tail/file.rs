//! One tailed file: its open handle, read position, and the record being
//! built. Reads only complete lines; see the parent module for the rules.
//!
//! ```
//! use argus_collect::tail::file::{Entry, IDLE_POLLS};
//! // What one read record looks like before it is queued.
//! let e = Entry { ts: 1, group: 0, path: "/var/log/app.log".into(), line: "started".into() };
//! assert_eq!(e.line, "started");
//! assert_eq!(IDLE_POLLS, 3); // polls of stillness before a partial line is sent
//! ```

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::state::{fingerprint, same_start, FileOffset, FP_BYTES};

/// Polls without growth after which a partial last line or a multiline record is emitted.
pub const IDLE_POLLS: u32 = 3;

const CHUNK: usize = 64 << 10;

/// A record read from a file, not yet queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Nanoseconds since the epoch when it was read.
    pub ts: i64,
    /// Index of the file's group.
    pub group: usize,
    /// The file's path when read.
    pub path: PathBuf,
    /// The text (joined lines for a multiline record).
    pub line: String,
}

/// A multiline record still open: where it began and its text so far.
#[derive(Debug)]
pub(super) struct Pending {
    pub start: u64,
    pub text: String,
}

/// What the tailer knows of one file.
#[derive(Debug)]
pub(super) struct Tracked {
    pub file: File,
    pub dev: u64,
    pub ino: u64,
    pub path: PathBuf,
    pub group: usize,
    /// Everything before this offset is in the queue.
    pub committed: u64,
    /// Read position (complete lines before it are read).
    pub pos: u64,
    pub pending: Option<Pending>,
    /// Size at the last poll, and polls since it last changed.
    pub last_size: u64,
    pub idle: u32,
    /// Whether a glob matched it at the last poll.
    pub matched: bool,
    pub fp: (u64, u32),
    /// Whether `pos` or `pending` moved since the last commit.
    pub touched: bool,
    /// Whether the last piece read was cut at the length limit.
    cutting: bool,
}

/// Read limits and counters shared by every file of one poll.
pub(super) struct ReadCtx<'a> {
    pub max_line: usize,
    pub multiline: Option<&'a regex::Regex>,
    pub last_ts: &'a mut i64,
    pub split: u64,
}

impl Tracked {
    pub fn new(file: File, dev: u64, ino: u64, path: PathBuf, group: usize, at: u64) -> Tracked {
        Tracked {
            file,
            dev,
            ino,
            path,
            group,
            committed: at,
            pos: at,
            pending: None,
            last_size: at,
            idle: 0,
            matched: true,
            fp: (0, 0),
            touched: false,
            cutting: false,
        }
    }

    /// The offset that may be saved: the start of an open record, else the read position.
    pub fn commit_point(&self) -> u64 {
        self.pending.as_ref().map(|p| p.start).unwrap_or(self.pos)
    }

    pub fn saved(&self) -> FileOffset {
        FileOffset {
            dev: self.dev,
            ino: self.ino,
            path: self.path.clone(),
            offset: self.committed,
            fp_len: self.fp.0,
            fp: self.fp.1,
        }
    }

    /// Forgets what was read since the last commit (after a failed commit).
    pub fn rewind(&mut self) {
        self.pos = self.committed;
        self.pending = None;
        self.touched = false;
    }

    /// Checks the file's size and first bytes: a file that shrank below the
    /// read position, or whose first bytes changed (copytruncate, then
    /// rewritten), is read again from 0. Returns the current size.
    pub fn check(&mut self, ctx: &mut ReadCtx<'_>, out: &mut Vec<Entry>) -> std::io::Result<u64> {
        let size = self.file.metadata()?.len();
        let rewritten = !same_start(&self.file, self.fp.0, self.fp.1)?;
        if size < self.pos || rewritten {
            tracing::info!(path = %self.path.display(), size, offset = self.pos, "Log file was truncated; reading it from its start.");
            if let Some(p) = self.pending.take() {
                self.push(ctx, p.text, out);
            }
            self.pos = 0;
            self.fp = (0, 0);
            self.touched = true;
        }
        if self.fp.0 < FP_BYTES && size > self.fp.0 {
            self.fp = fingerprint(&self.file, size)?;
        }
        if size == self.last_size {
            self.idle = self.idle.saturating_add(1);
        } else {
            self.idle = 0;
            self.last_size = size;
        }
        Ok(size)
    }

    fn push(&self, ctx: &mut ReadCtx<'_>, line: String, out: &mut Vec<Entry>) {
        out.push(Entry {
            ts: super::next_ts(ctx.last_ts),
            group: self.group,
            path: self.path.clone(),
            line,
        });
    }

    /// Takes one line (without its `\n`) that began at `start`.
    fn take(&mut self, ctx: &mut ReadCtx<'_>, raw: &[u8], start: u64, out: &mut Vec<Entry>) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw).into_owned();
        let Some(re) = ctx.multiline else {
            self.push(ctx, text, out);
            return;
        };
        match self.pending.as_mut() {
            Some(p) if !re.is_match(&text) && p.text.len() + 1 + text.len() <= ctx.max_line => {
                p.text.push('\n');
                p.text.push_str(&text);
            }
            _ => {
                if let Some(p) = self.pending.take() {
                    self.push(ctx, p.text, out);
                }
                self.pending = Some(Pending { start, text });
            }
        }
    }

    /// Reads complete lines from the read position until `budget` records are
    /// out or the file ends. With `flush` (the file has been idle), a partial
    /// last line and an open multiline record are emitted too.
    pub fn read(
        &mut self,
        ctx: &mut ReadCtx<'_>,
        size: u64,
        budget: usize,
        flush: bool,
        out: &mut Vec<Entry>,
    ) -> std::io::Result<()> {
        let max = ctx.max_line;
        let mut buf = vec![0u8; CHUNK.max(max + 1)];
        let goal = out.len() + budget;
        while out.len() < goal && self.pos < size {
            let want = ((size - self.pos) as usize).min(buf.len());
            let n = self.file.read_at(&mut buf[..want], self.pos)?;
            if n == 0 {
                break;
            }
            let data = &buf[..n];
            let mut i = 0;
            while i < n && out.len() < goal {
                let end = n.min(i + max);
                let start = self.pos + i as u64;
                if let Some(j) = data[i..end].iter().position(|&b| b == b'\n') {
                    self.take(ctx, &data[i..i + j], start, out);
                    self.cutting = false;
                    i += j + 1;
                } else if end - i == max && end < n && data[end] == b'\n' {
                    self.take(ctx, &data[i..end], start, out);
                    self.cutting = false;
                    i = end + 1;
                } else if end - i == max {
                    // Longer than the limit: this piece becomes a line of its own.
                    if !self.cutting {
                        ctx.split += 1;
                    }
                    self.cutting = true;
                    self.take(ctx, &data[i..end], start, out);
                    i = end;
                } else {
                    break;
                }
            }
            if i > 0 {
                self.touched = true;
            }
            self.pos += i as u64;
            if i == 0 {
                break;
            }
        }
        if flush && out.len() < goal {
            if self.pos < size && size - self.pos < max as u64 {
                let mut rest = vec![0u8; (size - self.pos) as usize];
                let n = self.file.read_at(&mut rest, self.pos)?;
                rest.truncate(n);
                if !rest.is_empty() && !rest.contains(&b'\n') {
                    let start = self.pos;
                    self.take(ctx, &rest, start, out);
                    self.pos += n as u64;
                    self.touched = true;
                }
            }
            if out.len() < goal {
                if let Some(p) = self.pending.take() {
                    self.push(ctx, p.text, out);
                    self.touched = true;
                }
            }
        }
        Ok(())
    }
}
