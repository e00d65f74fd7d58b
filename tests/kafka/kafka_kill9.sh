#!/usr/bin/env bash
# kill -9 of the ward pipeline in the middle of a 100 000-reading topic, then a restart of the
# same consumer group: every reading reaches its sink at least once (ids compared): anomalies in
# Elasticsearch (the emulator; a reading indexed before the kill is a 409 after it), normal
# readings in the archive.
# 48 partitions keep each under the mock cluster's 5 MiB per-partition retention.
. "$(dirname "$0")/lib.sh"
N=${KAFKA_KILL9_READINGS:-100000}
start_broker --topic blood-pressure:48
start_es
timeout 120 env PRODUCER_RATE=0 PRODUCER_COUNT=$N "$BPPIPE" run \
    "$BPPIPE_SOURCE_DIR/pipelines/producer.ini" -o source.ward.patients=2000 2>"$t/prod.err"
check "producer exits 0" "[ $? = 0 ]"
topic_ids blood-pressure | sort >"$t/produced"
check "$N distinct readings on the topic" "[ \$(sort -u $t/produced | wc -l) = $N ]"

export WARD_DIR=$t/ward KAFKA_GROUP=kill9 WARD_STATS_INTERVAL=0
# Everything in NDJSON (faster than a file per reading); a short session so that the restarted
# member does not wait 45 s for the killed one to expire.
# Started in the background with exec, so that $! is bppipe itself.
ward_bg() {
    (exec "$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/ward.ini" -o sink.normal.layout=ndjson \
        -o source.kafka.kafka.session.timeout.ms=6000 "$@") &
}
delivered() {
    echo $(( $(es_count) + $(cat "$t"/ward/normal_cases/*.ndjson 2>/dev/null | wc -l) ))
}
ward_bg 2>"$t/run1.err"
pid=$!
track $pid
for _ in $(seq 1 600); do [ "$(delivered)" -ge $((N / 4)) ] && break; sleep 0.1; done
kill -KILL $pid
wait $pid 2>/dev/null
first=$(delivered)
echo "killed with $first readings written"
check "the first run was killed mid-topic" "[ $first -ge $((N / 4)) ] && [ $first -lt $N ]"

ward_bg --summary-json "$t/run2.json" 2>"$t/run2.err"
pid=$!
track $pid
# seen: the observation id of every document indexed and of every complete document written (a
# line cut short by the kill is not a delivery and is skipped).
seen() {
    es_docs observation_id
    cat "$t"/ward/normal_cases/*.ndjson 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        print(json.loads(line)["observation_id"])
    except ValueError:
        print("torn line skipped", file=sys.stderr)'
}
for _ in $(seq 1 130); do
    sleep 2
    [ "$(delivered)" -ge $N ] && [ "$(seen 2>/dev/null | sort -u | wc -l)" -ge $N ] && break
done
kill -TERM $pid
wait $pid
check "the restarted run drains and exits 0 on SIGTERM" "[ $? = 0 ]"
seen >"$t/seen"
sort -u "$t/seen" >"$t/seen_u"
echo "documents written $(wc -l <"$t/seen"), distinct readings $(wc -l <"$t/seen_u")"
check "every reading reached its sink at least once" "cmp -s $t/seen_u $t/produced"
# What can be written but not committed at the kill: a lane's backlog up to its bound
# (lane_max_records, 5 000) plus the batch that crossed it, and the batch being judged (500 each):
# the source is not polled while a lane is full, and commits are synchronous.
check "replays are bounded by what was in flight (6 000)" \
    "[ \$(( \$(wc -l <$t/seen) - $N )) -le 6000 ]"
[ $fail = 0 ] || tail -n 20 "$t/run2.err"
exit $fail
