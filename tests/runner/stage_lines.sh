#!/usr/bin/env bash
# The per-batch stage lines at log_level = debug (src/engine/runner.c, src/delivery/lane.c;
# docs/operations.md, "Where the latency goes"), which bench/latency.sh STAGES=1 sums up:
#   - each batch says how long its oldest payload waited from its source timestamp to the poll's
#     return (the oldest: the payloads of a batch carry timestamps far apart);
#   - each write of each lane names the batches it carried and the records, every record once;
#   - each batch's commit is said;
#   - a pause of the source behind a full lane is said once it ends, naming the lane;
#   - at log_level = info none of them is printed.
# Nothing here is timed: the timestamps are minutes apart, a stalled sink makes the pause.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
bg=
trap '[ -n "$bg" ] && kill -9 $bg 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
lines() { [ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0; }

# offset 0 was stamped ten minutes ago, each later one 100 s later: in a batch of 10 the newest
# lies 5 minutes ahead, so only the oldest can have waited 600 s
ts=$(($(date +%s) * 1000 - 600000))
ini() { # ini LOG_LEVEL
    cat <<INI
[pipeline]
plugin_path = $RUNNER_PLUGIN_DIR
batch_size = 10
stats_interval = 0
log_level = $1
[source.in]
plugin = test-source
count = 100
timestamp_ms = $ts
timestamp_step_ms = 100000
[sink.slow]
plugin = test-sink
route = all
path = $t/slow
block_file = $t/block
lane_max_records = 20
[sink.fast]
plugin = test-sink
route = all
path = $t/fast
INI
}
ini debug >"$t/p.ini"
touch "$t/block"
"$BPPIPE" run "$t/p.ini" 2>"$t/err" &
bg=$!
# sink.slow holds batch 1 inside its write and batch 2 behind it: 20 records, its bound, so the
# source is paused once sink.fast has both batches
twenty() { [ "$(lines "$t/fast")" -ge 20 ]; }
wait_until 120 twenty
check "the source is paused behind the stalled sink (sink.fast has 20 readings)" \
    "[ \$(lines '$t/fast') = 20 ]"
rm -f "$t/block"
wait_gone 120 "$bg"
wait "$bg"
st=$?
bg=
check "the run ends, exit 0" "[ $st = 0 ]"
grep -v ' debug ' "$t/err" | tail -n 5 >&2
first=$(sed -n 's/.*\[core\] batch 1: 10 payload(s), the oldest waited \(-\?[0-9]*\) ms from its source timestamp.*/\1/p' "$t/err")
check "batch 1's line gives its oldest payload's wait ($first ms >= 600000)" \
    "[ -n '$first' ] && [ '$first' -ge 600000 ]"
check "every batch has its line" \
    "[ \$(grep -c '\[core\] batch [0-9]*: [0-9]* payload(s), the oldest waited' '$t/err') = 10 ]"
check "every batch's commit is said" \
    "[ \$(grep -c '\[core\] batch [0-9]* committed [0-9.]* ms after its poll returned' '$t/err') = 10 ]"
wrote() { # the records the writes of sink $1 say they carried, summed
    sed -n "s/.*\[$1\] wrote \([0-9]*\) record(s) of batch(es) [0-9]*-[0-9]* in .*/\1/p" "$t/err" |
        awk '{s += $1} END {print s + 0}'
}
check "a write of sink.slow began with batch 1" \
    "grep -q '\[sink.slow\] wrote [0-9]* record(s) of batch(es) 1-[0-9]* in' '$t/err'"
check "sink.slow's writes carried each record once ($(wrote sink.slow) = 100)" \
    "[ $(wrote sink.slow) = 100 ]"
check "sink.fast's writes carried each record once ($(wrote sink.fast) = 100)" \
    "[ $(wrote sink.fast) = 100 ]"
check "the pause behind sink.slow is said" \
    "grep -q '\[core\] source paused [0-9.]* ms: the backlog of sink.slow was full' '$t/err'"

# the same run at info: no stage line
rm -rf "$t/slow" "$t/fast"
ini info >"$t/p.ini"
"$BPPIPE" run "$t/p.ini" 2>"$t/err.info"
check "the run at info ends, exit 0" "[ $? = 0 ]"
check "no stage line at info" \
    "! grep -qE 'payload\(s\), the oldest|record\(s\) of batch\(es\)|committed .* after its poll' '$t/err.info'"
exit $fail
