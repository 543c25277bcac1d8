//! Lexer and parser for the Go `text/template` subset: text, `{{ pipeline }}`,
//! `{{- -}}` trimming, comments, `if/else if/else/end`, `range`, `with`,
//! variables (`$x := ...`, `$x = ...`, `range $i, $e := ...`), parenthesised
//! pipelines, field chains and string/number/bool literals.

use super::funcs;
use super::value::Value;

/// A parsed template node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Out(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

/// `$a, $b := cmd | cmd`.
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Vec<Operand>>,
}

/// A term with a trailing `.Field` chain.
#[derive(Debug, Clone)]
pub(crate) struct Operand {
    pub term: Term,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Term {
    Func(String),
    Dot,
    Var(String),
    Lit(Value),
    Sub(Box<Pipe>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Field(String),
    Dot,
    Var(String),
    Str(String),
    Num(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

/// A token and whether whitespace came before it (field chains must be adjacent).
type Spaced = (Tok, bool);

fn lex_action(src: &str) -> Result<Vec<Spaced>, String> {
    let b: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < b.len() {
        let spaced = i == 0 || b[i - 1].is_whitespace();
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            '|' => {
                i += 1;
                Tok::Pipe
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            ':' if b.get(i + 1) == Some(&'=') => {
                i += 2;
                Tok::Declare
            }
            '=' => {
                i += 1;
                Tok::Assign
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match b.get(i) {
                        None => return Err("unterminated quoted string".into()),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match b.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some('r') => s.push('\r'),
                                Some(&c) => s.push(c),
                                None => return Err("unterminated quoted string".into()),
                            }
                        }
                        Some(&c) => s.push(c),
                    }
                    i += 1;
                }
                i += 1;
                Tok::Str(s)
            }
            '`' => {
                i += 1;
                let end = b[i..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or("unterminated raw quoted string")?;
                let s: String = b[i..i + end].iter().collect();
                i += end + 1;
                Tok::Str(s)
            }
            '$' => {
                i += 1;
                while i < b.len() && ident(b[i]) {
                    i += 1;
                }
                Tok::Var(b[start + 1..i].iter().collect())
            }
            '.' if b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) => lex_num(&b, &mut i),
            '.' => {
                i += 1;
                while i < b.len() && ident(b[i]) {
                    i += 1;
                }
                if i == start + 1 {
                    Tok::Dot
                } else {
                    Tok::Field(b[start + 1..i].iter().collect())
                }
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && b.get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == '.')) =>
            {
                lex_num(&b, &mut i)
            }
            c if ident(c) => {
                while i < b.len() && ident(b[i]) {
                    i += 1;
                }
                Tok::Ident(b[start..i].iter().collect())
            }
            c => return Err(format!("unexpected {c:?} in command")),
        };
        out.push((tok, spaced));
    }
    Ok(out)
}

fn lex_num(b: &[char], i: &mut usize) -> Tok {
    let start = *i;
    *i += 1;
    while *i < b.len()
        && (b[*i].is_ascii_alphanumeric()
            || matches!(b[*i], '.' | '_')
            || (matches!(b[*i], '+' | '-') && matches!(b[*i - 1], 'e' | 'E')))
    {
        *i += 1;
    }
    Tok::Num(b[start..*i].iter().collect())
}

/// A template split into text and actions (trim markers applied, comments dropped).
fn split(src: &str) -> Result<Vec<(bool, String)>, String> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut after = &rest[open + 2..];
        let trim_left =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_left {
            text = text.trim_end();
            after = &after[1..];
        }
        out.push((false, text.to_string()));
        // Find the closing delimiter outside quotes.
        let chars: Vec<(usize, char)> = after.char_indices().collect();
        let mut k = 0;
        let mut quote: Option<char> = None;
        let mut close = None;
        while k < chars.len() {
            let (pos, c) = chars[k];
            match quote {
                Some(q) if c == '\\' && q == '"' => k += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '`' => quote = Some(c),
                None if after[pos..].starts_with("}}") => {
                    close = Some(pos);
                    break;
                }
                None => {}
            }
            k += 1;
        }
        let close = close.ok_or("unclosed action")?;
        let mut body = &after[..close];
        trim_next = false;
        if body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-") {
            body = &body[..body.len() - 1];
            trim_next = true;
        }
        let t = body.trim();
        if t.starts_with("/*") {
            if !t.ends_with("*/") {
                return Err("unclosed comment".into());
            }
        } else {
            out.push((true, body.to_string()));
        }
        rest = &after[close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    out.push((false, text.to_string()));
    Ok(out)
}

