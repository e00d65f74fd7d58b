#!/usr/bin/env bash
# How the host retries a sink (src/engine/runner.c deliver_to()): a write that made progress starts
# the back-off over, and when it took at least half of what it was offered the rest goes again
# at once; a reading the sink keeps failing while it delivers the others is dead-lettered with
# the sink's reason after max_record_attempts; an outage (writes that deliver nothing) never
# dead-letters. test-sink fails records on purpose (tests/runner/test_sink.c). Each failed attempt
# has its line (at debug; the back-off is read from them), but a long outage is a few lines above
# debug: the first attempt, one per 10 s with the attempts since, and its end.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
j() { python3 -c "import json,sys; d=json.load(open('$t/sum.json')); print(eval(sys.argv[1]))" "$1"; }

obs() { # obs ID PATIENT
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$1" "$2"
}
for i in $(seq 1 9); do obs "n$i" "P-$i"; done >"$t/nine.ndjson"
{ for i in $(seq 1 5); do obs "g$i" "P-$i"; done; obs "x1" "P-X"; } >"$t/poison.ndjson"

pipeline() { # pipeline INPUT SINK-OPTIONS...
    cat <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 100
retry_initial_ms = 1
retry_max_ms = 2
stats_interval = 0
log_level = debug
[source.in]
plugin = source-file
path = $1
[sink.out]
plugin = test-sink
route = all
path = $t/out
INI
    shift
    for kv in "$@"; do echo "$kv"; done
    cat <<INI
[sink.dead]
plugin = test-sink
route = invalid
path = $t/dead
INI
}
run() { rm -f "$t/out" "$t/dead"; timeout -k 5 60 "$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err"; }

# 1. Three writes that take nothing (attempts 1, 2, 3), then writes that take a third of what
#    they are offered: each of those made progress, so the back-off starts over at attempt 1
#    instead of climbing to 4, 5, 6...
pipeline "$t/nine.ndjson" "retry_first = 3" "deliver_every = 3" >"$t/p.ini"
run
st=$?
check "progress: the run exits 0" "[ $st = 0 ]"
check "progress: every reading delivered once" "[ \$(lines '$t/out') = 9 ] && [ \$(sort '$t/out' | uniq -d | wc -l) = 0 ]"
check "the outage's attempts climb (attempt 3 logged)" "grep -q 'retrying in [0-9]* ms (attempt 3)' '$t/err'"
check "after progress the back-off starts over (attempt 1 again, several times)" \
    "[ \$(grep -c 'retrying in [0-9]* ms (attempt 1)' '$t/err') -ge 3 ]"
check "the attempt count never climbs past the outage's" "! grep -q '(attempt [4-9])' '$t/err'"
check "nothing dead-lettered" "[ \$(lines '$t/dead') = 0 ]"

# 2. Writes that take two thirds of what they are offered: the rest goes again at once, with
#    no back-off at all.
pipeline "$t/nine.ndjson" "again_every = 3" >"$t/p.ini"
run
st=$?
check "most taken: the run exits 0 with every reading delivered" "[ $st = 0 ] && [ \$(lines '$t/out') = 9 ]"
check "most taken: retried at once, never backed off" \
    "grep -q 'offering those again at once' '$t/err' && ! grep -q 'retrying in' '$t/err'"
check "most taken: the retries are counted" "[ \$(j \"d['sinks']['sink.out']['retries']\") = 2 ]"

# 3. One reading failed for ever while the others are delivered: dead-lettered after
#    max_record_attempts with the sink's reason; the run drains, commits and exits.
pipeline "$t/poison.ndjson" "again_patient = P-X" >"$t/p.ini"
sed -i 's/^batch_size = 100$/batch_size = 100\nmax_record_attempts = 4/' "$t/p.ini"
run
st=$?
check "poison: the run exits 0" "[ $st = 0 ]"
check "poison: the others are delivered" "[ \$(lines '$t/out') = 5 ] && ! grep -q P-X '$t/out'"
check "poison: dead-lettered with the sink's reason after 4 attempts" \
    "[ \$(lines '$t/dead') = 1 ] && grep -q '\"invalid_reason\":\"rejected by sink.out: not delivered after 4 attempts while the sink delivered the others: patient held back by test-sink\"' '$t/dead'"
