//! The static files under `crates/ui/assets/`, embedded at compile time
//! (also in debug builds), served under `/ui/assets/`.
//!
//! ```
//! let a = argus_ui::assets::get("app.css").unwrap();
//! assert_eq!(a.content_type, "text/css; charset=utf-8");
//! assert!(argus_ui::assets::get("../Cargo.toml").is_none());
//! ```

use std::borrow::Cow;

#[derive(rust_embed::RustEmbed)]
#[folder = "assets/"]
struct Files;

/// One embedded file.
#[derive(Debug, Clone)]
pub struct Asset {
    /// Its bytes.
    pub data: Cow<'static, [u8]>,
    /// The `Content-Type` to serve it with.
    pub content_type: &'static str,
    /// A strong validator: the hex SHA-256 of the contents.
    pub etag: String,
}

/// The file at `path` (relative to the assets folder), if embedded.
pub fn get(path: &str) -> Option<Asset> {
    let f = Files::get(path)?;
    let etag = f
        .metadata
        .sha256_hash()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(Asset {
        data: f.data,
        content_type: content_type(path),
        etag,
    })
}

/// Every embedded path.
pub fn paths() -> impl Iterator<Item = Cow<'static, str>> {
    Files::iter()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "md" | "txt" | "LICENSE" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_files_and_licences_are_embedded() {
        for p in [
            "vendor/uPlot.iife.min.js",
            "vendor/uPlot.min.css",
            "vendor/uPlot.LICENSE",
            "vendor/htmx.min.js",
            "vendor/htmx.LICENSE",
            "app.js",
            "explorer.js",
            "changes.js",
            "logs.js",
        ] {
            let a = get(p).unwrap_or_else(|| panic!("{p} is not embedded"));
            assert!(a.data.len() > 100, "{p} is too small");
            assert_eq!(a.etag.len(), 64);
        }
        assert_eq!(
            get("vendor/htmx.min.js").unwrap().content_type,
            "text/javascript; charset=utf-8"
        );
        assert!(get("nope.js").is_none());
        assert!(paths().count() >= 7);
    }
}