/// Parses template text into nodes; `vars` are the predefined variable names (without `$`).
pub(crate) fn parse(src: &str, vars: &[&str]) -> Result<Vec<Node>, String> {
    let chunks = split(src)?;
    let mut p = Parser {
        chunks,
        pos: 0,
        vars: std::iter::once("")
            .chain(vars.iter().copied())
            .map(String::from)
            .collect(),
    };
    let (nodes, end) = p.list()?;
    match end {
        None => Ok(nodes),
        Some(kw) => Err(format!("unexpected {{{{{kw}}}}}")),
    }
}

struct Parser {
    chunks: Vec<(bool, String)>,
    pos: usize,
    vars: Vec<String>,
}

impl Parser {
    /// Parses nodes until `end`/`else` (returned as the terminator text) or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, Option<String>), String> {
        let mut nodes = Vec::new();
        while self.pos < self.chunks.len() {
            let (is_action, s) = self.chunks[self.pos].clone();
            self.pos += 1;
            if !is_action {
                if !s.is_empty() {
                    nodes.push(Node::Text(s));
                }
                continue;
            }
            let toks = lex_action(&s)?;
            let kw = match toks.first() {
                Some((Tok::Ident(k), _)) => k.as_str(),
                _ => "",
            };
            match kw {
                "end" | "else" => return Ok((nodes, Some(s.trim().to_string()))),
                "if" | "with" => {
                    let mark = self.vars.len();
                    let mut branches = vec![(self.pipe(&toks[1..])?, Vec::new())];
                    let mut else_body = Vec::new();
                    loop {
                        let (body, end) = self.list()?;
                        let end = end.ok_or(format!("unexpected EOF in {kw}"))?;
                        if let Some(last) = branches.last_mut() {
                            last.1 = body;
                        }
                        if end == "end" {
                            break;
                        }
                        let rest = end.trim_start_matches("else").trim();
                        if kw == "if" && rest.starts_with("if") {
                            let t = lex_action(rest)?;
                            branches.push((self.pipe(&t[1..])?, Vec::new()));
                            continue;
                        }
                        if !rest.is_empty() {
                            return Err(format!("unsupported {{{{else {rest}}}}}"));
                        }
                        let (body, end) = self.list()?;
                        if end.as_deref() != Some("end") {
                            return Err(format!("expected end; found {end:?}"));
                        }
                        else_body = body;
                        break;
                    }
                    self.vars.truncate(mark);
                    if kw == "if" {
                        nodes.push(Node::If(branches, else_body));
                    } else {
                        let (p, body) = branches.remove(0);
                        nodes.push(Node::With(p, body, else_body));
                    }
                }
                "range" => {
                    let mark = self.vars.len();
                    let pipe = self.pipe(&toks[1..])?;
                    let (body, end) = self.list()?;
                    let end = end.ok_or("unexpected EOF in range")?;
                    let else_body = if end == "else" {
                        let (b, e) = self.list()?;
                        if e.as_deref() != Some("end") {
                            return Err("expected end after range else".into());
                        }
                        b
                    } else {
                        Vec::new()
                    };
                    self.vars.truncate(mark);
                    nodes.push(Node::Range(pipe, body, else_body));
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(format!("{{{{{kw}}}}} is not supported"))
                }
                _ => nodes.push(Node::Out(self.pipe(&toks)?)),
            }
        }
        Ok((nodes, None))
    }

    fn pipe(&mut self, toks: &[Spaced]) -> Result<Pipe, String> {
        let mut decl = Vec::new();
        let mut assign = false;
        let mut i = 0;
        // `$a := ` or `$a, $b := ` or `$a = `
        let mut j = 0;
        let mut names = Vec::new();
        while let Some((Tok::Var(v), _)) = toks.get(j) {
            names.push(v.clone());
            j += 1;
            match toks.get(j) {
                Some((Tok::Comma, _)) => j += 1,
                Some((Tok::Declare, _)) | Some((Tok::Assign, _)) => {
                    assign = toks[j].0 == Tok::Assign;
                    decl = std::mem::take(&mut names);
                    i = j + 1;
                    break;
                }
                _ => break,
            }
        }
        let (cmds, used) = self.cmds(&toks[i..])?;
        if used != toks.len() - i {
            return Err("unexpected \")\" in command".into());
        }
        if cmds.is_empty() {
            return Err("missing value for command".into());
        }
        for d in &decl {
            if assign {
                if !self.vars.contains(d) {
                    return Err(format!("undefined variable \"${d}\""));
                }
            } else {
                self.vars.push(d.clone());
            }
        }
        Ok(Pipe { decl, assign, cmds })
    }

    /// Parses `cmd | cmd ...` up to an unmatched `)`; returns the commands and tokens used.
    fn cmds(&mut self, toks: &[Spaced]) -> Result<(Vec<Vec<Operand>>, usize), String> {
        let mut cmds = Vec::new();
        let mut cur: Vec<Operand> = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (t, _) = &toks[i];
            let term = match t {
                Tok::RParen => break,
                Tok::Pipe => {
                    if cur.is_empty() {
                        return Err("missing command before |".into());
                    }
                    cmds.push(std::mem::take(&mut cur));
                    i += 1;
                    continue;
                }
                Tok::LParen => {
                    let (sub, used) = self.cmds(&toks[i + 1..])?;
                    if toks.get(i + 1 + used).map(|t| &t.0) != Some(&Tok::RParen) {
                        return Err("unclosed left paren".into());
                    }
                    i += used + 1;
                    Term::Sub(Box::new(Pipe {
                        decl: Vec::new(),
                        assign: false,
                        cmds: sub,
                    }))
                }
                Tok::Dot => Term::Dot,
                Tok::Field(f) => {
                    cur.push(Operand {
                        term: Term::Dot,
                        fields: vec![f.clone()],
                    });
                    i += 1;
                    self.chain(toks, &mut i, &mut cur);
                    continue;
                }
                Tok::Var(v) => {
                    if !self.vars.contains(v) {
                        return Err(format!("undefined variable \"${v}\""));
                    }
                    Term::Var(v.clone())
                }
                Tok::Str(s) => Term::Lit(Value::Str(s.clone())),
                Tok::Num(n) => Term::Lit(parse_num(n)?),
                Tok::Ident(id) => match id.as_str() {
                    "true" => Term::Lit(Value::Bool(true)),
                    "false" => Term::Lit(Value::Bool(false)),
                    "nil" => Term::Lit(Value::Nil),
                    f if funcs::is_known(f) => Term::Func(f.to_string()),
                    f => return Err(format!("function \"{f}\" not defined")),
                },
                Tok::Declare | Tok::Assign | Tok::Comma => {
                    return Err(format!("unexpected {t:?} in operand"))
                }
            };
            cur.push(Operand {
                term,
                fields: Vec::new(),
            });
            i += 1;
            self.chain(toks, &mut i, &mut cur);
        }
        if !cur.is_empty() {
            cmds.push(cur);
        } else if !cmds.is_empty() {
            return Err("missing command after |".into());
        }
        Ok((cmds, i))
    }

    fn chain(&self, toks: &[Spaced], i: &mut usize, cur: &mut [Operand]) {
        while let Some((Tok::Field(f), false)) = toks.get(*i) {
            if let Some(last) = cur.last_mut() {
                last.fields.push(f.clone());
            }
            *i += 1;
        }
    }
}

fn parse_num(n: &str) -> Result<Value, String> {
    let clean = n.replace('_', "");
    if let Ok(i) = clean.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    if let Some(h) = clean.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(h, 16) {
            return Ok(Value::Int(i));
        }
    }
    clean
        .parse::<f64>()
        .map(Value::Float)
        .map_err(|_| format!("bad number syntax: {n:?}"))
}
