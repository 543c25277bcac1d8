//! One remote_write request and what its answer means: sent, retry (5xx,
//! 429 when configured, network errors), or drop (any other 4xx).

use super::config::RemoteWriteConfig;
use crate::scrape::http::{HttpClientConfig, HttpConfigError};
use std::time::Duration;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("Argus/", env!("CARGO_PKG_VERSION"));

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 2xx: the receiver has the samples.
    Sent,
    /// Try again after a backoff (or after `retry_after` when the receiver said).
    Retry {
        /// The receiver's `Retry-After`, when it sent one in seconds.
        retry_after: Option<Duration>,
        /// For the log.
        reason: String,
    },
    /// The receiver refused the batch for good; it is dropped.
    Drop {
        /// For the log.
        reason: String,
    },
}

/// Sends requests to one remote.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    url: String,
    headers: reqwest::header::HeaderMap,
    auth: HttpClientConfig,
    timeout: Duration,
    retry_429: bool,
}

impl Client {
    pub(crate) fn new(cfg: &RemoteWriteConfig) -> Result<Client, HttpConfigError> {
        let auth = cfg.http_client_config();
        let http = auth.build_client()?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &cfg.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| HttpConfigError::Invalid(format!("headers: {k}: {e}")))?;
            let value = reqwest::header::HeaderValue::from_str(v)
                .map_err(|e| HttpConfigError::Invalid(format!("headers: {k}: {e}")))?;
            headers.insert(name, value);
        }
        Ok(Client {
            http,
            url: cfg.url.clone(),
            headers,
            auth,
            timeout: cfg.remote_timeout.to_std(),
            retry_429: cfg.queue_config.retry_on_http_429,
        })
    }

    /// Posts one snappy-compressed `WriteRequest`.
    pub(crate) async fn send(&self, body: Vec<u8>) -> Outcome {
        let mut req = self
            .http
            .post(&self.url)
            .timeout(self.timeout)
            .headers(self.headers.clone())
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header("User-Agent", USER_AGENT)
            .body(body);
        match self.auth.auth_header() {
            Ok(Some(h)) => req = req.header("Authorization", h),
            Ok(None) => {}
            Err(e) => {
                return Outcome::Retry {
                    retry_after: None,
                    reason: format!("cannot read the credentials: {e}"),
                }
            }
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Retry {
                    retry_after: None,
                    reason: format!("request failed: {e}"),
                }
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Outcome::Sent;
        }
        let retry_after = resp
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp.text().await.unwrap_or_default();
        let reason = format!("HTTP {}: {}", status.as_u16(), first_line(&body));
        classify(status.as_u16(), self.retry_429, retry_after, reason)
    }
}

/// What a status code means for the batch.
pub(crate) fn classify(
    status: u16,
    retry_429: bool,
    retry_after: Option<Duration>,
    reason: String,
) -> Outcome {
    match status {
        200..=299 => Outcome::Sent,
        429 if retry_429 => Outcome::Retry {
            retry_after,
            reason,
        },
        500..=599 => Outcome::Retry {
            retry_after,
            reason,
        },
        _ => Outcome::Drop { reason },
    }
}

/// `Retry-After` in seconds (an HTTP date is not honoured: backoff applies).
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(300)))
}

/// The next retry delay: `retry_after` when the receiver gave one, else the
/// current backoff; and the backoff after it, doubled up to `max`.
pub(crate) fn backoff(
    current: Duration,
    retry_after: Option<Duration>,
    max: Duration,
) -> (Duration, Duration) {
    let wait = retry_after.unwrap_or(current);
    (wait, (current * 2).min(max))
}

fn first_line(s: &str) -> &str {
    let l = s.lines().next().unwrap_or("");
    match l.char_indices().nth(200) {
        Some((i, _)) => &l[..i],
        None => l,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_like_prometheus() {
        let r = |s, retry| classify(s, retry, None, String::new());
        assert_eq!(r(204, false), Outcome::Sent);
        assert!(matches!(r(500, false), Outcome::Retry { .. }));
        assert!(matches!(r(503, false), Outcome::Retry { .. }));
        assert!(matches!(r(429, true), Outcome::Retry { .. }));
        assert!(matches!(r(429, false), Outcome::Drop { .. }));
        assert!(matches!(r(400, true), Outcome::Drop { .. }));
        assert!(matches!(r(404, true), Outcome::Drop { .. }));
    }

    #[test]
    fn backoff_doubles_to_the_max_and_honours_retry_after() {
        let ms = Duration::from_millis;
        let max = ms(100);
        let (w, n) = backoff(ms(30), None, max);
        assert_eq!((w, n), (ms(30), ms(60)));
        let (w, n) = backoff(n, None, max);
        assert_eq!((w, n), (ms(60), ms(100)));
        let (w, n) = backoff(n, Some(Duration::from_secs(2)), max);
        assert_eq!((w, n), (Duration::from_secs(2), ms(100)));
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
