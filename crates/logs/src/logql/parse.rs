//! The LogQL parser: stream selectors, pipelines and metric expressions.

pub use super::ast::*;
use super::lex::{byte_size, describe, go_duration_secs, is_cmp, tokenize, Tok, Token};
use super::LogqlError;
use argus_model::{MatchOp, Matcher};
use regex::Regex;

/// The longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// The deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 64;
/// The most label filter comparisons in one query.
pub const MAX_TERMS: usize = 512;

#[path = "parse_binary.rs"]
mod binary;
#[path = "parse_ext.rs"]
mod ext;
#[path = "parse_labels.rs"]
mod labels;

/// Parses a LogQL query.
pub fn parse(q: &str) -> Result<Query, LogqlError> {
    let mut p = Parser::new(q)?;
    let query = if p.peek() == &Tok::LBrace {
        let log = p.log_query()?;
        if let Some(pos) = ext::stray_unwrap(&log.stages) {
            return Err(LogqlError::Syntax {
                pos,
                msg: "`unwrap` belongs in a range function, as in `sum_over_time({…} | unwrap x [5m])`".into(),
            });
        }
        if p.peek() == &Tok::LBrack {
            return Err(
                p.err("a range like [5m] belongs inside a function such as count_over_time(…)")
            );
        }
        Query::Log(log)
    } else {
        Query::Metric(p.metric_expr()?)
    };
    p.end()?;
    Ok(query)
}

/// Parses a stream selector alone (`{app="api"}`), as `/labels?query=` and `/series?match[]=`
/// take it.
pub fn parse_selector(q: &str) -> Result<Vec<Matcher>, LogqlError> {
    let mut p = Parser::new(q)?;
    let m = p.selector()?;
    p.end()?;
    Ok(m)
}

