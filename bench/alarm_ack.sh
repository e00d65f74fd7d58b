#!/usr/bin/env bash
# How long an acknowledgement takes to answer with a source without partitions: N patients with
# a crisis raise N alarms in a ward reading a FIFO (source-file, poll_timeout_ms POLL), then each
# is acknowledged with POST /api/alarms/ID/ack one after the other; the answer (200) comes once
# the batch the acknowledgement rode in is committed, its event written by sink-file (ndjson).
# Prints the answers' p50, p90, p99 and max in ms (curl's time_total).
#   bash bench/alarm_ack.sh [N] [POLL]      (BPPIPE: the executable, default build/bppipe)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bppipe=${BPPIPE:-$root/build/bppipe}
n=${1:-200}
poll=${2:-50}
t=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; exec 7>&- 2>/dev/null; wait 2>/dev/null; rm -rf "$t"' EXIT
token=bench-ack-token-0123456789
printf 'bench %s\n' "$token" >"$t/users"
chmod 600 "$t/users"
cat >"$t/p.ini" <<INI
[pipeline]
http_listen = 127.0.0.1:0
http_port_file = $t/port
stats_interval = 0
poll_timeout_ms = $poll
[source.in]
plugin = source-file
path = -
[detector.rules]
plugin = detector-rules
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
users_file = $t/users
audit_file = $t/audit.jsonl
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/alarms
layout = ndjson
INI
mkfifo "$t/in"
"$bppipe" run "$t/p.ini" <"$t/in" 2>"$t/err" &
pid=$!
exec 7>"$t/in"
for i in $(seq 1 "$n"); do
    printf '{"resourceType":"Observation","id":"b%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p%d"},"effectiveDateTime":"2026-03-01T08:00:00Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":195,"unit":"mmHg"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":125,"unit":"mmHg"}}]}\n' "$i" "$i" >&7
done
until [ -s "$t/port" ]; do sleep 0.05; done
addr=$(cat "$t/port")
list() { curl -s "http://$addr/api/alarms"; }
count() { list | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["alarms"]))' 2>/dev/null || echo 0; }
until [ "$(count)" -ge "$n" ]; do sleep 0.1; done
list | /usr/bin/python3 -c 'import json,sys; [print(a["alarm_id"]) for a in json.load(sys.stdin)["alarms"]]' >"$t/ids"
while read -r id; do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST \
        -H "Authorization: Bearer $token" "http://$addr/api/alarms/$id/ack"
done <"$t/ids" >"$t/times"
/usr/bin/python3 - "$t/times" "$poll" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ok = sorted(float(t) * 1000 for code, t in rows if code == "200")
q = lambda p: ok[min(len(ok) - 1, int(p * len(ok)))]
print("acknowledgements: %d answered 200 of %d (poll_timeout_ms = %s)" % (len(ok), len(rows), sys.argv[2]))
print("answer ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f" % (q(0.5), q(0.9), q(0.99), ok[-1]))
PY
