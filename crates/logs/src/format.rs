//! Header formats in Loghub's convention: `<Name>` is a field (as few
//! characters as possible, possibly none), the text between fields is a
//! regular-expression fragment whose runs of spaces match any run of
//! whitespace, the pattern is anchored at both ends of the trimmed line, and
//! `<Content>` (the message) comes last. A line that does not match keeps
//! its whole trimmed text as its content.
//!
//! ```
//! use argus_logs::format::Format;
//! let f = Format::parse(r"<Date> <Time> <Level> <Component>: <Content>").unwrap();
//! let line = "17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn,curi";
//! assert_eq!(f.content(line), "Changing view acls to: yarn,curi");
//! assert_eq!(f.field(line, "Level"), Some("INFO"));
//! assert_eq!(f.content("  no header here "), "no header here");
//! ```

use regex::Regex;
use skeleton::Op;

/// A format that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// It has no `<Content>` field, or a field after it.
    #[error("the format must end with the <Content> field: {0:?}")]
    NoContent(String),
    /// A field name is not a name.
    #[error("field <{0}> is not a name (letters, digits and _)")]
    BadField(String),
    /// The pattern it makes is not a regular expression.
    #[error("the format is not a valid pattern: {0}")]
    Pattern(String),
}

/// A compiled header format.
#[derive(Debug, Clone)]
pub struct Format {
    re: Regex,
    fields: Vec<String>,
    /// When every text between fields is a pattern of its own: the text
    /// before the first field, then the one after each field but the last.
    /// The message is found by matching them in turn, each at its first
    /// place (what the lazy fields of the whole pattern choose), falling
    /// back to the whole pattern when one is missing.
    seps: Option<Vec<Regex>>,
    /// The format as a small program (literal text, runs of whitespace,
    /// lazy fields and optional groups) that a backtracking search runs in
    /// the whole pattern's order of preference, without the regex engine;
    /// `None` when the texts between fields use other pattern syntax.
    skeleton: Option<Vec<Op>>,
}

impl Format {
    /// Compiles a Loghub-style format string.
    pub fn parse(fmt: &str) -> Result<Format, FormatError> {
        let mut pattern = String::from("^");
        let mut fields = Vec::new();
        let mut literals: Vec<String> = Vec::new();
        let mut pieces: Vec<(&str, Option<bool>)> = Vec::new();
        let mut rest = fmt.trim();
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>') else {
                break;
            };
            pattern.push_str(&literal(&rest[..open]));
            literals.push(literal(&rest[..open]));
            pieces.push((&rest[..open], None));
            let name = &rest[open + 1..open + close];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(FormatError::BadField(name.to_string()));
            }
            if name == "Content" {
                pattern.push_str("(?P<Content>.*?)");
            } else {
                pattern.push_str(&format!("(?P<{name}>.*?)"));
            }
            fields.push(name.to_string());
            pieces.push(("", Some(name == "Content")));
            rest = &rest[open + close + 1..];
        }
        pieces.push((rest, None));
        pattern.push_str(&literal(rest));
        pattern.push('$');
        if fields.last().map(String::as_str) != Some("Content") {
            return Err(FormatError::NoContent(fmt.to_string()));
        }
        let re = Regex::new(&format!("(?s){pattern}"))
            .map_err(|e| FormatError::Pattern(e.to_string()))?;
        let seps = if rest.trim().is_empty() {
            literals
                .iter()
                .map(|l| Regex::new(&format!("(?s){l}")).ok())
                .collect::<Option<Vec<Regex>>>()
        } else {
            None
        };
        let skeleton = skeleton::compile(&pieces);
        Ok(Format {
            re,
            fields,
            seps,
            skeleton,
        })
    }

    /// Where the message starts, by matching the texts between fields in
    /// turn; `None` when one is missing (the whole pattern decides then).
    fn content_start(&self, t: &str) -> Option<usize> {
        let seps = self.seps.as_ref()?;
        let (first, rest) = seps.split_first()?;
        let m = first.find_at(t, 0)?;
        if m.start() != 0 {
            return None;
        }
        let mut pos = m.end();
        for sep in rest {
            pos = sep.find_at(t, pos)?.end();
        }
        Some(pos)
    }

    /// The field names, in order (`Content` last).
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The message part of `line`: `<Content>`, or the whole trimmed line
    /// when the header does not match.
    pub fn content<'a>(&self, line: &'a str) -> &'a str {
        let t = line.trim();
        if let Some(prog) = &self.skeleton {
            match skeleton::content_start(prog, t) {
                Ok(Some(range)) => return &t[range],
                Ok(None) => return t,
                Err(skeleton::TooLong) => {}
            }
        } else if let Some(start) = self.content_start(t) {
            return &t[start..];
        }
        match self.re.captures(t).and_then(|c| c.name("Content")) {
            Some(m) => m.as_str(),
            None => t,
        }
    }

    /// The value of header field `name` in `line`, when the header matches.
    pub fn field<'a>(&self, line: &'a str, name: &str) -> Option<&'a str> {
        let t = line.trim();
        self.re
            .captures(t)
            .and_then(|c| c.name(name))
            .map(|m| m.as_str())
    }
}

