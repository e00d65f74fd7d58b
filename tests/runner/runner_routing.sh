#!/usr/bin/env bash
# The runner end to end with test plugins: routing by verdict, sink retries, per-record
# rejection to the dead letter, detector annotations in every document, the books, limits,
# permanent failure and SIGTERM draining.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
trap 'kill $bg 2>/dev/null; rm -rf "$t"' EXIT
bg=
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }

obs() { # obs ID PATIENT SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4"
}
{
    for i in $(seq 1 20); do obs "n$i" "P-$((i % 3))" 120 80; done   # 20 normal
    for i in $(seq 1 7); do obs "h$i" "P-$((i % 3))" 170 95; done    # 7 high
    obs "r1" "P-REJ" 118 76                                           # normal, refused by sink.norm
    echo '{"resourceType":"Observation", "broken'                      # invalid: not JSON
    echo '{"resourceType":"patient","id":"x"}'                         # invalid: not a resource type
} >"$t/in.ndjson"

cat >"$t/p.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 4
retry_initial_ms = 1
retry_max_ms = 5
stats_interval = 0
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.ext]
plugin = test-annotator
limit = 150
[sink.anom]
plugin = test-sink
route = anomaly
path = $t/anom
retry_first = 2
[sink.norm]
plugin = test-sink
route = normal
path = $t/norm
reject_patient = P-REJ
[sink.all]
plugin = test-sink
path = $t/all
[sink.dead]
plugin = test-sink
route = invalid
path = $t/dead
INI

"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" >"$t/out" 2>"$t/err"
st=$?
check "run exits 0" "[ $st = 0 ]"
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
check "anomalies reach the anomaly sink (7)" "[ $(lines "$t/anom") = 7 ]"
check "normal readings reach the normal sink, less the refused one (20)" "[ $(lines "$t/norm") = 20 ]"
check "route = all takes every judged reading (28)" "[ $(lines "$t/all") = 28 ]"
check "invalid + refused go to the dead letter (3)" "[ $(lines "$t/dead") = 3 ]"
check "dead letter names the JSON error" "grep -q '\"invalid_reason\":\"not JSON' '$t/dead'"
check "dead letter carries the payload and position" "grep -q '\"payload\":\"{\\\\\"resourceType\\\\\":\\\\\"patient' '$t/dead' && grep -q '\"offset\":30' '$t/dead'"
check "refused reading is dead-lettered with the sink's reason" "grep -q 'rejected by sink.norm: patient refused by test-sink' '$t/dead'"
check "annotations reach the documents" "grep -q '\"ext_score\":0.17,\"ext.model\":\"v1\",\"ext_seen\":true' '$t/anom'"
check "reasons are listed" "grep -q '\"anomaly_details\":\\[\"ext_high\"\\]' '$t/anom'"
check "normal documents say so" "grep -q '\"anomaly\":false,\"anomaly_type\":\"normal\"' '$t/norm'"
check "host refused core-field and malformed annotations" "! grep -q abi_violations_accepted '$t/err'"
j() { python3 -c "import json,sys; d=json.load(open('$t/sum.json')); print(eval(sys.argv[1]))" "$1"; }
check "books balance" "[ $(j "d['readings_in']") = 30 ] && [ $(j "d['anomaly']+d['normal']+d['invalid']") = 30 ]"
check "per-route counts" "[ $(j "d['anomaly']") = 7 ] && [ $(j "d['normal']") = 21 ] && [ $(j "d['invalid']") = 2 ]"
check "sink retries are counted" "[ $(j "d['sinks']['sink.anom']['retries']") = 2 ]"
check "rejections are counted" "[ $(j "d['sinks']['sink.norm']['rejected']") = 1 ] && [ $(j "d['sink_rejected']") = 1 ]"
check "invalid reasons are grouped" "[ $(j "len(d['invalid_by_reason'])") = 2 ]"
check "summary on stderr balances" "grep -q 'readings in    30 = anomaly 7 + normal 21 + invalid 2 + in flight 0$' '$t/err'"
check "no payload in logs above debug" "! grep -q 'broken' '$t/err'"

rm -f "$t"/anom "$t"/norm "$t"/all "$t"/dead
"$BPPIPE" run "$t/p.ini" --max-records 10 --summary-json "$t/sum.json" 2>"$t/err"
check "--max-records stops at N" "[ $? = 0 ] && [ $(j "d['readings_in']") = 10 ] && [ $(lines "$t/all") = 10 ]"

# The first write is retried and the second fails for good: two writes whatever the lane merges
# (batches queued behind a busy sink go to it in one write).
"$BPPIPE" run "$t/p.ini" -o sink.anom.fatal_after=1 -o sink.anom.retry_first=1 2>"$t/err"
check "a permanent sink failure exits 1" "[ $? = 1 ] && grep -q 'failing on purpose' '$t/err'"

"$BPPIPE" run "$t/p.ini" -o sink.dead.route=normal -o sink.norm.reject_patient=nobody \
    --summary-json "$t/sum.json" 2>"$t/err"
check "invalid with no invalid sink are counted and logged" \
    "[ $(j "d['invalid_unrouted']") = 2 ] && grep -q 'invalid payloads are not kept: no sink has route = invalid' '$t/err'"

# SIGTERM: the batch in flight is finished and flushed, the books balance, exit 0.
cat >"$t/live.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 10
stats_interval = 1
[source.ward]
plugin = source-faker
rate = 20
count = 0
[sink.all]
plugin = test-sink
path = $t/live
INI
"$BPPIPE" run "$t/live.ini" --summary-json "$t/sum.json" 2>"$t/err" &
bg=$!
# readings delivered and a status line printed: then the signal comes mid-run
running() { [ "$(lines "$t/live")" -gt 0 ] && grep -q '^bppipe: in [0-9]* (' "$t/err"; }
wait_until 60 running
kill -TERM $bg
wait $bg
st=$?
bg=
check "SIGTERM exits 0" "[ $st = 0 ]"
check "SIGTERM: every reading taken was delivered" "[ $(j "d['readings_in']") -gt 0 ] && [ $(j "d['readings_in']") = $(lines "$t/live") ] && [ $(j "d['in_flight']") = 0 ]"
check "status line printed every stats_interval" "grep -q '^bppipe: in [0-9]* (' '$t/err'"

# SIGTERM while the source is backing off (nothing in flight): the run stops at once, not after
# a back-off of up to 20 s.
cat >"$t/src.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
retry_initial_ms = 20000
retry_max_ms = 20000
stats_interval = 0
[source.s]
plugin = test-source
[sink.out]
plugin = test-sink
path = $t/src.out
INI
"$BPPIPE" run "$t/src.ini" 2>"$t/src.err" &
bg=$!
wait_until 60 grep -q "source asked to retry" "$t/src.err"
kill -TERM $bg
# well before the 20 s back-off (not scaled: a sanitizer's slowness must not reach 20 s)
for _ in $(seq 1 100); do kill -0 $bg 2>/dev/null || break; sleep 0.1; done
check "SIGTERM during a source back-off stops within 10 s, not after the 20 s back-off" "! kill -0 $bg 2>/dev/null"
wait $bg
st=$?
bg=
check "and exits 0 (nothing was in flight)" "[ $st = 0 ]"
exit $fail
