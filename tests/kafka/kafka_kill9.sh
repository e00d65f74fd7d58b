#!/usr/bin/env bash
# kill -9 of the ward pipeline in the middle of a 100 000-reading topic, then a restart of the
# same consumer group: every reading reaches its sink at least once (ids compared): anomalies in
# Elasticsearch (the emulator; a reading indexed before the kill is a 409 after it), normal
# readings in the archive.
# What may be read again is learnt at the kill rather than assumed: once the killed ward is gone,
# the test asks the group for its committed offsets (tests/kafka/kafka_offsets: kcat lists
# none) and takes a snapshot of what the sinks hold. A bound counted in batches or lane bounds
# would be wrong: lane_max_records bounds the records *in a lane*, and the Elasticsearch lane
# holds only the anomalies, so while it lags the uncommitted batches hold many more readings
# (8 500 were replayed on a loaded machine, against a bound of 6 000). Instead:
#  - every reading below a partition's committed offset was stored at the kill (nothing is
#    committed before it is durable: commits made before delivery fail this);
#  - the restart reads exactly from the committed offsets on (its readings_in is the sum of high
#    watermark - committed offset): no committed reading is read again, and every reading read
#    again was uncommitted at the kill;
#  - the ward had committed something before the kill (a ward that never commits fails this).
# Elasticsearch answers slowly during the first run, so that its lane lags at the kill.
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
fault() { curl -s -XPOST -H 'Content-Type: application/json' "$ES_URL/_emulator/faults" -d "$1" \
    >/dev/null; }
# The first run with a slow Elasticsearch (each _bulk answered after 100 ms): its lane lags, as on
# a loaded machine, so that many batches are stored in the archive and not yet committed (and
# commits made before delivery would lose the anomalies still in that lane).
fault '{"slow_ms": 100}'
ward_bg 2>"$t/run1.err"
pid=$!
track $pid
quarter() { [ "$(delivered)" -ge $((N / 4)) ]; }
wait_until 120 quarter
kill -KILL $pid
wait $pid 2>/dev/null
first=$(delivered)
echo "killed with $first readings written"
check "the first run was killed mid-topic" "[ $first -ge $((N / 4)) ] && [ $first -lt $N ]"
# At the kill: the group's committed offsets (PARTITION COMMITTED LOW HIGH) and what the sinks
# hold. The ward is gone, so neither changes before the restart.
"$KAFKA_OFFSETS" "$BROKERS" kill9 blood-pressure >"$t/committed"
check "the group's committed offsets are read at the kill" \
    "[ \$? = 0 ] && [ \$(wc -l <$t/committed) = 48 ]"
seen 2>/dev/null | sort -u >"$t/at_kill"
# partition, offset and observation id of every reading on the topic
kc -C -t blood-pressure -o beginning -e -f '%p %o %s\n' | python3 -c '
import json, sys
for line in sys.stdin:
    p, o, payload = line.split(" ", 2)
    print(p, o, json.loads(payload)["id"])' >"$t/positions"

fault '{"slow_ms": 0}'
ward_bg --summary-json "$t/run2.json" 2>"$t/run2.err"
pid=$!
track $pid
# Until every reading is stored, for at most 150 s (readings lost by a wrong commit never come;
# the checks below then say which).
deadline=$((SECONDS + $(slow_s 150)))
while [ $SECONDS -lt $deadline ]; do
    sleep 1
    [ "$(delivered)" -ge $N ] && [ "$(seen 2>/dev/null | sort -u | wc -l)" -ge $N ] && break
done
kill -TERM $pid
wait $pid
check "the restarted run drains and exits 0 on SIGTERM" "[ $? = 0 ]"
seen >"$t/seen"
sort -u "$t/seen" >"$t/seen_u"
echo "documents written $(wc -l <"$t/seen"), distinct readings $(wc -l <"$t/seen_u")"
check "every reading reached its sink at least once" "cmp -s $t/seen_u $t/produced"

# committed: readings below the committed offsets; unstored: of those, not stored at the kill;
# uncommitted: readings at or above them (what the restart must read); reread: of those, stored
# at the kill (read and stored again by the restart).
python3 - "$t/committed" "$t/positions" "$t/at_kill" >"$t/split" <<'PY'
import sys
committed = {int(p): int(c) if int(c) >= 0 else int(lo)
             for p, c, lo, hi in (l.split() for l in open(sys.argv[1]))}
stored = set(l.strip() for l in open(sys.argv[3]))
n = {"committed": 0, "unstored": 0, "uncommitted": 0, "reread": 0}
for line in open(sys.argv[2]):
    p, o, rid = line.split()
    if int(o) < committed[int(p)]:
        n["committed"] += 1
        n["unstored"] += rid not in stored
    else:
        n["uncommitted"] += 1
        n["reread"] += rid in stored
print(n["committed"], n["unstored"], n["uncommitted"], n["reread"])
PY
read -r committed unstored uncommitted reread <"$t/split"
read2=$(python3 -c "import json; print(json.load(open('$t/run2.json'))['readings_in'])")
echo "at the kill: $(wc -l <"$t/at_kill") readings stored, $committed committed;" \
    "the restart read $read2, of which $reread had been stored before the kill"
check "the ward committed while it ran" "[ $committed -gt 0 ]"
check "nothing was committed before it was stored ($unstored committed, not stored)" \
    "[ $unstored = 0 ]"
check "the restart read exactly what was uncommitted at the kill ($read2 = $uncommitted)" \
    "[ $read2 = $uncommitted ]"
[ $fail = 0 ] || tail -n 20 "$t/run2.err"
exit $fail
