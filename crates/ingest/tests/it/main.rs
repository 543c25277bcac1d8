//! The integration tests of argus-ingest (one binary).

mod common;
mod props;
mod push;
mod relabel;
mod remote_write;
mod scrape;
mod scrape_http;
mod scrape_tls;
mod text;
