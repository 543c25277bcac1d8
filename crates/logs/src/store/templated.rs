//! A stream's lines as templates and variables: the block layout of `ALOGCHK2` chunks.
//!
//! When a block is written its lines are mined ([`crate::miner::mine`]); each line becomes a
//! *skeleton* (the line with each value cut out and a marker byte left in its place, its spacing
//! kept as written) and the values cut out of it. A block keeps its miner templates, its distinct
//! skeletons, each line's skeleton number, and then the values column by column: every value of
//! one skeleton's first slot, then of its second, and so on. Values of one slot (a port, a
//! duration, a user id) sit side by side, where zstd finds far more repeats than in whole lines.
//! Reading puts every line back byte for byte and hands out its template with it.
//!
//! A block of lines that share little (many templates of a line or two each) can compress
//! smaller whole, so [`encode`] gives both layouts and the block keeps the smaller; the
//! templates of whole lines are mined again when asked for.
//!
//! ```text
//! lines      took 15 ms | took  7 ms | ready
//! template   took <*> ms              ready
//! skeletons  "took \x11 ms", "took  \x11 ms", "ready"
//! values     15 | 7
//! ```
//! (`tests` below round-trips lines like these.)

use super::codec::{put_str, read_lines, zigzag, CodecError, Reader};
use crate::miner::{mine, VAR};
use prost::encoding::encode_varint;
use rustc_hash::FxHashMap;

/// Stands where a value was cut out of a line. A line that holds this byte itself is kept whole,
/// as the one value of the skeleton [`WHOLE`].
const MARK: char = '\u{11}';
/// The skeleton of a line kept whole.
const WHOLE: &str = "\u{11}";

/// A column of values as text, each ended by a newline (or, for whole lines, after its length).
const COLUMN_TEXT: u8 = 0;
/// A column of plain decimal numbers, as zigzag varints of the differences between them.
const COLUMN_NUMBERS: u8 = 1;

/// `v` as a number when it is written exactly as the number is (no sign but `-`, no leading
/// zero), so that writing the number gives `v` back.
fn decimal(v: &str) -> Option<i64> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty()
        || digits.len() > 18
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || v == "-0"
    {
        return None;
    }
    v.parse().ok()
}

/// The byte ranges of the words of `s`, as `str::split_whitespace` finds them.
fn words(s: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut chars = s.char_indices().peekable();
    std::iter::from_fn(move || {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let (start, _) = chars.next()?;
        while chars.next_if(|(_, c)| !c.is_whitespace()).is_some() {}
        let end = chars.peek().map_or(s.len(), |(i, _)| *i);
        Some((start, end))
    })
}

/// A word of a template: written as is, or constant pieces with a value between each two.
enum TemplateWord<'t> {
    Literal(&'t str),
    Pieces(Vec<&'t str>),
}

fn template_words(t: &str) -> Vec<TemplateWord<'_>> {
    if t.is_empty() {
        return Vec::new();
    }
    t.split(' ')
        .map(|w| {
            if w.contains(VAR) {
                TemplateWord::Pieces(w.split(VAR).collect())
            } else {
                TemplateWord::Literal(w)
            }
        })
        .collect()
}

/// Splits `word` along a template word's constant `pieces` (a value between each two), pushing
/// the values onto `vals`; false (and `vals` as it was) when the word does not fit.
fn fit<'a>(pieces: &[&str], word: &'a str, vals: &mut Vec<&'a str>) -> bool {
    let mark = vals.len();
    let Some((first, rest_pieces)) = pieces.split_first() else {
        return false;
    };
    let Some(mut rest) = word.strip_prefix(first) else {
        return false;
    };
    for (i, p) in rest_pieces.iter().enumerate() {
        if i + 1 == rest_pieces.len() {
            // The last constant piece ends the word; the value is what comes before it.
            match rest.strip_suffix(p) {
                Some(v) => vals.push(v),
                None => {
                    vals.truncate(mark);
                    return false;
                }
            }
            rest = "";
        } else {
            // A value ends where the next constant piece starts (an empty piece at once).
            let at = if p.is_empty() { Some(0) } else { rest.find(p) };
            let Some(at) = at else {
                vals.truncate(mark);
                return false;
            };
            vals.push(&rest[..at]);
            rest = &rest[at + p.len()..];
        }
    }
    if rest.is_empty() {
        true
    } else {
        vals.truncate(mark);
        false
    }
}

/// Writes `line` cut along its template's words into `skeleton` and `vals` (both cleared
/// first). A line that does not fit word for word, or holds the marker, becomes the one value
/// of the skeleton [`WHOLE`].
fn cut<'a>(tw: &[TemplateWord<'_>], line: &'a str, skeleton: &mut String, vals: &mut Vec<&'a str>) {
    skeleton.clear();
    vals.clear();
    let fits = !line.contains(MARK) && cut_words(tw, line, skeleton, vals);
    if !fits {
        skeleton.clear();
        skeleton.push_str(WHOLE);
        vals.clear();
        vals.push(line);
    }
}

