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
    // Split into runs of word characters and single other characters.
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in w.char_indices() {
        let word = c.is_alphanumeric() || c == '_';
        if i > start && !(word && in_word) {
            parts.push((in_word, &w[start..i]));
            start = i;
        }
        in_word = word;
    }
    if start < w.len() {
        parts.push((in_word, &w[start..]));
    }
    let hexish = |s: &str| s.len() >= 4 && s.bytes().all(|c| c.is_ascii_hexdigit());
    let hyphenated = parts.iter().any(|(w, s)| !*w && *s == "-");
    let mut out: Vec<&str> = parts
        .into_iter()
        .map(|(word, s)| {
            let value = word
                && (s.bytes().any(|c| c.is_ascii_digit())
                    // A hex group of an identifier (`b8cc` in a UUID).
                    || (hyphenated && hexish(s))
                    || (s.len() >= 8 && hexish(s)));
            if value {
                VAR
            } else {
                s
            }
        })
        .collect();
    // Values joined by dots or hyphens are one value: `<*>.<*>`, `<*>-<*>` → `<*>`.
    let mut i = 0;
    while i + 2 < out.len() {
        if out[i] == VAR && (out[i + 1] == "." || out[i + 1] == "-") && out[i + 2] == VAR {
            out.drain(i + 1..i + 3);
        } else {
            i += 1;
        }
    }
    Cow::Owned(out.concat())
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

/// The template of each message of `contents`, in order.
pub fn mine<S: AsRef<str>>(contents: &[S]) -> Vec<String> {
    let mut vocab = Vocab {
        ids: FxHashMap::default(),
        words: Vec::new(),
        valued: Vec::new(),
    };
    let masked: Vec<Vec<u32>> = contents
        .iter()
        .map(|c| {
            c.as_ref()
                .split_whitespace()
                .map(|w| vocab.id(mask_word(w)))
                .collect()
        })
        .collect();
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, w) in masked.iter().enumerate() {
        by_len.entry(w.len()).or_default().push(i);
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

/// Groups messages of one length (see the module docs).
fn group_same_length(masked: &[Vec<u32>], ids: &[usize], valued: &[bool]) -> Vec<Vec<usize>> {
    let n = masked[ids[0]].len();
    if n == 0 {
        return vec![ids.to_vec()];
    }
    let key = |p: usize, w: u32| ((p as u64) << 32) | u64::from(w);
    let mut count: FxHashMap<u64, u32> = FxHashMap::default();
    for &i in ids {
        for (p, &w) in masked[i].iter().enumerate() {
            *count.entry(key(p, w)).or_default() += 1;
        }
    }
    // Pattern: positions whose word count is the count most words share.
    let mut groups: FxHashMap<Vec<u64>, Vec<usize>> = FxHashMap::default();
    let mut f: Vec<u32> = Vec::with_capacity(n);
    let mut hist: FxHashMap<u32, u32> = FxHashMap::default();
    for &i in ids {
        f.clear();
        f.extend(
            masked[i]
                .iter()
                .enumerate()
                .map(|(p, &w)| count[&key(p, w)]),
        );
        hist.clear();
        for &x in &f {
            *hist.entry(x).or_default() += 1;
        }
        let mode = hist
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)))
            .map(|(k, _)| *k)
            .unwrap_or(0);
        let pattern: Vec<u64> = masked[i]
            .iter()
            .enumerate()
            .filter(|(p, _)| f[*p] >= mode)
            .map(|(p, &w)| key(p, w))
            .collect();
        groups.entry(pattern).or_default().push(i);
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
fn split(masked: &[Vec<u32>], g: Vec<usize>, valued: &[bool], out: &mut Vec<Vec<usize>>) {
    let n = masked[g[0]].len();
    for p in 0..n {
        let mut vals: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for &i in &g {
            vals.entry(masked[i][p]).or_default().push(i);
            if vals.len() > SPLIT_MAX_VALUES {
                break;
            }
        }
        if vals.len() < 2 || vals.len() > SPLIT_MAX_VALUES {
            continue;
        }
        if vals.keys().all(|&w| !valued[w as usize]) {
            for (_, sub) in vals {
                split(masked, sub, valued, out);
            }
            return;
        }
    }
    out.push(g);
}

/// The words all messages of `g` share, `<*>` elsewhere.
fn template(masked: &[Vec<u32>], g: &[usize], words: &[Cow<'_, str>]) -> String {
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
    fn one_message_is_its_own_template() {
        assert_eq!(mine(&["only one 42"]), vec!["only one <*>".to_string()]);
        assert_eq!(mine(&[""]), vec!["".to_string()]);
        assert!(mine::<&str>(&[]).is_empty());
    }
}
