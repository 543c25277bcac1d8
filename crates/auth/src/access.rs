//! Which role an endpoint needs, and which endpoints are switched off unless
//! enabled (the lifecycle and admin APIs, as in Prometheus).
//!
//! ```
//! use argus_auth::access::{need, Need};
//! use argus_auth::webconfig::Role;
//! assert_eq!(need("GET", "/api/v1/query"), Need::Read);
//! assert_eq!(need("POST", "/api/v1/query"), Need::Read);
//! assert_eq!(need("POST", "/api/v1/write"), Need::Write);
//! assert_eq!(need("POST", "/api/v2/silences"), Need::Operate);
//! assert_eq!(need("POST", "/-/reload"), Need::Admin);
//! assert!(Need::Operate.allowed(Role::Operator));
//! assert!(!Need::Operate.allowed(Role::Viewer));
//! assert!(!Need::Read.allowed(Role::Writer));
//! ```

use super::webconfig::Role;

/// What a request needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: probes, the sign-in page, static files, signed one-click links.
    Open,
    /// Reading data, rules, alerts and status.
    Read,
    /// Sending samples, alerts or heartbeats.
    Write,
    /// Acknowledging, resolving or silencing alerts.
    Operate,
    /// Reload, admin APIs, training, the audit log and anything else that changes state.
    Admin,
}

impl Need {
    /// True when `role` may do it.
    pub fn allowed(self, role: Role) -> bool {
        match self {
            Need::Open => true,
            Need::Read => matches!(role, Role::Viewer | Role::Operator | Role::Admin),
            Need::Write => matches!(role, Role::Writer | Role::Admin),
            Need::Operate => matches!(role, Role::Operator | Role::Admin),
            Need::Admin => role == Role::Admin,
        }
    }

    /// A few words for the refusal message.
    pub fn describe(self) -> &'static str {
        match self {
            Need::Open | Need::Read => "read",
            Need::Write => "send data",
            Need::Operate => "acknowledge, resolve or silence alerts",
            Need::Admin => "administer Argus",
        }
    }
}

/// Endpoints that answer whoever asks.
fn open(path: &str) -> bool {
    matches!(path, "/-/healthy" | "/-/ready" | "/ui/login" | "/ui/logout")
        || path.starts_with("/ui/assets/")
        // One-click links carry their own signed, expiring token.
        || path.starts_with("/api/argus/v1/link/")
}

/// Endpoints that only read although they accept POST (long queries).
fn read_by_post(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/query"
            | "/api/v1/query_range"
            | "/api/v1/query_exemplars"
            | "/api/v1/series"
            | "/api/v1/labels"
            | "/api/v1/format_query"
            | "/api/v1/parse_query"
            | "/api/v1/rules"
            | "/api/v1/read"
            | "/loki/api/v1/query"
            | "/loki/api/v1/query_range"
            | "/loki/api/v1/labels"
            | "/loki/api/v1/label"
            | "/loki/api/v1/series"
            | "/loki/api/v1/index/stats"
    ) || ((path.starts_with("/api/v1/label/") || path.starts_with("/loki/api/v1/label/"))
        && path.ends_with("/values"))
}

/// Endpoints that take data from agents, exporters and other Prometheus servers.
fn ingest(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/write" | "/api/v1/push" | "/api/v2/alerts" | "/api/v1/alerts"
    ) || path.starts_with("/api/v1/import/")
        || path.starts_with("/api/v1/heartbeat/")
        || path.starts_with("/api/v1/otlp/")
        || path.starts_with("/otlp/")
        || path.starts_with("/loki/api/v1/push")
        || path == "/v1/logs"
        || path == "/api/v1/logs"
        || path == "/api/v1/events"
}

/// Endpoints of the people on call.
fn operate(method: &str, path: &str) -> bool {
    (method == "POST" && path == "/api/v2/silences")
        || (method == "DELETE" && path.starts_with("/api/v2/silence/"))
        || (method == "POST"
            && path.starts_with("/api/v2/alerts/")
            && path != "/api/v2/alerts/groups")
        || path.starts_with("/api/argus/v1/incidents/")
        || path.starts_with("/api/argus/v1/runbooks/")
}

