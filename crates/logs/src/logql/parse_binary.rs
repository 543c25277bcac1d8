//! The parser's metric expressions between operators: numbers, unary signs, binary operators
//! with PromQL's precedence and modifiers (`bool`, `on`/`ignoring`, `group_left`/`group_right`),
//! and the functions `vector`, `sort`, `sort_desc` and `label_replace`.

use super::*;

impl Parser {
    /// An expression whose operators bind at least as strongly as `min`.
    pub(super) fn binary(&mut self, min: u8) -> Result<MetricExpr, LogqlError> {
        let mut lhs = self.unary()?;
        // A chain `a + b + c …` nests to the left without recursing here; its depth counts
        // against the same limit, so evaluating it cannot exhaust the stack.
        let mut chain = 0;
        while let Some(op) = self.peek_op() {
            let prec = op.precedence();
            if prec < min {
                break;
            }
            chain += 1;
            if self.depth + chain > MAX_DEPTH {
                return Err(LogqlError::TooDeep { max: MAX_DEPTH });
            }
            let at = self.pos();
            self.take_op();
            let return_bool = matches!(self.peek(), Tok::Ident(w) if w == "bool");
            if return_bool {
                if !op.is_comparison() {
                    return Err(self.err(format!(
                        "`bool` only follows a comparison, not `{}`",
                        op.symbol()
                    )));
                }
                self.next();
            }
            let matching = self.matching(op)?;
            // `^` is right-associative, the others left.
            let next = if op == BinOp::Pow { prec } else { prec + 1 };
            self.enter()?;
            let rhs = self.binary(next);
            self.depth -= 1;
            let rhs = rhs?;
            lhs = check(
                Binary {
                    op,
                    lhs,
                    rhs,
                    return_bool,
                    matching,
                },
                at,
            )?;
        }
        Ok(lhs)
    }

    /// A number, a signed operand, or a function call / parenthesised expression.
    fn unary(&mut self) -> Result<MetricExpr, LogqlError> {
        match self.peek().clone() {
            Tok::Num(t) => {
                let at = self.pos();
                self.next();
                t.parse::<f64>()
                    .map(MetricExpr::Literal)
                    .map_err(|_| LogqlError::Syntax {
                        pos: at,
                        msg: format!("expected a number, found `{t}`"),
                    })
            }
            Tok::Arith(c @ ('-' | '+')) => {
                self.next();
                self.enter()?;
                let e = self.unary();
                self.depth -= 1;
                let e = e?;
                Ok(match (c, e) {
                    ('+', e) => e,
                    (_, MetricExpr::Literal(v)) => MetricExpr::Literal(-v),
                    (_, e) => MetricExpr::Binary(Box::new(Binary {
                        op: BinOp::Mul,
                        lhs: MetricExpr::Literal(-1.0),
                        rhs: e,
                        return_bool: false,
                        matching: None,
                    })),
                })
            }
            _ => self.metric_inner(),
        }
    }

