//! What the chat-robot channels (DingTalk, WeCom, Feishu) share: the environment they are built
//! with, HMAC signing, and posting JSON to a vendor that reports errors inside an HTTP 200 body.

use super::ChannelError;
use crate::links::LinkSigner;
use argus_model::Clock;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

/// What channels need besides their own config: the external URL for links back, the link
/// signer (none: no one-click links) and the clock for request signatures.
#[derive(Debug, Clone)]
pub struct ChannelEnv {
    /// Argus's external URL.
    pub external_url: String,
    /// Signs one-click links.
    pub links: Option<Arc<LinkSigner>>,
    /// Time for vendor signatures.
    pub clock: Arc<dyn Clock>,
}

impl ChannelEnv {
    /// An environment without links on the system clock.
    pub fn new(external_url: &str) -> ChannelEnv {
        ChannelEnv {
            external_url: external_url.to_string(),
            links: None,
            clock: Arc::new(argus_model::SystemClock),
        }
    }

    pub(crate) fn render_env(&self) -> crate::template::RenderEnv<'_> {
        crate::template::RenderEnv {
            external_url: &self.external_url,
            links: self.links.as_deref(),
            templates: None,
        }
    }
}

/// base64(HMAC-SHA256(key, message)).
pub fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(message);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// The URL without its query (which holds access tokens), for error messages.
pub(crate) fn redact(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// Reads an inline value or a file.
pub(crate) fn inline_or_file(
    inline: &Option<String>,
    file: &Option<String>,
) -> Result<Option<String>, ChannelError> {
    if let Some(v) = inline {
        return Ok(Some(v.clone()));
    }
    match file {
        Some(f) => std::fs::read_to_string(f)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| ChannelError::Config(format!("cannot read {f}: {e}"))),
        None => Ok(None),
    }
}

/// Truncates to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn truncate_bytes(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut cut = max.saturating_sub(4);
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s.push_str("\n…");
    s
}

/// How a vendor reports errors in a 200 body.
pub(crate) struct Vendor {
    /// Name for messages.
    pub name: &'static str,
    /// Fields holding the numeric code, first found wins (0 is success).
    pub code_fields: &'static [&'static str],
    /// Fields holding the message.
    pub msg_fields: &'static [&'static str],
    /// Codes worth retrying (rate limits, busy).
    pub retryable: fn(i64) -> bool,
}

pub(crate) fn client(
    timeout: Option<argus_model::PromDuration>,
) -> Result<reqwest::Client, ChannelError> {
    super::webhook::client(
        timeout
            .map(|t| t.to_std())
            .unwrap_or(Duration::from_secs(10)),
    )
}

/// Posts `body` and maps the answer: non-2xx as [`ChannelError::Status`], a 2xx body whose code
/// is not 0 as [`ChannelError::Vendor`], a 2xx body that is not the vendor's JSON as a
/// non-retryable error.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    v: &Vendor,
) -> Result<(), ChannelError> {
    let shown = redact(url);
    let resp = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| super::webhook::send_error(&shown, &e))?;
    let status = resp.status();
    let mut text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        text.truncate(512);
        return Err(ChannelError::Status {
            url: shown,
            status: status.as_u16(),
            body: text,
        });
    }
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        text.truncate(200);
        ChannelError::Request {
            url: shown.clone(),
            reason: format!(
                "{} answered 200 with a body that is not its JSON: {text:?}",
                v.name
            ),
        }
    })?;
    let code = v
        .code_fields
        .iter()
        .find_map(|f| json.get(*f).and_then(serde_json::Value::as_i64));
    match code {
        Some(0) => Ok(()),
        Some(code) => {
            let message = v
                .msg_fields
                .iter()
                .find_map(|f| json.get(*f).and_then(serde_json::Value::as_str))
                .unwrap_or("")
                .to_string();
            Err(ChannelError::Vendor {
                vendor: v.name,
                url: shown,
                code,
                message,
                retryable: (v.retryable)(code),
            })
        }
        None => Err(ChannelError::Request {
            url: shown,
            reason: format!("{} answered 200 without an error code: {json}", v.name),
        }),
    }
}
