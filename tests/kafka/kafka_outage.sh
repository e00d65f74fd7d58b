#!/usr/bin/env bash
# A sink that fails for a while, with Kafka as the source (test-sink from tests/runner):
#  1. RETRY for a while, then recovery: every reading arrives once, offsets are committed after.
#  2. A sink that never recovers: consumption pauses once its lane is full (lane_max_records =
#     batch_size: one batch polled, no more), and what was not acknowledged is read again by
#     the next run.
#  3. A sink that fails permanently after 3 batches: the next run starts exactly where the
#     acknowledged readings end (nothing committed past them, nothing lost).
. "$(dirname "$0")/lib.sh"
N=500
start_broker --topic blood-pressure:3
PRODUCER_RATE=0 PRODUCER_COUNT=$N "$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/producer.ini" \
    -o source.ward.patients=20 2>"$t/prod.err" || { echo "FAIL producer"; exit 1; }
topic_ids blood-pressure | sort >"$t/produced"
check "$N readings on the topic" "[ \$(wc -l <$t/produced) = $N ]"

# pipeline GROUP OUT [test-sink key = value]...: writes $t/GROUP.ini
pipeline() {
    local group=$1 out=$2
    shift 2
    {
        # lane_max_records = batch_size: a sink that cannot deliver pauses the source after
        # one batch
        printf '[pipeline]\nplugin_path = %s\nbatch_size = 50\nlane_max_records = 50\n' \
            "$RUNNER_PLUGIN_DIR"
        printf 'stats_interval = 0\n'
        printf 'retry_initial_ms = 20\nretry_max_ms = 100\n'
        printf '[source.k]\nplugin = source-kafka\nbrokers = %s\ngroup = %s\n' "$BROKERS" "$group"
        printf 'kafka.session.timeout.ms = 6000\n'
        printf '[sink.t]\nplugin = test-sink\npath = %s\n' "$out"
        for kv in "$@"; do printf '%s\n' "$kv"; done
    } >"$t/$group.ini"
}
j() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
stable_ids() { python3 -c "
import json, sys
for l in open(sys.argv[1]):
    print(json.loads(l)['observation_id'])" "$1"; }

# 1. retries, then recovery
pipeline flaky "$t/flaky.out" "retry_first = 6"
timeout 60 "$BPPIPE" run "$t/flaky.ini" --max-records $N --summary-json "$t/flaky.json" \
    2>"$t/flaky.err"
check "1: the run exits 0" "[ $? = 0 ]"
check "1: the sink was retried 6 times" "[ \$(j $t/flaky.json \"d['sinks']['sink.t']['retries']\") = 6 ]"
check "1: every reading arrived exactly once" \
    "[ \"\$(stable_ids $t/flaky.out | sort)\" = \"\$(cat $t/produced)\" ]"
# a restart, given one new reading per partition, stopped once they are out (rerun, lib.sh)
out_lines() { cat "$t/flaky.out" 2>/dev/null | wc -l | tr -d ' '; }
rerun flaky2 3 out_lines "" -- "$t/flaky.ini"
check "1: committed after recovery: a restart reads nothing again" \
    "grep -q 'assigned 3 partition' $t/flaky2.err && [ \$(j $t/flaky2.json \"d['readings_in']\") = 3 ]"
topic_ids blood-pressure | sort >"$t/produced" # the three markers are readings of the topic now
N=$((N + 3))

# 2. a sink that stays down: the source is not polled again while it retries
pipeline down "$t/down.out" "retry_first = 1000"
"$BPPIPE" run "$t/down.ini" --summary-json "$t/down.json" 2>"$t/down.err" &
pid=$!
track $pid
# the batch in flight is being retried: then a first signal waits for it, a second abandons it
wait_until 60 grep -q 'not yet durable' "$t/down.err"
kill -TERM $pid
wait_until 60 grep -q 'stop requested' "$t/down.err"
check "2: a first signal says what the stop waits for" \
    "grep -q 'stop requested: waiting for sink.t to deliver the batch in flight; signal again' $t/down.err"
kill -TERM $pid   # the second signal abandons the batch
wait $pid
check "2: abandoned run exits 1" "[ $? = 1 ]"
check "2: the sink kept retrying" "grep -q 'not yet durable' $t/down.err"
check "2: consumption paused: one batch of at most 50 polled" \
    "n=\$(sed -n 's/.*source.k *messages //p' $t/down.err); [ -n \"\$n\" ] && [ \$n -le 50 ]"
check "2: nothing reached the sink" "[ ! -s $t/down.out ]"
pipeline down "$t/down2.out"
timeout 60 "$BPPIPE" run "$t/down.ini" --max-records $N 2>"$t/down2.err"
check "2: the next run delivers every reading" \
    "[ \"\$(stable_ids $t/down2.out | sort)\" = \"\$(cat $t/produced)\" ]"

# 3. permanent failure after 3 acknowledged batches, then a healthy run of the same group
pipeline fatal "$t/fatal1.out" "fatal_after = 3"
timeout 60 "$BPPIPE" run "$t/fatal.ini" 2>"$t/fatal1.err"
check "3: the failing run exits 1" "[ $? = 1 ]"
first=$(wc -l <"$t/fatal1.out")
check "3: some readings were acknowledged before the failure" "[ $first -gt 0 ] && [ $first -le 150 ]"
pipeline fatal "$t/fatal2.out"
timeout 60 "$BPPIPE" run "$t/fatal.ini" --max-records $((N - first)) --summary-json "$t/f2.json" \
    2>"$t/fatal2.err"
check "3: the healthy run exits 0" "[ $? = 0 ]"
check "3: both runs together delivered every reading exactly once" \
    "[ \"\$(cat $t/fatal1.out $t/fatal2.out | python3 -c 'import json,sys; [print(json.loads(l)[\"observation_id\"]) for l in sys.stdin]' | sort)\" = \"\$(cat $t/produced)\" ]"
fatal2_lines() { wc -l <"$t/fatal2.out" | tr -d ' '; }
rerun f3 3 fatal2_lines "" -- "$t/fatal.ini"
check "3: and then nothing is left" "grep -q 'assigned 3 partition' $t/f3.err && [ \$(j $t/f3.json \"d['readings_in']\") = 3 ]"
[ $fail = 0 ] || { tail -n 15 "$t/down.err" "$t/fatal1.err"; }
exit $fail