    /// The binary operator at the cursor, if any. A number written with its sign right
    /// after an operand (`x -1`) is the operator and a number.
    fn peek_op(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::Arith('+') => BinOp::Add,
            Tok::Arith('-') => BinOp::Sub,
            Tok::Arith('*') => BinOp::Mul,
            Tok::Arith('/') => BinOp::Div,
            Tok::Arith('%') => BinOp::Mod,
            Tok::Arith('^') => BinOp::Pow,
            Tok::EqEq => BinOp::Eq,
            Tok::Neq => BinOp::Ne,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Ident(w) if w == "and" => BinOp::And,
            Tok::Ident(w) if w == "or" => BinOp::Or,
            Tok::Ident(w) if w == "unless" => BinOp::Unless,
            Tok::Num(t) if t.starts_with('-') => BinOp::Sub,
            Tok::Num(t) if t.starts_with('+') => BinOp::Add,
            _ => return None,
        })
    }

    /// Consumes the operator [`Parser::peek_op`] found; of a signed number, only the sign.
    fn take_op(&mut self) {
        if let Tok::Num(t) = self.peek().clone() {
            let tok = &mut self.toks[self.i];
            tok.tok = Tok::Num(t[1..].to_string());
            tok.pos += 1;
            return;
        }
        self.next();
    }

    /// `on (…)`/`ignoring (…)` and then `group_left (…)`/`group_right (…)`.
    fn matching(&mut self, op: BinOp) -> Result<Option<Matching>, LogqlError> {
        let on = match self.peek() {
            Tok::Ident(w) if w == "on" => true,
            Tok::Ident(w) if w == "ignoring" => false,
            _ => return Ok(None),
        };
        self.next();
        let labels = self.label_list(if on { "on" } else { "ignoring" })?;
        let side = match self.peek() {
            Tok::Ident(w) if w == "group_left" => Some(Side::Left),
            Tok::Ident(w) if w == "group_right" => Some(Side::Right),
            _ => None,
        };
        let group = match side {
            None => None,
            Some(side) => {
                if op.is_set() {
                    return Err(self.err(format!(
                        "no grouping allowed for `{}`: set operators match many to many",
                        op.symbol()
                    )));
                }
                self.next();
                let extra = if self.peek() == &Tok::LParen {
                    self.label_list("group_left/group_right")?
                } else {
                    Vec::new()
                };
                Some((side, extra))
            }
        };
        Ok(Some(Matching { on, labels, group }))
    }

    /// `(a, b, …)` after `what`.
    pub(super) fn label_list(&mut self, what: &str) -> Result<Vec<String>, LogqlError> {
        self.expect(Tok::LParen, &format!("`(` after `{what}`"))?;
        let mut names = Vec::new();
        while self.peek() != &Tok::RParen {
            names.push(self.ident("a label name")?);
            match self.peek() {
                Tok::Comma => {
                    self.next();
                }
                Tok::RParen => {}
                _ => {
                    return Err(self.err(format!(
                        "expected `,` or `)` in the label list, found {}",
                        self.found()
                    )))
                }
            }
        }
        self.next();
        Ok(names)
    }

    /// `vector(s)`, `sort(v)`, `sort_desc(v)`, `label_replace(v, dst, repl, src, re)`,
    /// after the name.
    pub(super) fn function(&mut self, name: &str) -> Result<MetricExpr, LogqlError> {
        self.expect(Tok::LParen, &format!("`(` after `{name}`"))?;
        let e = match name {
            "vector" => {
                let at = self.pos();
                let v = match self.metric_expr()? {
                    MetricExpr::Literal(v) => v,
                    _ => {
                        return Err(LogqlError::Syntax {
                            pos: at,
                            msg: "`vector` takes a number, as in vector(0)".into(),
                        })
                    }
                };
                MetricExpr::Vector(v)
            }
            "sort" | "sort_desc" => MetricExpr::Sort {
                desc: name == "sort_desc",
                inner: Box::new(self.metric_expr()?),
            },
            _ => {
                let inner = Box::new(self.metric_expr()?);
                let mut args = Vec::new();
                for what in ["destination label", "replacement", "source label", "regex"] {
                    self.expect(
                        Tok::Comma,
                        &format!("`,` before the {what} of `label_replace`"),
                    )?;
                    args.push((self.pos(), self.string(&format!("the {what} (a string)"))?));
                }
                let (at, re) = &args[3];
                let regex =
                    Regex::new(&format!("^(?s:{re})$")).map_err(|e| LogqlError::Syntax {
                        pos: *at,
                        msg: format!("invalid regex {re:?} in `label_replace`: {e}"),
                    })?;
                let (at, dst) = &args[0];
                if !argus_model::is_valid_label_name(dst) {
                    return Err(LogqlError::Syntax {
                        pos: *at,
                        msg: format!("invalid destination label name {dst:?} in `label_replace`"),
                    });
                }
                MetricExpr::LabelReplace {
                    inner,
                    dst: dst.clone(),
                    replacement: args[1].1.clone(),
                    src: args[2].1.clone(),
                    regex,
                }
            }
        };
        self.expect(Tok::RParen, &format!("`)` closing `{name}(`"))?;
        Ok(e)
    }
}

/// Refuses what PromQL refuses: set operators with a number, comparisons of two numbers
/// without `bool`, `on`/`ignoring` with a number; folds two numbers into one.
fn check(b: Binary, at: usize) -> Result<MetricExpr, LogqlError> {
    let err = |msg: String| LogqlError::Syntax { pos: at, msg };
    let lit = |e: &MetricExpr| matches!(e, MetricExpr::Literal(_));
    let sym = b.op.symbol();
    if b.op.is_set() && (lit(&b.lhs) || lit(&b.rhs)) {
        return Err(err(format!(
            "set operator `{sym}` not allowed in binary scalar expression"
        )));
    }
    if (lit(&b.lhs) || lit(&b.rhs)) && b.matching.is_some() {
        return Err(err(format!(
            "vector matching (`on`, `ignoring`) is only allowed between two vectors, around `{sym}`"
        )));
    }
    if let (MetricExpr::Literal(x), MetricExpr::Literal(y)) = (&b.lhs, &b.rhs) {
        if b.op.is_comparison() && !b.return_bool {
            return Err(err(format!(
                "comparisons between numbers must use `bool`: `{x} {sym} bool {y}`"
            )));
        }
        return Ok(MetricExpr::Literal(b.op.apply(*x, *y)));
    }
    Ok(MetricExpr::Binary(Box::new(b)))
}
