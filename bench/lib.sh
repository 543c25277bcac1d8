# Shared helpers for the benchmark scripts. Source it; do not run it.
# Everything listens on 127.0.0.1 only and each script kills only what it started.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/argus-bench}
CLK=$(getconf CLK_TCK)
ARGUS_GIVEN=${ARGUS:-}
ARGUS=${ARGUS:-$ROOT/target/release/argus}

# Builds Argus in release mode, unless ARGUS names a binary built elsewhere.
need_build() {
  if [ -z "$ARGUS_GIVEN" ]; then
    (cd "$ROOT" && cargo build --release -q -p argus) || { echo "argus build failed" >&2; exit 1; }
  fi
  [ -x "$ARGUS" ] || { echo "no Argus binary at $ARGUS" >&2; exit 1; }
  RWGEN=$PEERS/rwgen/target/release/rwgen
  [ -x "$RWGEN" ] || (cd "$PEERS/rwgen" && cargo build --release -q) || { echo "rwgen build failed" >&2; exit 1; }
}
# Installs Debian's peers (Prometheus, VictoriaMetrics, Alertmanager, node_exporter) when missing.
need_peers() {
  command -v victoria-metrics >/dev/null && command -v prometheus >/dev/null && command -v prometheus-node-exporter >/dev/null && return 0
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    prometheus prometheus-alertmanager prometheus-node-exporter victoria-metrics
}
sysbusy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
hwm_kb() { awk '/^VmHWM/{print $2}' /proc/$1/status; }
rss_kb() { awk '/^VmRSS/{print $2}' /proc/$1/status; }
wait_http() { for _ in $(seq 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; return 1; }
metric() { curl -s "$1/metrics" | awk -v n="$2" '$1==n {print $2}'; }
