#!/usr/bin/env bash
# A real Prometheus (Debian's prometheus) on loopback scrapes a running ward every second, with
# the ward's bearer token, and a query through its HTTP API answers with the rate of readings
# and the p99 of the end-to-end latency histogram.
# promtool check config accepts the scrape configuration. See docs/operations.md.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
ward= prom=
cleanup() {
    for p in $prom $ward; do kill -TERM "$p" 2>/dev/null; done
    for p in $prom $ward; do wait_gone 10 "$p" || kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }
command -v prometheus >/dev/null || { echo "FAIL prometheus is not installed (scripts/setup-debian.sh)"; exit 1; }
export OPS_TOKEN=prom-test-token
wait_file() { wait_until 60 test -s "$1"; }

cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
http_listen = 127.0.0.1:0
http_port_file = $t/addr
http_token_env = OPS_TOKEN
[source.faker]
plugin = source-faker
rate = 40
[detector.rules]
plugin = detector-rules
[sink.out]
plugin = sink-file
route = all
path = $t/out
INI
"$BPPIPE" run "$t/p.ini" 2>"$t/ward.err" &
ward=$!
wait_file "$t/addr"
addr=$(cat "$t/addr" 2>/dev/null)
check "the ward listens" "[ -n '$addr' ]"

# Prometheus wants a fixed port: one the kernel has just handed out as free.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '%s' "$OPS_TOKEN" >"$t/token"
cat >"$t/prom.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: bppipe
    authorization:
      credentials_file: $t/token
    static_configs:
      - targets: ['$addr']
YML
check "promtool check config accepts the scrape configuration" \
      "promtool check config '$t/prom.yml' >'$t/cfg.out' 2>&1"
prometheus --config.file="$t/prom.yml" --web.listen-address="127.0.0.1:$port" \
    --storage.tsdb.path="$t/tsdb" 2>"$t/prom.err" &
prom=$!
q() { curl -s -m 5 --get "http://127.0.0.1:$port/api/v1/query" --data-urlencode "query=$1"; }
value() { python3 -c '
import json, sys
d = json.loads(sys.stdin.read() or "{}")
r = d.get("data", {}).get("result", [])
print(sum(float(x["value"][1]) for x in r) if r else "")' 2>/dev/null; }
rate= up=
for _ in $(seq 1 60); do
    up=$(q 'up{job="bppipe"}' | value)
    rate=$(q 'sum(rate(bppipe_readings_total[30s]))' | value)
    [ "$up" = 1.0 ] && [ -n "$rate" ] &&
        python3 -c "import sys; sys.exit(0 if float('$rate') > 0 else 1)" && break
    sleep 1
done
check "Prometheus scrapes the ward with its token (up = 1)" "[ '$up' = 1.0 ]"
check "rate(bppipe_readings_total[30s]) answers with readings per second > 0 ($rate)" \
      "[ -n '$rate' ] && python3 -c \"import sys; sys.exit(0 if float('$rate') > 0 else 1)\""
check "the ward's delivered count is queryable" \
      "[ -n \"\$(q 'bppipe_sink_delivered_total{sink=\"sink.out\"}' | value)\" ]"
p99=$(q 'histogram_quantile(0.99, sum by (le) (rate(bppipe_e2e_latency_seconds_bucket[30s])))' | value)
check "the e2e latency histogram gives a p99 ($p99 s)" "[ -n '$p99' ] && [ '$p99' != NaN ]"
[ $fail = 0 ] || { tail -5 "$t/prom.err"; tail -5 "$t/ward.err"; }
exit $fail
