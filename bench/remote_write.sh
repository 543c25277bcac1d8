#!/bin/bash
# remote_write out: Argus's sender beside Prometheus's own, same load, same run.
# Each server receives the same remote_write load (rwgen) and sends everything it stores to its own
# VictoriaMetrics. Reported per server: samples stored and sent, the CPU-seconds of the whole server
# process (receiving, storing and sending: the sender alone is not separable from outside), samples
# sent per process CPU-second, and the ratio Argus/Prometheus of that figure.
# Usage: bench/remote_write.sh [SERIES=20000] [DURATION_S=60] [OUTAGE_S=0]
#   OUTAGE_S > 0 stops both VictoriaMetrics for that long, starting a third into the run; the
#   script then waits until both senders have caught up and reports how long that took.
# Env: ARGUS=path/to/argus and RWGEN=path/to/rwgen (default: release builds made here).
. "$(dirname "$0")/lib.sh"
SERIES=${1:-20000}; DUR=${2:-60}; OUTAGE=${3:-0}
PA=19801; PP=19802; VA=19803; VP=19804
OUT=$WORK/remote-write-$SERIES-$OUTAGE
# ARGUS and RWGEN given (both executable): use them as they are.
if [ -n "${RWGEN:-}" ] && [ -x "${RWGEN:-}" ] && [ -x "$ARGUS" ]; then :; else need_build; fi
need_peers
rm -rf "$OUT"; mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT
start_vm() { # port dir
  victoria-metrics -httpListenAddr=127.0.0.1:$1 -storageDataPath="$2" -retentionPeriod=100y >>"$2.log" 2>&1 &
  echo $!
}
VMA=$(start_vm $VA "$OUT/vm-argus"); VMP=$(start_vm $VP "$OUT/vm-prom"); PIDS+=($VMA $VMP)
wait_http http://127.0.0.1:$VA/health && wait_http http://127.0.0.1:$VP/health || exit 1
cat >"$OUT/argus.yml" <<Y
remote_write:
  - url: http://127.0.0.1:$VA/api/v1/write
    name: vm
Y
cat >"$OUT/prometheus.yml" <<Y
global: {scrape_interval: 15s}
remote_write:
  - url: http://127.0.0.1:$VP/api/v1/write
    name: vm
Y
ARGUS_LOG=warn "$ARGUS" server --data-dir "$OUT/argus" --listen 127.0.0.1:$PA --config "$OUT/argus.yml" >"$OUT/argus.log" 2>&1 &
APID=$!; PIDS+=($APID)
prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/prom" --web.listen-address=127.0.0.1:$PP \
  --web.enable-remote-write-receiver >"$OUT/prometheus.log" 2>&1 &
