#!/bin/bash
# End-to-end alert latency: from killing a scraped target (node_exporter) to the webhook
# arriving, for Argus, next to ../shared/peers/alert_latency.py (Prometheus + Alertmanager).
#
# Argus runs with its defaults except a 1 s scrape interval: the same rule as the peer
# (`up == 0`, `for: 0s`), a webhook receiver, group_by [alertname, instance]. Each trial kills a
# different target at a random phase, so every trial opens a new aggregation group.
# Per trial it prints: kill -> failed scrape (the first up=0 sample's timestamp), kill -> alert
# firing (startsAt in the payload), kill -> webhook. Summary: median, p90 (nearest rank), max.
#
# Usage: bench/alert_latency.sh [TRIALS=7] [SEED=1]
# Env:
#   ARGUS_EVAL=1s        set global.evaluation_interval (default: Argus's default, unset)
#   ARGUS_GROUP_WAIT=0s  set route.group_wait (default: Argus's default, unset)
#   PEER=1               also run the peer twice in the same session: as shipped (scrape and
#                        evaluation 15s) and with 1 s scrape and evaluation (the same intervals
#                        as Argus here; a copy under $WORK with the two intervals and the random
#                        phase range changed). Each peer run reports group_wait 0s and 30s.
#   PEER_ONLY=1          run only the peer.
. "$(dirname "$0")/lib.sh"
TRIALS=${1:-7}; SEED=${2:-1}
OUT=$WORK/alert-latency
PORT=19897; HOOK=19898; NE0=19401

summarize_peer() { # results.json -> median/p90/max per column
  python3 - "$1" <<'EOF'
import json, math, sys
rows = json.load(open(sys.argv[1]))
def st(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs: return "n=0"
    n = len(xs); med = xs[n//2] if n % 2 else (xs[n//2-1] + xs[n//2]) / 2
    return f"n={n} median={med:.2f}s p90={xs[max(0, math.ceil(0.9*n)-1)]:.2f}s max={xs[-1]:.2f}s"
print("  kill -> failed scrape:", st([r["scrape_fail_after"] for r in rows]))
print("  kill -> firing (startsAt):", st([r.get("fire_after") for r in rows]))
print("  kill -> webhook, group_wait 0s: ", st([r.get("gw0") for r in rows]))
print("  kill -> webhook, group_wait 30s:", st([r.get("gw30") for r in rows]))
EOF
}

# Installs the three Debian packages this benchmark needs when one is missing.
need_alert_peers() {
  command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null \
    && command -v prometheus-node-exporter >/dev/null && return 0
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    prometheus prometheus-alertmanager prometheus-node-exporter
}

run_peer() {
  need_alert_peers || { echo "cannot install prometheus, prometheus-alertmanager, prometheus-node-exporter" >&2; exit 1; }
  echo "=== peer: Prometheus + Alertmanager, scrape 15s, evaluation 15s (alert_latency.py as shipped)"
  PEERS_WORK=$WORK/peer-15s python3 "$PEERS/alert_latency.py" "$TRIALS" "$SEED" > "$WORK/peer-15s.out" 2>&1
  grep -v '^{' "$WORK/peer-15s.out"; summarize_peer "$WORK/peer-15s/alert/results.json"
  echo "=== peer: Prometheus + Alertmanager, scrape 1s, evaluation 1s (the same intervals as Argus)"
  sed -e 's/scrape_interval: 15s/scrape_interval: 1s/' -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
      -e 's/rnd.uniform(0, 15)/rnd.uniform(0, 1)/' "$PEERS/alert_latency.py" > "$WORK/alert_latency_1s.py"
  grep -q 'scrape_interval: 1s' "$WORK/alert_latency_1s.py" && grep -q 'evaluation_interval: 1s' "$WORK/alert_latency_1s.py" \
    || { echo "could not set the peer's intervals to 1s" >&2; exit 1; }
  PEERS_WORK=$WORK/peer-1s python3 "$WORK/alert_latency_1s.py" "$TRIALS" "$SEED" > "$WORK/peer-1s.out" 2>&1
  grep -v '^{' "$WORK/peer-1s.out"; summarize_peer "$WORK/peer-1s/alert/results.json"
}

mkdir -p "$WORK"
if [ "${PEER_ONLY:-0}" = 1 ]; then run_peer; exit 0; fi
need_alert_peers || { echo "cannot install prometheus-node-exporter" >&2; exit 1; }
(cd "$ROOT" && cargo build --release -q -p argus) || { echo "argus build failed" >&2; exit 1; }
rm -rf "$OUT"; mkdir -p "$OUT"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done; }
trap cleanup EXIT
TARGETS=""
for i in $(seq 0 $((TRIALS - 1))); do
  prometheus-node-exporter --web.listen-address=127.0.0.1:$((NE0 + i)) >"$OUT/ne$i.log" 2>&1 &
  PIDS+=($!); echo $! > "$OUT/ne$i.pid"; disown $!  # the trials kill -9 them; no job notices
  TARGETS="$TARGETS${TARGETS:+, }'127.0.0.1:$((NE0 + i))'"
done
{
  echo "global:"
  echo "  scrape_interval: 1s"
  [ -n "${ARGUS_EVAL:-}" ] && echo "  evaluation_interval: $ARGUS_EVAL"
  echo "rule_files: [rules.yml]"
  echo "alerting:"
  echo "  config_file: am.yml"
  echo "scrape_configs:"
  echo "  - job_name: node"
  echo "    static_configs:"
  echo "      - targets: [$TARGETS]"
} > "$OUT/argus.yml"
printf 'groups:\n  - name: latency\n    rules:\n      - alert: TargetDown\n        expr: up == 0\n        for: 0s\n' > "$OUT/rules.yml"
{
  echo "route:"
  echo "  receiver: hook"
  echo "  group_by: [alertname, instance]"
  [ -n "${ARGUS_GROUP_WAIT:-}" ] && echo "  group_wait: $ARGUS_GROUP_WAIT"
  echo "receivers:"
  echo "  - name: hook"
  echo "    webhook_configs:"
  echo "      - url: http://127.0.0.1:$HOOK/argus"
  echo "        send_resolved: true"
} > "$OUT/am.yml"
ARGUS_LOG=warn "$ARGUS" server --config "$OUT/argus.yml" --data-dir "$OUT/data" --listen 127.0.0.1:$PORT >"$OUT/argus.log" 2>&1 &
APID=$!; PIDS+=($APID)
wait_http http://127.0.0.1:$PORT/-/ready || exit 1
echo "=== argus: scrape 1s, evaluation_interval ${ARGUS_EVAL:-default}, group_wait ${ARGUS_GROUP_WAIT:-default}; $TRIALS trials"
S0=$(sysbusy); T0=$(date +%s.%N)
python3 - "$OUT" "$PORT" "$HOOK" "$TRIALS" "$SEED" <<'EOF'
import json, math, os, random, signal, sys, threading, time, urllib.parse, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out, port, hook, trials, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
arrived, lock = [], threading.Lock()

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        at = time.time()
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200); self.end_headers()
        with lock:
            arrived.append((at, body))
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", hook), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()

