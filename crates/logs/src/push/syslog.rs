//! Syslog: RFC 5424 and RFC 3164 messages, and the TCP framings of RFC 6587.
//!
//! Messages read:
//!
//! - RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD…] MSG`, a leading byte-order
//!   mark stripped from MSG;
//! - RFC 3164: `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, the year taken from `now` (last
//!   year when that would put the message more than a day ahead) and the time read as UTC;
//! - rsyslog's forwarding formats, `<PRI>TIMESTAMP HOST TAG MSG` with an RFC 3339 time;
//! - anything else after a `<PRI>`: the whole text is the line, at `now`.
//!
//! Each record gets the labels `facility` (`kern`, `user`, … `local7`), `level` (`emerg`,
//! `alert`, `crit`, `error`, `warning`, `notice`, `info`, `debug`), and `host` and `app` (the
//! APP-NAME or TAG) when the message has them. Structured metadata: `procid` (or the TAG's
//! PID), `msgid`, and each structured-data parameter as `<SD-ID>_<name>` made a label name
//! (`[origin@123 ip="10.0.0.1"]` → `origin_123_ip`). The line is MSG; bytes that are not
//! UTF-8 are replaced with U+FFFD.
//!
//! [`SyslogFramer`] cuts a TCP byte stream into messages, by octet counting
//! (`57 <13>1 …`) or by newlines, whichever each frame starts with.

use super::{check_line, make_labels, normalize_name, short, DecodeLimits};
use crate::record::{Decoded, LogRecord, Refusal};
use chrono::{DateTime, Datelike, NaiveDate};

#[path = "syslog_framer.rs"]
mod framer;
pub use framer::{FrameError, SyslogFramer};

/// Why a syslog message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SyslogError {
    /// What is wrong, for a refusal.
    pub reason: String,
}

impl SyslogError {
    fn new(reason: impl Into<String>) -> SyslogError {
        SyslogError {
            reason: reason.into(),
        }
    }
}

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses one syslog message (a frame without its framing) with the default limits.
///
/// ```
/// use argus_logs::push::parse_syslog;
/// let r = parse_syslog(b"<30>Dec  6 10:00:00 web1 sshd[123]: Accepted publickey", 0).unwrap();
/// assert_eq!(r.labels.get("app"), Some("sshd"));
/// assert_eq!(r.labels.get("level"), Some("info"));
/// assert_eq!(r.line, "Accepted publickey");
/// ```
pub fn parse_syslog(frame: &[u8], now_ns: i64) -> Result<LogRecord, SyslogError> {
    parse_syslog_with(frame, now_ns, &DecodeLimits::default())
}

/// Parses one syslog message, refusing lines and labels over `limits`.
pub fn parse_syslog_with(
    frame: &[u8],
    now_ns: i64,
    limits: &DecodeLimits,
) -> Result<LogRecord, SyslogError> {
    let mut frame = frame;
    while let [rest @ .., b'\n' | b'\r' | 0] = frame {
        frame = rest;
    }
    let (pri, rest) = priority(frame)?;
    let text = String::from_utf8_lossy(rest);
    let mut m = if is_5424(&text) {
        rfc5424(&text, now_ns)?
    } else {
        rfc3164(&text, now_ns)?
    };
    let mut pairs = vec![
        (
            "facility".to_string(),
            FACILITIES[usize::from(pri / 8)].to_string(),
        ),
        (
            "level".to_string(),
            LEVELS[usize::from(pri % 8)].to_string(),
        ),
    ];
    if let Some(h) = m.host.take() {
        pairs.push(("host".to_string(), h));
    }
    if let Some(a) = m.app.take() {
        pairs.push(("app".to_string(), a));
    }
    // rsyslog's %msg% keeps the space that followed the tag's colon; it is not part of the text.
    if let Some(rest) = m.line.strip_prefix(' ') {
        m.line = rest.to_string();
    }
    check_line(&m.line, limits).map_err(SyslogError::new)?;
    Ok(LogRecord {
        labels: make_labels(pairs, limits).map_err(SyslogError::new)?,
        ts_ns: m.ts_ns,
        line: m.line,
        metadata: m.metadata,
    })
}

