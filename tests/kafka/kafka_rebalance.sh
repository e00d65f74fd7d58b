#!/usr/bin/env bash
# Two members of one consumer group over a topic that is being produced: member a reads alone,
# member b joins mid-stream (a rebalance), later a leaves on SIGTERM (another one) and b reads on
# to the end. Every reading reaches the sink, and the readings delivered twice are bounded by
# what was in flight (a batch per member and rebalance), not by how long the rebalance took:
# a commit the group refuses while it rebalances is kept and sent again afterwards, and a member
# does not go on reading batches it cannot commit.
# 30 000 readings of about 1 KB on 16 partitions stay well under the mock's 5 MiB per partition.
. "$(dirname "$0")/lib.sh"
N=${KAFKA_REBALANCE_READINGS:-30000}
RATE=${KAFKA_REBALANCE_RATE:-1000}
BATCH=100
# The eager protocol (librdkafka's default range,roundrobin) unless the test is run with e.g.
# KAFKA_REBALANCE_ASSIGNOR=cooperative-sticky.
ASSIGNOR=${KAFKA_REBALANCE_ASSIGNOR:-}
start_broker --topic blood-pressure:16

# member NAME: writes $t/NAME.ini, a member of group "rebalance" writing NDJSON to $t/NAME.out
member() {
    {
        # lane_max_records = batch_size: one batch in flight per member, which the bound on
        # readings read twice below counts (more in flight, more to read again)
        printf '[pipeline]\nbatch_size = %s\nlane_max_records = %s\nstats_interval = 1\n' \
            "$BATCH" "$BATCH"
        printf '[source.k]\nplugin = source-kafka\nbrokers = %s\ngroup = rebalance\n' "$BROKERS"
        # each batch committed on its own: the mock refuses the revoke callback's commit (a
        # real Kafka takes it), so with commit_interval_ms the batches acknowledged within the
        # interval (14 867 readings in one run, read from a backlog) would be read again too,
        # and this bound is the lanes' (kafka_commit_interval tests the interval)
        printf 'kafka.session.timeout.ms = 6000\ncommit_interval_ms = 0\n'
        [ -z "$ASSIGNOR" ] || printf 'kafka.partition.assignment.strategy = %s\n' "$ASSIGNOR"
        printf '[sink.out]\nplugin = sink-file\nroute = normal\nlayout = ndjson\npath = %s\n' \
            "$t/$1.out"
    } >"$t/$1.ini"
}
j() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
lines() { cat "$t"/a.out/*.ndjson "$t"/b.out/*.ndjson 2>/dev/null | wc -l | tr -d ' '; }
distinct() { ids observation_id "$t/a.out" "$t/b.out" 2>/dev/null | sort -u | wc -l | tr -d ' '; }
member a
member b

# Two producers write RATE readings/s each (distinct seeds, distinct readings) for the whole
# test, so that each rebalance happens while the members are reading.
prods=()
for seed in 1 2; do
    (exec env PRODUCER_RATE=$RATE PRODUCER_COUNT=$((N / 2)) PRODUCER_SEED=$seed timeout 120 \
        "$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/producer.ini" -o source.ward.patients=500 \
        2>"$t/prod$seed.err") &
    prods+=($!)
    track $!
done

(exec "$BPPIPE" run "$t/a.ini" --summary-json "$t/a.json" 2>"$t/a.err") &
a=$!
track $a
at_least() { [ "$("$1")" -ge "$2" ]; }
wait_until 120 at_least lines $((N / 8))
check "a reads alone first" "[ \$(lines) -ge $((N / 8)) ]"
check "while it waited for the group, a's status line said so" \
    "grep -q 'waiting for partition assignment' $t/a.err"

(exec "$BPPIPE" run "$t/b.ini" --summary-json "$t/b.json" 2>"$t/b.err") &
b=$!
track $b
wait_until 120 grep -q 'assigned [1-9]' "$t/b.err"
check "b joins the group and gets partitions" "grep -q 'assigned [1-9]' $t/b.err"
# both members read a while (N/16 more written) before a leaves; it was a fixed 2 s
wait_until 120 at_least lines $(($(lines) + N / 16))
kill -TERM $a
wait $a
check "a leaves on SIGTERM with status 0" "[ $? = 0 ]"
wait "${prods[@]}"
half="delivered $((N / 2)), rejected 0"
check "the producers wrote $N readings" \
    "grep -q '$half' $t/prod1.err && grep -q '$half' $t/prod2.err"
# b has every reading (`distinct` parses all that was written: asked once `lines` has the count);
# SIGTERM drains its lanes and commits what they delivered before it leaves.
wait_until 200 at_least lines $N && wait_until_costly 200 at_least distinct $N
kill -TERM $b
wait $b
check "b stops on SIGTERM with status 0" "[ $? = 0 ]"

total=$(lines)
got=$(distinct)
dups=$((total - got))
echo "delivered $total, distinct $got, twice $dups" \
    "(a read $(j "$t/a.json" "d['readings_in']"), b $(j "$t/b.json" "d['readings_in']"))"
check "every reading reached the sink" "[ $got = $N ]"
# What the revocations said their partitions' next owner reads again (from the committed offset
# to the position): a reading is delivered twice only if it was among them.
pat='s/.*next owner: \([0-9]*\) polled and not yet stored, \([0-9]*\) stored.*/\1 \2/p'
uncommitted=$(sed -n "$pat" "$t/a.err" "$t/b.err" |
    awk '{f += $1; r += $2} END {print f + 0, r + 0}')
read -r in_flight refused <<<"$uncommitted"
echo "uncommitted at the revocations: $in_flight polled and not yet stored, $refused stored but" \
    "refused by the group (the mock refuses commits while the group rebalances)"
check "the readings delivered twice ($dups) were uncommitted at a revocation" \
    "[ $dups -le $((in_flight + refused)) ]"
# Two rebalances, two members, a batch in flight each, and one refused commit each.
bound=$((BATCH * 2 * 2 * 2))
check "readings delivered twice ($dups) are at most what was in flight ($bound)" \
    "[ $dups -le $bound ]"
# given a new normal reading per partition, stopped once they are written (rerun, lib.sh)
rerun c 16 lines "$(ids observation_id "$t/a.out" | head -n 1)" -- "$t/b.ini"
# The mock refuses commits during a rebalance, so a member's last batch before it gave its
# partitions up may be uncommitted (at-least-once): a restart re-reads at most what was in flight.
check "a restart of the group re-reads at most what was in flight ($bound)" \
    "[ $? = 0 ] && [ \$(j $t/c.json \"d['readings_in']\") -le $((bound + 16)) ]"
[ $fail = 0 ] || { grep -h 'commit\|revoked\|assigned\|lost' "$t/a.err" "$t/b.err" | head -40; }
exit $fail
