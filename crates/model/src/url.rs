//! Percent-encoding of URL query values: every byte but the RFC 3986
//! unreserved characters (`A–Z a–z 0–9 - _ . ~`) becomes `%XX` (upper-case
//! hex, byte by byte of the UTF-8).
//!
//! ```
//! use argus_model::url::{percent_encode, query_escape};
//!
//! assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
//! assert_eq!(query_escape("a b/é"), "a+b%2F%C3%A9");
//! ```

/// Percent-encodes `s`, spaces as `%20`.
///
/// ```
/// use argus_model::url::percent_encode;
///
/// assert_eq!(percent_encode(r#"alertname="Disk Full""#), "alertname%3D%22Disk%20Full%22");
/// ```
pub fn percent_encode(s: &str) -> String {
    encode(s, false)
}

/// Percent-encodes `s` as Go's `url.QueryEscape` does: spaces as `+`.
///
/// ```
/// use argus_model::url::query_escape;
///
/// assert_eq!(query_escape("up == 0"), "up+%3D%3D+0");
/// ```
pub fn query_escape(s: &str) -> String {
    encode(s, true)
}

fn encode(s: &str, space_as_plus: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if space_as_plus => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_bytes_stay() {
        let keep = "ABCXYZabcxyz0189-_.~";
        assert_eq!(percent_encode(keep), keep);
        assert_eq!(query_escape(keep), keep);
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn the_rest_is_escaped_byte_by_byte() {
        assert_eq!(percent_encode(" "), "%20");
        assert_eq!(query_escape(" "), "+");
        assert_eq!(percent_encode("+"), "%2B");
        assert_eq!(query_escape("+&=?#%/"), "%2B%26%3D%3F%23%25%2F");
        assert_eq!(percent_encode("\n\t\0\u{7f}"), "%0A%09%00%7F");
        assert_eq!(percent_encode("{job=~\"a|b\"}"), "%7Bjob%3D~%22a%7Cb%22%7D");
        assert_eq!(percent_encode("日"), "%E6%97%A5");
        assert_eq!(query_escape("ü ß"), "%C3%BC+%C3%9F");
    }

    #[test]
    fn matches_the_format_macro_spelling() {
        for b in 0u8..=127 {
            let s = char::from(b).to_string();
            let want = if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                s.clone()
            } else {
                format!("%{b:02X}")
            };
            assert_eq!(percent_encode(&s), want);
        }
    }
}