fn cut_words<'a>(
    tw: &[TemplateWord<'_>],
    line: &'a str,
    skeleton: &mut String,
    vals: &mut Vec<&'a str>,
) -> bool {
    let mut at = 0;
    let mut n = 0;
    for (s, e) in words(line) {
        let Some(t) = tw.get(n) else {
            return false;
        };
        n += 1;
        skeleton.push_str(&line[at..s]);
        let w = &line[s..e];
        match t {
            TemplateWord::Literal(l) => {
                if *l != w {
                    return false;
                }
                skeleton.push_str(w);
            }
            TemplateWord::Pieces(pieces) => {
                if fit(pieces, w, vals) {
                    skeleton.push_str(pieces[0]);
                    for p in &pieces[1..] {
                        skeleton.push(MARK);
                        skeleton.push_str(p);
                    }
                } else {
                    skeleton.push(MARK);
                    vals.push(w);
                }
            }
        }
        at = e;
    }
    skeleton.push_str(&line[at..]);
    n == tw.len()
}

/// How a block keeps its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The line lengths, then the lines whole (their templates are mined again when asked).
    Lines = 0,
    /// The templates, the skeletons, each line's skeleton, then the values column by column.
    Templated = 1,
}

impl Layout {
    pub(crate) fn from_byte(b: u8) -> Result<Layout, CodecError> {
        match b {
            0 => Ok(Layout::Lines),
            1 => Ok(Layout::Templated),
            _ => Err(CodecError("unknown block layout")),
        }
    }
}

