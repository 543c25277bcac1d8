#!/bin/bash
# Argus remote_write ingestion, measured like ../shared/peers/vm_ingest.sh:
# samples per CPU-second of the server, peak RSS, and disk bytes per sample after compaction.
# Usage: bench/ingest.sh [SERIES=100000] [DURATION_S=120] [WORKERS=8] [BATCH=2000]
# Env: PEERS_TOO=1 also runs VictoriaMetrics and Prometheus with the same load in the same run.
. "$(dirname "$0")/lib.sh"
SERIES=${1:-100000}; DUR=${2:-120}; WORKERS=${3:-8}; BATCH=${4:-2000}
PORT=19797
OUT=$WORK/ingest-$SERIES; DATA=$OUT/data
need_build
rm -rf "$OUT"; mkdir -p "$OUT"
ARGUS_LOG=warn "$ARGUS" server --data-dir "$DATA" --listen 127.0.0.1:$PORT --web.enable-admin-api >"$OUT/argus.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
wait_http http://127.0.0.1:$PORT/-/ready || exit 1
RSS0=$(rss_kb $PID)
S0=$(sysbusy); C0=$(ticks $PID); A0=$(metric http://127.0.0.1:$PORT argus_ingest_samples_accepted_total); T0=$(date +%s.%N)
# The generator stamps each round 15 s after the last. Argus refuses samples more than
# storage.max_future (10 minutes) ahead of its clock, so the first round starts far enough back
# that a run at up to 2M samples/s stays behind the clock (within the 15-day retention).
OFFSET=$(( DUR * 2000000 / SERIES * 15 + 3600 )); [ $OFFSET -gt 1209600 ] && OFFSET=1209600
/usr/bin/time -v -o "$OUT/gen_time.txt" "$RWGEN" --addr 127.0.0.1:$PORT --path /api/v1/write \
  --series "$SERIES" --duration "$DUR" --workers "$WORKERS" --batch "$BATCH" --start-offset-s "$OFFSET" >"$OUT/gen.out" 2>"$OUT/gen.err"
T1=$(date +%s.%N); S1=$(sysbusy); C1=$(ticks $PID); A1=$(metric http://127.0.0.1:$PORT argus_ingest_samples_accepted_total)
cat "$OUT/gen.out"
awk -v a0=${A0:-0} -v a1=${A1:-0} -v t0=$T0 -v t1=$T1 -v c0=$C0 -v c1=$C1 -v hz=$CLK 'BEGIN{cpu=(c1-c0)/hz; printf "argus: accepted=%d in %.1f s = %.0f samples/s; cpu=%.1f s (%.2f cores); samples per CPU-second=%.0f\n", a1-a0, t1-t0, (a1-a0)/(t1-t0), cpu, cpu/(t1-t0), (a1-a0)/cpu}'
GU=$(awk '/User time|System time/{s+=$NF}END{print s}' "$OUT/gen_time.txt")
awk -v s0=$S0 -v s1=$S1 -v c0=$C0 -v c1=$C1 -v g=$GU -v t0=$T0 -v t1=$T1 -v hz=$CLK -v n=$(nproc) 'BEGIN{w=t1-t0; printf "machine: busy=%.2f cores of %d; server=%.2f gen=%.2f others=%.2f cores\n", (s1-s0)/hz/w, n, (c1-c0)/hz/w, g/w, (s1-s0)/hz/w-(c1-c0)/hz/w-g/w}'
HWM=$(hwm_kb $PID)
echo "argus rss_kb: start=$RSS0 end=$(rss_kb $PID) VmHWM=$HWM; per active series: $(awk -v h=$HWM -v s=$SERIES 'BEGIN{printf "%.0f", h*1024/s}') bytes"
C2=$(ticks $PID)
curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/admin/tsdb/compact?full=true" || echo "compaction request failed"
C3=$(ticks $PID)
curl -s http://127.0.0.1:$PORT/metrics > "$OUT/metrics.txt"
awk -v cc=$((C3-C2)) -v hz=$CLK '/^argus_tsdb_blocks_size_bytes /{b=$2} /^argus_tsdb_samples_appended_total /{s=$2} END{printf "after compaction: samples=%d block_bytes=%d bytes/sample=%.3f (compaction cpu %.1f s)\n", s, b, b/s, cc/hz}' "$OUT/metrics.txt"
echo "du data dir: $(du -sb "$DATA" | cut -f1) bytes (includes the WAL until the next checkpoint)"
kill $PID; wait $PID 2>/dev/null
echo "du data dir after graceful stop: $(du -sb "$DATA" | cut -f1) bytes"
if [ "${PEERS_TOO:-0}" = 1 ]; then
  need_peers
  echo "=== VictoriaMetrics, same load"; bash "$PEERS/vm_ingest.sh" bench "$SERIES" "$DUR" "$WORKERS" "$BATCH"
  echo "=== Prometheus, same load"; bash "$PEERS/prom_ingest.sh" bench "$SERIES" "$DUR" "$WORKERS" "$BATCH"
fi
