//! The parser's label selections (`drop`, `keep`) and label filter expressions (`| level="error"
//! and status >= 500`, with `or`, `and` and parentheses).

use super::*;

impl Parser {
    pub(super) fn label_sels(&mut self, stage: &str) -> Result<Vec<LabelSel>, LogqlError> {
        let mut out = Vec::new();
        loop {
            let at = self.pos();
            let name = self.ident(&format!("a label name after `{stage}`"))?;
            let op = match self.peek() {
                Tok::Eq => Some(MatchOp::Eq),
                Tok::Neq => Some(MatchOp::Neq),
                Tok::Re => Some(MatchOp::Re),
                Tok::Nre => Some(MatchOp::Nre),
                _ => None,
            };
            let matcher = match op {
                Some(op) => {
                    self.next();
                    let v = self.string("a label value")?;
                    Some(Matcher::new(op, &name, &v).map_err(|e| LogqlError::Syntax {
                        pos: at,
                        msg: e.to_string(),
                    })?)
                }
                None => None,
            };
            out.push(LabelSel { name, matcher });
            if self.peek() != &Tok::Comma {
                return Ok(out);
            }
            self.next();
        }
    }

    pub(super) fn label_or(&mut self) -> Result<LabelExpr, LogqlError> {
        let mut left = self.label_and()?;
        while matches!(self.peek(), Tok::Ident(w) if w == "or") {
            self.next();
            let right = self.label_and()?;
            left = LabelExpr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn label_and(&mut self) -> Result<LabelExpr, LogqlError> {
        let mut left = self.label_primary()?;
        loop {
            match self.peek() {
                Tok::Comma => {
                    self.next();
                }
                Tok::Ident(w) if w == "and" => {
                    self.next();
                }
                Tok::Ident(w) if w != "or" && is_cmp(self.peek_at(1)) => {}
                Tok::LParen => {}
                _ => return Ok(left),
            }
            let right = self.label_primary()?;
            left = LabelExpr::And(Box::new(left), Box::new(right));
        }
    }

    fn label_primary(&mut self) -> Result<LabelExpr, LogqlError> {
        if self.peek() == &Tok::LParen {
            self.next();
            self.enter()?;
            let e = self.label_or()?;
            self.depth -= 1;
            self.expect(Tok::RParen, "`)` closing the label filter group")?;
            return Ok(e);
        }
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(self.unsupported(format!("more than {MAX_TERMS} label filters")));
        }
        let at = self.pos();
        let name = self.ident("a label name in a label filter")?;
        let op_tok = self.next();
        let value_at = self.pos();
        let value = self.next();
        let cmp = match op_tok {
            Tok::Eq | Tok::EqEq => CmpOp::Eq,
            Tok::Neq => CmpOp::Ne,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Re | Tok::Nre => CmpOp::Eq, // string only, checked below
            ref t => {
                return Err(LogqlError::Syntax {
                    pos: at,
                    msg: format!(
                        "expected a comparison after label `{name}`, found {}",
                        describe(t)
                    ),
                })
            }
        };
        match value {
            Tok::Str(s) => {
                let op = match op_tok {
                    Tok::Eq | Tok::EqEq => MatchOp::Eq,
                    Tok::Neq => MatchOp::Neq,
                    Tok::Re => MatchOp::Re,
                    Tok::Nre => MatchOp::Nre,
                    _ => {
                        return Err(LogqlError::Syntax {
                            pos: value_at,
                            msg: format!(
                            "`{name}` {} needs a number, a duration or a byte size, not a string",
                            describe(&op_tok)
                        ),
                        })
                    }
                };
                let m = Matcher::new(op, &name, &s).map_err(|e| LogqlError::Syntax {
                    pos: value_at,
                    msg: e.to_string(),
                })?;
                Ok(LabelExpr::Str(m))
            }
            Tok::Num(text) if !matches!(op_tok, Tok::Re | Tok::Nre) => {
                let (value, kind) = if let Ok(v) = text.parse::<f64>() {
                    (v, NumKind::Number)
                } else if let Some(v) = go_duration_secs(&text) {
                    (v, NumKind::Duration)
                } else if let Some(v) = byte_size(text.trim_start_matches('+')) {
                    (v, NumKind::Bytes)
                } else {
                    return Err(LogqlError::Syntax {
                        pos: value_at,
                        msg: format!("`{text}` is neither a number, a duration nor a byte size"),
                    });
                };
                Ok(LabelExpr::Num {
                    name,
                    op: cmp,
                    value,
                    kind,
                })
            }
            _ => Err(LogqlError::Syntax {
                pos: value_at,
                msg: format!(
                    "expected a value after `{name}` {}, found {}",
                    describe(&op_tok),
                    describe(&value)
                ),
            }),
        }
    }
}
