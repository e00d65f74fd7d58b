#!/usr/bin/env bash
# Keyed state across kill -9 (issue 15): the same topic judged by one ward run start to end, and
# by a ward of another group killed (-9) in the middle and restarted, gives every reading the
# same trend verdict (anomaly_details and the trend_* annotations, compared by stable_id; a
# reading written twice must agree with itself). The restarted ward restores the patients'
# histories from the changelog GROUP-state as of the committed offsets.
# KAFKA_STATE_EMPTY=1 shows the test can fail: the restarted ward reads an empty changelog.
# 8 000 readings of ~1 KiB on 6 partitions stay under the mock's 5 MiB per partition.
. "$(dirname "$0")/lib.sh"
N=${KAFKA_STATE_READINGS:-8000}
start_broker --topic blood-pressure:6 --topic ref-state:6 --topic k9-state:6 --topic empty-state:6
timeout 120 env PRODUCER_RATE=0 PRODUCER_COUNT=$N "$BPPIPE" run \
    "$BPPIPE_SOURCE_DIR/pipelines/producer.ini" -o source.ward.patients=60 2>"$t/prod.err"
check "producer exits 0" "[ $? = 0 ]"

ward() { # NAME GROUP BATCH [STATE_TOPIC]: writes $t/NAME.ini
    printf '[pipeline]\nbatch_size = %s\nstats_interval = 0\n' "$3"
    printf '[source.k]\nplugin = source-kafka\nbrokers = %s\ngroup = %s\n' "$BROKERS" "$2"
    printf 'kafka.session.timeout.ms = 6000\n'
    [ -n "${4:-}" ] && printf 'state_topic = %s\n' "$4"
    printf '[detector.rules]\nplugin = detector-rules\n[detector.trend]\nplugin = detector-trend\n'
    printf '[sink.out]\nplugin = sink-file\nlayout = ndjson\npath = %s\n' "$t/$1.out"
}
ward ref ref 500 >"$t/ref.ini"
ward k9 k9 50 >"$t/k9.ini"
if [ "${KAFKA_STATE_EMPTY:-0}" = 1 ]; then ward k9 k9 50 empty-state >"$t/k9r.ini"; else
    cp "$t/k9.ini" "$t/k9r.ini"; fi
at_least() { [ "$("$1" "$3")" -ge "$2" ]; }
distinct() { ids stable_id "$t/$1.out" 2>/dev/null | sort -u | wc -l | tr -d ' '; }
lines() { cat "$t/$1.out"/*.ndjson 2>/dev/null | wc -l | tr -d ' '; }
run_until_all() { # NAME [INI]: runs the ward until every reading is written, then SIGTERM
    local name=$1 ini=${2:-$1}
    (exec "$BPPIPE" run "$t/$ini.ini") &
    local pid=$!
    track $pid
    # `distinct` parses all that was written: asked once `lines` has the count. SIGTERM drains
    # and commits.
    wait_until 200 at_least lines $N "$name" && wait_until_costly 200 at_least distinct $N "$name"
    kill -TERM $pid
    wait $pid
}
run_until_all ref 2>"$t/ref.err"
check "the reference ward judged every reading" "[ \$(distinct ref) = $N ]"

# The kill must come after a commit, whatever the machine's speed, or the restart has nothing to
# restore: each batch is committed as soon as it is acknowledged (commit() writes the changelog,
# then commits the offsets, and returns), and the runner's debug line says when a commit returned.
(exec "$BPPIPE" run "$t/k9.ini" -o source.k.commit_interval_ms=0 -o pipeline.log_level=debug) \
    2>"$t/k9a.err" &
pid=$!
track $pid
committed() { grep -q 'committed .* after its poll returned' "$t/k9a.err" 2>/dev/null; }
wait_until 120 committed && wait_until 120 at_least lines $((N / 3)) k9
kill -KILL $pid
wait $pid 2>/dev/null
first=$(lines k9)
check "the first run was killed mid-topic ($first written)" "[ $first -lt $N ]"
run_until_all k9 k9r 2>"$t/k9b.err"
check "the restarted ward restored the patients' state" \
    "grep -q 'restored [1-9][0-9]* keys' $t/k9b.err"

python3 - "$t/ref.out" "$t/k9.out" >"$t/compare" <<'PY'
import json, os, sys
def verdicts(d):
    out, conflicts = {}, 0
    for f in sorted(os.listdir(d)):
        for line in open(os.path.join(d, f)):
            try:
                doc = json.loads(line)
            except ValueError:
                continue  # a line cut short by the kill
            v = json.dumps([doc.get("anomaly_details")] +
                           sorted((k, doc[k]) for k in doc if k.startswith("trend_")))
            sid = doc["stable_id"]
            if sid in out and out[sid] != v:
                conflicts += 1
            out[sid] = v
    return out, conflicts
ref, c1 = verdicts(sys.argv[1])
k9, c2 = verdicts(sys.argv[2])
differ = sum(1 for s in ref if k9.get(s) != ref[s])
print(f"{len(ref)} {len(k9)} {differ} {c1 + c2}")
PY
read -r nref nk9 differ conflicts <"$t/compare"
echo "reference $nref readings, killed-and-restarted $nk9, differ $differ, self-conflicts $conflicts"
check "both judged every reading" "[ $nref = $N ] && [ $nk9 = $N ]"
check "the same trend verdict for every reading (0 differ)" "[ $differ = 0 ]"
check "a reading written twice was judged the same both times" "[ $conflicts = 0 ]"
[ $fail = 0 ] || { grep -h 'restored\|state' "$t"/k9?.err | head -20; }
exit $fail
