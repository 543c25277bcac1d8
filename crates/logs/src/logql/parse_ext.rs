//! The parser's stages that format and unwrap (`line_format`, `label_format`, `unwrap`) and
//! range function calls with their parameter, unwrap and grouping.

use super::super::template::LineTemplate;
use super::*;

impl Parser {
    /// `line_format "…"`, after the word.
    pub(super) fn line_format(&mut self) -> Result<Stage, LogqlError> {
        let t = self.template("`| line_format`")?;
        Ok(Stage::LineFormat(t))
    }

    fn template(&mut self, stage: &str) -> Result<LineTemplate, LogqlError> {
        let at = self.pos();
        let Tok::Str(src) = self.peek().clone() else {
            return Err(self.err(format!(
                "{stage} needs a template as a quoted string, found {}",
                self.found()
            )));
        };
        let t = LineTemplate::parse(&src).map_err(|e| LogqlError::Syntax {
            pos: at,
            msg: format!("invalid template in {stage}: {e}"),
        })?;
        self.next();
        Ok(t)
    }

    /// `label_format a=b, c="{{…}}"`, after the word.
    pub(super) fn label_format(&mut self) -> Result<Stage, LogqlError> {
        let mut out: Vec<LabelFmt> = Vec::new();
        loop {
            let at = self.pos();
            let dst = self.ident("a label name after `label_format`")?;
            self.expect(Tok::Eq, &format!("`=` after `{dst}` in `label_format`"))?;
            let f = match self.peek().clone() {
                Tok::Ident(src) => {
                    self.next();
                    LabelFmt::Rename {
                        dst: dst.clone(),
                        src,
                    }
                }
                Tok::Str(_) => LabelFmt::Template {
                    dst: dst.clone(),
                    tmpl: self.template("`| label_format`")?,
                },
                _ => {
                    return Err(self.err(format!(
                        "expected a label name or a quoted template after `{dst}=`, found {}",
                        self.found()
                    )))
                }
            };
            let taken = out.iter().any(|o| match o {
                LabelFmt::Rename { dst: d, .. } | LabelFmt::Template { dst: d, .. } => *d == dst,
            });
            if taken {
                return Err(LogqlError::Syntax {
                    pos: at,
                    msg: format!(
                        "multiple label name '{dst}' not allowed in a single format operation"
                    ),
                });
            }
            out.push(f);
            if self.peek() != &Tok::Comma {
                return Ok(Stage::LabelFormat(out));
            }
            self.next();
        }
    }

    /// `unwrap x`, `unwrap duration(x)`, `duration_seconds(x)`, `bytes(x)`, at the word.
    pub(super) fn unwrap(&mut self) -> Result<Stage, LogqlError> {
        let pos = self.pos();
        self.next();
        let word = self.ident("a label name after `unwrap`")?;
        let (label, conv) = if self.peek() == &Tok::LParen {
            let conv = match word.as_str() {
                "duration" | "duration_seconds" => Conversion::Duration,
                "bytes" => Conversion::Bytes,
                w => {
                    return Err(self.err(format!(
                    "unknown unwrap conversion `{w}(…)`: use duration, duration_seconds or bytes"
                )))
                }
            };
            self.next();
            let label = self.ident(&format!("a label name in `{word}(…)`"))?;
            self.expect(Tok::RParen, &format!("`)` closing `{word}(`"))?;
            (label, conv)
        } else {
            (word, Conversion::Number)
        };
        Ok(Stage::Unwrap(Unwrap {
            label,
            conv,
            post: Vec::new(),
            pos,
        }))
    }

