//! Executes parsed nodes: output, control structures, variables, function and method calls,
//! and `{{ template }}` calls into a set of named templates.

use std::collections::HashMap;

use super::builtins::call_builtin;
use super::parse::{Node, Operand, Pipe, Term};
use super::value::Value;
use super::Host;

/// How deep `{{ template }}` calls may nest (recursive templates stop here instead of
/// overflowing the stack).
const MAX_DEPTH: usize = 100;

pub(crate) struct Exec<'h> {
    pub host: &'h dyn Host,
    pub defs: &'h HashMap<String, Vec<Node>>,
    pub vars: Vec<(String, Value)>,
    pub out: String,
    pub depth: usize,
}

impl Exec<'_> {
    pub fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Result<(), String> {
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Out(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&v.to_go_string());
                    }
                }
                Node::If(branches, else_body) => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (cond, body) in branches {
                        if self.pipe(cond, dot)?.truthy() {
                            self.nodes(body, dot)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.nodes(else_body, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(p, body, else_body) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    if v.truthy() {
                        self.nodes(body, &v)?;
                    } else {
                        self.nodes(else_body, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, else_body) => self.range(p, body, else_body, dot)?,
                Node::Template { name, pipe, .. } => {
                    let arg = match pipe {
                        Some(p) => self.pipe(p, dot)?,
                        None => Value::Nil,
                    };
                    self.call_template(name, arg)?;
                }
            }
        }
        Ok(())
    }

    fn call_template(&mut self, name: &str, dot: Value) -> Result<(), String> {
        let defs = self.defs;
        let body = defs
            .get(name)
            .ok_or_else(|| format!("no such template {name:?}"))?;
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "exceeded maximum template depth ({MAX_DEPTH}) calling {name:?}"
            ));
        }
        // A called template sees only `$`, set to its argument.
        let saved = std::mem::replace(&mut self.vars, vec![(String::new(), dot.clone())]);
        self.depth += 1;
        let r = self.nodes(body, &dot);
        self.depth -= 1;
        self.vars = saved;
        r
    }

    fn range(
        &mut self,
        p: &Pipe,
        body: &[Node],
        else_body: &[Node],
        dot: &Value,
    ) -> Result<(), String> {
        let mark = self.vars.len();
        let plain = Pipe {
            decl: Vec::new(),
            assign: false,
            cmds: p.cmds.clone(),
        };
        let v = self.pipe(&plain, dot)?;
        let items: Vec<(Value, Value)> = match v {
            Value::List(l) => l
                .into_iter()
                .enumerate()
                .map(|(i, x)| (Value::Int(i as i64), x))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, x)| (Value::Str(k), x)).collect(),
            Value::Int(n) => (0..n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            // An absent field reads as "" (missingkey=zero): nothing to iterate.
            Value::Nil => Vec::new(),
            Value::Str(s) if s.is_empty() => Vec::new(),
            other => return Err(format!("range can't iterate over {}", other.to_go_string())),
        };
        if items.is_empty() {
            self.nodes(else_body, dot)?;
        }
        for (k, x) in items {
            let inner = self.vars.len();
            match p.decl.as_slice() {
                [e] => self.vars.push((e.clone(), x.clone())),
                [i, e] => {
                    self.vars.push((i.clone(), k));
                    self.vars.push((e.clone(), x.clone()));
                }
                _ => {}
            }
            self.nodes(body, &x)?;
            self.vars.truncate(inner);
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn var(&self, name: &str) -> Result<Value, String> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("undefined variable: ${name}"))
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, String> {
        let mut last: Option<Value> = None;
        for cmd in &p.cmds {
            last = Some(self.cmd(cmd, dot, last)?);
        }
        let v = last.unwrap_or(Value::Nil);
        if let Some(name) = p.decl.first() {
            if p.assign {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| format!("undefined variable: ${name}"))?;
                slot.1 = v.clone();
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        call_builtin(name, args)
            .unwrap_or_else(|| self.host.call(name, args))
            .map_err(|e| format!("error calling {name}: {e}"))
    }

    fn cmd(&mut self, ops: &[Operand], dot: &Value, piped: Option<Value>) -> Result<Value, String> {
        let Some(first) = ops.first() else {
            return Err("empty command".into());
        };
        let has_args = ops.len() > 1 || piped.is_some();
        let mut args = Vec::new();
        if has_args {
            for o in &ops[1..] {
                args.push(self.operand(o, dot)?);
            }
            if let Some(v) = piped {
                args.push(v);
            }
        }
        if let Term::Func(name) = &first.term {
            let r = self.call(name, &args)?;
            return self.fields(r, &first.fields, &[]);
        }
        if !has_args {
            return self.operand(first, dot);
        }
        // Arguments go to a method at the end of a field chain (`.Labels.Remove $names`).
        if first.fields.is_empty() {
            return Err("can't give argument to non-function".into());
        }
        let base = self.term(first, dot)?;
        self.fields(base, &first.fields, &args)
    }

    fn term(&mut self, o: &Operand, dot: &Value) -> Result<Value, String> {
        Ok(match &o.term {
            Term::Dot => dot.clone(),
            Term::Var(v) => self.var(v)?,
            Term::Lit(v) => v.clone(),
            Term::Sub(p) => self.pipe(p, dot)?,
            Term::Func(name) => self.call(name, &[])?,
        })
    }

    fn operand(&mut self, o: &Operand, dot: &Value) -> Result<Value, String> {
        let base = self.term(o, dot)?;
        self.fields(base, &o.fields, &[])
    }

    /// Follows a field chain; `args` go to the last element, which must then be a method.
    fn fields(&self, mut v: Value, names: &[String], args: &[Value]) -> Result<Value, String> {
        for (i, n) in names.iter().enumerate() {
            let a = if i + 1 == names.len() { args } else { &[] };
            let m = self
                .host
                .method(&v, n, a)
                .or_else(|| crate::gotime::time_method(&v, n, a));
            v = match m {
                Some(r) => r.map_err(|e| format!("error calling {n}: {e}"))?,
                None if !a.is_empty() => {
                    return Err(format!(
                        "{n} has arguments but cannot be invoked as function"
                    ))
                }
                None => v.field(n)?,
            };
        }
        Ok(v)
    }
}
