//! Tokens of LogQL, Go string literals, and the number, duration and byte-size literals of
//! label filters.

use super::LogqlError;

/// One token kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~`
    Nre,
    /// `==`
    EqEq,
    Gt,
    Ge,
    Lt,
    Le,
    /// `|=`
    PipeEq,
    /// `|~`
    PipeTilde,
    /// `|` alone
    Pipe,
    /// `|>` (false) or `!>` (true): pattern line filters.
    PatternFilter(bool),
    /// `--name`: a parser flag such as `--strict`.
    Flag(String),
    Ident(String),
    /// A string literal, unescaped.
    Str(String),
    /// A literal starting with a digit (or a sign and a digit): number, duration or byte size.
    Num(String),
    /// An arithmetic operator (`+ - * / % ^`): binary operations are refused by the parser.
    Arith(char),
    Eof,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

fn syntax(pos: usize, msg: impl Into<String>) -> LogqlError {
    LogqlError::Syntax {
        pos,
        msg: msg.into(),
    }
}

/// Splits `src` into tokens; the last one is [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, LogqlError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let pos = i;
        let two = |s: &[u8]| b[i..].starts_with(s);
        let (tok, len) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'[' => (Tok::LBrack, 1),
            b']' => (Tok::RBrack, 1),
            b',' => (Tok::Comma, 1),
            b'=' if two(b"==") => (Tok::EqEq, 2),
            b'=' if two(b"=~") => (Tok::Re, 2),
            b'=' => (Tok::Eq, 1),
            b'!' if two(b"!=") => (Tok::Neq, 2),
            b'!' if two(b"!~") => (Tok::Nre, 2),
            b'!' if two(b"!>") => (Tok::PatternFilter(true), 2),
            b'|' if two(b"|=") => (Tok::PipeEq, 2),
            b'|' if two(b"|~") => (Tok::PipeTilde, 2),
            b'|' if two(b"|>") => (Tok::PatternFilter(false), 2),
            b'|' => (Tok::Pipe, 1),
            b'>' if two(b">=") => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'<' if two(b"<=") => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'"' => {
                let (s, len) = go_quoted(src, i)?;
                (Tok::Str(s), len)
            }
            b'`' => match src[i + 1..].find('`') {
                Some(end) => (Tok::Str(src[i + 1..i + 1 + end].to_string()), end + 2),
                None => return Err(syntax(pos, "a backtick string is not closed")),
            },
            b'-' if two(b"--") => {
                let len = 2 + ident_len(&b[i + 2..], true);
                if len == 2 {
                    return Err(syntax(pos, "`--` must be followed by a flag name"));
                }
                (Tok::Flag(src[i + 2..i + len].to_string()), len)
            }
            b'+' | b'-' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let len = 1 + num_len(&src[i + 1..]);
                (Tok::Num(src[i..i + len].to_string()), len)
            }
            b'0'..=b'9' => {
                let len = num_len(&src[i..]);
                (Tok::Num(src[i..i + len].to_string()), len)
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let len = ident_len(&b[i..], false);
                (Tok::Ident(src[i..i + len].to_string()), len)
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' => (Tok::Arith(c as char), 1),
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(syntax(pos, format!("unexpected character {ch:?}")));
            }
        };
        out.push(Token { tok, pos });
        i += len;
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

/// Length of an identifier (`[a-zA-Z0-9_]`), or of a flag name when `dash` (`keep-empty`).
fn ident_len(b: &[u8], dash: bool) -> usize {
    b.iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || (dash && **c == b'-'))
        .count()
}

/// Length of a number-like literal: digits, letters, `.` and `µ` (`1h30m`, `1.5s`, `20KiB`).
fn num_len(s: &str) -> usize {
    s.char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '.' || *c == 'µ'))
        .map(|(i, _)| i)
        .unwrap_or(s.len())
}

