#!/usr/bin/env bash
# detector-trend in a pipeline, on the scripted per-patient series of fixtures/series.ndjson:
# each reason fires on the reading the script says, late readings are marked, and the state
# host's snapshot of the keyed state carries the history across a restart (a corrupt one is
# ignored with a warning).
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
fixture="$(dirname "$0")/fixtures/series.ndjson"
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
[source.in]
plugin = source-file
path = $fixture
[detector.trend]
plugin = detector-trend
state_file = $t/trend.state
[sink.out]
plugin = sink-file
path = $t/out
INI
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "run exits 0" "[ $? = 0 ]"
doc() { grep -h "\"observation_id\":\"$1\"" "$t"/out/*.ndjson; }
check "third stage-2 reading in 30 min: sustained_hypertension" "doc SUST-2 | grep -q sustained_hypertension && ! doc SUST-1 | grep -q sustained_hypertension"
check "third hypotensive reading in 30 min: sustained_hypotension" "doc HYPO-2 | grep -q sustained_hypotension && ! doc HYPO-1 | grep -q sustained_hypotension"
check "a 34 mmHg rise in 10 min: rapid_change_up" "doc RAPID-1 | grep -q rapid_change_up"
check "a 32 mmHg fall in 10 min: rapid_change_down" "doc RAPID-2 | grep -q rapid_change_down"
check "after 12 quiet readings, 136: baseline_deviation with its z" "doc BASE-12 | grep -q baseline_deviation && doc BASE-12 | grep -q '\"trend_z\":'"
check "quiet readings are not flagged" "! doc BASE-11 | grep -q baseline_deviation"
check "a late reading is marked and not compared with a later one" "doc LATE-1 | grep -q '\"trend_late\":true' && ! doc LATE-1 | grep -q rapid_change"
check "the host writes the snapshot" "[ -s '$t/trend.state' ]"
# after a restart, the history is still there: one more stage-2 reading of SUST within the window
printf '%s\n' "$(sed -n 1p "$fixture" | sed 's/"SUST-0"/"SUST-9"/; s/T00:00:00Z/T00:25:00Z/')" >"$t/more.ndjson"
"$BPPIPE" run "$t/p.ini" -o source.in.path="$t/more.ndjson" -o sink.out.path="$t/out2" 2>"$t/err"
check "restored history after a restart" "grep -q 'restored 5 keys from' '$t/err' && grep -q sustained_hypertension '$t'/out2/*.ndjson"
echo garbage >"$t/trend.state"
"$BPPIPE" run "$t/p.ini" -o source.in.path="$t/more.ndjson" -o sink.out.path="$t/out3" 2>"$t/err"
check "a corrupt snapshot is ignored with a warning" "[ $? = 0 ] && grep -q 'ignoring the state snapshot' '$t/err' && ! grep -q sustained_hypertension '$t'/out3/*.ndjson"
# max_patients bounds the patients kept: SUST and RAPID come first and keep their histories,
# the 18 readings of the three after them are judged without history, counted, warned once.
"$BPPIPE" run "$t/p.ini" -o detector.trend.max_patients=2 -o detector.trend.state_file= \
    -o sink.out.path="$t/out4" 2>"$t/err"
check "beyond max_patients: judged without history, counted and warned once" \
    "[ $? = 0 ] && grep -q 'patients_over_limit 18' '$t/err' && [ \$(grep -c 'max_patients = 2 reached' '$t/err') = 1 ] && grep -h '\"SUST-2\"' '$t'/out4/*.ndjson | grep -q sustained_hypertension && ! grep -h '\"BASE-12\"' '$t'/out4/*.ndjson | grep -q baseline_deviation"
"$BPPIPE" check "$t/p.ini" -o detector.trend.sustained_count=9 >"$t/err" 2>&1
check "sustained_count is bounded" "[ $? = 2 ]"
exit $fail
