#!/usr/bin/env bash
# The burden of a running ward (docs/alarms.md, "The burden"): /metrics has the bppipe_alarms_*
# families (promtool check metrics accepts them) with as many alarms raised as the alarm sink
# received, /api/ward has alarm_burden for the live page, and the run summary (text and
# --summary-json's alarms) counts the same; an acknowledgement read from the input is counted
# with its time to acknowledge.
set -u
. "$(dirname "$0")/../wait.sh"
. "$(dirname "$0")/../fhir_reading.sh"
fail=0
t=$(mktemp -d)
ward=
cleanup() {
    [ -n "$ward" ] && kill -TERM "$ward" 2>/dev/null && { wait_gone 10 "$ward" || kill -9 "$ward"; }
    wait 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }
export BURDEN_TOKEN=burden-test-token

# Every warning is an alarm (low), so a small ward paced in real time raises some at once.
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
http_listen = 127.0.0.1:0
http_port_file = $t/addr
http_token_env = BURDEN_TOKEN
[source.ward]
plugin = source-faker
patients = 8
rate = 20
seed = 3
[detector.rules]
plugin = detector-rules
[alarms]
warn.match = severity=warning
warn.priority = low
crisis.match = category=hypertensive_crisis
crisis.priority = high
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/alarms
layout = ndjson
INI
"$BPPIPE" run "$t/p.ini" --summary-json "$t/s.json" 2>"$t/err" &
ward=$!
wait_until 60 test -s "$t/addr"
addr=$(cat "$t/addr" 2>/dev/null)
get() { curl -s -m 5 -H "Authorization: Bearer $BURDEN_TOKEN" "http://$addr$1"; }
raised() { get /metrics >"$t/m.txt" && awk '/^bppipe_alarms_raised_total\{/ {s += $2} END {exit !(s > 0)}' "$t/m.txt"; }
wait_until 60 raised
check "/metrics counts alarms raised" "raised"
check "promtool check metrics accepts /metrics with the alarm families" \
      "promtool check metrics <'$t/m.txt' >'$t/lint' 2>&1"
check "the families are there, with condition and priority" \
      "grep -q '^bppipe_alarms_raised_total{condition=\"warn\",priority=\"low\"}' '$t/m.txt' &&
       grep -q '^bppipe_alarms_withdrawn_total{condition=\"warn\",priority=\"low\"} 0' '$t/m.txt' &&
       grep -q '^bppipe_alarms_per_patient_day{condition=\"all\",priority=\"all\"}' '$t/m.txt' &&
       grep -q '^bppipe_alarms_time_to_acknowledge_seconds{condition=\"all\",priority=\"all\",quantile=\"0.5\"}' '$t/m.txt' &&
       grep -q '^bppipe_alarms_top10_patients_ratio' '$t/m.txt' && grep -q '^bppipe_alarms_patient_day_exposure ' '$t/m.txt'"
ward_burden() { get /api/ward | /usr/bin/python3 -c '
import json, sys
b = json.load(sys.stdin)["alarm_burden"]
sys.exit(0 if b["pipeline"]["alarms"] > 0 and b["patients"] == 8 and "warn" in b["by_condition"] else 1)'; }
wait_until 30 ward_burden
check "/api/ward carries alarm_burden for the live page" "ward_burden"

kill -TERM "$ward"
wait_gone 30 "$ward"
wait "$ward"
rc=$?
ward=
check "the ward stops cleanly" "[ $rc = 0 ]"
sent=$(cat "$t"/alarms/*.ndjson 2>/dev/null | grep -c '"event":"raised"')
sj() { /usr/bin/python3 -c '
import json, sys
print(eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))["alarms"]}))' "$t/s.json" "$1" 2>/dev/null; }
check "--summary-json alarms counts every raised event the sink received ($sent)" \
      "[ '$sent' -gt 0 ] && [ '$(sj 'd["pipeline"]["alarms"]')' = '$sent' ]"
check "by condition and priority they add up" \
      "[ '$(sj 'sum(c["alarms"] for c in d["by_condition"].values()) == d["pipeline"]["alarms"] == sum(p["alarms"] for p in d["by_priority"].values())')' = True ]"
check "the text summary has the burden table" \
      "grep -q '^alarms: [0-9]* readings of 8 patient' '$t/err' && grep -Eq '^  warn \(low\) +[0-9]+' '$t/err'"

# An acknowledgement read from the input (the command payload of docs/alarms.md): counted,
# with its time to acknowledge, in the summary.
obs() { fhir_bp "$1" "$2" "$4" "$5" "2026-03-01T$3:00Z"; } # ID PATIENT TIME SYS DIA
{ obs a1 p1 08:00 185 125; obs a2 p2 08:05 190 110; obs a3 p1 20:00 120 78; } >"$t/in.ndjson"
cat >"$t/f.ini" <<INI
[pipeline]
stats_interval = 0
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/f-alarms
layout = ndjson
INI
"$BPPIPE" run "$t/f.ini" 2>/dev/null
id=$(cat "$t"/f-alarms/*.ndjson 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    if d["event"] == "raised" and d["patient_id"] == "p1":
        print(d["alarm_id"])')
check "the first run raised p1's alarm" "[ -n '$id' ]"
printf '{"bppipe":"alarm-ack","alarm_id":"%s","by":"nurse1","at":"2026-03-01T08:02:00Z","from":"127.0.0.1"}\n' "$id" >>"$t/in.ndjson"
rm -rf "$t/f-alarms"
"$BPPIPE" run "$t/f.ini" --summary-json "$t/f.json" 2>/dev/null
fj() { /usr/bin/python3 -c '
import json, sys
print(eval(sys.argv[2], {"d": json.load(open(sys.argv[1]))["alarms"]["pipeline"]}))' "$t/f.json" "$1" 2>/dev/null; }
check "2 alarms, 1 acknowledged: share 0.5" \
      "[ '$(fj 'd["alarms"], d["acknowledged"], d["share_acknowledged"]')' = '(2, 1, 0.5)' ]"
check "its time to acknowledge is measured (p50 = p90, one time)" \
      "[ '$(fj 'd["ack_p50_s"] is not None and d["ack_p50_s"] == d["ack_p90_s"] >= 0')' = True ]"
exit $fail
