//! The host's name, the one thing in this crate that reads the system.
//!
//! ```
//! let name = argus_model::host::hostname();
//! assert!(!name.is_empty());
//! ```

/// This host's name, from the kernel (`/proc/sys/kernel/hostname`), or
/// `localhost` when it cannot be read or is empty.
pub fn hostname() -> String {
    hostname_from(std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
}

/// The name from the file's contents, trimmed, with the fallback.
fn hostname_from(contents: Option<String>) -> String {
    contents
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_falls_back() {
        assert_eq!(hostname_from(Some("node-1\n".into())), "node-1");
        assert_eq!(hostname_from(Some(" \n".into())), "localhost");
        assert_eq!(hostname_from(None), "localhost");
        assert!(!hostname().is_empty());
    }
}
