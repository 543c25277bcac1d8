//! Label sets: sorted by name, names unique.

use std::fmt;

/// The reserved label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Label {
    /// The label name.
    pub name: String,
    /// The label value.
    pub value: String,
}

/// A set of labels, kept sorted by name with unique names.
///
/// Ordering and equality are those of the sorted pair list, the same order
/// Prometheus uses when it sorts series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// The empty set.
    pub fn empty() -> Self {
        Labels(Vec::new())
    }

    /// Builds a set from pairs; sorts them, and keeps the last of duplicate names.
    /// Pairs with an empty value are dropped, as Prometheus treats them as absent.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Self {
        Self::from_vec(
            pairs
                .iter()
                .map(|(n, v)| Label {
                    name: n.as_ref().to_string(),
                    value: v.as_ref().to_string(),
                })
                .collect(),
        )
    }

    /// Builds a set from owned labels; sorts, drops empty values, keeps the last duplicate.
    pub fn from_vec(mut v: Vec<Label>) -> Self {
        v.retain(|l| !l.value.is_empty());
        // Stable sort keeps input order among equal names, so "last wins" holds below.
        v.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(v.len());
        for l in v {
            match out.last_mut() {
                Some(last) if last.name == l.name => *last = l,
                _ => out.push(l),
            }
        }
        Labels(out)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Iterates over the labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels as a slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Consumes the set and returns the sorted vector.
    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].value = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(
                i,
                Label {
                    name: name.to_string(),
                    value: value.to_string(),
                },
            ),
        }
    }

    /// Removes `name` if present.
    pub fn remove(&mut self, name: &str) {
        self.set(name, "");
    }

    /// A copy without the metric name.
    pub fn without_metric_name(&self) -> Labels {
        let mut l = self.clone();
        l.remove(METRIC_NAME);
        l
    }

    /// A stable 64-bit hash of the set (xxh3 over `name\xffvalue\xff`...).
    /// Equal sets hash equally across runs and machines.
    pub fn stable_hash(&self) -> u64 {
        hash_pairs(self.0.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }
}

/// The stable hash of sorted label pairs, equal to [`Labels::stable_hash`] for the same pairs.
pub fn hash_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (n, v) in pairs {
        h.update(n.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

impl fmt::Display for Labels {
    /// Prometheus's text form: `name{a="b",c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(n) = name {
            f.write_str(n)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{}=\"", l.name)?;
            for c in l.value.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")?;
        if name.is_some() && self.0.len() == 1 {
            // `up{}` reads better as `up`; keep Prometheus's form.
        }
        Ok(())
    }
}

impl FromIterator<Label> for Labels {
    fn from_iter<T: IntoIterator<Item = Label>>(iter: T) -> Self {
        Labels::from_vec(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// True when `s` is a valid label name in Prometheus's classic charset: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// True when `s` is a valid metric name in the classic charset: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_display() {
        let l = Labels::from_pairs(&[
            ("b", "2"),
            ("__name__", "m"),
            ("a", "1"),
            ("a", "3"),
            ("e", ""),
        ]);
        assert_eq!(l.len(), 3);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.get("e"), None);
        assert_eq!(l.to_string(), r#"m{a="3",b="2"}"#);
        let q = Labels::from_pairs(&[("x", "a\"b\\c\nd")]);
        assert_eq!(q.to_string(), r#"{x="a\"b\\c\nd"}"#);
    }

    #[test]
    fn set_and_remove_keep_order() {
        let mut l = Labels::from_pairs(&[("b", "2")]);
        l.set("a", "1");
        l.set("c", "3");
        l.set("b", "");
        assert_eq!(l.to_string(), r#"{a="1",c="3"}"#);
        assert_eq!(
            l.stable_hash(),
            Labels::from_pairs(&[("c", "3"), ("a", "1")]).stable_hash()
        );
        assert_ne!(
            l.stable_hash(),
            Labels::from_pairs(&[("a", "13")]).stable_hash()
        );
    }

    #[test]
    fn name_validation() {
        assert!(is_valid_label_name("_a1"));
        assert!(!is_valid_label_name("1a"));
        assert!(!is_valid_label_name("a-b"));
        assert!(!is_valid_label_name(""));
        assert!(is_valid_metric_name("a:b_c"));
        assert!(!is_valid_label_name("a:b"));
    }
}