/// A text between fields as a pattern: kept as the user wrote it (it is a
/// regular-expression fragment), with each run of spaces matching any run of
/// whitespace.
fn literal(s: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    for c in s.chars() {
        if c == ' ' {
            if !in_space {
                out.push_str(r"\s+");
            }
            in_space = true;
        } else {
            in_space = false;
            out.push(c);
        }
    }
    out
}

/// The header split without the regex engine: the format as a program run
/// by a backtracking search that tries the alternatives in the order the
/// whole pattern prefers them (fields as short as possible, runs of
/// whitespace as long as possible, an optional group taken before it is
/// skipped), so its first success is the match the regex reports.
mod skeleton {
    use std::ops::Range;

    /// One step of the program.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) enum Op {
        /// This exact text.
        Lit(String),
        /// One or more whitespace characters (`\s+`).
        Ws,
        /// A field (`.*?`); `true` for `<Content>`.
        Field(bool),
        /// An optional group: what follows it first, else the op at this index.
        Opt(usize),
        /// The end of the line.
        End,
    }

    /// The search took too many steps: the regex decides.
    #[derive(Debug)]
    pub(super) struct TooLong;

    /// The program of a format's pieces (texts between fields, and fields
    /// with whether they are `<Content>`); `None` when a text uses pattern
    /// syntax other than escaped punctuation and `(…)?` groups, or when
    /// `<Content>` is inside a group.
    pub(super) fn compile(pieces: &[(&str, Option<bool>)]) -> Option<Vec<Op>> {
        let mut prog = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut barrier = 0;
        for &(text, field) in pieces {
            if let Some(content) = field {
                if content && !open.is_empty() {
                    return None;
                }
                prog.push(Op::Field(content));
                continue;
            }
            let mut chars = text.chars().peekable();
            let mut in_space = false;
            while let Some(c) = chars.next() {
                if c == ' ' {
                    if !in_space {
                        prog.push(Op::Ws);
                    }
                    in_space = true;
                    continue;
                }
                in_space = false;
                match c {
                    '\\' => {
                        let e = chars.next()?;
                        if !e.is_ascii_punctuation() || matches!(e, '<' | '>') {
                            return None;
                        }
                        push_char(&mut prog, barrier, e);
                    }
                    '(' => {
                        if chars.peek() == Some(&'?') {
                            return None;
                        }
                        open.push(prog.len());
                        prog.push(Op::Opt(0));
                    }
                    ')' => {
                        if chars.next() != Some('?')
                            || matches!(chars.peek(), Some('?' | '+' | '*' | '{'))
                        {
                            return None;
                        }
                        let at = open.pop()?;
                        prog[at] = Op::Opt(prog.len());
                        // The op after the group is a jump target: its own.
                        barrier = prog.len();
                    }
                    '.' | '+' | '*' | '?' | '|' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
                    c => push_char(&mut prog, barrier, c),
                }
            }
        }
        if !open.is_empty() {
            return None;
        }
        prog.push(Op::End);
        Some(prog)
    }

    /// Appends `c` to the text op at the end, or to a new one when there is
    /// none or it starts at `barrier` (where a group's jump lands).
    fn push_char(prog: &mut Vec<Op>, barrier: usize, c: char) {
        if let (true, Some(Op::Lit(s))) = (prog.len() > barrier, prog.last_mut()) {
            s.push(c);
        } else {
            prog.push(Op::Lit(c.to_string()));
        }
    }

    /// Where `<Content>` is in `t` when the program matches all of it;
    /// `Ok(None)` when it does not match.
    pub(super) fn content_start(prog: &[Op], t: &str) -> Result<Option<Range<usize>>, TooLong> {
        let mut s = Search {
            prog,
            t,
            steps: 0,
            limit: 256 + 16 * t.len(),
            content: 0..0,
        };
        Ok(s.run(0, 0)?.then_some(s.content))
    }

    struct Search<'a> {
        prog: &'a [Op],
        t: &'a str,
        steps: usize,
        limit: usize,
        /// Where `<Content>` was last entered and left: on the path that
        /// succeeds, the last ones are its own (the field is last and outside
        /// groups).
        content: Range<usize>,
    }

    fn char_len(t: &str, at: usize) -> usize {
        t[at..].chars().next().map_or(1, char::len_utf8)
    }

    impl Search<'_> {
        fn run(&mut self, mut pc: usize, mut pos: usize) -> Result<bool, TooLong> {
            let t = self.t;
            loop {
                self.steps += 1;
                if self.steps > self.limit {
                    return Err(TooLong);
                }
                match &self.prog[pc] {
                    Op::Lit(s) => {
                        if !t[pos..].starts_with(s.as_str()) {
                            return Ok(false);
                        }
                        pos += s.len();
                        pc += 1;
                    }
                    Op::Ws => {
                        let mut end = t.len() - t[pos..].trim_start().len();
                        while end > pos {
                            if self.run(pc + 1, end)? {
                                return Ok(true);
                            }
                            end -= t[..end].chars().next_back().map_or(1, char::len_utf8);
                        }
                        return Ok(false);
                    }
                    Op::Opt(alt) => {
                        if self.run(pc + 1, pos)? {
                            return Ok(true);
                        }
                        pc = *alt;
                    }
                    Op::End => return Ok(pos == t.len()),
                    Op::Field(content) => {
                        if *content {
                            self.content.start = pos;
                        }
                        return self.field(pc + 1, pos, *content);
                    }
                }
            }
        }

        /// The program from `next` at `q`, where a field ends (`<Content>`
        /// when `content`).
        fn end_at(&mut self, next: usize, q: usize, content: bool) -> Result<bool, TooLong> {
            let ok = self.run(next, q)?;
            if ok && content {
                self.content.end = q;
            }
            Ok(ok)
        }

        /// A field from `pos`, then the program from `next`: each end of
        /// the field in turn, shortest first, skipping the ends where the
        /// next step cannot match.
        fn field(&mut self, next: usize, pos: usize, content: bool) -> Result<bool, TooLong> {
            let t = self.t;
            match &self.prog[next] {
                Op::End => self.end_at(next, t.len(), content),
                Op::Lit(s) => {
                    let mut q = pos;
                    let one = match s.as_bytes() {
                        &[b] if b.is_ascii() => Some(char::from(b)),
                        _ => None,
                    };
                    let find = |q: usize| match one {
                        Some(c) => t[q..].find(c),
                        None => t[q..].find(s.as_str()),
                    };
                    while let Some(i) = find(q) {
                        if self.end_at(next, q + i, content)? {
                            return Ok(true);
                        }
                        q += i + char_len(t, q + i);
                    }
                    Ok(false)
                }
                Op::Ws => {
                    let b = t.as_bytes();
                    let mut q = pos;
                    while q < b.len() {
                        let (ws, len) = if b[q].is_ascii() {
                            (matches!(b[q], b'\t'..=b'\r' | b' '), 1)
                        } else {
                            t[q..]
                                .chars()
                                .next()
                                .map_or((false, 1), |c| (c.is_whitespace(), c.len_utf8()))
                        };
                        if ws && self.end_at(next, q, content)? {
                            return Ok(true);
                        }
                        q += len;
                    }
                    Ok(false)
                }
                _ => {
                    let mut q = pos;
                    loop {
                        if self.end_at(next, q, content)? {
                            return Ok(true);
                        }
                        if q >= t.len() {
                            return Ok(false);
                        }
                        q += char_len(t, q);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loghub_formats_split_their_lines() {
        let mac = Format::parse(
            r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
        )
        .unwrap();
        let l = "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0";
        assert!(mac.content(l).starts_with("IOThunderboltSwitch<0>"));
        let apache = Format::parse(r"\[<Time>\] \[<Level>\] <Content>").unwrap();
        assert_eq!(
            apache.content("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties\r"),
            "workerEnv.init() ok /etc/httpd/conf/workers2.properties"
        );
        let hpc = Format::parse(r"<Time>\|<Component>\|<Pid>\|<Content>").unwrap();
        assert_eq!(
            hpc.content("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579"),
            "onStandStepChanged 3579"
        );
    }

    #[test]
    fn the_quick_split_agrees_with_the_whole_pattern() {
        let f = Format::parse(r"<Date> <Time> <Level> <Component>: <Content>").unwrap();
        assert!(f.seps.is_some());
        for l in [
            "17/06/09 20:10:40 INFO a.B: x: y",
            "17/06/09   20:10:40 INFO a.B:   spaced",
            "short line",
            "a b c d:",
        ] {
            let t = l.trim();
            let whole =
                f.re.captures(t)
                    .and_then(|c| c.name("Content"))
                    .map_or(t, |m| m.as_str());
            assert_eq!(f.content(l), whole, "{l}");
        }
    }

    /// The whole pattern's `<Content>`, or the trimmed line.
    fn by_regex<'a>(f: &Format, line: &'a str) -> &'a str {
        let t = line.trim();
        f.re.captures(t)
            .and_then(|c| c.name("Content"))
            .map_or(t, |m| m.as_str())
    }

    /// The nine labelled systems' formats, and a few with more groups.
    const FORMATS: &[&str] = &[
        r"<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
        r"\[<Time>\] \[<Level>\] <Content>",
        r"<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
        r"<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
        r"<Time>\|<Component>\|<Pid>\|<Content>",
        r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
        r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
        r"<Date> <Time> <Level> <Component>: <Content>",
        r"<Date> <Time>, <Level>                  <Component>    <Content>",
        r"<A>( \[<B>\])? <C>:( <D>( \(<E>\))?)? <Content>",
        r"(<A>: )?<B> - <Content>",
        r"<A>: <Content> \(end\)",
    ];

    const LINES: &[&str] = &[
        "Jul  1 09:00:55 host kernel[0]: msg",
        "Jul  1 09:00:55 host com.apple.xpc.launchd[1] (com.apple.x[12]): Path not allowed",
        "Jul  1 09:00:55 host a[1] (b): c",
        "Jul  1 09:00:55 host a[1] (b) : c",
        "Jul  1 09:00:55 host a b[1]: c [2]: d",
        "Jul  1 09:00:55 host a[1]x[2]: c",
        "Jul  1 09:00:55 host a[1] (b)): c)",
        "Jul  1 09:00:55 host a[1] (b: c): d",
        "Jul\t 1 \u{a0}09:00 h c[1]:\u{2003}x",
        "Jul 1 host",
        "",
        "   ",
        "[Sun Dec 04 04:47:44 2005] [notice] ok",
        "a|b|c|d|e",
        "x [y] z: w (v): u",
        "x: y (end)",
        "x: y (end) (end)",
        "p: q - r - s",
        "17/06/09 20:10:40 INFO a.B: x: y",
        "2016-09-29 00:00:00, Info  CBS  m",
        "é:  ü - (ß) [x]: y",
    ];

    #[test]
    fn the_skeleton_agrees_with_the_whole_pattern() {
        let mut searched = 0;
        for fmt in FORMATS {
            let f = Format::parse(fmt).unwrap();
            let prog = f.skeleton.as_ref().unwrap_or_else(|| panic!("{fmt}"));
            for l in LINES {
                let t = l.trim();
                // A search too long for its line leaves it to the regex.
                if let Ok(range) = skeleton::content_start(prog, t) {
                    searched += 1;
                    assert_eq!(
                        range.map_or(t, |r| &t[r]),
                        by_regex(&f, l),
                        "{fmt} on {l:?}"
                    );
                }
                assert_eq!(f.content(l), by_regex(&f, l), "{fmt} on {l:?}");
            }
        }
        assert!(
            searched * 10 > FORMATS.len() * LINES.len() * 9,
            "{searched}"
        );
    }

    #[test]
    fn other_pattern_syntax_goes_to_the_regex() {
        for fmt in [
            r"<A>|<B> <Content>",
            r"<A> (?:x)? <Content>",
            r"<A> \d+ <Content>",
            r"<A> [ab] <Content>",
            r"<A> (x)+ <Content>",
            r"<A> (x) <Content>",
            r"<A> (x)?? <Content>",
            r"<A> (<Content>)?",
        ] {
            let Ok(f) = Format::parse(fmt) else { continue };
            assert!(f.skeleton.is_none(), "{fmt}");
            if f.seps.is_none() {
                assert_eq!(f.content("a x b c"), by_regex(&f, "a x b c"), "{fmt}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(1000))]
        #[test]
        fn the_skeleton_agrees_on_any_line(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "Jul", "1", " ", "  ", "\t", "\u{a0}", "[", "]", "(", ")", ":", "|",
                    ",", "-", "é", "(end)", " (end)", "x: ", "[1]", " (a)", " - ",
                ]),
                0..30,
            )
        ) {
            let l = pieces.concat();
            for fmt in FORMATS {
                let f = Format::parse(fmt).unwrap();
                proptest::prop_assert_eq!(f.content(&l), by_regex(&f, &l), "{} on {:?}", fmt, l);
            }
        }
    }

    #[test]
    fn bad_formats_are_named() {
        assert!(matches!(
            Format::parse("<Date> <Time>"),
            Err(FormatError::NoContent(_))
        ));
        assert!(matches!(
            Format::parse("<Da te> <Content>"),
            Err(FormatError::BadField(_))
        ));
        assert!(matches!(
            Format::parse("(<Date> <Content>"),
            Err(FormatError::Pattern(_))
        ));
    }
}
