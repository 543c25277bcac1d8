#!/bin/bash
# Overload: many remote_write senders pushing as fast as they can (well past what one server ingests on
# this machine) while QUERIES clients run heavy range queries, first against Argus, then against
# VictoriaMetrics on the same load. Per system it reports: samples acknowledged (2xx) and refused
# (non-2xx) by the senders, the server's own count of refused writes, accepted samples per second,
# query latency (p50, p95, max) and failed queries, peak RSS, and acknowledged samples lost (a 2xx'd
# sample not found in the store afterwards; must be 0).
# Usage: bench/overload.sh [SERIES=50000] [DURATION_S=60] [SENDERS=32] [QUERIES=40]
# Env: RWGEN=path to the load generator (default: ../shared/peers/rwgen, built when missing);
#      ARGUS_CONFIG=a configuration file for Argus (to compare its limits: e.g. a `query:` section
#      with `max_queue_duration: 2m` and `max_memory_total: 0` turns off early refusals).
. "$(dirname "$0")/lib.sh"
SERIES=${1:-50000}; DUR=${2:-60}; SENDERS=${3:-32}; QUERIES=${4:-40}
OUT=$WORK/overload; rm -rf "$OUT"; mkdir -p "$OUT"
need_build
RWGEN=${RWGEN_BIN:-$RWGEN}
need_peers >/dev/null
OFFSET=$(( DUR * 2000000 / SERIES * 15 + 3600 )); [ $OFFSET -gt 1209600 ] && OFFSET=1209600
NOW=$(date +%s)
QSTART=$(( NOW - OFFSET )); QEND=$(( NOW + 600 ))
# Heavy: every series of the data set, rated and summed, over its whole span.
HEAVY='sum by (dc) (rate({__name__=~"gen_metric_.*"}[5m]))'

# query_loop URL FILE: runs the heavy query until the senders stop; one line per request: seconds code.
query_loop() {
  while [ ! -f "$OUT/stop" ]; do
    curl -s -o /dev/null -m 60 -w '%{time_total} %{http_code}\n' -G "$1/api/v1/query_range" \
      --data-urlencode "query=$HEAVY" --data-urlencode "start=$QSTART" --data-urlencode "end=$QEND" \
      --data-urlencode "step=300" >>"$2" 2>/dev/null || echo "60 000" >>"$2"
  done
}

# run NAME PID BASE WRITE_PATH COUNT_URL_PREP
run() {
  local name=$1 pid=$2 base=$3
  rm -f "$OUT/stop"
  local t0 c0 t1 c1
  t0=$(date +%s.%N); c0=$(ticks "$pid")
  for q in $(seq "$QUERIES"); do query_loop "$base" "$OUT/$name-q$q.txt" & done
  "$RWGEN" --addr "${base#http://}" --path /api/v1/write --series "$SERIES" --duration "$DUR" \
    --workers "$SENDERS" --batch 2000 --start-offset-s "$OFFSET" >"$OUT/$name-gen.out" 2>"$OUT/$name-gen.err"
  touch "$OUT/stop"; wait_queries
  t1=$(date +%s.%N); c1=$(ticks "$pid")
  local ok bad reqs
  ok=$(sed -n 's/.*ok_samples=\([0-9]*\).*/\1/p' "$OUT/$name-gen.out")
  bad=$(sed -n 's/.*bad_samples=\([0-9]*\).*/\1/p' "$OUT/$name-gen.out")
  reqs=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' "$OUT/$name-gen.out")
  echo "$name: senders=$SENDERS series=$SERIES ${DUR}s: requests=$reqs acknowledged_samples=$ok refused_samples=$bad"
  awk -v ok="${ok:-0}" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$CLK" 'BEGIN{w=t1-t0; cpu=(c1-c0)/hz;
    printf "  acknowledged %.0f samples/s; server cpu %.1f s (%.2f cores)\n", ok/w, cpu, cpu/w}'
  head -3 "$OUT/$name-gen.err" | sed 's/^/  sender saw: /'
  cat "$OUT"/$name-q*.txt | sort -n | awk '{t[NR]=$1; c[$2]++} END{
    if (NR == 0) { print "  queries: none finished"; exit }
    i50 = int(NR * 0.5) + 1; if (i50 > NR) i50 = NR
    i95 = int(NR * 0.95) + 1; if (i95 > NR) i95 = NR
    codes = ""; for (k in c) codes = codes " " k "x" c[k]
    printf "  queries: %d done (status:%s); latency p50 %.2f s, p95 %.2f s, max %.2f s\n", NR, codes, t[i50], t[i95], t[NR]}'
  echo "  peak RSS $(( $(hwm_kb "$pid") / 1024 )) MiB"
  ACKED=${ok:-0}
}
wait_queries() { for j in $(jobs -p); do [ "$j" != "$SERVER_PID" ] && wait "$j" 2>/dev/null; done; }

