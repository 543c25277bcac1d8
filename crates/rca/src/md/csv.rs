//! Reading a case: a CSV with a header line, the columns `real` (or
//! `actual`) and `predict` (or `expected`) in any position, every other
//! column a dimension.

use super::{Leaf, MdError};

/// A case read from CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The dimension names, in column order.
    pub dims: Vec<String>,
    /// One leaf per data row.
    pub leaves: Vec<Leaf>,
}

fn column(header: &[&str], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
}

/// Parses a case. Blank lines are skipped; a row with the wrong number of
/// fields or a value that is not a number is an error naming its line.
///
/// ```
/// let case = argus_rca::md::parse_case("real,a,predict,b\n1.5,a1,2,b1\n-0.0,a2,5e-3,b1\n").unwrap();
/// assert_eq!(case.dims, ["a", "b"]);
/// assert_eq!(case.leaves[1].values, ["a2", "b1"]);
/// assert_eq!(case.leaves[1].expected, 0.005);
/// ```
pub fn parse_case(text: &str) -> Result<Case, MdError> {
    let mut lines = text.lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((_, l)) => break l,
            None => {
                return Err(MdError::Csv {
                    line: 1,
                    message: "empty input: expected a header line".into(),
                })
            }
        }
    };
    let cols: Vec<&str> = header.split(',').map(|c| c.trim()).collect();
    let bad = |message: String| MdError::Csv { line: 1, message };
    let real = column(&cols, &["real", "actual"])
        .ok_or_else(|| bad(format!("no `real` column in the header {header:?}")))?;
    let predict = column(&cols, &["predict", "expected"])
        .ok_or_else(|| bad(format!("no `predict` column in the header {header:?}")))?;
    let dim_cols: Vec<usize> = (0..cols.len())
        .filter(|&i| i != real && i != predict)
        .collect();
    if dim_cols.is_empty() {
        return Err(MdError::NoDimensions);
    }
    for (i, c) in cols.iter().enumerate() {
        if c.is_empty() {
            return Err(bad(format!("column {} has no name", i + 1)));
        }
        if cols[..i].contains(c) {
            return Err(bad(format!("column {c:?} appears twice")));
        }
    }
    let dims: Vec<String> = dim_cols.iter().map(|&i| cols[i].to_string()).collect();
    let mut leaves = Vec::new();
    let mut fields: Vec<&str> = Vec::with_capacity(cols.len());
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        fields.clear();
        fields.extend(line.split(',').map(|f| f.trim()));
        if fields.len() != cols.len() {
            return Err(MdError::Csv {
                line: n + 1,
                message: format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    cols.len()
                ),
            });
        }
        let num = |i: usize| -> Result<f64, MdError> {
            let s = fields[i];
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(MdError::Csv {
                    line: n + 1,
                    message: format!("{}: {s:?} is not a finite number", cols[i]),
                }),
            }
        };
        let actual = num(real)?;
        let expected = num(predict)?;
        let values = dim_cols.iter().map(|&i| fields[i].to_string()).collect();
        leaves.push(Leaf {
            values,
            actual,
            expected,
        });
    }
    Ok(Case { dims, leaves })
}