PPID_=$!; PIDS+=($PPID_)
wait_http http://127.0.0.1:$PA/-/ready && wait_http http://127.0.0.1:$PP/-/ready || exit 1
sum_metric() { curl -s "$1/metrics" | awk -v a="$2" -v b="${3:-}" '$1==a || index($1,a"{")==1 || (b!="" && ($1==b || index($1,b"{")==1)) {s+=$2} END{printf "%d", s}'; }
sent_a() { sum_metric http://127.0.0.1:$PA argus_remote_storage_samples_total; }
sent_p() { sum_metric http://127.0.0.1:$PP prometheus_remote_storage_samples_total prometheus_remote_storage_succeeded_samples_total; }
OFFSET=$(( DUR * 400000 / SERIES * 15 + 3600 ))
# Argus refuses samples more than 10 minutes ahead of its clock, so its load starts in the past.
# Prometheus's sender skips samples older than its own start, so its load starts now (Prometheus
# accepts samples ahead of its clock).
load() { # port tag offset
  "$RWGEN" --addr 127.0.0.1:$1 --path /api/v1/write --series "$SERIES" --duration "$DUR" --workers 2 --batch 2000 \
    --start-offset-s "$3" >"$OUT/gen-$2.out" 2>"$OUT/gen-$2.err"
}
S0=$(sysbusy); CA0=$(ticks $APID); CP0=$(ticks $PPID_); SA0=$(sent_a); SP0=$(sent_p); T0=$(date +%s.%N)
load $PA argus $OFFSET & G1=$!
load $PP prom 0 & G2=$!
if [ "$OUTAGE" -gt 0 ]; then
  sleep $((DUR / 3)); kill $VMA $VMP; wait $VMA $VMP 2>/dev/null
  echo "receivers stopped for ${OUTAGE}s"; sleep "$OUTAGE"
  VMA=$(start_vm $VA "$OUT/vm-argus"); VMP=$(start_vm $VP "$OUT/vm-prom"); PIDS+=($VMA $VMP)
fi
wait $G1 $G2
TG=$(date +%s.%N)
# Appended samples are what each store accepted; wait (at most 150 s) until each sent them all
# (less one round: Prometheus does not send samples older than its sender's start).
APP_A=$(sum_metric http://127.0.0.1:$PA argus_tsdb_samples_appended_total)
APP_P=$(sum_metric http://127.0.0.1:$PP prometheus_tsdb_head_samples_appended_total)
DONE_A=""; DONE_P=""
for _ in $(seq 300); do
  [ -z "$DONE_A" ] && [ "$(sent_a)" -ge $((APP_A - SA0 - SERIES)) ] && DONE_A=$(date +%s.%N)
  [ -z "$DONE_P" ] && [ "$(sent_p)" -ge $((APP_P - SP0 - SERIES)) ] && DONE_P=$(date +%s.%N)
  [ -n "$DONE_A" ] && [ -n "$DONE_P" ] && break
  sleep 0.5
done
T1=$(date +%s.%N); S1=$(sysbusy); CA1=$(ticks $APID); CP1=$(ticks $PPID_); SA1=$(sent_a); SP1=$(sent_p)
report() { # name appended sent0 sent1 c0 c1 done
  awk -v n="$1" -v app="$2" -v s0="$3" -v s1="$4" -v c0="$5" -v c1="$6" -v d="${7:-}" -v tg=$TG -v t0=$T0 -v hz=$CLK 'BEGIN{
    cpu=(c1-c0)/hz; sent=s1-s0;
    printf "%s: stored=%d sent=%d (%.4f of stored); process cpu=%.1f s; samples sent per process CPU-second=%.0f; caught up %s\n",
      n, app, sent, (app>0?sent/app:0), cpu, (cpu>0?sent/cpu:0), (d==""?"NOT within 150 s":sprintf("%.1f s after the load ended", d-tg)) }'
}
report argus "$APP_A" "$SA0" "$SA1" "$CA0" "$CA1" "$DONE_A" | tee "$OUT/summary.txt"
report prometheus "$APP_P" "$SP0" "$SP1" "$CP0" "$CP1" "$DONE_P" | tee -a "$OUT/summary.txt"
awk -v s0=$S0 -v s1=$S1 -v t0=$T0 -v t1=$T1 -v a=$((CA1-CA0)) -v p=$((CP1-CP0)) -v hz=$CLK -v n=$(nproc) 'BEGIN{w=t1-t0; printf "machine: busy=%.2f cores of %d over %.0f s; argus=%.2f prometheus=%.2f cores\n", (s1-s0)/hz/w, n, w, a/hz/w, p/hz/w}' | tee -a "$OUT/summary.txt"
awk -v sa=$((SA1-SA0)) -v sp=$((SP1-SP0)) -v a=$((CA1-CA0)) -v p=$((CP1-CP0)) 'BEGIN{ if (a>0 && p>0 && sp>0) printf "ratio argus/prometheus, samples sent per process CPU-second: %.2f\n", (sa/a)/(sp/p) }' | tee -a "$OUT/summary.txt"
grep -h "remote_storage_samples_\(failed\|retried\|dropped\)" <(curl -s http://127.0.0.1:$PA/metrics) | grep -v '^#' | tee -a "$OUT/summary.txt"
