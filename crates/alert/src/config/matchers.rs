//! Alertmanager's matcher syntax in config files: `foo="bar"`, `foo=~"x|y"`, `foo!=bar`,
//! `{a="b", c!~"d"}`, and the legacy `match`/`match_re` maps.
//!
//! ```
//! use argus_alert::config::parse_matchers;
//! let m = parse_matchers(r#"{severity=~"page|critical", team!="db"}"#).unwrap();
//! assert_eq!(m.len(), 2);
//! assert!(m[0].matches("page"));
//! ```

use argus_model::{MatchOp, Matcher};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Parses one matcher line (one or more comma-separated matchers, optionally in braces).
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, String> {
    let err = |why: &str| format!("bad matcher {input:?}: {why}");
    let mut s = input.trim();
    if let Some(inner) = s.strip_prefix('{') {
        s = inner
            .strip_suffix('}')
            .ok_or_else(|| err("missing closing '}'"))?
            .trim();
    }
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < c.len() && c[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= c.len() {
            break;
        }
        let name = if c[i] == '"' {
            quoted(&c, &mut i).map_err(|w| err(&w))?
        } else {
            let st = i;
            while i < c.len() && !"=!~".contains(c[i]) && !c[i].is_whitespace() {
                i += 1;
            }
            c[st..i].iter().collect()
        };
        if name.is_empty() {
            return Err(err("missing label name"));
        }
        skip_ws(&mut i);
        let two: String = c[i..c.len().min(i + 2)].iter().collect();
        let op = if two == "=~" {
            i += 2;
            MatchOp::Re
        } else if two == "!~" {
            i += 2;
            MatchOp::Nre
        } else if two == "!=" {
            i += 2;
            MatchOp::Neq
        } else if two.starts_with('=') {
            i += 1;
            MatchOp::Eq
        } else {
            return Err(err("expected one of =, !=, =~, !~"));
        };
        skip_ws(&mut i);
        let value = if i < c.len() && c[i] == '"' {
            quoted(&c, &mut i).map_err(|w| err(&w))?
        } else {
            let st = i;
            while i < c.len() && c[i] != ',' {
                i += 1;
            }
            c[st..i].iter().collect::<String>().trim().to_string()
        };
        out.push(Matcher::new(op, &name, &value).map_err(|e| err(&e.to_string()))?);
        skip_ws(&mut i);
        if i < c.len() {
            if c[i] != ',' {
                return Err(err(&format!("unexpected {:?}", c[i])));
            }
            i += 1;
        }
    }
    if out.is_empty() {
        return Err(err("no matcher"));
    }
    Ok(out)
}

fn quoted(c: &[char], i: &mut usize) -> Result<String, String> {
    *i += 1;
    let mut s = String::new();
    while *i < c.len() {
        match c[*i] {
            '"' => {
                *i += 1;
                return Ok(s);
            }
            '\\' if *i + 1 < c.len() => {
                *i += 1;
                s.push(match c[*i] {
                    'n' => '\n',
                    't' => '\t',
                    o => o,
                });
            }
            o => s.push(o),
        }
        *i += 1;
    }
    Err("unterminated quoted string".to_string())
}

/// A `matchers:` list: each string is parsed with [`parse_matchers`].
#[derive(Debug, Clone, Default)]
pub struct MatcherList(pub Vec<Matcher>);

impl<'de> Deserialize<'de> for MatcherList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let lines = Vec::<String>::deserialize(d)?;
        let mut out = Vec::new();
        for l in lines {
            out.extend(parse_matchers(&l).map_err(serde::de::Error::custom)?);
        }
        Ok(MatcherList(out))
    }
}

/// Combines `matchers` with the legacy `match` (equality) and `match_re` (anchored regex) maps.
pub fn combine(
    list: &MatcherList,
    eq: &BTreeMap<String, String>,
    re: &BTreeMap<String, String>,
) -> Result<Vec<Matcher>, String> {
    let mut out: Vec<Matcher> = eq.iter().map(|(k, v)| Matcher::eq(k, v)).collect();
    for (k, v) in re {
        out.push(Matcher::new(MatchOp::Re, k, v).map_err(|e| e.to_string())?);
    }
    out.extend(list.0.iter().cloned());
    Ok(out)
}

/// True when every matcher matches `labels` (a missing label is the empty string).
pub fn all_match(ms: &[Matcher], labels: &argus_model::Labels) -> bool {
    ms.iter()
        .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let m = parse_matchers(r#"foo="bar""#).unwrap();
        assert_eq!((m[0].name.as_str(), m[0].value.as_str()), ("foo", "bar"));
        let m = parse_matchers("foo = bar baz").unwrap();
        assert_eq!(m[0].value, "bar baz");
        let m = parse_matchers(r#"{a=~"x|y",b!~"z", "c d"!="e\"f"}"#).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[2].name, "c d");
        assert_eq!(m[2].value, "e\"f");
        assert_eq!(m[2].op, MatchOp::Neq);
        assert!(parse_matchers("foo").is_err());
        assert!(parse_matchers(r#"foo=~"(""#).is_err());
        assert!(parse_matchers(r#"{a="b""#).is_err());
    }
}