/// What `method path` needs.
pub fn need(method: &str, path: &str) -> Need {
    if open(path) {
        return Need::Open;
    }
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return if path.starts_with("/api/argus/v1/audit") {
            Need::Admin
        } else {
            Need::Read
        };
    }
    if method == "POST" && read_by_post(path) {
        return Need::Read;
    }
    if method == "POST" && ingest(path) {
        return Need::Write;
    }
    if operate(method, path) {
        return Need::Operate;
    }
    Need::Admin
}

/// An API that is off unless switched on at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// `/-/reload` and `/-/quit` (`--web.enable-lifecycle`).
    Lifecycle,
    /// `/api/v1/admin/…` (`--web.enable-admin-api`).
    Admin,
}

/// The gate in front of `path`, if any.
pub fn gate(path: &str) -> Option<Gate> {
    if matches!(path, "/-/reload" | "/-/quit") {
        Some(Gate::Lifecycle)
    } else if path.starts_with("/api/v1/admin/") {
        Some(Gate::Admin)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_the_expected_need() {
        let cases = [
            ("GET", "/-/healthy", Need::Open),
            ("GET", "/ui/assets/app.js", Need::Open),
            ("POST", "/ui/login", Need::Open),
            ("GET", "/api/argus/v1/link/ack", Need::Open),
            ("POST", "/api/argus/v1/link/ack", Need::Open),
            ("GET", "/ui/alerts", Need::Read),
            ("GET", "/metrics", Need::Read),
            ("GET", "/api/v2/alerts", Need::Read),
            ("POST", "/api/v1/series", Need::Read),
            ("POST", "/api/v1/label/job/values", Need::Read),
            ("POST", "/api/v1/import/prometheus", Need::Write),
            ("POST", "/v1/logs", Need::Write),
            ("POST", "/api/v1/logs", Need::Write),
            ("POST", "/api/v1/events", Need::Write),
            ("POST", "/loki/api/v1/query_range", Need::Read),
            ("POST", "/loki/api/v1/label/app/values", Need::Read),
            ("POST", "/api/v1/heartbeat/db", Need::Write),
            ("POST", "/api/v2/alerts", Need::Write),
            ("POST", "/api/v2/alerts/0011223344556677/ack", Need::Operate),
            ("DELETE", "/api/v2/silence/abc", Need::Operate),
            ("POST", "/api/v2/silences", Need::Operate),
            ("PUT", "/-/reload", Need::Admin),
            ("POST", "/api/v1/admin/tsdb/compact", Need::Admin),
            ("POST", "/api/v1/models/train", Need::Admin),
            ("GET", "/api/argus/v1/audit", Need::Admin),
            ("POST", "/api/v1/something/new", Need::Admin),
            ("DELETE", "/api/v1/series", Need::Admin),
        ];
        for (m, p, want) in cases {
            assert_eq!(need(m, p), want, "{m} {p}");
        }
    }

    #[test]
    fn roles_grant_what_they_say() {
        use Role::*;
        let grid = [
            (Need::Read, [false, true, true, true]),
            (Need::Write, [true, false, false, true]),
            (Need::Operate, [false, false, true, true]),
            (Need::Admin, [false, false, false, true]),
        ];
        for (need, want) in grid {
            for (role, w) in [Writer, Viewer, Operator, Admin].into_iter().zip(want) {
                assert_eq!(need.allowed(role), w, "{need:?} {role:?}");
            }
        }
    }

    #[test]
    fn gates() {
        assert_eq!(gate("/-/reload"), Some(Gate::Lifecycle));
        assert_eq!(gate("/api/v1/admin/tsdb/compact"), Some(Gate::Admin));
        assert_eq!(gate("/api/v1/query"), None);
    }
}
