//! Lexer and parser for the Go `text/template` subset: text, `{{ pipeline }}`,
//! `{{- -}}` trimming, comments, `if/else if/else/end`, `range`, `with`,
//! `define`/`template`/`block`, variables (`$x := ...`, `$x = ...`,
//! `range $i, $e := ...`), parenthesised pipelines, field chains and
//! string/number/bool literals.

use super::lex::{lex_action, Spaced, Tok};
use super::value::Value;

/// A parsed template node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Out(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    /// `{{ template "name" pipeline }}`, with the line it is on.
    Template {
        name: String,
        pipe: Option<Pipe>,
        line: usize,
    },
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

/// One piece of template text: literal text or an action's inside, and its 1-based line.
#[derive(Debug, Clone)]
struct Chunk {
    action: bool,
    text: String,
    line: usize,
}

fn line_at(src: &str, offset: usize) -> usize {
    1 + src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// A template split into text and actions (trim markers applied, comments dropped).
/// An error carries the line it was found on.
fn split(src: &str) -> Result<Vec<Chunk>, (usize, String)> {
    let mut out: Vec<Chunk> = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let line = line_at(src, src.len() - rest.len() + open);
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
        out.push(Chunk {
            action: false,
            text: text.to_string(),
            line,
        });
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
        let close = close.ok_or((line, "unclosed action".to_string()))?;
        let mut body = &after[..close];
        trim_next = false;
        if body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-") {
            body = &body[..body.len() - 1];
            trim_next = true;
        }
        let t = body.trim();
        if t.starts_with("/*") {
            if !t.ends_with("*/") {
                return Err((line, "unclosed comment".into()));
            }
        } else {
            out.push(Chunk {
                action: true,
                text: body.to_string(),
                line,
            });
        }
        rest = &after[close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    out.push(Chunk {
        action: false,
        text: text.to_string(),
        line: line_at(src, src.len() - rest.len()),
    });
    Ok(out)
}

/// A parsed source: its top-level nodes and the templates it defines.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    pub nodes: Vec<Node>,
    pub defs: Vec<(String, Vec<Node>)>,
}

/// Parses template text; `vars` are the predefined variable names (without `$`) and
/// `known` says whether a function name exists. An error carries its line.
pub(crate) fn parse(
    src: &str,
    vars: &[&str],
    known: &dyn Fn(&str) -> bool,
) -> Result<Parsed, (usize, String)> {
    let chunks = split(src)?;
    let mut p = Parser {
        chunks,
        pos: 0,
        vars: std::iter::once("")
            .chain(vars.iter().copied())
            .map(String::from)
            .collect(),
        known,
        defs: Vec::new(),
        depth: 0,
        line: 1,
    };
    let (nodes, end) = p.list().map_err(|e| (p.line, e))?;
    match end {
        None => Ok(Parsed {
            nodes,
            defs: p.defs,
        }),
        Some(kw) => Err((p.line, format!("unexpected {{{{{kw}}}}}"))),
    }
}

struct Parser<'k> {
    chunks: Vec<Chunk>,
    pos: usize,
    vars: Vec<String>,
    known: &'k dyn Fn(&str) -> bool,
    defs: Vec<(String, Vec<Node>)>,
    /// Nesting of control structures (`define` is allowed only at 0).
    depth: usize,
    /// The line of the last action read, for errors.
    line: usize,
}

fn template_name(toks: &[Spaced], kw: &str) -> Result<String, String> {
    match toks.get(1) {
        Some((Tok::Str(n), _)) => Ok(n.clone()),
        _ => Err(format!("{kw} needs a quoted template name")),
    }
}

impl Parser<'_> {
    /// Parses nodes until `end`/`else` (returned as the terminator text) or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, Option<String>), String> {
        let mut nodes = Vec::new();
        while self.pos < self.chunks.len() {
            let Chunk {
                action: is_action,
                text: s,
                line,
            } = self.chunks[self.pos].clone();
            self.pos += 1;
            if is_action {
                self.line = line;
            }
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
                "define" => {
                    if self.depth > 0 {
                        return Err("{{define}} is only allowed at the top level".into());
                    }
                    let name = template_name(&toks, kw)?;
                    if toks.len() > 2 {
                        return Err("unexpected tokens after define's name".into());
                    }
                    let saved = std::mem::replace(&mut self.vars, vec![String::new()]);
                    self.depth += 1;
                    let r = self.list();
                    self.depth -= 1;
                    self.vars = saved;
                    let (body, end) = r?;
                    if end.as_deref() != Some("end") {
                        return Err(format!("unexpected EOF in define {name:?}"));
                    }
                    self.defs.push((name, body));
                }
                "template" => {
                    let name = template_name(&toks, kw)?;
                    let pipe = if toks.len() > 2 {
                        Some(self.pipe(&toks[2..])?)
                    } else {
                        None
                    };
                    nodes.push(Node::Template { name, pipe, line });
                }
                "block" => {
                    let name = template_name(&toks, kw)?;
                    let pipe = self.pipe(toks.get(2..).unwrap_or_default())?;
                    let saved = std::mem::replace(&mut self.vars, vec![String::new()]);
                    self.depth += 1;
                    let r = self.list();
                    self.depth -= 1;
                    self.vars = saved;
                    let (body, end) = r?;
                    if end.as_deref() != Some("end") {
                        return Err(format!("unexpected EOF in block {name:?}"));
                    }
                    self.defs.push((name.clone(), body));
                    nodes.push(Node::Template {
                        name,
                        pipe: Some(pipe),
                        line,
                    });
                }
                "if" | "with" => {
                    let mark = self.vars.len();
                    let mut branches = vec![(self.pipe(&toks[1..])?, Vec::new())];
                    let mut else_body = Vec::new();
                    self.depth += 1;
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
                    self.depth -= 1;
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
                    self.depth += 1;
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
                    self.depth -= 1;
                    self.vars.truncate(mark);
                    nodes.push(Node::Range(pipe, body, else_body));
                }
                "break" | "continue" => return Err(format!("{{{{{kw}}}}} is not supported")),
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
                    f if (self.known)(f) => Term::Func(f.to_string()),
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
