#!/usr/bin/env bash
# detector-logreg in pipelines: scores reach the documents, vote = flag flags, a missing model
# warns once and the pipeline runs on the rules alone, so does every corrupt model (the warning
# names the path and the reason), and with required = true check and run refuse it.
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
count = 500
rate = 0
seed = 3
[detector.rules]
plugin = detector-rules
[detector.ml]
plugin = detector-logreg
model = $BPPIPE_SOURCE_DIR/models/bp_logreg.json
[sink.out]
plugin = sink-file
path = $t/out
INI
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "runs with the shipped model" "[ $? = 0 ] && grep -q 'clinical features' '$t/err'"
check "every reading has ml_risk_score and ml_prediction" "cat '$t'/out/*.ndjson | python3 -c 'import json,sys; d=[json.loads(l) for l in sys.stdin]; sys.exit(0 if len(d) == 500 and all(0 <= x[\"ml_risk_score\"] <= 1 and x[\"ml_prediction\"] in (0, 1) and x[\"ml_prediction\"] == int(x[\"ml_risk_score\"] >= 0.5) for x in d) else 1)'"
check "vote = score adds no reason" "! grep -q ml_high_risk '$t'/out/*.ndjson"
python3 - "$t" <<'PY' || fail=1
import glob, json, sys
docs = [json.loads(l) for f in glob.glob(sys.argv[1] + "/out/*.ndjson") for l in open(f)]
agree = sum((d["ml_prediction"] == 1) == d["anomaly"] for d in docs) / len(docs)
print(f"ok   model and rules agree on {agree:.1%} of 500 readings" if agree > 0.9 else f"FAIL agreement {agree}")
sys.exit(0 if agree > 0.9 else 1)
PY
rm -rf "$t/out"
"$BPPIPE" run "$t/p.ini" -o detector.ml.vote=flag -o detector.ml.threshold=0.5 2>"$t/err"
check "vote = flag flags ml_high_risk" "grep -q '\"ml_high_risk\"' '$t'/out/*.ndjson"

rm -rf "$t/out"
"$BPPIPE" run "$t/p.ini" -o detector.ml.model="$t/none.json" --summary-json "$t/sum.json" 2>"$t/err"
check "missing model: the run goes on, on the rules alone" "[ $? = 0 ] && [ \$(cat '$t'/out/*.ndjson | wc -l) = 500 ] && ! grep -q ml_risk_score '$t'/out/*.ndjson"
check "missing model: one warning naming the path" "[ \$(grep -c 'no model at $t/none.json' '$t/err') = 1 ]"
"$BPPIPE" check "$t/p.ini" -o detector.ml.model="$t/none.json" -o detector.ml.required=true >"$t/err" 2>&1
check "missing model with required = true fails check" "[ $? = 2 ] && grep -q 'no such file, and required = true' '$t/err'"

corrupt() { # corrupt NAME CONTENT CAUSE
    printf '%s' "$2" >"$t/$1.json"
    rm -rf "$t/out"
    "$BPPIPE" run "$t/p.ini" -o detector.ml.model="$t/$1.json" >"$t/err" 2>&1
    check "a model that is $1: the run goes on on the rules alone" \
        "[ $? = 0 ] && [ \$(cat '$t'/out/*.ndjson | wc -l) = 500 ] && ! grep -q ml_risk_score '$t'/out/*.ndjson"
    check "a model that is $1: one warning with the path and the reason" \
        "[ \$(grep -c \"model $t/$1.json: $3.*running without ML scores\" '$t/err') = 1 ]"
    "$BPPIPE" check "$t/p.ini" -o detector.ml.model="$t/$1.json" -o detector.ml.required=true \
        >"$t/err" 2>&1
    check "check refuses a model that is $1 with required = true" "[ $? = 2 ] && grep -q \"model $t/$1.json: $3\" '$t/err'"
    "$BPPIPE" run "$t/p.ini" -o detector.ml.model="$t/$1.json" -o detector.ml.required=true \
        >"$t/err" 2>&1
    check "run refuses a model that is $1 with required = true" "[ $? = 2 ]"
}
corrupt notjson '{oops' 'not JSON'
corrupt otherversion '{"format":"bppipe-logreg","format_version":9}' 'model format version 9'
corrupt unknownfeatures '{"format":"bppipe-logreg","format_version":1,"feature_set":"deep"}' "unknown feature set 'deep'"
corrupt nonfinite '{"format":"bppipe-logreg","format_version":1,"feature_set":"basic","mean":[1,1e999],"scale":[1,1],"coefficients":[1,1],"intercept":0,"threshold":0.5}' "'mean' holds a value that is not a finite number"
exit $fail
