//! The integration tests of argus-ingest (one binary).

mod common;
mod k8s_fixtures;
mod props;
mod push;
mod relabel;
mod remote_write;
mod scrape;
mod scrape_http;
mod scrape_kubernetes;
mod scrape_kubernetes_watch;
mod scrape_tls;
mod text;
