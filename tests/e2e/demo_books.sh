#!/usr/bin/env bash
# The demo ward end to end: 100 000 readings, and the summary's counts equal the documents
# found in each output folder (in = anomaly + normal + invalid).
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
export BPPIPE_DEMO_DIR="$t/out" BPPIPE_MODEL="$BPPIPE_SOURCE_DIR/models/bp_logreg.json"
"$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/demo.ini" --max-records 100000 \
    --summary-json "$t/sum.json" 2>"$t/err"
st=$?
check "demo run exits 0" "[ $st = 0 ]"
j() { python3 -c "import json,sys; d=json.load(open('$t/sum.json')); print(eval(sys.argv[1]))" "$1"; }
count() { cat "$t/out/$1"/*.ndjson 2>/dev/null | wc -l | tr -d ' '; }
an=$(count anomalies); no=$(count normal); dl=$(count dead-letter)
echo "files: anomalies $an normal $no dead-letter $dl"
tail -n 12 "$t/err"
check "100000 readings in" "[ $(j "d['readings_in']") = 100000 ]"
check "books balance" "[ $(j "d['anomaly']+d['normal']+d['invalid']+d['in_flight']") = 100000 ] && [ $(j "d['in_flight']") = 0 ]"
check "anomaly files match the summary" "[ $an = $(j "d['anomaly']") ]"
check "normal files match the summary" "[ $no = $(j "d['normal']") ]"
check "dead-letter files match the summary" "[ $dl = $(j "d['invalid']") ]"
check "the ward has anomalies, a few percent to a quarter" \
    "python3 -c 'import sys; a=$an/100000; sys.exit(0 if 0.02 <= a <= 0.25 else 1)'"
check "some invalid payloads were dead-lettered with reasons" "[ $dl -gt 0 ] && grep -q invalid_reason $t/out/dead-letter/*.ndjson"
check "every line is JSON" "cat $t/out/*/*.ndjson | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'"
check "archive folder is 0750" "[ \$(stat -c %a '$t/out/normal') = 750 ]"
check "archive files are 0640" "[ -z \"\$(find '$t/out' -type f ! -perm 640)\" ]"
check "anomalies carry the model's score" "grep -q ml_risk_score $t/out/anomalies/*.ndjson"
exit $fail