# stored BASE: samples of the data set the store holds.
stored() {
  curl -s -G "$1/api/v1/query" --data-urlencode "query=sum(count_over_time({__name__=~\"gen_metric_.*\"}[30d]))" \
    --data-urlencode "time=$(( $(date +%s) + 700 ))" | sed -n 's/.*"value":\[[^,]*,"\([0-9.e+]*\)"\].*/\1/p'
}

# ---- Argus
PORT=19797
ARGUS_LOG=warn "$ARGUS" server --data-dir "$OUT/argus-data" --listen 127.0.0.1:$PORT \
  ${ARGUS_CONFIG:+--config "$ARGUS_CONFIG"} >"$OUT/argus.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null' EXIT
wait_http http://127.0.0.1:$PORT/-/ready || exit 1
run argus $SERVER_PID http://127.0.0.1:$PORT
echo "  server: write requests $(metric http://127.0.0.1:$PORT argus_ingest_requests_total), answered 503 (busy) $(metric http://127.0.0.1:$PORT argus_write_requests_throttled_total), failed $(metric http://127.0.0.1:$PORT argus_ingest_requests_failed_total); queries refused: queued too long $(metric http://127.0.0.1:$PORT argus_query_queue_refusals_total), memory in use $(metric http://127.0.0.1:$PORT argus_query_memory_refusals_total)"
S=$(stored http://127.0.0.1:$PORT)
echo "  stored samples $S; acknowledged but lost: $(awk -v a="$ACKED" -v s="${S:-0}" 'BEGIN{d=a-s; print (d>0?d:0)}')"
kill $SERVER_PID; wait $SERVER_PID 2>/dev/null

# ---- VictoriaMetrics, same load
VPORT=18428
victoria-metrics -storageDataPath="$OUT/vm-data" -httpListenAddr=127.0.0.1:$VPORT -search.latencyOffset=0s \
  -retentionPeriod=100y >"$OUT/vm.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null' EXIT
wait_http http://127.0.0.1:$VPORT/health || exit 1
run victoriametrics $SERVER_PID http://127.0.0.1:$VPORT
curl -s http://127.0.0.1:$VPORT/metrics > "$OUT/vm-metrics.txt"
echo "  server: write requests $(awk '/^vm_http_requests_total\{path="\/api\/v1\/write"/{s+=$NF}END{print s+0}' "$OUT/vm-metrics.txt"), refused at the insert limit $(awk '/^vm_concurrent_insert_limit_timeout_total/{s+=$NF}END{print s+0}' "$OUT/vm-metrics.txt"), errors $(awk '/^vm_http_request_errors_total\{path="\/api\/v1\/write"/{s+=$NF}END{print s+0}' "$OUT/vm-metrics.txt")"
curl -s http://127.0.0.1:$VPORT/internal/force_flush >/dev/null
sleep 2
S=$(stored http://127.0.0.1:$VPORT)
echo "  stored samples $S; acknowledged but lost: $(awk -v a="$ACKED" -v s="${S:-0}" 'BEGIN{d=a-s; print (d>0?d:0)}')"
kill $SERVER_PID; wait $SERVER_PID 2>/dev/null