/// Unquotes a Go double-quoted string starting at byte `start` (the opening quote); returns
/// the text and the literal's length in bytes.
pub(crate) fn go_quoted(src: &str, start: usize) -> Result<(String, usize), LogqlError> {
    let mut out = String::new();
    let mut it = src[start + 1..].char_indices();
    while let Some((off, c)) = it.next() {
        let at = start + 1 + off;
        match c {
            '"' => return Ok((out, off + 2)),
            '\n' => return Err(syntax(at, "a string literal may not contain a newline")),
            '\\' => {
                let Some((_, e)) = it.next() else { break };
                let simple = match e {
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\x0b'),
                    '\\' => Some('\\'),
                    '"' => Some('"'),
                    _ => None,
                };
                if let Some(ch) = simple {
                    out.push(ch);
                    continue;
                }
                let (digits, radix) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (2, 8),
                    _ => return Err(syntax(at, format!("unknown escape sequence `\\{e}`"))),
                };
                let mut text = String::new();
                if radix == 8 {
                    text.push(e);
                }
                for _ in 0..digits {
                    match it.next() {
                        Some((_, d)) if d.is_digit(radix) => text.push(d),
                        _ => return Err(syntax(at, "an escape sequence is cut short")),
                    }
                }
                let n = u32::from_str_radix(&text, radix)
                    .map_err(|_| syntax(at, "an escape sequence is not a number"))?;
                if e == 'x' || radix == 8 {
                    // Go puts raw bytes; only the ASCII ones make valid UTF-8 on their own.
                    match u8::try_from(n) {
                        Ok(byte) if byte.is_ascii() => out.push(byte as char),
                        _ => {
                            return Err(syntax(at, "a byte escape above \\x7f is not valid UTF-8"))
                        }
                    }
                } else {
                    match char::from_u32(n) {
                        Some(ch) => out.push(ch),
                        None => return Err(syntax(at, "a unicode escape names no character")),
                    }
                }
            }
            _ => out.push(c),
        }
    }
    Err(syntax(start, "a string literal is not closed"))
}

/// Parses a Go duration (`1h30m`, `1.5s`, `250ms`, `10us`, `-3s`) into seconds.
pub(crate) fn go_duration_secs(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * scale;
    }
    Some(if neg { -total } else { total })
}

/// Parses a byte size as Loki's label filters take it (`20KB`, `1.5MiB`, `42`, `10 b`): SI
/// units are powers of 1000, IEC units (`KiB`) powers of 1024; units are case-insensitive.
pub(crate) fn byte_size(s: &str) -> Option<f64> {
    let n = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let num: f64 = s[..n].parse().ok()?;
    let unit = s[n..].trim().to_ascii_lowercase();
    let scale = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "ki" | "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mi" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "ti" | "tib" => 1024f64.powi(4),
        "p" | "pb" => 1e15,
        "pi" | "pib" => 1024f64.powi(5),
        _ => return None,
    };
    Some(num * scale)
}

/// True for the operators a label filter may use.
pub(crate) fn is_cmp(t: &Tok) -> bool {
    matches!(
        t,
        Tok::Eq | Tok::Neq | Tok::Re | Tok::Nre | Tok::EqEq | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le
    )
}

/// A token as an error message names it.
pub(crate) fn describe(t: &Tok) -> String {
    match t {
        Tok::Eof => "the end of the query".into(),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Str(s) => format!("the string {s:?}"),
        Tok::Num(s) => format!("`{s}`"),
        Tok::Flag(s) => format!("`--{s}`"),
        Tok::Arith(c) => format!("`{c}`"),
        other => {
            let s = match other {
                Tok::LBrace => "{",
                Tok::RBrace => "}",
                Tok::LParen => "(",
                Tok::RParen => ")",
                Tok::LBrack => "[",
                Tok::RBrack => "]",
                Tok::Comma => ",",
                Tok::Eq => "=",
                Tok::Neq => "!=",
                Tok::Re => "=~",
                Tok::Nre => "!~",
                Tok::EqEq => "==",
                Tok::Gt => ">",
                Tok::Ge => ">=",
                Tok::Lt => "<",
                Tok::Le => "<=",
                Tok::PipeEq => "|=",
                Tok::PipeTilde => "|~",
                Tok::Pipe => "|",
                _ => "|>",
            };
            format!("`{s}`")
        }
    }
}
