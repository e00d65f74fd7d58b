#!/usr/bin/env bash
# Merged writes (src/delivery/lane.c, take_merged): the batches queued behind a busy sink are
# written to it in one write(), and each batch stays its own for everything else.
#   - While the sink is stalled inside a write, the batches polled meanwhile wait in its lane
#     and nothing is committed.
#   - The next write carries them together (more records than a batch), within the lane's
#     bound.
#   - Within merged writes, outcomes are per record: readings of one patient refused by the sink
#     become dead letters (once each, with the reason), every k-th record failed is offered again
#     and delivered once; every other reading arrives once.
#   - The source commits batch by batch, in poll order: one commit per polled batch with exactly
#     its offsets, as without merging.
# Nothing here is timed: counts and orders, with generous time limits only to stop waiting.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
j() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }

cat >"$t/p.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 10
stats_interval = 0
retry_initial_ms = 1
retry_max_ms = 20
[source.in]
plugin = test-source
count = 300
commit_path = $t/commits
[sink.slow]
plugin = test-sink
route = all
path = $t/slow
writes_path = $t/writes
block_file = $t/block
reject_patient = P-3
again_every = 7
lane_max_records = 60
[sink.fast]
plugin = test-sink
route = all
path = $t/fast
[sink.dead]
plugin = test-sink
route = invalid
path = $t/dead
INI
touch "$t/block"
"$BPPIPE" run "$t/p.ini" --summary-json "$t/sum.json" 2>"$t/err" &
bg=$!
# A batch reaches both lanes at once: once the fast sink has 50 readings, the stalled one has
# its first batch inside write() and at least four more queued behind it.
queued() { [ "$(lines "$t/fast")" -ge 50 ]; }
wait_until 120 queued
check "the fast sink delivers while the slow one is stalled" "queued"
check "the stalled sink is inside its first write" "[ \$(lines '$t/writes') = 1 ]"
check "nothing is committed while a sink holds the first batch" "[ \$(lines '$t/commits') = 0 ]"
rm -f "$t/block"
wait_gone 120 "$bg"
wait "$bg"
st=$?
bg=
check "the run ends, exit 0" "[ $st = 0 ]"
cat "$t/err" | grep -v '^$' | tail -n 5 >&2
most=$(sort -n "$t/writes" | tail -n 1)
echo "writes of the stalled sink (records offered): $(tr '\n' ' ' <"$t/writes")"
# The stalled write may itself have taken several batches (a slow lane thread, under
# ThreadSanitizer: 30 records); whatever it did not take of the 50 the fast sink had was queued
# behind it, and a later write carries all of that together (retries of its failed records may
# come first, in writes of their own).
first=$(head -n 1 "$t/writes")
after=$(tail -n +2 "$t/writes" | sort -n | tail -n 1)
check "a write carried queued batches together (2 batches of 10 at least)" "[ '$most' -ge 20 ]"
check "the batches queued during the stall went out together ($after >= 50 - $first)" \
    "[ '$after' -ge $((50 - first)) ]"
check "no write held more than the lane's bound and one batch" "[ '$most' -le 70 ]"
# 300 readings, patient P-<i mod 7>: 43 of P-3, refused by the slow sink.
check "every reading the slow sink took arrived once (257)" \
    "[ \$(lines '$t/slow') = 257 ] && [ \$(sort -u '$t/slow' | wc -l) = 257 ]"
check "none of the refused patient's readings is in it" "! grep -q '\"P-3\"' '$t/slow'"
check "each refused reading is a dead letter once, with the sink's reason (43)" \
    "[ \$(lines '$t/dead') = 43 ] && [ \$(sort -u '$t/dead' | wc -l) = 43 ] && [ \$(grep -c 'rejected by sink.slow: patient refused by test-sink' '$t/dead') = 43 ]"
check "the fast sink has every reading once" \
    "[ \$(lines '$t/fast') = 300 ] && [ \$(sort -u '$t/fast' | wc -l) = 300 ]"
check "records failed within merged writes were offered again (retries counted)" \
    "[ \$(j '$t/sum.json' \"d['sinks']['sink.slow']['retries']\") -gt 0 ]"
check "the books: 257 delivered and 43 rejected by the slow sink, nothing in flight" \
    "[ \$(j '$t/sum.json' \"d['sinks']['sink.slow']['delivered']\") = 257 ] && [ \$(j '$t/sum.json' \"d['sinks']['sink.slow']['rejected']\") = 43 ] && [ \$(j '$t/sum.json' \"d['sink_rejected']\") = 43 ] && [ \$(j '$t/sum.json' \"d['in_flight']\") = 0 ]"
expected=$(for b in $(seq 0 29); do echo "$((b * 10))-$((b * 10 + 9))"; done)
check "one commit per polled batch, with its own offsets, in poll order (30)" \
    "[ \"\$(cat '$t/commits')\" = \"\$expected\" ]"
exit $fail
