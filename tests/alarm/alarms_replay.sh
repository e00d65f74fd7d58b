#!/usr/bin/env bash
# `bppipe alarms replay` (docs/alarms.md, "What-if replay"): seven hand-made readings through
# no confirmation (A) and a 2-reading confirmation (B) give the burdens worked out by hand;
# nothing is delivered, no state file or listener appears; the pipeline's own source (a
# simulated ward) replays the same both times; and the usage errors exit 2 with what to do.
set -u
. "$(dirname "$0")/../wait.sh"
. "$(dirname "$0")/../fhir_reading.sh"
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }

obs() { fhir_bp "$1" "$2" "$4" "$5" "2026-03-01T$3:00Z"; } # ID PATIENT TIME SYS DIA
# p1: two crisis readings in a row, then normal; p2: one crisis reading, then normal;
# p3: normal, 12 hours apart. Span 08:00-20:00 = 0.5 day, 3 patients: 1.5 patient-days.
{
    obs r1 p1 08:00 185 125
    obs r2 p2 08:05 188 100
    obs r3 p3 08:10 118 76
    obs r4 p1 08:15 190 122
    obs r5 p2 08:20 122 80
    obs r6 p1 08:30 120 78
    obs r7 p3 20:00 119 77
} >"$t/in.ndjson"

cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
http_listen = 127.0.0.1:0
http_port_file = $t/addr
[source.in]
plugin = source-file
path = $t/elsewhere.ndjson
[detector.rules]
plugin = detector-rules
[detector.trend]
plugin = detector-trend
state_file = $t/trend.state
[alarms]
state_file = $t/alarms.state
crisis.match = category=hypertensive_crisis
crisis.priority = high
crisis.confirm_readings = 1
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/delivered-alarms
[sink.all]
plugin = sink-file
route = all
path = $t/delivered
INI

"$BPPIPE" alarms replay "$t/p.ini" --input "$t/in.ndjson" \
    --against 'crisis.confirm_readings=2' --json "$t/r.json" >"$t/out" 2>"$t/err"
rc=$?
check "the replay exits 0" "[ $rc = 0 ]"
fig() { # SIDE PATH...: a figure of the --json output
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))[sys.argv[2]]["burden"]
for k in sys.argv[3:]:
    d = d[k]
print(round(d, 4) if isinstance(d, float) else d)' "$t/r.json" "$@" 2>/dev/null
}
check "A: 2 alarms (p1 at 08:00, p2 at 08:05)" "[ '$(fig a pipeline alarms)' = 2 ]"
check "B: 1 alarm (p1 confirmed at 08:15; p2's next reading cleared it)" \
      "[ '$(fig b pipeline alarms)' = 1 ]"
check "B: 2 readings delayed (p1 08:00, p2 08:05); A: none" \
      "[ '$(fig b delayed_readings)' = 2 ] && [ '$(fig a delayed_readings)' = 0 ]"
check "B: crisis held back 2 readings" "[ '$(fig b by_condition crisis delayed_readings)' = 2 ]"
check "3 patients over 0.5 day: 1.5 patient-days" "[ '$(fig a patient_days)' = 1.5 ]"
check "alarms per patient-day: A 2/1.5, B 1/1.5" \
      "[ '$(fig a pipeline per_patient_day)' = 1.3333 ] && [ '$(fig b pipeline per_patient_day)' = 0.6667 ]"
check "A: both acknowledged at the patient's next reading, 15 min after the raise" \
      "[ '$(fig a pipeline acknowledged)' = 2 ] && [ '$(fig a pipeline ack_p50_s)' = 900 ] && [ '$(fig a pipeline ack_p90_s)' = 900 ]"
check "A: both resolved (acknowledged, then a clear reading)" "[ '$(fig a pipeline resolved)' = 2 ]"
check "no escalation is replayed" "[ '$(fig a pipeline escalations)' = 0 ]"
check "the crisis alarms are high priority" "[ '$(fig b by_priority high alarms)' = 1 ]"
check "the labels name the edits" \
      "grep -q '^A: as configured' '$t/out' && grep -q '^B: crisis.confirm_readings=2' '$t/out'"
check "the table shows both side by side with the change" \
      "grep -Eq '^  all alarms +2 +1\.333 +0 \| +1 +0\.667 +2 \| +-50%' '$t/out'"
check "the crisis row" "grep -Eq '^  crisis +2 .*\| +1 .* 2 \|' '$t/out'"
# --no-ack: nobody acknowledges; --ack-after 1800: p1's 08:15 and p2's 08:20 are too early
"$BPPIPE" alarms replay "$t/p.ini" --input "$t/in.ndjson" --no-ack \
    --against 'crisis.confirm_readings=2' --json "$t/r.json" >/dev/null 2>&1
