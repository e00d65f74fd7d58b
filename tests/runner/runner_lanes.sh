#!/usr/bin/env bash
# Delivery lanes (src/delivery/lane.c): every sink delivers from its own bounded queue on its own thread.
#  1. A stalled sink with a small lane: its lane fills, the source is paused (the poll count does
#     not move while the sink is stalled, and the status line names the sink and its backlog),
#     a sink beside it has what was polled; once the stall ends every reading arrives, once.
#  2. A slow sink holds back only what is routed to it: a fast sink beside it finishes first.
#  3. --duration ends a run whose sink is down: polling stops, the lanes drain for
#     drain_timeout_ms, what is not delivered is left uncommitted, and the books balance.
# Nothing here is timed: counts and orders, with generous time limits only to stop waiting.
set -u
fail=0
t=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }
j() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }

obs() { # obs ID PATIENT SYS DIA
    printf '{"resourceType":"Observation","id":"%s","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2026-01-02T03:04:05Z","component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":%s,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}\n' "$1" "$2" "$3" "$4"
}
for i in $(seq 1 300); do
    if [ $((i % 3)) = 0 ]; then obs "h$i" "P-$((i % 7))" 170 95; else obs "n$i" "P-$((i % 7))" 120 80; fi
done >"$t/in.ndjson"

# 1. A stalled sink and a small lane.
cat >"$t/full.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 10
stats_interval = 1
lane_max_records = 25
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[sink.slow]
plugin = test-sink
route = all
path = $t/slow
block_file = $t/block
[sink.fast]
plugin = test-sink
route = all
path = $t/fast
INI
touch "$t/block"
"$BPPIPE" run "$t/full.ini" --summary-json "$t/full.json" 2>"$t/full.err" &
bg=$!
paused() { grep -c 'sink.slow full, source paused' "$t/full.err"; }
for _ in $(seq 300); do [ "$(paused)" -ge 3 ] && break; sleep 0.1; done
polls() { grep 'sink.slow full, source paused' "$t/full.err" | sed -n 's/.*(source polls \([0-9]*\)).*/\1/p'; }
check "the full lane is named on the status line with its backlog" \
    "[ \$(paused) -ge 3 ] && grep -q 'sink.slow full, source paused: backlog [0-9]* record(s) in [0-9]* batch(es)' '$t/full.err'"
check "while the sink is stalled the source is not polled (the same poll count on every line)" \
    "[ \$(polls | sort -u | wc -l) = 1 ] && [ \$(polls | head -n 1) -gt 0 ]"
check "the lane holds no more than its bound and one batch" \
    "n=\$(grep 'sink.slow full' '$t/full.err' | tail -n 1 | sed -n 's/.*backlog \([0-9]*\) record.*/\1/p'); [ \"\$n\" -ge 25 ] && [ \"\$n\" -lt 35 ]"
check "the sink beside it has what was polled, the stalled one nothing yet" \
    "[ \$(lines '$t/fast') -ge 25 ] && [ \$(lines '$t/fast') -lt 300 ] && [ \$(lines '$t/slow') = 0 ]"
rm -f "$t/block"
for _ in $(seq 600); do kill -0 $bg 2>/dev/null || break; sleep 0.1; done
wait $bg
st=$?
bg=
check "after the stall the run ends, exit 0" "[ $st = 0 ]"
check "nothing dropped: every reading reached both sinks, once" \
    "[ \$(lines '$t/slow') = 300 ] && [ \$(lines '$t/fast') = 300 ] && [ \$(sort -u '$t/slow' | wc -l) = 300 ]"
check "the books balance, nothing in flight" \
    "[ \$(j '$t/full.json' \"d['readings_in']\") = 300 ] && [ \$(j '$t/full.json' \"d['anomaly']+d['normal']+d['invalid']\") = 300 ] && [ \$(j '$t/full.json' \"d['in_flight']\") = 0 ]"
check "every batch was polled once (30 batches, and the poll that found the end)" \
    "[ \$(j '$t/full.json' \"d['source_polls']\") -le 31 ]"

# 2. A slow sink holds back only its own records: the fast one finishes first.
cat >"$t/slow.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 10
stats_interval = 0
[source.in]
plugin = source-file
path = $t/in.ndjson
[detector.rules]
plugin = detector-rules
[sink.slow]
plugin = test-sink
route = anomaly
path = $t/slow2
delay_ms = 100
[sink.fast]
plugin = test-sink
route = normal
path = $t/fast2
INI
"$BPPIPE" run "$t/slow.ini" --summary-json "$t/slow.json" 2>"$t/slow.err" &
bg=$!
for _ in $(seq 600); do [ "$(lines "$t/fast2")" = 200 ] && break; sleep 0.05; done
check "the fast sink has all of its 200 readings while the slow one still delivers" \
    "[ \$(lines '$t/fast2') = 200 ] && [ \$(lines '$t/slow2') -lt 100 ]"
wait $bg
st=$?
bg=
check "then the slow one has its 100 too" "[ $st = 0 ] && [ \$(lines '$t/slow2') = 100 ]"

# 3. --duration with a sink that is down: bounded drain, uncommitted, books balance.
cat >"$t/down.ini" <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 5
stats_interval = 0
retry_initial_ms = 20
retry_max_ms = 100
drain_timeout_ms = 500
[source.ward]
plugin = source-faker
rate = 20
[sink.down]
plugin = test-sink
route = all
path = $t/down
retry_first = 1000
[sink.up]
plugin = test-sink
route = all
path = $t/up
INI
timeout -k 5 60 "$BPPIPE" run "$t/down.ini" --duration 2 --summary-json "$t/down.json" 2>"$t/down.err"
st=$?
check "--duration ends the run although a sink is down (exit 0)" "[ $st = 0 ]"
check "it says what is left uncommitted" "grep -q 'drain time (drain_timeout_ms = 500) is over' '$t/down.err'"
check "the working sink delivered, the down one nothing" "[ \$(lines '$t/up') -gt 0 ] && [ \$(lines '$t/down') = 0 ]"
check "the books balance with what is in flight" \
    "[ \$(j '$t/down.json' \"d['in_flight']\") -gt 0 ] && [ \$(j '$t/down.json' \"d['readings_in']\") = \$(j '$t/down.json' \"d['anomaly']+d['normal']+d['invalid']+d['in_flight']\") ]"
check "nothing counted as delivered that the down sink did not take" \
    "[ \$(j '$t/down.json' \"d['anomaly']+d['normal']+d['invalid']\") = 0 ]"
exit $fail
