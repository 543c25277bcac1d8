#!/usr/bin/env bash
# Server time of every UI page with 10k series (all under a dynamic rule, so the models list has
# 10k entries too). Not part of the test suite. Usage: tests/browser/page_timing.sh [ARGUS_BINARY] [SERIES]
# Prints, per page, the median and the worst of 20 requests (curl's time_total on loopback).
set -euo pipefail
BIN=${1:-target/release/argus}
N=${2:-10000}
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$DIR/argus.yml" <<YML
dynamic_rules:
  - name: LoadRule
    selector: ui_load_metric
    detector: {kind: resource, min_points: 100000, cold_start_min_points: 3}
YML
"$BIN" server --data-dir "$DIR/data" --listen "127.0.0.1:$PORT" --config "$DIR/argus.yml" 2>"$DIR/log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null && break; sleep 0.1; done
NOW=$(date +%s)000
python3 - "$N" "$NOW" > "$DIR/body.txt" <<'PY'
import sys
n, now = int(sys.argv[1]), int(sys.argv[2])
for k in range(5):
    t = now - (4 - k) * 15000
    for i in range(n):
        print(f'ui_load_metric{{instance="host-{i:05d}",job="load"}} {100 + (i % 7) + k} {t}')
PY
curl -sf -X POST --data-binary @"$DIR/body.txt" "http://127.0.0.1:$PORT/api/v1/import/prometheus"
sleep 3
echo "series in head: $(curl -s "http://127.0.0.1:$PORT/api/v1/status/tsdb" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["headStats"]["numSeries"])')"
echo "models: $(curl -s "http://127.0.0.1:$PORT/api/v1/models" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')"
for page in /ui/ /ui/explorer /ui/alerts /ui/silences /ui/rules "/ui/rules?rule=LoadRule"; do
  ts=$(for _ in $(seq 20); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT$page"; done | sort -n)
  printf '%-24s median %6.1f ms  max %6.1f ms\n' "$page" \
    "$(echo "$ts" | sed -n 10p | awk '{print $1*1000}')" "$(echo "$ts" | tail -1 | awk '{print $1*1000}')"
done
