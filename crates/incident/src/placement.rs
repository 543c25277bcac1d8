//! Where instances run: which machine each pod address, pod name or node
//! exporter address is on.
//!
//! A running Argus learns this from series in its store (`kube_pod_info`
//! ties a pod to its node, `node_uname_info` a node exporter's address to
//! the machine's name, and scrape targets labelled with their node tie a
//! pod's address to it) through [`crate::correlate::Correlator::learn`]. An
//! offline replay has no store, so the same facts come from a file:
//! a `address,node` header, then one `instance_or_pod_address,node` row a
//! line. [`Placement::label_sets`] turns the rows into the label sets those
//! series would carry, to be learned the same way.
//!
//! ```
//! use argus_incident::placement::Placement;
//!
//! let p = Placement::from_csv("address,node\n10.244.3.7:8080,node-3\ncheckout-7d9f8c6b5-x2k4q,node-3\n").unwrap();
//! assert_eq!(p.len(), 2);
//! let sets = p.label_sets();
//! assert_eq!(sets[0].get("instance"), Some("10.244.3.7:8080"));
//! assert_eq!(sets[1].get("pod"), Some("checkout-7d9f8c6b5-x2k4q"));
//! ```

use argus_model::Labels;

/// A line of a placement file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct PlacementError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Which machine each instance runs on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    rows: Vec<(String, String)>,
}

/// The headers a placement file may start with.
const HEADERS: &[&str] = &["address,node", "instance,node"];

impl Placement {
    /// Reads `address,node` (or `instance,node`) then one row a line; blank
    /// lines are skipped but counted.
    pub fn from_csv(text: &str) -> Result<Self, PlacementError> {
        let mut rows = Vec::new();
        let mut header = false;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let err = |reason: String| PlacementError {
                line: i + 1,
                reason,
            };
            if !header {
                if !HEADERS.contains(&line.replace(' ', "").as_str()) {
                    return Err(err(format!(
                        "the header must be `address,node`, not `{line}`"
                    )));
                }
                header = true;
                continue;
            }
            let mut parts = line.split(',').map(str::trim);
            match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(n), None) if !a.is_empty() && !n.is_empty() => {
                    if n.contains(char::is_whitespace) || a.contains(char::is_whitespace) {
                        return Err(err(format!("a name has a space in `{line}`")));
                    }
                    rows.push((a.to_string(), n.to_string()));
                }
                _ => {
                    return Err(err(format!(
                        "expected `instance_or_pod_address,node`, found `{line}`"
                    )))
                }
            }
        }
        Ok(Placement { rows })
    }

    /// A placement of these `(instance or pod, node)` rows.
    pub fn from_rows(rows: Vec<(String, String)>) -> Self {
        Placement { rows }
    }

    /// The rows, as read.
    pub fn rows(&self) -> &[(String, String)] {
        &self.rows
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The file's text, header first.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("address,node\n");
        for (a, n) in &self.rows {
            s.push_str(&format!("{a},{n}\n"));
        }
        s
    }

    /// The label sets a running Argus would learn the same facts from: an
    /// address (`host:port`, or an IP) as a scrape target's `instance` with
    /// its `node`; anything else as `kube_pod_info`'s `pod` and `node`.
    pub fn label_sets(&self) -> Vec<Labels> {
        self.rows
            .iter()
            .map(|(a, n)| {
                if is_address(a) {
                    Labels::from_pairs(&[("__name__", "up"), ("instance", a), ("node", n)])
                } else {
                    Labels::from_pairs(&[("__name__", "kube_pod_info"), ("pod", a), ("node", n)])
                }
            })
            .collect()
    }
}

/// True for `host:port`, `[v6]:port` or a bare IP address.
fn is_address(s: &str) -> bool {
    if s.parse::<std::net::IpAddr>().is_ok() || s.starts_with('[') {
        return true;
    }
    s.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_name_their_line() {
        let e = Placement::from_csv("pod,host\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("header"), "{e}");
        let e = Placement::from_csv("address,node\n10.0.0.1:80,n1\n\n10.0.0.2:80\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.to_string().starts_with("line 4: expected"), "{e}");
        let e = Placement::from_csv("address,node\na,b,c\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Placement::from_csv("address,node\n,n1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Placement::from_csv("").unwrap().is_empty());
    }

    #[test]
    fn rows_round_trip_and_become_series_labels() {
        let p = Placement::from_csv(
            "instance , node\n10.244.1.5:8080,node-1\nredis-0,node-2\n10.0.3.7:9100,node-1\n",
        )
        .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(Placement::from_csv(&p.to_csv()).unwrap(), p);
        let sets = p.label_sets();
        assert_eq!(sets[0].get("instance"), Some("10.244.1.5:8080"));
        assert_eq!(sets[1].get("pod"), Some("redis-0"));
        assert_eq!(sets[2].get("node"), Some("node-1"));
    }
}
