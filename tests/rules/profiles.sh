#!/usr/bin/env bash
# Personalised thresholds: overrides apply to their patient and say so; a spreadsheet's CSV
# (quotes, ", ", CRLF, BOM) reads as it looks; a profile that matches no reading is warned
# about at close; a bad file is refused with its line; SIGHUP re-reads the file without a restart, and a broken new file is refused
# while the old one stays in force.
set -u
. "$(dirname "$0")/../wait.sh"
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

check "every profile matched: no warning" "! grep -q 'matched no reading' '$t/err'"

# A spreadsheet's export (BOM, quoted header and ids, ", " after commas, CRLF) loads, and its
# patients match; a profile whose id matches no reading is reported once, at close: the count
# and its line at WARN, the id itself only at debug level.
rm -rf "$t/out"
printf '\357\273\277"patient_id", "systolic_high", "diastolic_high"\r\n"PAT-001", "100", \r\n"PAT-002", 100, ""\r\n"Patient/PAT-003", 100,\r\n' >"$t/sheet.csv"
"$BPPIPE" run "$t/p.ini" -o detector.rules.profiles="$t/sheet.csv" 2>"$t/err"
check "a spreadsheet CSV loads" "[ $? = 0 ] && grep -q '3 patient profiles from' '$t/err'"
check "its quoted ids match their patients" "[ \$(grep -h '\"patient_id\":\"PAT-00[12]\"' '$t'/out/*.ndjson | grep -c '\"thresholds\":\"profile\"') = 80 ]"
check "and their thresholds apply" "grep -h '\"patient_id\":\"PAT-002\"' '$t'/out/*.ndjson | python3 -c 'import json,sys; d=[json.loads(l) for l in sys.stdin]; sys.exit(0 if d and all((\"hypertension_systolic\" in x[\"anomaly_details\"]) == (x[\"systolic_pressure\"] > 100) for x in d) else 1)'"
check "the profile that matched nothing is warned about, once, with its line" "[ \$(grep -c 'matched no reading' '$t/err') = 1 ] && grep -q 'warn .*1 of 3 patient profiles in .*sheet.csv matched no reading (line 4)' '$t/err'"
check "the warning names no patient id at the default level" "! grep 'matched no reading' '$t/err' | grep -q 'PAT-003'"
"$BPPIPE" run "$t/p.ini" -o detector.rules.profiles="$t/sheet.csv" -o pipeline.log_level=debug 2>"$t/err"
check "at debug level, the id too" "grep -q \"profiles that matched no reading: 'Patient/PAT-003'\" '$t/err'"
"$BPPIPE" check "$t/p.ini" -o detector.rules.profiles="$t/sheet.csv" >"$t/err" 2>&1
check "check judges nothing, so it warns about nothing" "[ $? = 0 ] && ! grep -q 'matched no reading' '$t/err'"

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
bad "unterminated quote" 'patient_id,systolic_high\r\nA,150\r\n"B,150\r\nC,150\r\n' "bad.csv:3: unterminated quoted field"
bad "wrong cell count" 'patient_id,systolic_high\nA,150\nB,150,160\n' "bad.csv:3: 3 cells where the header has 2 columns"
bad "text after a closing quote" 'patient_id,systolic_high\n"A"B,150\n' "bad.csv:2: 'B' after the closing quote"
long=$(head -c 3000 /dev/zero | tr '\0' 'x')
printf 'patient_id,systolic_high\n%s,150,\n' "$long" >"$t/bad.csv"
"$BPPIPE" check "$t/p.ini" -o detector.rules.profiles="$t/bad.csv" >"$t/err" 2>&1
check "refused: a long line is read whole (its third cell is seen)" "[ $? = 2 ] && grep -q 'bad.csv:2: 3 cells' '$t/err'"

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
# each step waits for what the last one did: readings out (the run is up and has its signal
# handlers), the reload said and PAT-002 judged by it, the refusal said and three more of PAT-002
pat2() { cat "$t"/out/*.ndjson 2>/dev/null | grep -c '"patient_id":"PAT-002"'; }
pat2_by_profile() { cat "$t"/out/*.ndjson 2>/dev/null | grep '"patient_id":"PAT-002"' | grep -c '"thresholds":"profile"'; }
more_than() { [ "$("$1")" -gt "$2" ]; }
wait_until 60 more_than pat2 0
printf 'patient_id,systolic_high\nPAT-001,100\nPAT-002,100\n' >"$t/profiles.csv"
kill -HUP $bg
wait_until 60 grep -q '2 patient profiles reloaded' "$t/err"
wait_until 60 more_than pat2_by_profile 0
printf 'patient_id,systolic_high\nPAT-001,nonsense\n' >"$t/profiles.csv"
kill -HUP $bg
wait_until 60 grep -q 'profiles not reloaded' "$t/err"
n=$(pat2)
wait_until 60 more_than pat2 $((n + 2))
kill -TERM $bg
wait $bg
st=$?
bg=
check "SIGHUP does not stop the run" "[ $st = 0 ]"
check "SIGHUP reloads the profiles" "grep -q '2 patient profiles reloaded' '$t/err'"
check "after the reload, the new patient's profile applies" "grep -h '\"patient_id\":\"PAT-002\"' '$t'/out/*.ndjson | grep -q '\"thresholds\":\"profile\"'"
check "a broken file is refused on reload, the previous one stays" "grep -q 'profiles not reloaded' '$t/err' && [ \$(grep -h '\"patient_id\":\"PAT-002\"' '$t'/out/*.ndjson | tail -n 3 | grep -c '\"thresholds\":\"profile\"') = 3 ]"
exit $fail
