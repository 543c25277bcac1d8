#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit, property and integration tests, and a
# short fuzz run of every parser of outside input (scripts/fuzz.sh).
# Works on a fresh Debian 12 machine with only the Rust toolchain; it installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
apt_install() {
  echo "test.sh: installing $* from Debian's packages"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
# A C compiler for crates with build scripts, and curl for the benchmark helpers.
need cc || apt_install gcc libc6-dev
need curl || apt_install curl
# Real peers the integration tests talk to: Prometheus 2.42 (PromQL differential test),
# amtool and Alertmanager 0.25 (Alertmanager API tests), and an SMTP sink (aiosmtpd).
need prometheus && need amtool && need prometheus-alertmanager || apt_install prometheus prometheus-alertmanager
need prometheus-node-exporter || apt_install prometheus-node-exporter
need python3 || apt_install python3 python3-pip
python3 -c 'import aiosmtpd' 2>/dev/null || apt_install python3-aiosmtpd || \
  python3 -m pip install -q aiosmtpd || python3 -m pip install -q --break-system-packages aiosmtpd

# Real log senders for the log ingest tests (crates/server/tests/logs.rs): Debian's rsyslog,
# and PyPI's python-logging-loki and the OpenTelemetry SDK with its OTLP/HTTP exporter.
need rsyslogd && need logger || apt_install rsyslog bsdutils
python3 -c 'import logging_loki, opentelemetry.sdk._logs, opentelemetry.exporter.otlp.proto.http' 2>/dev/null || \
  python3 -m pip install -q python-logging-loki opentelemetry-sdk opentelemetry-exporter-otlp-proto-http || \
  python3 -m pip install -q --break-system-packages python-logging-loki opentelemetry-sdk opentelemetry-exporter-otlp-proto-http

# A real DNS server (dnsmasq) serving SRV and MX records for the DNS service discovery tests
# (crates/ingest: scrape::dns_sd fails, never skips, without it).
need dnsmasq || apt_install dnsmasq-base

# Redis for the service health tests (argus-health): the system one on 6379, and the
# redis-server binary, which the Redis-restart test runs on a port of its own.
need redis-server && need redis-cli || apt_install redis-server redis-tools
redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --port 6379 --daemonize yes --save '' --appendonly no >/dev/null

# NATS with JetStream for the NATS JetStream log and event sources (crates/server/tests/logs_nats.rs
# fails, never skips, when nothing answers on 127.0.0.1:4222).
need nats-server || apt_install nats-server
(exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null || \
  { mkdir -p /tmp/argus-nats-js; nohup nats-server -a 127.0.0.1 -p 4222 -js -sd /tmp/argus-nats-js >/tmp/argus-nats.log 2>&1 & sleep 1; }

# Headless Chromium, Node.js and playwright-core for the web UI's browser tests
# (crates/argus/tests/browser.rs fails, never skips, when one is missing).
need chromium || apt_install chromium
need node && need npm || apt_install nodejs npm
[ -f tests/browser/node_modules/playwright-core/package.json ] || (cd tests/browser && npm ci --no-audit --no-fund)

# No incremental caches: a one-off build does not reuse them, and they double the target's size.
export CARGO_INCREMENTAL=0

rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -q -- -D warnings
echo "== cargo test"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
# Summarise across all test binaries, in the plain form CI reads.
awk '/^test result:/ {p+=$4; f+=$6; i+=$8} END {printf "%d passed, %d failed, %d skipped\n", p, f, i; exit (f>0)}' target/test-output.txt
# Fuzzing (fuzz/README.md): runs every cargo-fuzz target for a few seconds, each starting
# with the committed corpus; fails on any crash and prints the reproducer.
echo "== fuzz"
FUZZ_REPLAY="${FUZZ_REPLAY:-0}" scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