check "--no-ack: 2 alarms, none acknowledged or resolved" \
      "[ '$(fig a pipeline alarms)' = 2 ] && [ '$(fig a pipeline acknowledged)' = 0 ] && [ '$(fig a pipeline resolved)' = 0 ]"
"$BPPIPE" alarms replay "$t/p.ini" --input "$t/in.ndjson" --ack-after 1800 \
    --against 'crisis.confirm_readings=2' --json "$t/r.json" >/dev/null 2>&1
check "--ack-after 1800: only p1's, at 08:30 (30 min)" \
      "[ '$(fig a pipeline acknowledged)' = 1 ] && [ '$(fig a pipeline ack_p50_s)' = 1800 ]"
check "nothing was delivered" "[ ! -e '$t/delivered' ] && [ ! -e '$t/delivered-alarms' ]"
check "no state file was read or written" "[ ! -e '$t/trend.state' ] && [ ! -e '$t/alarms.state' ]"
check "no listener started" "[ ! -e '$t/addr' ]"
check "the run logs nothing above warnings" "[ ! -s '$t/err' ]"

# The pipeline's own source: a simulated ward of 20 patients over a simulated day, 15 minutes
# apart; '*.KEY' sets every condition.
cat >"$t/ward.ini" <<INI
[source.ward]
plugin = source-faker
patients = 20
rate = 0
interval = 900
count = 1920
seed = 7
start_time = 2026-01-01T00:00:00Z
[detector.rules]
plugin = detector-rules
[alarms]
crisis.match = category=hypertensive_crisis
crisis.priority = high
stage2.match = category=hypertension_stage_2
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/ward-alarms
INI
"$BPPIPE" alarms replay "$t/ward.ini" --base '*.confirm_readings=1' \
    --against '*.confirm_readings=2' --json "$t/w.json" >"$t/wout" 2>"$t/werr"
check "the ward replay exits 0" "[ $? = 0 ]"
r() { /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$t/w.json" "$1" 2>/dev/null; }
check "both runs read the whole ward" \
      "[ '$(r 'd["a"]["burden"]["readings"] == d["b"]["burden"]["readings"] == 1920')' = True ]"
check "20 patients over about a day" \
      "[ '$(r '19.9 < d["a"]["burden"]["patient_days"] <= 20')' = True ]"
check "a 2-reading confirmation raises fewer alarms and delays readings" \
      "[ '$(r 'd["b"]["burden"]["pipeline"]["alarms"] < d["a"]["burden"]["pipeline"]["alarms"] and d["b"]["burden"]["delayed_readings"] > 0 == d["a"]["burden"]["delayed_readings"]')' = True ]"
check "'*.confirm_readings' reached both conditions" \
      "[ '$(r 'all(c["delayed_readings"] > 0 for c in d["b"]["burden"]["by_condition"].values())')' = True ]"
"$BPPIPE" alarms replay "$t/ward.ini" --base '*.confirm_readings=1' \
    --against '*.confirm_readings=2' --json "$t/w2.json" >/dev/null 2>&1
check "a replay is deterministic (same figures again)" "cmp -s '$t/w.json' '$t/w2.json'"
check "the ward delivered nothing" "[ ! -e '$t/ward-alarms' ]"

# Usage and configuration errors: exit 2 and what to do.
"$BPPIPE" alarms replay "$t/p.ini" --input "$t/in.ndjson" >"$t/o" 2>"$t/e"
check "without --against: exit 2, naming --against" "[ $? = 2 ] && grep -q -- '--against' '$t/e'"
sed '/^\[alarms\]/,/^crisis.confirm/d' "$t/p.ini" >"$t/none.ini"
"$BPPIPE" alarms replay "$t/none.ini" --input "$t/in.ndjson" --against 'x.priority=high' \
    >"$t/o" 2>"$t/e"
check "a pipeline without [alarms]: exit 2, saying so" \
      "[ $? = 2 ] && grep -q 'has no \[alarms\] section' '$t/e'"
"$BPPIPE" alarms replay "$t/p.ini" --input "$t/in.ndjson" --against 'crisis.confirm_readngs=2' \
    >"$t/o" 2>"$t/e"
check "a misspelt key: exit 2 with the [alarms] error" \
      "[ $? = 2 ] && grep -q 'confirm_readngs' '$t/e'"
"$BPPIPE" alarms replay --help >"$t/o" 2>&1
check "--help describes --against, --base and --input" \
      "[ $? = 0 ] && grep -q -- '--against KEY=VALUE' '$t/o' && grep -q -- '--base' '$t/o' && grep -q -- '--input' '$t/o'"
"$BPPIPE" alarms frobnicate >"$t/o" 2>"$t/e"
check "an unknown alarms command: exit 2" "[ $? = 2 ] && grep -q 'replay' '$t/e'"
exit $fail