const PARSER_STAGES: &[&str] = &["distinct"];

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn new(q: &str) -> Result<Parser, LogqlError> {
        if q.len() > MAX_QUERY_BYTES {
            return Err(LogqlError::TooLong {
                max: MAX_QUERY_BYTES,
            });
        }
        Ok(Parser {
            toks: tokenize(q)?,
            i: 0,
            depth: 0,
            terms: 0,
        })
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let last = self.toks.len().saturating_sub(1);
        self.toks
            .get((self.i + n).min(last))
            .map(|t| &t.tok)
            .unwrap_or(&Tok::Eof)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map(|t| t.pos).unwrap_or(0)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn err(&self, msg: impl Into<String>) -> LogqlError {
        LogqlError::Syntax {
            pos: self.pos(),
            msg: msg.into(),
        }
    }

    fn unsupported(&self, what: impl Into<String>) -> LogqlError {
        LogqlError::Unsupported {
            pos: self.pos(),
            what: what.into(),
        }
    }

    fn found(&self) -> String {
        describe(self.peek())
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), LogqlError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(self.err(format!("expected {what}, found {}", self.found())))
        }
    }

    fn enter(&mut self) -> Result<(), LogqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(LogqlError::TooDeep { max: MAX_DEPTH });
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), LogqlError> {
        match self.peek() {
            Tok::Eof => Ok(()),
            Tok::Ident(w) if w == "offset" => Err(self.err(
                "`offset` belongs inside the range function, after the range: `count_over_time({…}[5m] offset 1h)`",
            )),
            _ => Err(self.err(format!("unexpected {} after the query", self.found()))),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, LogqlError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.err(format!(
                "expected {what} (a quoted string), found {}",
                self.found()
            ))),
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, LogqlError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.err(format!("expected {what}, found {}", self.found()))),
        }
    }

    fn selector(&mut self) -> Result<Vec<Matcher>, LogqlError> {
        let open = self.pos();
        self.expect(Tok::LBrace, "`{` to start a stream selector")?;
        let mut out = Vec::new();
        while self.peek() != &Tok::RBrace {
            let at = self.pos();
            let name = self.ident("a label name")?;
            let op = match self.peek() {
                Tok::Eq => MatchOp::Eq,
                Tok::Neq => MatchOp::Neq,
                Tok::Re => MatchOp::Re,
                Tok::Nre => MatchOp::Nre,
                _ => {
                    return Err(self.err(format!(
                        "expected one of = != =~ !~ after label `{name}`, found {}",
                        self.found()
                    )));
                }
            };
            self.next();
            let value = self.string("a label value")?;
            let m = Matcher::new(op, &name, &value).map_err(|e| LogqlError::Syntax {
                pos: at,
                msg: e.to_string(),
            })?;
            out.push(m);
            match self.peek() {
                Tok::Comma => {
                    self.next();
                }
                Tok::RBrace => {}
                _ => {
                    return Err(self.err(format!(
                        "expected `,` or `}}` in the stream selector, found {}",
                        self.found()
                    )))
                }
            }
        }
        self.next();
        let ok = out
            .iter()
            .any(|m| matches!(m.op, MatchOp::Eq | MatchOp::Re) && !m.matches_empty());
        if !ok {
            return Err(LogqlError::EmptyCompatible { pos: open });
        }
        Ok(out)
    }

    fn log_query(&mut self) -> Result<LogQuery, LogqlError> {
        let matchers = self.selector()?;
        let mut stages = Vec::new();
        self.pipeline(&mut stages)?;
        Ok(LogQuery { matchers, stages })
    }

    fn pipeline(&mut self, stages: &mut Vec<Stage>) -> Result<(), LogqlError> {
        loop {
            let op = match self.peek() {
                Tok::PipeEq => LineOp::Contains,
                Tok::Neq => LineOp::NotContains,
                Tok::PipeTilde => LineOp::Match,
                Tok::Nre => LineOp::NotMatch,
                Tok::PatternFilter(false) => LineOp::Fits,
                Tok::PatternFilter(true) => LineOp::NotFits,
                Tok::Pipe => {
                    self.next();
                    let stage = self.stage()?;
                    stages.push(stage);
                    continue;
                }
                _ => return Ok(()),
            };
            self.next();
            let at = self.pos();
            if matches!(self.peek(), Tok::Ident(w) if w == "ip") {
                return Err(self.unsupported("the `ip(…)` line filter"));
            }
            let text = self.string("the line filter's text")?;
            let re = match op {
                LineOp::Match | LineOp::NotMatch => {
                    Some(Regex::new(&text).map_err(|e| LogqlError::Syntax {
                        pos: at,
                        msg: format!("invalid regex {text:?}: {e}"),
                    })?)
                }
                _ => None,
            };
            let pattern = match op {
                LineOp::Fits | LineOp::NotFits => Some(
                    super::pattern::Pattern::filter(&text)
                        .map_err(|msg| LogqlError::Syntax { pos: at, msg })?,
                ),
                _ => None,
            };
            if matches!(self.peek(), Tok::Ident(w) if w == "or") {
                return Err(self.unsupported("`or` between line filter texts"));
            }
            stages.push(Stage::Line(LineFilter {
                op,
                text,
                re,
                pattern,
            }));
        }
    }

    fn stage(&mut self) -> Result<Stage, LogqlError> {
        let word = match self.peek() {
            Tok::Ident(w) => w.clone(),
            Tok::LParen => return Ok(Stage::Labels(self.label_or()?)),
            _ => {
                return Err(self.err(format!(
                    "expected a parser or a label filter after `|`, found {}",
                    self.found()
                )))
            }
        };
        if is_cmp(self.peek_at(1)) {
            return Ok(Stage::Labels(self.label_or()?));
        }
        match word.as_str() {
            "json" => {
                self.next();
                if matches!(self.peek(), Tok::Ident(_) | Tok::Str(_)) {
                    return Err(self.unsupported("`| json` with parameters"));
                }
                Ok(Stage::Json)
            }
            "logfmt" => {
                self.next();
                let mut strict = false;
                while let Tok::Flag(f) = self.peek().clone() {
                    match f.as_str() {
                        "strict" => strict = true,
                        "keep-empty" => {}
                        _ => return Err(self.err(format!("unknown logfmt flag `--{f}`"))),
                    }
                    self.next();
                }
                if matches!(self.peek(), Tok::Ident(_) | Tok::Str(_)) {
                    return Err(self.unsupported("`| logfmt` with parameters"));
                }
                Ok(Stage::Logfmt { strict })
            }
            "pattern" | "regexp" => {
                self.next();
                let Tok::Str(src) = self.peek().clone() else {
                    return Err(self.err(format!(
                        "`| {word}` needs its expression as a quoted string, found {}",
                        self.found()
                    )));
                };
                let stage = if word == "pattern" {
                    Stage::Pattern(super::pattern::Pattern::parse(&src).map_err(|e| self.err(e))?)
                } else {
                    let re = Regex::new(&src)
                        .map_err(|e| self.err(format!("invalid regexp {src:?}: {e}")))?;
                    if re.capture_names().flatten().next().is_none() {
                        return Err(self.err(format!(
                            "the regexp {src:?} names no group such as (?P<status>\\d+)"
                        )));
                    }
                    Stage::Regexp(re)
                };
                self.next();
                Ok(stage)
            }
            "line_format" => {
                self.next();
                self.line_format()
            }
            "label_format" => {
                self.next();
                self.label_format()
            }
            "unwrap" => self.unwrap(),
            "decolorize" => {
                self.next();
                Ok(Stage::Decolorize)
            }
            "unpack" => {
                self.next();
                Ok(Stage::Unpack)
            }
            "drop" | "keep" => {
                self.next();
                let sels = self.label_sels(&word)?;
                Ok(if word == "drop" {
                    Stage::Drop(sels)
                } else {
                    Stage::Keep(sels)
                })
            }
            w if PARSER_STAGES.contains(&w) => Err(self.unsupported(format!("the `| {w}` stage"))),
            w => Err(self.err(format!(
                "expected a parser (json, logfmt) or a label filter after `|`, found `{w}`"
            ))),
        }
    }

    fn metric_expr(&mut self) -> Result<MetricExpr, LogqlError> {
        self.enter()?;
        let e = self.binary(1);
        self.depth -= 1;
        e
    }

    fn metric_inner(&mut self) -> Result<MetricExpr, LogqlError> {
        if self.peek() == &Tok::LParen {
            self.next();
            let e = self.metric_expr()?;
            self.expect(Tok::RParen, "`)`")?;
            return Ok(e);
        }
        let word = match self.peek() {
            Tok::Ident(w) => w.clone(),
            _ => {
                return Err(self.err(format!(
                    "expected a stream selector `{{…}}` or a function, found {}",
                    self.found()
                )))
            }
        };
        if let Some(func) = RangeFn::from_name(&word) {
            let at = self.pos();
            self.next();
            return self.range_call(func, at);
        }
        match word.as_str() {
            "vector" | "sort" | "sort_desc" | "label_replace" => {
                self.next();
                return self.function(&word);
            }
            _ => {}
        }
        let op = match word.as_str() {
            "sum" => AggOp::Sum,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "avg" => AggOp::Avg,
            "count" => AggOp::Count,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            // Loki's approx_topk is a sketch of topk; the exact answer is a fine approximation.
            "topk" | "approx_topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            w => return Err(self.err(format!("unknown function `{w}`"))),
        };
        self.next();
        let mut grouping = self.grouping()?;
        self.expect(Tok::LParen, &format!("`(` after `{word}`"))?;
        let k = if matches!(op, AggOp::Topk | AggOp::Bottomk) {
            let at = self.pos();
            let k = match self.next() {
                Tok::Num(t) => t.parse::<usize>().ok().filter(|k| *k > 0),
                _ => None,
            };
            let Some(k) = k else {
                return Err(LogqlError::Syntax {
                    pos: at,
                    msg: format!("`{word}` needs a positive whole number as its first argument"),
                });
            };
            self.expect(Tok::Comma, &format!("`,` after the k of `{word}`"))?;
            Some(k)
        } else {
            None
        };
        let inner = self.metric_expr()?;
        self.expect(Tok::RParen, &format!("`)` closing `{word}(`"))?;
        if let Some(g) = self.grouping()? {
            if grouping.is_some() {
                return Err(self.err("`by`/`without` given twice"));
            }
            grouping = Some(g);
        }
        if word == "approx_topk" && grouping.is_some() {
            return Err(self.err("`approx_topk` takes no `by`/`without`"));
        }
        Ok(MetricExpr::Agg {
            op,
            k,
            grouping,
            inner: Box::new(inner),
        })
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, LogqlError> {
        let by = match self.peek() {
            Tok::Ident(w) if w == "by" => true,
            Tok::Ident(w) if w == "without" => false,
            _ => return Ok(None),
        };
        self.next();
        let names = self.label_list(if by { "by" } else { "without" })?;
        Ok(Some(if by {
            Grouping::By(names)
        } else {
            Grouping::Without(names)
        }))
    }
}