/// Cuts `body` into frames (octet counting or newlines) and parses each; a frame that
/// cannot be read is refused as "frame N" and the rest are kept.
pub fn decode_syslog(body: &[u8], now_ns: i64, limits: &DecodeLimits) -> Decoded {
    let mut framer = SyslogFramer::new(limits.max_line_bytes.saturating_add(1024));
    framer.push(body);
    let mut out = Decoded::default();
    let mut n = 0;
    let mut take = |f: Result<Vec<u8>, FrameError>, out: &mut Decoded| {
        n += 1;
        let at = format!("frame {n}");
        match f
            .map_err(|e| e.to_string())
            .and_then(|f| parse_syslog_with(&f, now_ns, limits).map_err(|e| e.reason))
        {
            Ok(r) => out.records.push(r),
            Err(reason) => out.refused.push(Refusal::new(at, reason)),
        }
    };
    while let Some(f) = framer.next_frame() {
        take(f, &mut out);
    }
    if let Some(f) = framer.finish() {
        take(f, &mut out);
    }
    out
}

/// `<PRI>`: the priority (0 to 191) and the bytes after it.
fn priority(frame: &[u8]) -> Result<(u8, &[u8]), SyslogError> {
    let no_pri = || SyslogError::new("the message does not start with a <PRI> such as <13>");
    let rest = frame.strip_prefix(b"<").ok_or_else(no_pri)?;
    let end = rest
        .iter()
        .take(4)
        .position(|&b| b == b'>')
        .ok_or_else(no_pri)?;
    let digits = &rest[..end];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(no_pri());
    }
    let pri: u32 = digits.iter().fold(0, |a, &d| a * 10 + u32::from(d - b'0'));
    match u8::try_from(pri) {
        Ok(p) if p <= 191 => Ok((p, &rest[end + 1..])),
        _ => Err(SyslogError::new(format!(
            "the priority <{pri}> is over 191 (facility 23, severity 7)"
        ))),
    }
}

/// RFC 5424 has a version (`1`) and a space after the `<PRI>`.
fn is_5424(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    (1..=2).contains(&digits) && b.get(digits) == Some(&b' ')
}

struct Message {
    ts_ns: i64,
    host: Option<String>,
    app: Option<String>,
    line: String,
    metadata: Vec<(String, String)>,
}

/// The next space-separated field and the text after its space.
fn field(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

fn nil(s: &str) -> Option<String> {
    (s != "-" && !s.is_empty()).then(|| s.to_string())
}

fn rfc3339(s: &str) -> Result<i64, SyslogError> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            SyslogError::new(format!(
                "the timestamp \"{}\" is not an RFC 3339 time",
                short(s, 64)
            ))
        })
}

fn rfc5424(text: &str, now_ns: i64) -> Result<Message, SyslogError> {
    let (_version, rest) = field(text);
    let (ts, rest) = field(rest);
    let (host, rest) = field(rest);
    let (app, rest) = field(rest);
    let (procid, rest) = field(rest);
    let (msgid, rest) = field(rest);
    let ts_ns = if ts == "-" { now_ns } else { rfc3339(ts)? };
    let mut metadata = Vec::new();
    if let Some(p) = nil(procid) {
        metadata.push(("procid".to_string(), p));
    }
    if let Some(m) = nil(msgid) {
        metadata.push(("msgid".to_string(), m));
    }
    let rest = if let Some(r) = rest.strip_prefix('-') {
        r
    } else if rest.starts_with('[') {
        structured_data(rest, &mut metadata)?
    } else if rest.is_empty() {
        rest
    } else {
        return Err(SyslogError::new(
            "the structured data is neither '-' nor [elements]",
        ));
    };
    let msg = rest.strip_prefix(' ').unwrap_or(rest);
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    Ok(Message {
        ts_ns,
        host: nil(host),
        app: nil(app),
        line: msg.to_string(),
        metadata,
    })
}

/// `[id name="value" …][id2 …]`: the parameters into `meta`; returns the text after.
fn structured_data<'a>(
    mut s: &'a str,
    meta: &mut Vec<(String, String)>,
) -> Result<&'a str, SyslogError> {
    let bad = |what: &str| SyslogError::new(format!("the structured data {what}"));
    while let Some(r) = s.strip_prefix('[') {
        let id_end = r
            .find([' ', ']'])
            .ok_or_else(|| bad("has an element without ']'"))?;
        let id = &r[..id_end];
        if id.is_empty() {
            return Err(bad("has an element without an id"));
        }
        let mut r = &r[id_end..];
        loop {
            if let Some(after) = r.strip_prefix(']') {
                s = after;
                break;
            }
            r = r.trim_start_matches(' ');
            let eq = r
                .find('=')
                .ok_or_else(|| bad("has a parameter without '='"))?;
            let name = &r[..eq];
            r = r[eq + 1..]
                .strip_prefix('"')
                .ok_or_else(|| bad("has a parameter value without quotes"))?;
            let mut value = String::new();
            let mut chars = r.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(bad("has a parameter value without its closing quote")),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c @ ('"' | '\\' | ']'))) => value.push(c),
                        Some((_, c)) => {
                            value.push('\\');
                            value.push(c);
                        }
                        None => return Err(bad("has a parameter value without its closing quote")),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            meta.push((normalize_name(&format!("{id}_{name}")), value));
            r = &r[end + 1..];
        }
    }
    Ok(s)
}

