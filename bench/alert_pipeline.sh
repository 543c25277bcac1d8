#!/bin/bash
# Alert pipeline throughput: alerts per second through dispatch (route, group) -> inhibit ->
# silence -> dedup (notification log), with 10k active alerts, 1k silences and 3 inhibition
# rules. Runs the divan benchmark crates/alert/benches/pipeline.rs (see its header for the
# workload) and prints alerts/s from each benchmark's median time.
# Usage: bench/alert_pipeline.sh [FILTER]   (FILTER: a divan name filter, e.g. first_flush)
. "$(dirname "$0")/lib.sh"
ALERTS=10000
mkdir -p "$WORK"
LOG=$WORK/alert_pipeline.txt
S0=$(sysbusy); T0=$(date +%s.%N)
(cd "$ROOT" && cargo bench -q -p argus-alert --bench pipeline -- ${1:+"$1"}) 2>&1 | tee "$LOG"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "benchmark failed" >&2; exit 1; }
T1=$(date +%s.%N); S1=$(sysbusy)
# divan rows: "├─ name  fastest │ slowest │ median │ mean │ samples │ iters"; an argument row
# ("│  ├─ 1000 ...") belongs to the benchmark row above it.
python3 - "$LOG" "$ALERTS" <<'PY'
import re, sys
log, alerts = sys.argv[1], int(sys.argv[2])
unit = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
parent = None
print(f"{'benchmark':<30} {'median':>10} {'alerts/s':>10}")
for line in open(log, encoding="utf-8"):
    m = re.match(r"^(│  |   )?[├╰]─ (\S+)\s+(.*)$", line.rstrip("\n"))
    if not m:
        continue
    nested, name, rest = m.group(1) is not None, m.group(2), m.group(3)
    if not nested:
        parent = name
    cells = [c.strip() for c in rest.split("│")]
    t = re.fullmatch(r"([\d.]+) (ns|µs|us|ms|s)", cells[2]) if len(cells) > 2 else None
    if not t:
        continue
    label = f"{parent}({name} silences)" if nested else name
    secs = float(t.group(1)) * unit[t.group(2)]
    print(f"{label:<30} {cells[2]:>10} {alerts / secs:>10,.0f}")
PY
awk -v s0=$S0 -v s1=$S1 -v t0=$T0 -v t1=$T1 -v hz=$CLK -v n=$(nproc) 'BEGIN{printf "machine: busy=%.2f cores of %d during the run (includes the build)\n", (s1-s0)/hz/(t1-t0), n}'
