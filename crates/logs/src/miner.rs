//! Template mining: which lines are the same message with different values.
//!
//! Each message is split into words at whitespace. `true`, `false` and
//! `null` are values, and so is what follows `=` in `key=value`; inside a
//! word, every run
//! of letters, digits and `_` that holds a digit (or is a group of hex
//! digits in a hyphenated identifier) is a value (`<*>`), and values joined
//! only by dots or hyphens merge into one (`10.0.0.7` and a UUID are one
//! value, `core.2275` is `core.<*>`). Then, for all the messages of one length:
//! 1. every word is counted at its position;
//! 2. a message's *pattern* is the words whose count is the count most of
//!    its words share (the words a template's lines have in common appear
//!    equally often); messages with the same pattern form a group;
//! 3. a group is split at a position holding a few distinct words without
//!    values (messages that differ by a constant word), and a position
//!    holding many distinct words is a value.
//!
//! A group's template keeps the words all its messages share and writes
//! `<*>` elsewhere. Nothing is tuned per system: the only input besides the
//! lines is their header format ([`crate::format`]).
//!
//! ```
//! use argus_logs::miner::mine;
//! let lines = [
//!     "Changing view acls to: yarn,curi",
//!     "Changing modify acls to: yarn,curi",
//!     "Changing view acls to: yarn,curi",
//!     "Changing modify acls to: yarn,curi",
//!     "Registered signal handlers for [TERM, HUP, INT]",
//!     "Got assigned task 31",
//!     "Got assigned task 44",
//! ];
//! let t = mine(&lines);
//! assert_eq!(t[0], "Changing view acls to: yarn,curi");
//! assert_eq!(t[1], "Changing modify acls to: yarn,curi");
//! assert_eq!(t[0], t[2]);
//! assert_eq!(t[5], "Got assigned task <*>");
//! assert_eq!(t[4], "Registered signal handlers for [TERM, HUP, INT]");
//! ```

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::BTreeMap;

/// The value placeholder.
pub const VAR: &str = "<*>";

/// True when `w` may hold a value: a digit, or a run of hex digits long
/// enough to be part of an identifier.
fn may_hold_value(w: &str) -> bool {
    let b = w.as_bytes();
    if b.iter().any(u8::is_ascii_digit) {
        return true;
    }
    let hyphenated = b.contains(&b'-');
    let mut run = 0usize;
    for &c in b.iter().chain(std::iter::once(&b' ')) {
        if c.is_ascii_hexdigit() {
            run += 1;
        } else {
            if run >= 8 || (hyphenated && run >= 4) {
                return true;
            }
            run = 0;
        }
    }
    false
}

/// Words that are values wherever they appear.
const VALUE_WORDS: &[&str] = &["true", "false", "null", "True", "False", "NULL", "None"];

/// `key=value`: the value part, written `<*>` (quotes and trailing
/// punctuation kept), when the key is a name and the value not empty.
fn mask_assignment(w: &str) -> Option<String> {
    let (key, value) = w.split_once('=')?;
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
        || !key.chars().next().is_some_and(char::is_alphabetic)
    {
        return None;
    }
    let body = value.trim_end_matches([',', ';', ')', ']', '}']);
    let tail = &value[body.len()..];
    let (open, inner, close) = match body.strip_prefix('"').and_then(|b| b.strip_suffix('"')) {
        Some(i) => ("\"", i, "\""),
        None => ("", body, ""),
    };
    if inner.is_empty() {
        return None;
    }
    Some(format!("{key}={open}{VAR}{close}{tail}"))
}

/// A word with its values written as `<*>`.
pub fn mask_word(w: &str) -> Cow<'_, str> {
    if let Some(m) = mask_assignment(w) {
        return Cow::Owned(m);
    }
    if VALUE_WORDS.contains(&w.trim_end_matches([',', ';', '.'])) {
        return Cow::Owned(format!(
            "{VAR}{}",
            &w[w.trim_end_matches([',', ';', '.']).len()..]
        ));
    }
    if !may_hold_value(w) {
        return Cow::Borrowed(w);
    }
    let hexish = |s: &str| s.len() >= 4 && s.bytes().all(|c| c.is_ascii_hexdigit());
    let hyphenated = w.contains('-');
    let mut out = String::with_capacity(w.len() + VAR.len());
    // 1: `out` ends with a value; 2: with a value and a dot or hyphen.
    let mut tail = 0u8;
    // A run of word characters (`word`) or a single other character. Values
    // joined by dots or hyphens are one value: `<*>.<*>`, `<*>-<*>` → `<*>`.
    let mut emit = |word: bool, s: &str| {
        let value = word
            && (s.bytes().any(|c| c.is_ascii_digit())
                // A hex group of an identifier (`b8cc` in a UUID).
                || (hyphenated && hexish(s))
                || (s.len() >= 8 && hexish(s)));
        if value {
            if tail == 2 {
                out.pop();
            } else {
                out.push_str(VAR);
            }
            tail = 1;
        } else {
            out.push_str(s);
            tail = if tail == 1 && (s == "." || s == "-") {
                2
            } else {
                0
            };
        }
    };
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in w.char_indices() {
        let word = c.is_alphanumeric() || c == '_';
        if i > start && !(word && in_word) {
            emit(in_word, &w[start..i]);
            start = i;
        }
        in_word = word;
    }
    if start < w.len() {
        emit(in_word, &w[start..]);
    }
    Cow::Owned(out)
}

