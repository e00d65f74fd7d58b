#!/usr/bin/env bash
# `bppipe train --model gbtree --data ARCHIVE.ndjson --label FIELD`: readings archived by a
# ward where detector-xgboost ran with annotate_features = true train a model on their own inputs,
# history features included (a patient's first reading has none: missing, not 0); the model
# it writes runs in detector-xgboost; a document without the label is reported by its line.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
[source.ward]
plugin = source-faker
count = 2000
rate = 0
seed = 5
patients = 40
interval = 900
[detector.rules]
plugin = detector-rules
[detector.xgb]
plugin = detector-xgboost
model = $BPPIPE_SOURCE_DIR/models/bp_gbtree.json
annotate_features = true
[sink.out]
plugin = sink-file
path = $t/out
layout = ndjson
INI
"$BPPIPE" run "$t/p.ini" 2>"$t/run.err"
check "the ward archives its readings with their model inputs" \
    "[ $? = 0 ] && grep -qh 'xgb_feature.baseline_systolic' '$t'/out/*.ndjson"
cat "$t"/out/*.ndjson >"$t/archive.ndjson"
"$BPPIPE" train --model gbtree --data "$t/archive.ndjson" --label anomaly --seed 7 \
    --out "$t/m.json" >"$t/train.out" 2>&1
check "train reads the archive and writes a model" "[ $? = 0 ] && [ -s '$t/m.json' ]"
check "on every input the archive has, history features included" \
    "grep -q 'on 16 features (systolic, diastolic, .*baseline_systolic' '$t/train.out'"
check "with the usual report" "grep -q 'ROC AUC' '$t/train.out'"
check "the first readings' missing history stayed missing (not 0)" \
    "/usr/bin/python3 -c \"import json,sys; d=[json.loads(l) for l in open('$t/archive.ndjson')]; sys.exit(0 if any('xgb_feature.baseline_systolic' not in x for x in d) else 1)\""
rm -rf "$t/out"
"$BPPIPE" run "$t/p.ini" -o detector.xgb.model="$t/m.json" 2>"$t/run2.err"
check "the model it wrote runs in detector-xgboost" \
    "[ $? = 0 ] && [ \$(cat '$t'/out/*.ndjson | grep -c xgb_risk_score) = 2000 ]"
sed '3s/"anomaly":[a-z]*/"anomaly":"maybe"/' "$t/archive.ndjson" >"$t/bad.ndjson"
"$BPPIPE" train --model gbtree --data "$t/bad.ndjson" --label anomaly --out "$t/bad.json" \
    >"$t/bad.out" 2>&1
check "a document without a usable label is refused by its line, nothing written" \
    "[ $? = 2 ] && grep -q 'bad.ndjson:3: no label' '$t/bad.out' && [ ! -e '$t/bad.json' ]"
"$BPPIPE" train --data "$t/archive.ndjson" --label anomaly --out "$t/lr.json" >"$t/lr.out" 2>&1
check "--label belongs to the tree trainer's archive" "[ $? = 2 ] && grep -q 'goes with --model gbtree' '$t/lr.out'"
exit $fail
