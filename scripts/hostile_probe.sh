#!/usr/bin/env bash
# Hostile and careless requests against a fresh argus server: each line is one request
# that used to crash, poison or change the server, and what it answers now.
# Usage: scripts/hostile_probe.sh   (from the repository root; needs curl and python3)
set -u
BIN=${BIN:-target/debug/argus}   # build with: cargo build -p argus
D=$(mktemp -d); PORT=19797; B=http://127.0.0.1:$PORT
cat > $D/am.yml <<'Y'
global: {smtp_smarthost: "mail:25", smtp_from: a@b, smtp_auth_password: hunter2}
route: {receiver: hook}
receivers: [{name: hook, webhook_configs: [{url: "http://127.0.0.1:1/hook?token=abc"}]}]
Y
cat > $D/argus.yml <<Y
alerting: {config_file: $D/am.yml}
Y
$BIN server --data-dir $D/data --listen 127.0.0.1:$PORT --config $D/argus.yml --web.enable-admin-api 2>$D/log & PID=$!
for i in $(seq 100); do curl -s -o /dev/null $B/-/ready && break; sleep 0.2; done
st() { printf '%-60s %s\n' "$1" "$2"; }
q=$(python3 -c 'print("+".join(["1"]*2000))')
st "query 1+1+…+1 (2000 terms, 4 KB GET)" "$(curl -s -o /dev/null -w '%{http_code}' -G $B/api/v1/query --data-urlencode "query=$q")"
q=$(python3 -c 'print("abs("*1500+"1"+")"*1500)')
st "query abs( nested 1500 deep" "$(curl -s -o /dev/null -w '%{http_code}' -G $B/api/v1/query --data-urlencode "query=$q")"
st "format_query abs( nested 1500 deep" "$(curl -s -o /dev/null -w '%{http_code}' -G $B/api/v1/format_query --data-urlencode "query=$q")"
st "count_over_time(vector(1)[30d:1ms])" "$(curl -s -w ' %{time_total}s' -o $D/o -G $B/api/v1/query --data-urlencode 'query=count_over_time(vector(1)[30d:1ms])') $(head -c 160 $D/o)"
st "server RSS after those (kB)" "$(grep VmHWM /proc/$PID/status | awk '{print $2}')"
st "import x 1 -9223372036854775808" "$(printf 'x 1 -9223372036854775808\n' | curl -s -w ' %{http_code}' --data-binary @- $B/api/v1/import/prometheus | tr '\n' ' ' | head -c 200)"
st "import x 1 <year 2500>" "$(printf 'x 1 16725225600000\n' | curl -s -o /dev/null -w '%{http_code}' --data-binary @- $B/api/v1/import/prometheus)"
curl -s -X POST $B/api/v1/admin/tsdb/compact -o /dev/null
NOW=$(date +%s%3N)
st "import a good sample after them and a compaction" "$(printf "x 2 $NOW\n" | curl -s -o /dev/null -w '%{http_code}' --data-binary @- $B/api/v1/import/prometheus)"
st "query x" "$(curl -s -G $B/api/v1/query --data-urlencode 'query=x' | head -c 120)"
st "cross-site text/plain silence (Origin: evil)" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: http://evil.example' -H 'Content-Type: text/plain' --data '{"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"e","comment":"c"}' $B/api/v2/silences)"
st "Host: rebound.example" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: rebound.example' $B/api/v1/status/config)"
st "/api/v2/status leaks hunter2 / token=abc?" "$(curl -s $B/api/v2/status | grep -c -e hunter2 -e token=abc)"
st "/-/healthy at the end" "$(curl -s -o /dev/null -w '%{http_code}' $B/-/healthy)"
kill $PID; wait $PID 2>/dev/null; rm -rf $D
