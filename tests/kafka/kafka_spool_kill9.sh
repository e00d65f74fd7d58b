#!/usr/bin/env bash
# The ward's disk buffer (pipelines/ward.ini, sink.anomalies buffer = disk) under kill -9:
#  1. Elasticsearch takes the first anomalies, then answers every _bulk with 503 (down). The
#     ward goes on: its anomalies go to the spool, the archive fills, and the offsets are
#     committed. It is killed with -9 while the spool holds anomalies.
#  2. Elasticsearch comes back and the ward restarts in the same group. It reads (almost)
#     nothing again from Kafka, the spooled anomalies were committed, and delivers the spool:
#     every reading reaches its sink, and Elasticsearch holds each anomaly exactly once.
# 8 partitions keep each far under the mock cluster's 5 MiB per-partition retention.
. "$(dirname "$0")/lib.sh"
N=${KAFKA_SPOOL_READINGS:-6000}
start_broker --topic blood-pressure:8
start_es
timeout 120 env PRODUCER_RATE=0 PRODUCER_COUNT=$N "$BPPIPE" run \
    "$BPPIPE_SOURCE_DIR/pipelines/producer.ini" -o source.ward.patients=300 2>"$t/prod.err"
check "producer exits 0" "[ $? = 0 ]"
topic_ids blood-pressure | sort >"$t/produced"
check "$N distinct readings on the topic" "[ \$(sort -u $t/produced | wc -l) = $N ]"

fault() { curl -s -XPOST -H 'Content-Type: application/json' "$ES_URL/_emulator/faults" -d "$1" >/dev/null; }
spooled() { # records in the spool, from the last status line that names it (0 when none does)
    grep -o 'sink.anomalies: [0-9]* record(s) in its disk buffer' "$1" | tail -n 1 | grep -o '[0-9]*' | head -n 1
}
normal() { cat "$t"/ward/normal_cases/*.ndjson 2>/dev/null | wc -l | tr -d ' '; }
export WARD_DIR=$t/ward KAFKA_GROUP=spool WARD_STATS_INTERVAL=1
ward_bg() {
    (exec "$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/ward.ini" -o sink.normal.layout=ndjson \
        -o source.kafka.kafka.session.timeout.ms=6000 -o pipeline.batch_size=200 "$@") &
}
# A first run while Elasticsearch is up: a part of the topic, indexed and committed.
timeout 120 "$BPPIPE" run "$BPPIPE_SOURCE_DIR/pipelines/ward.ini" -o sink.normal.layout=ndjson \
    -o source.kafka.kafka.session.timeout.ms=6000 -o pipeline.batch_size=200 \
    --max-records 1000 2>"$t/run0.err"
check "a first run indexes a part of the topic, exit 0" "[ $? = 0 ] && [ \$(es_count) -gt 0 ]"
fault '{"request_503": 1000000000}'
ward_bg 2>"$t/run1.err" >"$t/run1.alerts"
pid=$!
track $pid
before=$(es_count)
all_placed() {
    local s
    s=$(spooled "$t/run1.err")
    [ -n "$s" ] && [ $((before + ${s:-0} + $(normal))) -ge $N ]
}
wait_until 200 all_placed
# The last commits: a status line (every second) written after that moment with nothing in
# flight says every reading read so far is committed (it was a fixed 2 s).
placed_at=$(wc -l <"$t/run1.err")
all_committed() { tail -n +"$((placed_at + 1))" "$t/run1.err" | grep -q 'in-flight 0[ |]*'; }
wait_until 60 all_committed
kill -KILL $pid
wait $pid 2>/dev/null
in_spool=$(spooled "$t/run1.err")
echo "killed with $before anomalies indexed, ${in_spool:-0} in the spool, $(normal) archived"
check "Elasticsearch took some anomalies before it went down" "[ $before -gt 0 ]"
check "the spool held anomalies when the ward was killed" \
    "[ \${in_spool:-0} -gt 0 ] && ls '$t'/ward/spool/anomalies/*.seg >/dev/null 2>&1"
check "the archive kept being written while Elasticsearch was down" \
    "[ $(normal) -gt 0 ] && [ $(( before + ${in_spool:-0} + $(normal) )) -ge $N ]"
check "alerts kept being written too ($(grep -c DetectedIssue "$t/run1.alerts"))" \
    "[ \$(grep -c DetectedIssue '$t/run1.alerts') -gt 0 ]"

fault '{"request_503": 0}'
ward_bg --summary-json "$t/run2.json" 2>"$t/run2.err"
pid=$!
track $pid
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
all_seen() {
    grep -q 'delivered and empty again' "$t/run2.err" && [ "$(seen 2>/dev/null | sort -u | wc -l)" -ge $N ]
}
wait_until_costly 200 all_seen
kill -TERM $pid
wait_gone 60 $pid || { echo "the ward ignores SIGTERM"; kill -KILL $pid; }
wait $pid
check "the restarted ward delivers its spool and exits 0 on SIGTERM" "[ $? = 0 ]"
check "it said it had an earlier run's records to deliver first" \
    "grep -q '[0-9]* record(s) in its disk buffer .* from an earlier run: delivering them first' '$t/run2.err'"
seen 2>/dev/null | sort -u >"$t/seen_u"
check "every reading reached its sink: nothing lost" "cmp -s $t/seen_u $t/produced"
es_docs observation_id | sort >"$t/es_ids"
check "Elasticsearch holds every anomaly exactly once (0 duplicates)" \
    "[ -s $t/es_ids ] && [ -z \"\$(uniq -d $t/es_ids)\" ]"
read2=$(python3 -c "import json; print(json.load(open('$t/run2.json'))['readings_in'])")
check "the spooled anomalies were committed: the restart re-read only what was in flight ($read2)" \
    "[ $read2 -le 1600 ]"
check "the spool is empty after the restart" \
    "[ \$(python3 -c \"import json; print(json.load(open('$t/run2.json'))['sinks']['sink.anomalies']['in_spool'])\") = 0 ]"
[ $fail = 0 ] || { tail -n 20 "$t/run1.err"; tail -n 20 "$t/run2.err"; }
exit $fail