    /// A range function's call, after its name (at `name_pos`).
    pub(super) fn range_call(
        &mut self,
        func: RangeFn,
        name_pos: usize,
    ) -> Result<MetricExpr, LogqlError> {
        let name = func.name();
        self.expect(Tok::LParen, "`(` after the function name")?;
        let param = if func == RangeFn::QuantileOverTime {
            let at = self.pos();
            let phi = match self.next() {
                Tok::Num(t) => t.parse::<f64>().ok(),
                _ => None,
            };
            let Some(phi) = phi else {
                return Err(LogqlError::Syntax {
                    pos: at,
                    msg: format!("`{name}` needs φ (a number such as 0.99) as its first argument"),
                });
            };
            self.expect(Tok::Comma, &format!("`,` after the φ of `{name}`"))?;
            Some(phi)
        } else {
            None
        };
        let mut log = self.log_query()?;
        let at = self.pos();
        if self.peek() != &Tok::LBrack {
            return Err(self.err(format!(
                "expected a range like [5m] after the log query, found {}",
                self.found()
            )));
        }
        self.next();
        let range_ns = match self.next() {
            Tok::Num(t) => argus_model::parse_duration(&t)
                .ok()
                .and_then(|ms| ms.checked_mul(1_000_000))
                .filter(|ns| *ns > 0),
            _ => None,
        };
        let Some(range_ns) = range_ns else {
            return Err(LogqlError::Syntax {
                pos: at,
                msg: "the range must be a positive duration like [5m] or [1h30m]".into(),
            });
        };
        self.expect(Tok::RBrack, "`]` closing the range")?;
        self.pipeline(&mut log.stages)?;
        let offset_ns = if matches!(self.peek(), Tok::Ident(w) if w == "offset") {
            self.next();
            let at = self.pos();
            let ns = match self.next() {
                Tok::Num(t) => argus_model::parse_duration(&t)
                    .ok()
                    .and_then(|ms| ms.checked_mul(1_000_000)),
                _ => None,
            };
            ns.ok_or_else(|| LogqlError::Syntax {
                pos: at,
                msg: "`offset` needs a duration like 1h or 30m".into(),
            })?
        } else {
            0
        };
        self.expect(Tok::RParen, &format!("`)` closing `{name}(`"))?;
        let group_at = self.pos();
        let grouping = self.grouping()?;
        let unwrap = take_unwrap(&mut log.stages)?;
        match &unwrap {
            Some(u) if func.lines_only() => {
                return Err(LogqlError::Syntax {
                    pos: u.pos,
                    msg: format!("invalid aggregation {name} with unwrap"),
                })
            }
            None if func.needs_unwrap() => {
                return Err(LogqlError::Syntax {
                    pos: name_pos,
                    msg: format!(
                        "invalid aggregation {name} without unwrap: write `{name}({{…}} | unwrap label [5m])`"
                    ),
                })
            }
            _ => {}
        }
        if grouping.is_some() && !func.allows_grouping() {
            return Err(LogqlError::Syntax {
                pos: group_at,
                msg: format!(
                    "grouping not allowed for {name} aggregation: group outside it, as in `sum by (…) ({name}(…))`"
                ),
            });
        }
        Ok(MetricExpr::Range {
            func,
            log,
            range_ns,
            unwrap,
            param,
            grouping,
            offset_ns,
        })
    }
}

/// Moves `unwrap` and the label filters after it out of `stages`; anything else after it is
/// an error.
fn take_unwrap(stages: &mut Vec<Stage>) -> Result<Option<Unwrap>, LogqlError> {
    let Some(i) = stages.iter().position(|s| matches!(s, Stage::Unwrap(_))) else {
        return Ok(None);
    };
    let rest = stages.split_off(i + 1);
    let Some(Stage::Unwrap(mut u)) = stages.pop() else {
        return Ok(None);
    };
    for st in rest {
        match st {
            Stage::Labels(e) => u.post.push(e),
            _ => {
                return Err(LogqlError::Syntax {
                    pos: u.pos,
                    msg: "only label filters (such as `| __error__=\"\"`) may follow `unwrap`"
                        .into(),
                })
            }
        }
    }
    Ok(Some(u))
}

/// The byte offset of an `unwrap` left in a log query's stages.
pub(super) fn stray_unwrap(stages: &[Stage]) -> Option<usize> {
    stages.iter().find_map(|s| match s {
        Stage::Unwrap(u) => Some(u.pos),
        _ => None,
    })
}