def get(path, **params):
    url = f"http://127.0.0.1:{port}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)

def rfc3339(s):
    from datetime import datetime, timezone
    s = s.rstrip("Z"); frac = 0.0
    if "." in s:
        s, f = s.split(".", 1); frac = float("0." + f)
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + frac

# Ready: every target scraped up and the rule group evaluated at least once.
deadline = time.time() + 180
while True:
    try:
        up = get("/api/v1/query", query="sum(up)")["data"]["result"]
        groups = get("/api/v1/rules")["data"]["groups"]
        if up and int(float(up[0]["value"][1])) == trials and groups and groups[0].get("lastEvaluation", "").startswith("20"):
            break
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit("targets never came up or the rule group never ran")
    time.sleep(0.5)

rnd = random.Random(seed)
rows = []
for i in range(trials):
    inst = f"127.0.0.1:{19401 + i}"
    pid = int(open(f"{out}/ne{i}.pid").read())
    time.sleep(rnd.uniform(0, 1))  # random phase against the 1 s scrape
    t_kill = time.time(); os.kill(pid, signal.SIGKILL)
    got = None
    while got is None and time.time() < t_kill + 180:
        with lock:
            for at, p in arrived:
                if at >= t_kill and p.get("status") == "firing":
                    mine = [a for a in p.get("alerts", []) if a["labels"].get("instance") == inst]
                    if mine:
                        got = (at, rfc3339(mine[0]["startsAt"]))
                        break
        time.sleep(0.02)
    try:
        vals = get("/api/v1/query", query=f'up{{instance="{inst}"}}[3m]', time=str(time.time()))["data"]["result"][0]["values"]
        t_fail = next(float(t) for t, v in vals if v == "0" and float(t) >= t_kill - 0.5)
    except Exception:
        t_fail = float("nan")
    row = {"trial": i + 1, "instance": inst, "scrape_fail_after": t_fail - t_kill,
           "fire_after": (got[1] - t_kill) if got else None, "webhook_after": (got[0] - t_kill) if got else None}
    rows.append(row); print(json.dumps(row), flush=True)

def st(xs):
    xs = sorted(x for x in xs if x is not None and x == x)
    if not xs:
        return "n=0"
    n = len(xs); med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return f"n={n} median={med:.2f}s p90={xs[max(0, math.ceil(0.9 * n) - 1)]:.2f}s max={xs[-1]:.2f}s"
print("  kill -> failed scrape:", st([r["scrape_fail_after"] for r in rows]))
print("  kill -> firing (startsAt):", st([r["fire_after"] for r in rows]))
print("  kill -> webhook:", st([r["webhook_after"] for r in rows]))
missing = sum(1 for r in rows if r["webhook_after"] is None)
json.dump(rows, open(f"{out}/results.json", "w"), indent=1)
server.shutdown()
sys.exit(1 if missing else 0)
EOF
RC=$?
T1=$(date +%s.%N); S1=$(sysbusy)
awk -v s0=$S0 -v s1=$S1 -v t0=$T0 -v t1=$T1 -v hz=$CLK -v n=$(nproc) 'BEGIN{printf "machine: busy=%.2f cores of %d during the argus trials\n", (s1-s0)/hz/(t1-t0), n}'
cleanup; trap - EXIT
[ "${PEER:-0}" = 1 ] && run_peer
exit $RC
