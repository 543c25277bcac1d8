//! Template mining: which lines are the same message with different values.
//!
//! Each message is split into words at whitespace; inside a word, every run
//! of letters, digits and `_` that holds a digit (or is a group of hex
//! digits in a hyphenated identifier) is a value (`<*>`), and values joined
//! only by dots or hyphens merge into one (`10.0.0.7` and a UUID are one
//! value, `core.2275` is `core.<*>`). Then, for all the messages of one length:
//! 1. every word is counted at its position;
//! 2. a message's *pattern* is the words whose count is the count most of
//!    its words share (the words a template's lines have in common appear
//!    equally often); messages with the same pattern form a group;
//! 3. a group is split at a position holding a few distinct words, each seen
//!    several times (two messages that differ by a constant word), and a
//!    position holding many distinct words is a value.
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
//!     "Changing view acls to: hdfs",
//!     "Changing modify acls to: root",
//!     "Registered signal handlers for [TERM, HUP, INT]",
//!     "Got assigned task 31",
//!     "Got assigned task 44",
//! ];
//! let t = mine(&lines);
//! assert_eq!(t[0], "Changing view acls to: <*>");
//! assert_eq!(t[1], "Changing modify acls to: <*>");
//! assert_eq!(t[5], "Got assigned task <*>");
//! assert_eq!(t[4], "Registered signal handlers for [TERM, HUP, INT]");
//! ```

use std::collections::{BTreeMap, HashMap};

/// The value placeholder.
pub const VAR: &str = "<*>";

/// A word with its values written as `<*>`.
pub fn mask_word(w: &str) -> String {
    // Split into runs of word characters and single other characters.
    let mut parts: Vec<(bool, String)> = Vec::new();
    for c in w.chars() {
        let word = c.is_alphanumeric() || c == '_';
        match parts.last_mut() {
            Some((true, s)) if word => s.push(c),
            _ => parts.push((word, c.to_string())),
        }
    }
    let hexish = |s: &str| s.len() >= 4 && s.chars().all(|c| c.is_ascii_hexdigit());
    let hyphenated = parts.iter().any(|(w, s)| !w && s == "-");
    let mut out: Vec<String> = parts
        .into_iter()
        .map(|(word, s)| {
            let value = word
                && (s.chars().any(|c| c.is_ascii_digit())
                    // A hex group of an identifier (`b8cc` in a UUID).
                    || (hyphenated && hexish(&s))
                    || (s.len() >= 8 && hexish(&s)));
            if value {
                VAR.to_string()
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
    out.concat()
}

/// The masked words of a message.
pub fn words(content: &str) -> Vec<String> {
    content.split_whitespace().map(mask_word).collect()
}

/// At most this many distinct words at a position split a group there (chosen by
/// leaving one labelled system out at a time: 8 in every fold but one).
const SPLIT_MAX_VALUES: usize = 8;
/// Each of them must be seen at least this many times in the group.
const SPLIT_MIN_COUNT: usize = 1;

/// The template of each message of `contents`, in order.
pub fn mine<S: AsRef<str>>(contents: &[S]) -> Vec<String> {
    let masked: Vec<Vec<String>> = contents.iter().map(|c| words(c.as_ref())).collect();
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, w) in masked.iter().enumerate() {
        by_len.entry(w.len()).or_default().push(i);
    }
    let mut out = vec![String::new(); contents.len()];
    for ids in by_len.values() {
        for group in group_same_length(&masked, ids) {
            let t = template(&masked, &group);
            for i in group {
                out[i].clone_from(&t);
            }
        }
    }
    out
}

/// Groups messages of one length (see the module docs).
fn group_same_length(masked: &[Vec<String>], ids: &[usize]) -> Vec<Vec<usize>> {
    let n = masked[ids[0]].len();
    if n == 0 {
        return vec![ids.to_vec()];
    }
    let mut count: HashMap<(usize, &str), usize> = HashMap::new();
    for &i in ids {
        for (p, w) in masked[i].iter().enumerate() {
            *count.entry((p, w.as_str())).or_default() += 1;
        }
    }
    // Pattern: positions whose word count is the count most words share.
    let mut groups: HashMap<Vec<(usize, &str)>, Vec<usize>> = HashMap::new();
    for &i in ids {
        let f: Vec<usize> = masked[i]
            .iter()
            .enumerate()
            .map(|(p, w)| count[&(p, w.as_str())])
            .collect();
        let mut hist: HashMap<usize, usize> = HashMap::new();
        for &x in &f {
            *hist.entry(x).or_default() += 1;
        }
        let mode = hist
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)))
            .map(|(k, _)| *k)
            .unwrap_or(0);
        let key: Vec<(usize, &str)> = masked[i]
            .iter()
            .enumerate()
            .filter(|(p, _)| f[*p] >= mode)
            .map(|(p, w)| (p, w.as_str()))
            .collect();
        groups.entry(key).or_default().push(i);
    }
    let mut out = Vec::new();
    let mut keys: Vec<_> = groups.into_iter().collect();
    keys.sort_by_key(|(_, v)| v[0]);
    for (_, g) in keys {
        split(masked, g, &mut out);
    }
    out
}

/// Splits `g` at the first position with a few distinct, repeated words;
/// appends the pieces to `out`.
fn split(masked: &[Vec<String>], g: Vec<usize>, out: &mut Vec<Vec<usize>>) {
    let n = masked[g[0]].len();
    for p in 0..n {
        let mut vals: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in &g {
            vals.entry(masked[i][p].as_str()).or_default().push(i);
        }
        if vals.len() < 2 || vals.len() > SPLIT_MAX_VALUES {
            continue;
        }
        let constant_like = vals
            .iter()
            .all(|(w, v)| v.len() >= SPLIT_MIN_COUNT && !w.contains(VAR));
        if constant_like {
            for (_, sub) in vals {
                split(masked, sub, out);
            }
            return;
        }
    }
    out.push(g);
}

/// The words all messages of `g` share, `<*>` elsewhere.
fn template(masked: &[Vec<String>], g: &[usize]) -> String {
    let first = &masked[g[0]];
    let words: Vec<&str> = (0..first.len())
        .map(|p| {
            let w = first[p].as_str();
            if g.iter().all(|&i| masked[i][p] == w) {
                w
            } else {
                VAR
            }
        })
        .collect();
    words.join(" ")
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
    }

    #[test]
    fn one_message_is_its_own_template() {
        assert_eq!(mine(&["only one 42"]), vec!["only one <*>".to_string()]);
        assert_eq!(mine(&[""]), vec!["".to_string()]);
        assert!(mine::<&str>(&[]).is_empty());
    }
}
