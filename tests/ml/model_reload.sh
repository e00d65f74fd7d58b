#!/usr/bin/env bash
# SIGHUP reloads detector-logreg's model: a running ward scores with the shipped model; the file
# is replaced by a model with a very different intercept (every score near 1), SIGHUP, and the
# readings after it score near 1; then a broken file, SIGHUP: refused with the reason, and the
# readings after it keep the second model's scores; then a good file again (the shipped model),
# SIGHUP, and it is used. Counts and values only; the sleeps just
# leave readings between the signals.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
cp "$BPPIPE_SOURCE_DIR/models/bp_logreg.json" "$t/model.json"
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 10
[source.ward]
plugin = source-faker
rate = 10
seed = 3
[detector.ml]
plugin = detector-logreg
model = $t/model.json
[sink.out]
plugin = sink-file
path = $t/out
INI
scores() { cat "$t"/out/*.ndjson 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    if l.strip():
        print(json.loads(l)["ml_risk_score"])'; }
count() { scores | wc -l; }
at_least_count() { [ "$(count)" -ge "$1" ]; }
wait_for() { wait_until_costly 120 at_least_count "$1"; }
"$BPPIPE" run "$t/p.ini" 2>"$t/err" &
pid=$!
wait_for 50
/usr/bin/python3 - "$t/model.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["intercept"] = 50.0
json.dump(m, open(sys.argv[1] + ".new", "w"))
PY
mv "$t/model.json.new" "$t/model.json"
kill -HUP $pid
wait_until 60 grep -q 'reloaded' "$t/err"
n1=$(count)
wait_for $((n1 + 50))
cp "$t/model.json" "$t/good.json"
printf '{"format": "bppipe-logreg", "format_version": 1, "feature_set": ' >"$t/model.json"
kill -HUP $pid
wait_until 60 grep -q 'not reloaded' "$t/err"
n2=$(count)
wait_for $((n2 + 50))
cp "$BPPIPE_SOURCE_DIR/models/bp_logreg.json" "$t/model.json.new" # a good one again: the shipped
n2end=$(count) # every document so far was judged before the next reload
mv "$t/model.json.new" "$t/model.json"
kill -HUP $pid
reloaded_twice() { [ "$(grep -c 'reloaded (SIGHUP [0-9]*): clinical' "$t/err")" -ge 2 ]; }
wait_until 60 reloaded_twice
n3=$(count)
wait_for $((n3 + 50))
kill -TERM $pid
wait $pid
st=$?
pid=
scores >"$t/scores"
check "the ward ran through both signals and stops on SIGTERM, exit 0" "[ $st = 0 ]"
check "before the reload the shipped model scored: some readings well below 0.5" \
    "head -n 50 '$t/scores' | awk '\$1 < 0.5 {n++} END {exit !(n > 0)}'"
check "the reload is logged with the model's features" "grep -q 'model .*model.json reloaded (SIGHUP [0-9]*): clinical features' '$t/err'"
check "after it every reading scores near 1 (the new model)" \
    "sed -n '$((n1 + 31)),$((n2))p' '$t/scores' | awk '\$1 < 0.99 {bad++} END {exit !(NR >= 15 && bad == 0)}'"
check "the broken model is refused with the reason" \
    "grep -q 'model .*model.json not reloaded (SIGHUP 2): .*; the previous model stays' '$t/err'"
check "and the readings after it keep the second model's scores" \
    "sed -n '$((n2 + 31)),$((n2end))p' '$t/scores' | awk '\$1 < 0.99 {bad++} END {exit !(NR >= 15 && bad == 0)}'"
check "a good model after the broken one is taken: the shipped scores again" \
    "[ \$(grep -c 'model .*model.json reloaded (SIGHUP [0-9]*): clinical features' '$t/err') = 2 ] && sed -n '$((n3 + 31)),\$p' '$t/scores' | awk '\$1 < 0.5 {n++} END {exit !(NR >= 15 && n > 0)}'"
[ $fail = 0 ] || { tail -n 5 "$t/err"; awk '{printf "%s ", $1} END {print ""}' "$t/scores" | head -c 3000; echo; echo "n1=$n1 n2=$n2 n2end=$n2end n3=$n3"; }
exit $fail
