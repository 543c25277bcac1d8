#!/bin/bash
# Query latency and CPU: Argus vs Prometheus 2.42 vs VictoriaMetrics 1.79 on identical data.
# Loads SERIES series over HOURS hours at 15 s into each (remote_write, bench/qload: 80 % counters `x`,
# 16 % `h_bucket`, 4 % `x_info`), then runs a fixed query mix as query_range over the whole span with
# STEP, REPS times per query, and prints p50/p99 latency, server CPU-seconds per query, and the ratios
# Argus/Prometheus and Argus/VM.
# Usage: bench/query.sh [SERIES=10000] [HOURS=24] [REPS=20] [STEP=60]
# 127.0.0.1 only; every loop is bounded; kills only what it started. VictoriaMetrics runs with
# -search.disableCache so repeated queries are not answered from its rollup cache.
. "$(dirname "$0")/lib.sh"
SERIES=${1:-10000}; HOURS=${2:-24}; REPS=${3:-20}; STEP=${4:-60}
A_PORT=19801; P_PORT=19802; V_PORT=19803
OUT=$WORK/query-$SERIES-$HOURS; rm -rf "$OUT"; mkdir -p "$OUT"
need_build; need_peers >/dev/null
QLOAD=$ROOT/target/qload/release/qload
cargo build --release -q --manifest-path "$ROOT/bench/qload/Cargo.toml" --target-dir "$ROOT/target/qload" || { echo "qload build failed" >&2; exit 1; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT

ARGUS_LOG=warn "$ARGUS" server --data-dir "$OUT/argus" --listen 127.0.0.1:$A_PORT >"$OUT/argus.log" 2>&1 &
A_PID=$!; PIDS+=($A_PID)
printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' >"$OUT/prom.yml"
prometheus --config.file="$OUT/prom.yml" --storage.tsdb.path="$OUT/prom" --web.listen-address=127.0.0.1:$P_PORT \
  --web.enable-remote-write-receiver --query.max-samples=200000000 >"$OUT/prom.log" 2>&1 &
P_PID=$!; PIDS+=($P_PID)
victoria-metrics -storageDataPath="$OUT/vm" -httpListenAddr=127.0.0.1:$V_PORT -retentionPeriod=1 \
  -search.disableCache -search.maxPointsPerTimeseries=100000 >"$OUT/vm.log" 2>&1 &
V_PID=$!; PIDS+=($V_PID)
wait_http http://127.0.0.1:$A_PORT/-/ready && wait_http http://127.0.0.1:$P_PORT/-/ready && wait_http http://127.0.0.1:$V_PORT/health || exit 1

# Same data, same timestamps: one end time for all three. Samples sit 8 s off the 15 s grid, so no
# whole-minute evaluation time falls on a sample (Prometheus 2.x ranges are closed, 3.x left-open).
END_MS=$(( $(date +%s) / 15 * 15000 - 52000 ))
for sys in argus:$A_PORT:$A_PID prom:$P_PORT:$P_PID vm:$V_PORT:$V_PID; do
  IFS=: read -r name port pid <<<"$sys"
  C0=$(ticks $pid)
  "$QLOAD" --addr 127.0.0.1:$port --series "$SERIES" --hours "$HOURS" --end-ms $END_MS --workers 2 >"$OUT/load-$name.txt" 2>"$OUT/load-$name.err"
  C1=$(ticks $pid)
  echo "load $name: $(cat "$OUT/load-$name.txt") server_cpu=$(awk -v a=$C0 -v b=$C1 -v hz=$CLK 'BEGIN{printf "%.1f s", (b-a)/hz}')"
  head -3 "$OUT/load-$name.err"
done
curl -s "http://127.0.0.1:$V_PORT/internal/force_flush" >/dev/null; sleep 3

END_S=$((END_MS / 1000)); START_S=$((END_S - HOURS * 3600 + 3600))
QUERIES=(
  'sum by (job) (rate(x[5m]))'
  'histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))'
  'topk(5, x)'
  'sum by (version) (rate(x[5m]) * on (job, instance) group_left (version) x_info)'
  'avg_over_time(x[1h])'
)
# The range starts an hour after the first sample, so avg_over_time(x[1h]) sees full windows everywhere.
echo "query_range: start=$START_S end=$END_S step=${STEP}s ($(( (END_S - START_S) / STEP + 1 )) points), $REPS runs per query per system"
RES=$OUT/results.txt; : >"$RES"
for qi in "${!QUERIES[@]}"; do
  q=${QUERIES[$qi]}
  for sys in argus:$A_PORT:$A_PID prom:$P_PORT:$P_PID vm:$V_PORT:$V_PID; do
    IFS=: read -r name port pid <<<"$sys"
    # One warm-up run, whose answer is kept to check the series count.
    curl -s -m 120 "http://127.0.0.1:$port/api/v1/query_range" --data-urlencode "query=$q" \
      -d start=$START_S -d end=$END_S -d step=$STEP >"$OUT/answer-$qi-$name.json"
    NSER=$(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(len(d['data']['result']) if d.get('status')=='success' else 'ERR:'+d.get('error','?')[:80])" "$OUT/answer-$qi-$name.json" 2>/dev/null || echo ERR)
    C0=$(ticks $pid); : >"$OUT/lat.txt"
    for _ in $(seq "$REPS"); do
      curl -s -m 120 -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/api/v1/query_range" --data-urlencode "query=$q" \
        -d start=$START_S -d end=$END_S -d step=$STEP >>"$OUT/lat.txt"
    done
    C1=$(ticks $pid)
    sort -n "$OUT/lat.txt" | awk -v q=$qi -v s=$name -v n="$NSER" -v c0=$C0 -v c1=$C1 -v hz=$CLK -v reps=$REPS '
      {a[NR]=$1} END{p50=a[int((NR+1)/2)]; i99=int(NR*0.99+0.999); if(i99<1)i99=1; if(i99>NR)i99=NR;
      printf "%s %s %.4f %.4f %.4f %s\n", q, s, p50, a[i99], (c1-c0)/hz/reps, n}' >>"$RES"
  done
done

printf '\n%-78s %-6s %9s %9s %9s %7s\n' "query (query_range, ${HOURS}h/${STEP}s, $SERIES series)" system p50_ms p99_ms cpu_ms series
while read -r qi sys p50 p99 cpu n; do
  printf '%-78s %-6s %9.1f %9.1f %9.1f %7s\n' "${QUERIES[$qi]:0:78}" "$sys" "$(awk -v x=$p50 'BEGIN{print x*1000}')" \
    "$(awk -v x=$p99 'BEGIN{print x*1000}')" "$(awk -v x=$cpu 'BEGIN{print x*1000}')" "$n"
done <"$RES"
echo
echo "ratios (lower is better for Argus): p50 and CPU per query"
printf '%-78s %10s %10s %10s %10s\n' query p50_A/P p50_A/VM cpu_A/P cpu_A/VM
for qi in "${!QUERIES[@]}"; do
  awk -v q=$qi -v name="${QUERIES[$qi]:0:78}" '$1==q{p[$2]=$3; c[$2]=$5}
    function r(a,b){return b>0 ? sprintf("%.2f", a/b) : "n/a"}
    END{printf "%-78s %10s %10s %10s %10s\n", name, r(p["argus"],p["prom"]), r(p["argus"],p["vm"]), r(c["argus"],c["prom"]), r(c["argus"],c["vm"])}' "$RES"
done
awk '{p[$2]+=log($3); c[$2]+=log($5>0?$5:1e-4); n[$2]++}
  END{printf "geomean over the mix: p50 argus/prom=%.2f argus/vm=%.2f; cpu argus/prom=%.2f argus/vm=%.2f\n",
    exp(p["argus"]/n["argus"]-p["prom"]/n["prom"]), exp(p["argus"]/n["argus"]-p["vm"]/n["vm"]),
    exp(c["argus"]/n["argus"]-c["prom"]/n["prom"]), exp(c["argus"]/n["argus"]-c["vm"]/n["vm"])}' "$RES"
echo "rss_kb after queries: argus=$(rss_kb $A_PID) prom=$(rss_kb $P_PID) vm=$(rss_kb $V_PID); working files in $OUT"
