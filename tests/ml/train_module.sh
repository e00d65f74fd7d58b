#!/usr/bin/env bash
# The bppipe executable links no libxgboost, libstdc++ or libgomp (they would be mapped into
# every pipeline's process: docs/kafka.md, "The ward's memory"); `bppipe train --model gbtree`
# loads them with its module bppipe-gbtree.so, and still trains; without the module it says
# what is missing and trains nothing.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }

readelf -d "$BPPIPE" >"$t/dynamic" || { echo "FAIL readelf -d $BPPIPE"; exit 1; }
grep NEEDED "$t/dynamic"
check "bppipe names no libxgboost, libstdc++, libgomp or librdkafka as NEEDED" \
    "grep -q NEEDED '$t/dynamic' && ! grep -Eq 'NEEDED.*(xgboost|stdc\\+\\+|gomp|rdkafka)' '$t/dynamic'"
ldd "$BPPIPE" >"$t/ldd" 2>&1
# A sanitizer build's runtime (libubsan, libtsan) brings libstdc++ of its own.
if grep -Eq 'NEEDED.*lib(a|ub|t)san' "$t/dynamic"; then
    not='libxgboost|libgomp|librdkafka'
else
    not='libxgboost|libstdc\+\+|libgomp|librdkafka'
fi
check "nor loads them through another library (ldd)" "! grep -Eq '$not' '$t/ldd'"

module=$(dirname "$BPPIPE")/bppipe-gbtree.so
check "the module links libxgboost" "readelf -d '$module' | grep -q 'NEEDED.*xgboost'"
check "and exports bp_gbtree_train_entry alone of bppipe's functions" \
    "[ \"\$(nm -D --defined-only '$module' | awk '\$2 == \"T\" {print \$3}' | grep -c '^bp_')\" = 1 ] &&
     nm -D --defined-only '$module' | grep -q ' T bp_gbtree_train_entry$'"

"$BPPIPE" train --model gbtree --out "$t/m.json" --samples 2000 --rounds 5 >"$t/out" 2>&1
check "bppipe train --model gbtree trains through the module" \
    "[ $? = 0 ] && grep -q 'wrote $t/m.json' '$t/out' && grep -q 'ROC AUC' '$t/out' &&
     grep -q '\"learner\"' '$t/m.json'"
# and the model it wrote is one detector-xgboost scores with
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
[source.ward]
plugin = source-faker
count = 50
rate = 0
seed = 3
[detector.xgb]
plugin = detector-xgboost
model = $t/m.json
required = true
[sink.out]
plugin = sink-file
path = $t/out.d
INI
"$BPPIPE" run "$t/p.ini" 2>"$t/run.err"
check "detector-xgboost scores with the model it wrote" \
    "[ $? = 0 ] && grep -qh 'bppipe-gbtree' '$t'/out.d/*.ndjson"

# A bppipe without its module (a copy alone in a folder; the plugin dir is not needed here).
cp "$BPPIPE" "$t/bppipe"
"$t/bppipe" train --model gbtree --out "$t/none.json" --samples 200 >"$t/alone" 2>&1
status=$?
cat "$t/alone"
check "without the module: status 2, the module named, nothing written" \
    "[ $status = 2 ] && grep -q 'needs .*bppipe-gbtree.so' '$t/alone' && [ ! -e '$t/none.json' ]"
"$t/bppipe" train --out "$t/lr.json" --samples 500 >"$t/lr" 2>&1
check "and the logistic model still trains without it" "[ $? = 0 ] && [ -s '$t/lr.json' ]"
exit $fail
