#!/usr/bin/env bash
# The critical route and the plausibility gate, end to end: a crisis reaches route = critical
# (and route = anomaly); measurement errors reach the dead letter with implausible_value and
# never a detector or an alert; the gate's limits are settable.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
obs() { # obs ID SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/p"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"code":"mm[Hg]"}}]}\n' "$1" "$2" "$3"
}
{ obs normal 118 76; obs high 150 85; obs crisis 195 125; obs low 65 38; obs cuff 350 90; obs swapped 80 95; } >"$t/in.ndjson"
cat >"$t/p.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
stats_interval = 0
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[sink.critical]
plugin = test-sink
route = critical
path = $t/critical
[sink.anomaly]
plugin = test-sink
route = anomaly
path = $t/anomaly
[sink.dead]
plugin = test-sink
route = invalid
path = $t/dead
INI
"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err"
check "run exits 0" "[ $? = 0 ]"
check "crisis and critical-low readings reach route = critical" "[ \$(wc -l <'$t/critical') = 2 ] && grep -q '\"observation_id\":\"crisis\"' '$t/critical' && grep -q '\"observation_id\":\"low\"' '$t/critical'"
check "critical readings are anomalies too" "[ \$(wc -l <'$t/anomaly') = 3 ]"
check "a value no cuff reads is dead-lettered" "grep -q 'implausible_value: systolic 350 outside 40-300 mmHg' '$t/dead'"
check "a diastolic above the systolic is dead-lettered" "grep -q 'implausible_value: diastolic 95 at or above systolic 80' '$t/dead'"
check "measurement errors never reach an alert" "! grep -q '\"observation_id\":\"cuff\"' '$t/critical' '$t/anomaly'"
check "the books count them as invalid" "python3 -c 'import json,sys; d=json.load(open(\"$t/sum.json\")); sys.exit(0 if (d[\"anomaly\"], d[\"normal\"], d[\"invalid\"]) == (3, 1, 2) else 1)'"
rm -f "$t"/critical "$t"/anomaly "$t"/dead
"$BPPIPE" run "$t/p.ini" -o pipeline.plausible_systolic_max=400 2>"$t/err"
check "the gate's limits are settable" "! grep -q 'systolic 350' '$t/dead' && grep -q '\"observation_id\":\"cuff\"' '$t/anomaly'"
"$BPPIPE" check "$t/p.ini" -o sink.critical.route=urgent >"$t/err" 2>&1
check "an unknown route is refused" "[ $? = 2 ] && grep -q 'anomaly|normal|all|critical|invalid' '$t/err'"
rm -f "$t"/critical "$t"/anomaly "$t"/dead
"$BPPIPE" run "$t/p.ini" -o detector.rules.scheme=esc_esh_2018 2>"$t/err"
check "the scheme is chosen per pipeline and named in the document" "grep '\"observation_id\":\"crisis\"' '$t/critical' | grep -q '\"bp_category\":\"grade_3\",\"severity\":\"critical\".*\"bp_scheme\":\"esc_esh_2018\"'"
check "partial NEWS2 systolic sub-score, labelled partial" "grep -q '\"observation_id\":\"low\".*\"news2_systolic\":3,\"news2_partial\":true' '$t/critical'"
exit $fail
