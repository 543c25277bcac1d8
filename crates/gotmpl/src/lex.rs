//! The lexer for the inside of one `{{ action }}`: identifiers, `.Field`s, `$vars`, quoted
//! and raw strings, numbers, parentheses, `|`, `:=`, `=` and `,`.

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
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
pub(crate) type Spaced = (Tok, bool);

pub(crate) fn lex_action(src: &str) -> Result<Vec<Spaced>, String> {
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