fn rfc3164(text: &str, now_ns: i64) -> Result<Message, SyslogError> {
    let (first, after_first) = field(text);
    // rsyslog forwarding formats: an RFC 3339 time first.
    let (ts_ns, rest) = if first.len() >= 19 && first.as_bytes()[10] == b'T' {
        (rfc3339(first)?, after_first)
    } else if let Some((ts, rest)) = bsd_time(text, now_ns) {
        (ts, rest)
    } else {
        return Ok(Message {
            ts_ns: now_ns,
            host: None,
            app: None,
            line: text.to_string(),
            metadata: Vec::new(),
        });
    };
    let (host_field, after_host) = field(rest);
    // A local sender may leave the host out: then the first field is the tag.
    let (host, rest) = if tag(host_field).is_some() {
        (None, rest)
    } else {
        (nil(host_field), after_host)
    };
    let (tag_field, after_tag) = field(rest);
    let mut metadata = Vec::new();
    let (app, line) = match tag(tag_field) {
        Some((app, pid)) => {
            if let Some(p) = pid {
                metadata.push(("procid".to_string(), p.to_string()));
            }
            (nil(app), after_tag)
        }
        None => (None, rest),
    };
    Ok(Message {
        ts_ns,
        host,
        app,
        line: line.to_string(),
        metadata,
    })
}

/// `sshd[123]:`, `sshd:` or `sshd[123]`: the name and the PID.
fn tag(s: &str) -> Option<(&str, Option<&str>)> {
    let (s, colon) = match s.strip_suffix(':') {
        Some(t) => (t, true),
        None => (s, false),
    };
    let (name, pid) = match s.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((name, pid)) => (name, Some(pid)),
        None if colon => (s, None),
        None => return None,
    };
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.contains(['[', ']', ':'])
        && pid.is_none_or(|p| !p.is_empty() && p.len() <= 32);
    ok.then_some((name, pid))
}

/// `Mmm dd hh:mm:ss ` (day padded with a space or a zero): the time, its year from `now`.
fn bsd_time(text: &str, now_ns: i64) -> Option<(i64, &str)> {
    let month = MONTHS.iter().position(|m| text.starts_with(m))? as u32 + 1;
    let r = text.get(3..)?.strip_prefix(' ')?;
    let r = r.strip_prefix(' ').unwrap_or(r);
    let day_len = r.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let day: u32 = r[..day_len].parse().ok()?;
    let r = r[day_len..].strip_prefix(' ')?;
    let clock = r.get(..8)?;
    let b = clock.as_bytes();
    if b[2] != b':' || b[5] != b':' {
        return None;
    }
    let num = |i: usize| clock.get(i..i + 2)?.parse::<u32>().ok();
    let (h, mi, sec) = (num(0)?, num(3)?, num(6)?);
    let mut r = &r[8..];
    // Some senders add fractions of a second.
    let mut nanos = 0u32;
    if let Some(frac) = r.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if (1..=9).contains(&n) {
            nanos = frac[..n].parse::<u32>().ok()? * 10u32.pow(9 - n as u32);
            r = &frac[n..];
        }
    }
    let r = match r.strip_prefix(' ') {
        Some(r) => r,
        None if r.is_empty() => r,
        None => return None,
    };
    let now_year = DateTime::from_timestamp_nanos(now_ns).year();
    let at = |year: i32| {
        NaiveDate::from_ymd_opt(year, month, day)?
            .and_hms_nano_opt(h, mi, sec, nanos)?
            .and_utc()
            .timestamp_nanos_opt()
    };
    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    let ts = match at(now_year) {
        Some(t) if t <= now_ns.saturating_add(DAY_NS) => t,
        this_year => at(now_year - 1).or(this_year)?,
    };
    Some((ts, r))
}

#[cfg(test)]
#[path = "syslog_tests.rs"]
mod tests;
