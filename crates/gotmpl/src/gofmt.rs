//! Go's `fmt` number formatting (`%v`, `%g`, `%e`, `%f`) and a `printf` subset,
//! so template output matches what Prometheus prints byte for byte.

use super::value::Value;

/// Decimal digits of a finite, non-negative float: `digits` without trailing
/// zeros and the decimal point position `dp` (value = 0.digits × 10^dp).
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

/// `prec` significant digits (`None`: the shortest round-trip form).
fn digits(v: f64, prec: Option<usize>) -> Digits {
    let s = match prec {
        Some(p) => format!("{:.*e}", p.saturating_sub(1), v),
        None => format!("{v:e}"),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
    if d == [b'0'] {
        return Digits { d, dp: 1 };
    }
    Digits { d, dp: exp + 1 }
}

fn fmt_e(out: &mut String, dg: &Digits, prec: usize, upper: bool) {
    out.push(dg.d[0] as char);
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(*dg.d.get(i).unwrap_or(&b'0') as char);
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if dg.d == [b'0'] { 0 } else { dg.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
}

fn fmt_f(out: &mut String, dg: &Digits, prec: usize) {
    if dg.dp > 0 {
        for i in 0..dg.dp as usize {
            out.push(*dg.d.get(i).unwrap_or(&b'0') as char);
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i32 {
            let j = dg.dp + i;
            let c = if j < 0 {
                b'0'
            } else {
                *dg.d.get(j as usize).unwrap_or(&b'0')
            };
            out.push(c as char);
        }
    }
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// Go's `%g` with precision `prec` (`None`: `%v`, the shortest round-trip
/// digits, in exponent form when the decimal exponent is below -4 or at least 6).
pub fn fmt_g(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let mut out = String::new();
    if v.is_sign_negative() && v != 0.0 {
        out.push('-');
    }
    let a = v.abs();
    let p = prec.map(|p| p.max(1));
    let dg = digits(a, p);
    let nd = dg.d.len() as i32;
    let (mut eprec, shortest) = match p {
        Some(p) => (p as i32, false),
        None => (nd, true),
    };
    if eprec > nd && nd >= dg.dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dg.dp - 1;
    let mut pr = p.map(|p| p as i32).unwrap_or(nd);
    if exp < -4 || exp >= eprec {
        if pr > nd {
            pr = nd;
        }
        fmt_e(&mut out, &dg, (pr - 1).max(0) as usize, false);
        return out;
    }
    if pr > dg.dp {
        pr = nd;
    }
    fmt_f(&mut out, &dg, (pr - dg.dp).max(0) as usize);
    out
}

/// Go's `%v` for a float64: `strconv.FormatFloat(v, 'g', -1, 64)`, so `1e+06`, `123456`, `0.5`.
pub fn fmt_v(v: f64) -> String {
    fmt_g(v, None)
}

/// Go's `%e` with precision `prec` (default 6).
pub fn fmt_exp(v: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let mut out = String::new();
    if v.is_sign_negative() && v != 0.0 {
        out.push('-');
    }
    let dg = digits(v.abs(), Some(prec + 1));
    fmt_e(&mut out, &dg, prec, upper);
    out
}

/// Go's `%f` with precision `prec`.
pub fn fmt_fixed(v: f64, prec: usize) -> String {
    special(v).unwrap_or_else(|| format!("{v:.prec$}"))
}

fn quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn pad(s: String, width: Option<usize>, left: bool, zero: bool) -> String {
    let Some(w) = width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        let (sign, rest) = match s.strip_prefix('-') {
            Some(r) => ("-", r.to_string()),
            None => ("", s.clone()),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %f %F %e %E %g %G %x %X %t %%`,
/// with flags `-+ 0`, width and precision. Missing or extra operands are
/// reported inline the way Go does (`%!d(MISSING)`, `%!(EXTRA ...)`).
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = format.chars().peekable();
    let mut ai = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut plus, mut zero, mut space) = (false, false, false, false);
        while let Some(&f) = it.peek() {
            match f {
                '-' => left = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            it.next();
        }
        let mut width = None;
        while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            it.next();
        }
        let mut prec = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = 0;
            while let Some(d) = it.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                it.next();
            }
            prec = Some(p);
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(ai) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        ai += 1;
        let mut s = format_arg(verb, arg, prec);
        if !s.starts_with('-') && matches!(arg, Value::Float(_) | Value::Int(_)) {
            if plus {
                s.insert(0, '+');
            } else if space {
                s.insert(0, ' ');
            }
        }
        out.push_str(&pad(s, width, left, zero && !left));
    }
    if ai < args.len() {
        let extra: Vec<String> = args[ai..]
            .iter()
            .map(|a| format!("{}={}", a.go_type(), a.to_go_string()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn format_arg(verb: char, arg: &Value, prec: Option<usize>) -> String {
    let bad = || format!("%!{verb}({}={})", arg.go_type(), arg.to_go_string());
    match (verb, arg) {
        ('v', _) | ('s', Value::Str(_)) => {
            let s = arg.to_go_string();
            match (verb, prec) {
                ('s', Some(p)) => s.chars().take(p).collect(),
                _ => s,
            }
        }
        ('q', Value::Str(s)) => quote(s),
        ('t', Value::Bool(b)) => b.to_string(),
        ('d', Value::Int(i)) => i.to_string(),
        ('x', Value::Int(i)) => format!("{i:x}"),
        ('X', Value::Int(i)) => format!("{i:X}"),
        ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('f' | 'F', Value::Float(_) | Value::Int(_)) => fmt_fixed(num(arg), prec.unwrap_or(6)),
        ('e' | 'E', Value::Float(_) | Value::Int(_)) => {
            fmt_exp(num(arg), prec.unwrap_or(6), verb == 'E')
        }
        ('g', Value::Float(_) | Value::Int(_)) => fmt_g(num(arg), prec),
        ('G', Value::Float(_) | Value::Int(_)) => fmt_g(num(arg), prec).to_uppercase(),
        _ => bad(),
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_forms() {
        assert_eq!(fmt_v(0.5), "0.5");
        assert_eq!(fmt_v(1e6), "1e+06");
        assert_eq!(fmt_v(123456.0), "123456");
        assert_eq!(fmt_v(1234567.0), "1.234567e+06");
        assert_eq!(fmt_v(0.0001), "0.0001");
        assert_eq!(fmt_v(0.00001), "1e-05");
        assert_eq!(fmt_v(-2.0), "-2");
        assert_eq!(fmt_v(f64::INFINITY), "+Inf");
        assert_eq!(fmt_g(1.5, Some(4)), "1.5");
        assert_eq!(fmt_g(1000.0, Some(4)), "1000");
        assert_eq!(fmt_g(12345.0, Some(4)), "1.234e+04");
        assert_eq!(fmt_g(100000.0, Some(4)), "1e+05");
        assert_eq!(fmt_g(0.0, Some(4)), "0");
        assert_eq!(fmt_g(1.2345678, Some(4)), "1.235");
        assert_eq!(fmt_exp(1234.5, 2, false), "1.23e+03");
    }

    #[test]
    fn printf_subset() {
        let f = |s: &str, a: &[Value]| sprintf(s, a);
        assert_eq!(f("%.2f%%", &[Value::Float(12.345)]), "12.35%");
        assert_eq!(f("%d items", &[Value::Int(3)]), "3 items");
        assert_eq!(
            f("%5s|%-4s|", &[Value::from("ab"), Value::from("c")]),
            "   ab|c   |"
        );
        assert_eq!(f("%q", &[Value::from("a\"b")]), "\"a\\\"b\"");
        assert_eq!(
            f("%v %v", &[Value::Float(1e6), Value::Bool(true)]),
            "1e+06 true"
        );
        assert_eq!(f("%d", &[]), "%!d(MISSING)");
        assert_eq!(f("%d", &[Value::Float(1.5)]), "%!d(float64=1.5)");
        assert_eq!(f("%05.1f", &[Value::Float(-2.25)]), "-02.2");
    }
}
