#!/usr/bin/env bash
# detector-xgboost's model file: a missing one warns once and the pipeline runs without tree
# scores (an error with required = true); so does every broken one, with the path and the reason
# in the warning, and with required = true check and run refuse it; a model saved without feature names runs when `features` names them.
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
count = 300
rate = 0
seed = 3
[detector.rules]
plugin = detector-rules
[detector.xgb]
plugin = detector-xgboost
model = $BPPIPE_SOURCE_DIR/models/bp_gbtree.json
[sink.out]
plugin = sink-file
path = $t/out
INI
docs() { cat "$t"/out/*.ndjson 2>/dev/null; }
"$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "runs with the shipped model, named in the log" \
    "[ $? = 0 ] && grep -q 'bp_gbtree_ward_episode version 1, 100 rounds x 1 trees on systolic,diastolic' '$t/err'"
check "every reading has xgb_risk_score, xgb_prediction and the model's name and version" \
    "[ \$(docs | grep -c '\"xgb_risk_score\":.*\"xgb_prediction\":[01],\"xgb_model\":\"bp_gbtree_ward_episode\",\"xgb_model_version\":\"1\"') = 300 ]"

rm -rf "$t/out"
"$BPPIPE" run "$t/p.ini" -o detector.xgb.model="$t/none.json" 2>"$t/err"
check "missing model: the run goes on without tree scores" \
    "[ $? = 0 ] && [ \$(docs | wc -l) = 300 ] && ! docs | grep -q xgb_risk_score"
check "missing model: one warning naming the path and what to do" \
    "[ \$(grep -c 'no model at $t/none.json: running without tree scores (train one' '$t/err') = 1 ]"
"$BPPIPE" check "$t/p.ini" -o detector.xgb.model="$t/none.json" -o detector.xgb.required=true \
    >"$t/err" 2>&1
check "missing model with required = true fails check" \
    "[ $? = 2 ] && grep -q 'no such file, and required = true' '$t/err'"

refused() { # refused NAME CAUSE: the run goes on without scores, warning once with CAUSE;
    # with required = true check and run refuse $t/NAME with CAUSE
    rm -rf "$t/out"
    "$BPPIPE" run "$t/p.ini" -o detector.xgb.model="$t/$1" >"$t/err" 2>&1
    check "run goes on without tree scores when the model is $1" \
        "[ $? = 0 ] && [ \$(docs | wc -l) = 300 ] && ! docs | grep -q xgb_risk_score"
    check "one warning names $1 and why" \
        "[ \$(grep -c \"model $t/$1: $2.*running without tree scores\" '$t/err') = 1 ]"
    "$BPPIPE" check "$t/p.ini" -o detector.xgb.model="$t/$1" -o detector.xgb.required=true \
        >"$t/err" 2>&1
    check "check refuses $1 with required = true" "[ $? = 2 ] && grep -q \"model $t/$1: $2\" '$t/err'"
    "$BPPIPE" run "$t/p.ini" -o detector.xgb.model="$t/$1" -o detector.xgb.required=true \
        >"$t/err" 2>&1
    check "run refuses $1 with required = true" "[ $? = 2 ]"
}
printf 'oops' >"$t/text.json"
refused text.json 'not an XGBoost model (JSON or UBJSON'
printf '{"learner": 1' >"$t/cut.json"
refused cut.json 'not an XGBoost model: '
cp "$BPPIPE_SOURCE_DIR/models/bp_logreg.json" "$t/logreg.json"
refused logreg.json 'not an XGBoost model: '
# The shipped model with its names edited: one outside the vocabulary, then none at all.
sed 's/"feature_names":\["systolic"/"feature_names":["sbp"/' "$BPPIPE_SOURCE_DIR/models/bp_gbtree.json" >"$t/sbp.json"
refused sbp.json "feature 'sbp' is not in the vocabulary"
sed 's/"feature_names":\[[^]]*\]/"feature_names":[]/' "$BPPIPE_SOURCE_DIR/models/bp_gbtree.json" >"$t/nameless.json"
refused nameless.json 'the model has no feature names'
# ... which runs when `features` lists its inputs, and scores as the named original does.
names=$(grep -o '"feature_names":\[[^]]*\]' "$BPPIPE_SOURCE_DIR/models/bp_gbtree.json" | sed 's/.*\[//; s/\]//; s/"//g')
rm -rf "$t/out"
"$BPPIPE" run "$t/p.ini" -o detector.xgb.model="$t/nameless.json" -o detector.xgb.features="$names" 2>"$t/err"
check "a nameless model runs with features = its names" "[ $? = 0 ] && [ \$(docs | grep -c xgb_risk_score) = 300 ]"
docs | grep -o '"xgb_risk_score":[^,]*' >"$t/nameless.scores"
rm -rf "$t/out"
"$BPPIPE" run "$t/p.ini" 2>/dev/null
docs | grep -o '"xgb_risk_score":[^,]*' >"$t/named.scores"
check "and scores exactly as the named model" "cmp -s '$t/nameless.scores' '$t/named.scores'"
# An objective that gives no probability.
sed 's/"name":"binary:logistic"/"name":"reg:squarederror"/' "$BPPIPE_SOURCE_DIR/models/bp_gbtree.json" >"$t/regression.json"
grep -q 'reg:squarederror' "$t/regression.json" && refused regression.json "objective 'reg:squarederror' is not binary:logistic"

# The shipped model is rebuilt byte for byte by the line in models/README.md.
line=$(grep '^SOURCE_DATE_EPOCH=.*--model gbtree' "$BPPIPE_SOURCE_DIR/models/README.md")
line=${line/bppipe train/\"\$BPPIPE\" train}
line=${line/--out models\/bp_gbtree.json/--out \"$t\/rebuilt.json\"}
eval "$line" >/dev/null
check "models/README.md's line rebuilds models/bp_gbtree.json byte for byte" \
    "cmp -s '$t/rebuilt.json' '$BPPIPE_SOURCE_DIR/models/bp_gbtree.json'"
exit $fail
