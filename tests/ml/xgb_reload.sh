#!/usr/bin/env bash
# SIGHUP reloads detector-xgboost's model: a running ward scores with the shipped model; the
# file is replaced by another model (name "second", version 2), SIGHUP, and the readings after it
# carry that model's name; then a broken file, SIGHUP: refused with the reason, and the readings
# after it keep "second". A ward started without a model file picks one up with SIGHUP.
# Counts and names only: every wait is for a condition.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
cp "$BPPIPE_SOURCE_DIR/models/bp_gbtree.json" "$t/model.json"
"$BPPIPE" train --model gbtree --rounds 10 --name second --version 2 --out "$t/second.json" >/dev/null ||
    { echo "FAIL cannot train the second model"; exit 1; }
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 10
[source.ward]
plugin = source-faker
rate = 20
seed = 3
[detector.xgb]
plugin = detector-xgboost
model = $t/model.json
[sink.out]
plugin = sink-file
path = $t/out
INI
models() { cat "$t"/out/*.ndjson 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    if l.strip():
        print(json.loads(l).get("xgb_model", "-"))'; }
count() { models | wc -l; }
at_least_count() { [ "$(count)" -ge "$1" ]; }
wait_for() { wait_until_costly 120 at_least_count "$1"; }
"$BPPIPE" run "$t/p.ini" 2>"$t/err" &
pid=$!
wait_for 30
cp "$t/second.json" "$t/model.json.new"
mv "$t/model.json.new" "$t/model.json"
kill -HUP $pid
wait_until 60 grep -q 'reloaded (SIGHUP 1)' "$t/err"
n1=$(count)
wait_for $((n1 + 50))
printf '{"learner": {"attributes": ' >"$t/model.json"
kill -HUP $pid
wait_until 60 grep -q 'not reloaded (SIGHUP 2)' "$t/err"
n2=$(count)
wait_for $((n2 + 50))
n2end=$(count)
kill -TERM $pid
wait $pid
st=$?
pid=
models >"$t/models"
check "the ward ran through both signals and stops on SIGTERM, exit 0" "[ $st = 0 ]"
check "before the reload the shipped model scored" \
    "head -n 20 '$t/models' | awk '\$1 != \"bp_gbtree_ward_episode\" {bad++} END {exit !(NR == 20 && bad == 0)}'"
check "the reload is logged with the new model's name and version" \
    "grep -q 'model .*model.json reloaded (SIGHUP 1): second version 2, 10 rounds' '$t/err'"
check "after it every reading carries the new model" \
    "sed -n '$((n1 + 31)),$((n2))p' '$t/models' | awk '\$1 != \"second\" {bad++} END {exit !(NR >= 15 && bad == 0)}'"
check "the broken model is refused with the reason" \
    "grep -q 'model .*model.json not reloaded (SIGHUP 2): not an XGBoost model: .*; the previous model stays' '$t/err'"
check "and the readings after it keep the second model" \
    "sed -n '$((n2 + 31)),$((n2end))p' '$t/models' | awk '\$1 != \"second\" {bad++} END {exit !(NR >= 15 && bad == 0)}'"

# Started without a model: no scores, one warning; SIGHUP after the file arrives picks it up.
rm -rf "$t/out" "$t/model.json"
"$BPPIPE" run "$t/p.ini" 2>"$t/err" &
pid=$!
wait_for 20
cp "$t/second.json" "$t/model.json"
kill -HUP $pid
wait_until 60 grep -q 'reloaded (SIGHUP 1)' "$t/err"
n1=$(count)
wait_for $((n1 + 50))
kill -TERM $pid
wait $pid
pid=
models >"$t/models"
check "without a model: one warning, readings unscored" \
    "[ \$(grep -c 'no model at' '$t/err') = 1 ] && head -n 10 '$t/models' | awk '\$1 != \"-\" {bad++} END {exit !(bad == 0)}'"
check "a model that arrives later is picked up by SIGHUP" \
    "sed -n '$((n1 + 31)),\$p' '$t/models' | awk '\$1 != \"second\" {bad++} END {exit !(NR >= 15 && bad == 0)}'"
[ $fail = 0 ] || { tail -n 5 "$t/err"; echo "n1=$n1 n2=$n2 n2end=$n2end"; }
exit $fail