/// At most this many distinct words at a position split a group there (chosen by
/// leaving one labelled system out at a time: 8 in every fold but one).
const SPLIT_MAX_VALUES: usize = 8;

/// Masked words, interned: a message is a list of word numbers.
struct Vocab<'a> {
    ids: FxHashMap<Cow<'a, str>, u32>,
    words: Vec<Cow<'a, str>>,
    /// Whether each word holds a value.
    valued: Vec<bool>,
}

impl<'a> Vocab<'a> {
    fn id(&mut self, w: Cow<'a, str>) -> u32 {
        if let Some(&id) = self.ids.get(&w) {
            return id;
        }
        let id = self.words.len() as u32;
        self.valued.push(w.contains(VAR));
        self.words.push(w.clone());
        self.ids.insert(w, id);
        id
    }
}

/// Every message's word numbers, one message after another.
struct Messages {
    words: Vec<u32>,
    /// Where each message's words start in `words`, and where the last ends.
    starts: Vec<usize>,
}

impl std::ops::Index<usize> for Messages {
    type Output = [u32];
    fn index(&self, i: usize) -> &[u32] {
        &self.words[self.starts[i]..self.starts[i + 1]]
    }
}

/// Calls `f` with each word of `s` in turn, as `str::split_whitespace`
/// splits them (a quicker loop when `s` is ASCII).
fn for_each_word<'a>(s: &'a str, mut f: impl FnMut(&'a str)) {
    if !s.is_ascii() {
        s.split_whitespace().for_each(f);
        return;
    }
    let mut start = None;
    for (i, c) in s.bytes().enumerate() {
        // The ASCII characters with Unicode's White_Space property.
        if matches!(c, b'\t'..=b'\r' | b' ') {
            if let Some(st) = start.take() {
                f(&s[st..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        f(&s[st..]);
    }
}

/// The template of each message of `contents`, in order.
pub fn mine<S: AsRef<str>>(contents: &[S]) -> Vec<String> {
    let mut vocab = Vocab {
        ids: FxHashMap::default(),
        words: Vec::new(),
        valued: Vec::new(),
    };
    let mut masked = Messages {
        words: Vec::with_capacity(contents.len() * 8),
        starts: Vec::with_capacity(contents.len() + 1),
    };
    masked.starts.push(0);
    // Each word as written, with the number of its masked form: most words
    // recur, and masking one again would give the same number.
    let mut raw: FxHashMap<&str, u32> =
        FxHashMap::with_capacity_and_hasher(contents.len(), Default::default());
    for c in contents {
        for_each_word(c.as_ref(), |w| {
            let id = match raw.entry(w) {
                Entry::Occupied(e) => *e.get(),
                Entry::Vacant(e) => *e.insert(vocab.id(mask_word(w))),
            };
            masked.words.push(id);
        });
        masked.starts.push(masked.words.len());
    }
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..contents.len() {
        by_len.entry(masked[i].len()).or_default().push(i);
    }
    let mut out = vec![String::new(); contents.len()];
    for ids in by_len.values() {
        for group in group_same_length(&masked, ids, &vocab.valued) {
            let t = template(&masked, &group, &vocab.words);
            for i in group {
                out[i].clone_from(&t);
            }
        }
    }
    out
}

/// The count most of `f`'s numbers share (the larger on a tie); `sorted`
/// is scratch space.
fn mode(f: &[u32], sorted: &mut Vec<u32>) -> u32 {
    sorted.clear();
    sorted.extend_from_slice(f);
    sorted.sort_unstable();
    let (mut mode, mut best) = (0, 0);
    for run in sorted.chunk_by(|a, b| a == b) {
        if run.len() >= best {
            best = run.len();
            mode = run[0];
        }
    }
    mode
}

/// Groups messages of one length (see the module docs).
fn group_same_length(masked: &Messages, ids: &[usize], valued: &[bool]) -> Vec<Vec<usize>> {
    let n = masked[ids[0]].len();
    if n == 0 {
        return vec![ids.to_vec()];
    }
    // Each word at its position gets a number (a slot), and is counted.
    let key = |p: usize, w: u32| ((p as u64) << 32) | u64::from(w);
    let mut slot_of: FxHashMap<u64, u32> =
        FxHashMap::with_capacity_and_hasher(ids.len() * n / 2, Default::default());
    let mut count: Vec<u32> = Vec::with_capacity(ids.len() * n / 2);
    let mut slots: Vec<u32> = Vec::with_capacity(ids.len() * n);
    for &i in ids {
        for (p, &w) in masked[i].iter().enumerate() {
            let next = count.len() as u32;
            let s = *slot_of.entry(key(p, w)).or_insert(next);
            if s == next {
                count.push(0);
            }
            count[s as usize] += 1;
            slots.push(s);
        }
    }
    // Pattern: the slots whose count is the count most of the message's share.
    let mut groups: FxHashMap<Vec<u32>, Vec<usize>> = FxHashMap::default();
    let mut f: Vec<u32> = Vec::with_capacity(n);
    let mut sorted: Vec<u32> = Vec::with_capacity(n);
    let mut pattern: Vec<u32> = Vec::with_capacity(n);
    for (&i, line) in ids.iter().zip(slots.chunks_exact(n)) {
        f.clear();
        f.extend(line.iter().map(|&s| count[s as usize]));
        let mode = mode(&f, &mut sorted);
        pattern.clear();
        pattern.extend(
            line.iter()
                .zip(&f)
                .filter(|(_, &c)| c >= mode)
                .map(|(&s, _)| s),
        );
        match groups.get_mut(pattern.as_slice()) {
            Some(g) => g.push(i),
            None => {
                groups.insert(pattern.clone(), vec![i]);
            }
        }
    }
    let mut out = Vec::new();
    let mut keys: Vec<Vec<usize>> = groups.into_values().collect();
    keys.sort_by_key(|v| v[0]);
    for g in keys {
        split(masked, g, valued, &mut out);
    }
    out
}

/// Splits `g` at the first position with a few distinct words without
/// values; appends the pieces to `out`.
fn split(masked: &Messages, g: Vec<usize>, valued: &[bool], out: &mut Vec<Vec<usize>>) {
    let n = masked[g[0]].len();
    let mut vals: Vec<u32> = Vec::with_capacity(SPLIT_MAX_VALUES + 1);
    for p in 0..n {
        vals.clear();
        for &i in &g {
            let w = masked[i][p];
            if !vals.contains(&w) {
                vals.push(w);
                if vals.len() > SPLIT_MAX_VALUES {
                    break;
                }
            }
        }
        if vals.len() < 2 || vals.len() > SPLIT_MAX_VALUES {
            continue;
        }
        if vals.iter().all(|&w| !valued[w as usize]) {
            vals.sort_unstable();
            for &w in &vals {
                let sub: Vec<usize> = g.iter().copied().filter(|&i| masked[i][p] == w).collect();
                split(masked, sub, valued, out);
            }
            return;
        }
    }
    out.push(g);
}

/// The words all messages of `g` share, `<*>` elsewhere.
fn template(masked: &Messages, g: &[usize], words: &[Cow<'_, str>]) -> String {
    let first = &masked[g[0]];
    let parts: Vec<&str> = (0..first.len())
        .map(|p| {
            let w = first[p];
            if g.iter().all(|&i| masked[i][p] == w) {
                &*words[w as usize]
            } else {
                VAR
            }
        })
        .collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_masked_like_the_reference_templates() {
        assert_eq!(mask_word("rdd_2_1"), "<*>");
        assert_eq!(mask_word("core.2275"), "core.<*>");
        assert_eq!(mask_word("10.251.42.84:50010"), "<*>:<*>");
        assert_eq!(
            mask_word("(0x0)::listenerCallback"),
            "(<*>)::listenerCallback"
        );
        assert_eq!(mask_word("size=123"), "size=<*>");
        assert_eq!(mask_word("TERM,"), "TERM,");
        assert_eq!(mask_word("b9000564-fe1a-409b-b8cc-1e88b294cd1d]"), "<*>]");
        assert_eq!(mask_word("well-known"), "well-known");
        assert_eq!(mask_word("tag=\"View Lock\","), "tag=\"<*>\",");
        assert_eq!(mask_word("ws=null,"), "ws=<*>,");
        assert_eq!(mask_word("false,"), "<*>,");
        assert_eq!(mask_word("=x"), "=x");
    }

    #[test]
    fn words_split_as_split_whitespace_does() {
        for s in [
            "",
            " a  b\tc\r\nd\x0be\x0cf ",
            "a\x1cb\x1fc",
            "x\u{a0}y \u{2003}z é",
            "   ",
        ] {
            let mut got = Vec::new();
            for_each_word(s, |w| got.push(w));
            assert_eq!(got, s.split_whitespace().collect::<Vec<_>>(), "{s:?}");
        }
    }

    #[test]
    fn one_message_is_its_own_template() {
        assert_eq!(mine(&["only one 42"]), vec!["only one <*>".to_string()]);
        assert_eq!(mine(&[""]), vec!["".to_string()]);
        assert!(mine::<&str>(&[]).is_empty());
    }
}
