#!/usr/bin/env bash
# Personalised thresholds: overrides apply to their patient and say so; a bad file is refused
# with its line; SIGHUP re-reads the file without a restart, and a broken new file is refused
# while the old one stays in force.
set -u
fail=0
t=$(mktemp -d)
trap 'kill $bg 2>/dev/null; rm -rf "$t"' EXIT
bg=
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
printf 'patient_id,systolic_high,diastolic_high\nPAT-001,100,\n' >"$t/profiles.csv"
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 5
[source.ward]
plugin = source-faker
count = 200
rate = 0
seed = 9
[detector.rules]
plugin = detector-rules
profiles = $t/profiles.csv
[sink.out]
plugin = sink-file
path = $t/out
INI
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "runs with profiles" "[ $? = 0 ] && grep -q '1 patient profiles from' '$t/err'"
p1() { grep -h '"patient_id":"PAT-001"' "$t"/out/*.ndjson; }
check "the patient's own threshold applies (systolic_high 100)" "p1 | python3 -c 'import json,sys; d=[json.loads(l) for l in sys.stdin]; sys.exit(0 if len(d) == 40 and all((\"hypertension_systolic\" in x[\"anomaly_details\"]) == (x[\"systolic_pressure\"] > 100) for x in d) and any(x[\"systolic_pressure\"] <= 140 and x[\"anomaly\"] for x in d) else 1)'"
check "and the document says so" "[ \$(p1 | grep -c '\"thresholds\":\"profile\"') = 40 ]"
check "other patients keep the defaults" "! grep -h '\"patient_id\":\"PAT-002\"' '$t'/out/*.ndjson | grep -q '\"thresholds\":\"profile\"'"

bad() { # bad NAME CONTENT MESSAGE
    printf "$2" >"$t/bad.csv"
    "$BPPIPE" check "$t/p.ini" -o detector.rules.profiles="$t/bad.csv" >"$t/err" 2>&1
    check "refused: $1" "[ $? = 2 ] && grep -q -- \"$3\" '$t/err'"
}
bad "unknown column" 'patient_id,systolic_max\nA,150\n' "bad.csv:1: unknown column 'systolic_max'"
bad "bad number" 'patient_id,systolic_high\nA,150\nB,high\n' "bad.csv:3: 'high' is not a pressure in mmHg"
bad "duplicate patient" 'patient_id,systolic_high\nA,150\nB,150\nA,160\n' "bad.csv:4: patient 'A' is listed twice (first at line 2)"
bad "thresholds out of order" 'patient_id,systolic_low,systolic_high\nA,150,120\n' "bad.csv:2: systolic_low must be below systolic_high"
bad "no patient_id column" 'systolic_high\n150\n' "bad.csv:1: the first column must be patient_id"

# SIGHUP: re-read without a restart
rm -rf "$t/out"
cat >"$t/live.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 5
[source.ward]
plugin = source-faker
rate = 10
[detector.rules]
plugin = detector-rules
profiles = $t/profiles.csv
[sink.out]
plugin = sink-file
path = $t/out
INI
"$BPPIPE" run "$t/live.ini" 2>"$t/err" &
bg=$!
sleep 1.5
printf 'patient_id,systolic_high\nPAT-001,100\nPAT-002,100\n' >"$t/profiles.csv"
kill -HUP $bg
sleep 1.5
printf 'patient_id,systolic_high\nPAT-001,nonsense\n' >"$t/profiles.csv"
kill -HUP $bg
sleep 1
kill -TERM $bg
wait $bg
st=$?
bg=
check "SIGHUP does not stop the run" "[ $st = 0 ]"
check "SIGHUP reloads the profiles" "grep -q '2 patient profiles reloaded' '$t/err'"
check "after the reload, the new patient's profile applies" "grep -h '\"patient_id\":\"PAT-002\"' '$t'/out/*.ndjson | grep -q '\"thresholds\":\"profile\"'"
check "a broken file is refused on reload, the previous one stays" "grep -q 'profiles not reloaded' '$t/err' && [ \$(grep -h '\"patient_id\":\"PAT-002\"' '$t'/out/*.ndjson | tail -n 3 | grep -c '\"thresholds\":\"profile\"') = 3 ]"
exit $fail