/// `lines` in both layouts (described in `docs/format/logs.md`), mined once: the caller keeps
/// whichever compresses smaller.
pub(crate) fn encode<S: AsRef<str>>(lines: &[S]) -> (Vec<u8>, Vec<u8>) {
    let mined = mine(lines);
    let mut template_ids: FxHashMap<&str, u32> = FxHashMap::default();
    let mut templates: Vec<&str> = Vec::new();
    // Per template: its words, and its skeletons' numbers.
    let mut per_template: Vec<(Vec<TemplateWord<'_>>, FxHashMap<String, u32>)> = Vec::new();
    let mut skeletons: Vec<(String, u32, usize)> = Vec::new();
    let mut line_skeleton = Vec::with_capacity(lines.len());
    // Per skeleton, its lines' values one line after another.
    let mut values: Vec<Vec<&str>> = Vec::new();
    let mut skeleton = String::new();
    let mut vals: Vec<&str> = Vec::new();
    for (line, t) in lines.iter().zip(&mined) {
        let next = templates.len() as u32;
        let tid = *template_ids.entry(t.as_str()).or_insert(next);
        if tid == next {
            templates.push(t);
            per_template.push((template_words(t), FxHashMap::default()));
        }
        let (words, ids) = &mut per_template[tid as usize];
        cut(words, line.as_ref(), &mut skeleton, &mut vals);
        let sid = match ids.get(skeleton.as_str()) {
            Some(&sid) => sid,
            None => {
                let sid = skeletons.len() as u32;
                ids.insert(skeleton.clone(), sid);
                skeletons.push((skeleton.clone(), tid, vals.len()));
                values.push(Vec::new());
                sid
            }
        };
        line_skeleton.push(sid);
        values[sid as usize].extend_from_slice(&vals);
    }
    let mut head = Vec::new();
    encode_varint(templates.len() as u64, &mut head);
    for t in &templates {
        put_str(&mut head, t);
    }
    let mut whole = Vec::new();
    for l in lines {
        encode_varint(l.as_ref().len() as u64, &mut whole);
    }
    for l in lines {
        whole.extend_from_slice(l.as_ref().as_bytes());
    }
    let out = &mut head;
    encode_varint(skeletons.len() as u64, out);
    for (s, tid, _) in &skeletons {
        put_str(out, s);
        encode_varint(u64::from(*tid), out);
    }
    for s in &line_skeleton {
        encode_varint(u64::from(*s), out);
    }
    // Column by column: slot k of skeleton s holds values k, k + slots, k + 2·slots, …
    // Values cut from words hold no whitespace, so a newline ends each; a whole line may hold
    // anything, so its length goes first.
    for ((skeleton, _, slots), vals) in skeletons.iter().zip(&values) {
        let whole = skeleton == WHOLE;
        for k in 0..*slots {
            // A column of plain decimal numbers is kept as the differences between them.
            let numbers: Option<Vec<i64>> = vals
                .iter()
                .skip(k)
                .step_by(*slots)
                .map(|v| decimal(v))
                .collect();
            if let Some(ns) = numbers.filter(|_| !whole) {
                out.push(COLUMN_NUMBERS);
                let mut prev = 0i64;
                for n in ns {
                    encode_varint(zigzag(n.wrapping_sub(prev)), out);
                    prev = n;
                }
                continue;
            }
            out.push(COLUMN_TEXT);
            for v in vals.iter().skip(k).step_by(*slots) {
                if whole {
                    encode_varint(v.len() as u64, out);
                    out.extend_from_slice(v.as_bytes());
                } else {
                    out.extend_from_slice(v.as_bytes());
                    out.push(b'\n');
                }
            }
        }
    }
    (whole, head)
}

/// One slot's values as read.
enum Column<'a> {
    Text(Vec<&'a str>),
    Numbers(Vec<i64>),
}

/// Appends `n` in decimal (what `to_string` writes, without its allocation).
fn push_decimal(out: &mut String, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Lines read back from the templated layout.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Decoded {
    /// The lines, byte for byte as written.
    pub(crate) lines: Vec<String>,
    /// The block's templates.
    pub(crate) templates: Vec<String>,
    /// Each line's template (an index into `templates`).
    pub(crate) template_of: Vec<u32>,
}

/// Reads `n` lines written by [`encode`] in `layout`.
pub(crate) fn decode(
    r: &mut Reader<'_>,
    n: usize,
    limit: usize,
    layout: Layout,
) -> Result<Decoded, CodecError> {
    if layout == Layout::Lines {
        let lines = read_lines(r, n, true)?;
        return Ok(Decoded {
            lines,
            ..Decoded::default()
        });
    }
    let nt = r.len(limit)?;
    let mut templates = Vec::with_capacity(nt);
    for _ in 0..nt {
        templates.push(r.str()?.to_string());
    }
    let ns = r.len(limit)?;
    // Each skeleton: its constant pieces (between the markers) and its template.
    let mut skeletons: Vec<(Vec<&str>, u32)> = Vec::with_capacity(ns);
    for _ in 0..ns {
        let s = r.str()?;
        let tid = r.uvarint()?;
        if tid >= nt as u64 {
            return Err(CodecError("skeleton names a template that is not there"));
        }
        skeletons.push((s.split(MARK).collect(), tid as u32));
    }
    let mut line_skeleton = Vec::with_capacity(n);
    let mut per_skeleton = vec![0usize; ns];
    for _ in 0..n {
        let s = r.uvarint()?;
        let c = per_skeleton
            .get_mut(s as usize)
            .ok_or(CodecError("line names a skeleton that is not there"))?;
        *c += 1;
        line_skeleton.push(s as u32);
    }
    // values[s][k]: slot k's values, in line order.
    let mut values: Vec<Vec<Column<'_>>> = Vec::with_capacity(ns);
    for ((pieces, _), &count) in skeletons.iter().zip(&per_skeleton) {
        let slots = pieces.len() - 1;
        let whole = pieces.len() == 2 && pieces.iter().all(|p| p.is_empty());
        let mut cols = Vec::with_capacity(slots);
        for _ in 0..slots {
            if r.bytes(1)?[0] == COLUMN_NUMBERS {
                let mut col = Vec::with_capacity(count);
                let mut prev = 0i64;
                for _ in 0..count {
                    prev = prev.wrapping_add(r.varint()?);
                    col.push(prev);
                }
                cols.push(Column::Numbers(col));
                continue;
            }
            let mut col = Vec::with_capacity(count);
            for _ in 0..count {
                let v = if whole {
                    let len = r.len(limit)?;
                    r.bytes(len)?
                } else {
                    r.until(b'\n')?
                };
                col.push(std::str::from_utf8(v).map_err(|_| CodecError("value is not UTF-8"))?);
            }
            cols.push(Column::Text(col));
        }
        values.push(cols);
    }
    let mut next = vec![0usize; ns];
    let mut lines = Vec::with_capacity(n);
    let mut template_of = Vec::with_capacity(n);
    for s in line_skeleton {
        let s = s as usize;
        let (pieces, tid) = &skeletons[s];
        let i = next[s];
        next[s] += 1;
        let mut line = String::with_capacity(pieces.iter().map(|p| p.len() + 8).sum());
        line.push_str(pieces[0]);
        for (col, p) in values[s].iter().zip(&pieces[1..]) {
            match col {
                Column::Text(v) => line.push_str(v[i]),
                Column::Numbers(v) => push_decimal(&mut line, v[i]),
            }
            line.push_str(p);
        }
        lines.push(line);
        template_of.push(*tid);
    }
    Ok(Decoded {
        lines,
        templates,
        template_of,
    })
}

#[cfg(test)]
#[path = "templated_tests.rs"]
mod tests;
