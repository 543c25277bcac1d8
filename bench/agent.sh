#!/bin/bash
# The Argus agent against node_exporter, same machine, same run: size of one scrape,
# RSS and CPU per scrape while scraped every 1 s for 60 s.
# Usage: bench/agent.sh   (installs Debian's prometheus-node-exporter if missing)
. "$(dirname "$0")/lib.sh"
need_build
need_peers
OUT=$WORK/agent; rm -rf "$OUT"; mkdir -p "$OUT"
measure() { # NAME PID URL
  local name=$1 pid=$2 url=$3
  for _ in $(seq 5); do curl -s -o /dev/null "$url"; done
  curl -s "$url" > "$OUT/$name.scrape"
  echo "$name: scrape_bytes=$(wc -c < "$OUT/$name.scrape") samples=$(grep -vc '^#' "$OUT/$name.scrape") families=$(grep -c '^# TYPE' "$OUT/$name.scrape")"
  sleep 1
  local c0 c1 t0 t1; c0=$(ticks "$pid"); t0=$(date +%s.%N)
  : > "$OUT/$name.rss"
  for _ in $(seq 60); do curl -s -o /dev/null --max-time 1 "$url" & rss_kb "$pid" >> "$OUT/$name.rss"; sleep 1; done
  sleep 1; c1=$(ticks "$pid"); t1=$(date +%s.%N)
  sort -n "$OUT/$name.rss" | awk -v n="$name" -v h="$(hwm_kb "$pid")" '{a[NR]=$1} END{printf "%s: rss_kb median=%d max=%d VmHWM=%d\n", n, a[int((NR+1)/2)], a[NR], h}'
  awk -v n="$name" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$CLK" 'BEGIN{cpu=(c1-c0)/hz; printf "%s: cpu %.2f s over %.1f s = %.2f%% of a core, %.2f ms CPU per scrape\n", n, cpu, t1-t0, 100*cpu/(t1-t0), 1000*cpu/60}'
}
prometheus-node-exporter --web.listen-address=127.0.0.1:19100 >"$OUT/ne.log" 2>&1 &
NE=$!
ARGUS_LOG=warn "$ARGUS" agent --listen 127.0.0.1:19798 >"$OUT/agent.log" 2>&1 &
AG=$!
trap 'kill $NE $AG 2>/dev/null; wait $NE $AG 2>/dev/null' EXIT
wait_http http://127.0.0.1:19100/metrics && wait_http http://127.0.0.1:19798/metrics || exit 1
# Interleave: node_exporter, argus, node_exporter, argus.
for round in 1 2; do
  echo "== round $round"
  measure node_exporter $NE http://127.0.0.1:19100/metrics
  measure argus_agent $AG http://127.0.0.1:19798/metrics
done