check "poison: the dead letter is the reading" "grep -q '\"id\\\\\":\\\\\"x1' '$t/dead'"
check "poison: offered 4 times, then given up" "[ \$(j \"d['sinks']['sink.out']['retries']\") = 3 ] && [ \$(j \"d['sinks']['sink.out']['rejected']\") = 1 ]"
check "poison: the books balance, nothing in flight" "[ \$(j \"d['readings_in']\") = 6 ] && [ \$(j \"d['in_flight']\") = 0 ] && [ \$(j \"d['sink_rejected']\") = 1 ]"
check "poison: said why in the log" "grep -q 'failed 4 attempts while the sink delivered the others' '$t/err'"

# 4. An outage: every record failed, one by one, for 8 writes (twice max_record_attempts),
#    then the sink recovers. Nothing is dead-lettered; everything is delivered.
pipeline "$t/nine.ndjson" "again_first = 8" >"$t/p.ini"
sed -i 's/^batch_size = 100$/batch_size = 100\nmax_record_attempts = 4/' "$t/p.ini"
run
st=$?
check "outage: the run exits 0" "[ $st = 0 ]"
check "outage: everything delivered after it, nothing dead-lettered" \
    "[ \$(lines '$t/out') = 9 ] && [ \$(lines '$t/dead') = 0 ] && [ \$(j \"d['sink_rejected']\") = 0 ]"
check "outage: waited with a growing back-off" "grep -q '(attempt 8)' '$t/err'"

# 5. A sink down for over 10 s with a short back-off (retry_max_ms = 100): a hundred failed
#    attempts or more, but at log_level info only the first is said, then one line 10 s later
#    with the attempts since, then its end with the attempts in all (lane.c, bp_lane_note_retry).
#    Before: one warning per attempt.
pipeline "$t/nine.ndjson" "down_file = $t/down" >"$t/p.ini"
sed -i 's/^log_level = debug$/log_level = info\ndrain_timeout_ms = 600000/; s/^retry_max_ms = 2$/retry_max_ms = 100/' "$t/p.ini"
touch "$t/down"
rm -f "$t/out" "$t/dead"
"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err" &
bg=$!
trap 'kill $bg 2>/dev/null; rm -rf "$t"' EXIT
# the second warning is said 10 s into the outage: then it ends
wait_until 120 grep -q 'since the last such warning' "$t/err"
rm -f "$t/down"
wait_gone 120 $bg
wait $bg
st=$?
warned=$(grep -c 'retrying in' "$t/err")
retries=$(j "d['sinks']['sink.out']['retries']")
echo "outage of 10 s: $retries failed attempts, $warned lines that say so"
check "long outage: the run exits 0, every reading delivered" "[ $st = 0 ] && [ \$(lines '$t/out') = 9 ]"
check "long outage: many attempts ($retries)" "[ '$retries' -ge 20 ]"
check "long outage: two lines for them, not one per attempt ($warned)" "[ $warned = 2 ]"
check "long outage: the first says attempt 1" "grep -q 'retrying in [0-9]* ms (attempt 1)\$' '$t/err'"
check "long outage: the next says how many attempts since and in all" \
    "grep -Eq '\(attempt [0-9]+; [0-9]+ failed attempt\(s\) since the last such warning, [0-9]+ in 1[0-9] s of this outage\)' '$t/err'"
check "long outage: its end is said with every attempt counted" \
    "grep -q 'writes deliver again after $retries failed attempt(s) in [0-9]* s' '$t/err'"

exit $fail
