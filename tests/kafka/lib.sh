# Shared by the Kafka tests: a scratch folder, an embedded broker, bounded kcat calls, and
# cleanup of everything the test started (by process id) when it exits. Waits are on conditions
# (tests/wait.sh); their deadlines only bound a hang.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../wait.sh"
fail=0
t=$(mktemp -d)
started=()
cleanup() {
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${started[@]}"; do
        wait_gone 10 "$pid" || kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$t"
}
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }
# Remembers a background process so that the exit trap stops it.
track() { started+=("$1"); }

# start_broker ARGS...: starts `bppipe broker` on 127.0.0.1 and sets BROKERS to its bootstrap.
start_broker() {
    rm -f "$t/bootstrap"
    "$BPPIPE" broker --quiet --bootstrap-file "$t/bootstrap" "$@" >"$t/broker.out" \
        2>"$t/broker.err" &
    broker_pid=$!
    track "$broker_pid"
    if ! wait_until 60 test -s "$t/bootstrap"; then
        echo "FAIL the broker did not start"; cat "$t/broker.err"; exit 1
    fi
    BROKERS=$(cat "$t/bootstrap")
    export KAFKA_BROKERS=$BROKERS
}

# kc ARGS...: kcat against the broker, never longer than 60 s (scaled: a hang, not a slow run).
kc() { timeout "$(slow_s 60)" kcat -b "$BROKERS" -q "$@"; }

# put_markers PARTITIONS TAG [ID]: one new reading on each partition of blood-pressure: a copy of
# its first message (or of the one with FHIR id ID), the id prefixed by TAG-P- (a new stable id).
put_markers() {
    if [ -n "${3:-}" ]; then
        kc -C -t blood-pressure -o beginning -e -f '%s\n' | grep -m1 "\"id\":\"$3\"" >"$t/marker.json"
    else
        kc -C -t blood-pressure -o beginning -c 1 -f '%s\n' >"$t/marker.json"
    fi
    for ((p = 0; p < $1; p++)); do
        sed "s/\"id\":\"/\"id\":\"$2-$p-/" "$t/marker.json" | kc -P -t blood-pressure -p $p
    done
}
_grown() { [ "$($1)" -ge "$2" ]; }
# rerun TAG PARTITIONS COUNT [ID] -- RUN-ARGS...: a member started again (`bppipe run RUN-ARGS`,
# stderr in $t/TAG.err, summary in $t/TAG.json) is given, once it has partitions, put_markers'
# readings, and stopped (SIGTERM) once COUNT (a function: what is downstream) has grown by one
# per partition; returns its status. So a restart that must read nothing again is watched until
# it has shown it, not for a fixed time that a loaded machine spends joining the group: what it
# read is the markers plus whatever it read again (a partition read from before its commit
# gives its old messages before its marker).
rerun() {
    local tag=$1 parts=$2 count=$3 id=${4:-} before pid
    shift 4
    [ "${1:-}" = -- ] && shift
    before=$($count)
    "$BPPIPE" run "$@" --summary-json "$t/$tag.json" 2>"$t/$tag.err" &
    pid=$!
    track $pid
    wait_until 120 grep -q 'assigned [1-9]' "$t/$tag.err"
    put_markers "$parts" "$tag" "$id"
    wait_until_costly 120 _grown "$count" $((before + parts))
    kill -TERM $pid
    wait $pid
}

# topic_count TOPIC: messages in TOPIC (consumed raw from the beginning).
topic_count() { kc -C -t "$1" -o beginning -e -f 'x\n' 2>/dev/null | wc -l | tr -d ' '; }

# ids FIELD DIR...: FIELD (e.g. stable_id) of every document in the NDJSON or per-record JSON
# files under each DIR, one per line; a line cut short by a kill -9 is no document (skipped: it
# stopped the count, and a wait for all the ids then lasted until its deadline).
ids() {
    python3 - "$@" <<'PY'
import json, os, sys
field = sys.argv[1]
for d in sys.argv[2:]:
    for root, _, files in os.walk(d):
        for f in sorted(files):
            p = os.path.join(root, f)
            with open(p) as fh:
                if f.endswith(".ndjson"):
                    for line in fh:
                        try:
                            print(json.loads(line).get(field))
                        except ValueError:
                            pass
                else:
                    print(json.load(fh).get(field))
PY
}

# topic_ids TOPIC: the FHIR "id" of every message in TOPIC, one per line.
topic_ids() {
    kc -C -t "$1" -o beginning -e -f '%s\n' | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        print(json.loads(line).get("id"))'
}

# start_es: starts the Elasticsearch emulator (tests/es/es_emulator.py) on 127.0.0.1 and exports
# ES_URL, which pipelines/ward.ini's anomaly sink (sink-es) reads; ES_PORT is its port.
start_es() {
    rm -f "$t/es.port"
    /usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/es/es_emulator.py" --port-file "$t/es.port" \
        >/dev/null 2>"$t/es.err" &
    track $!
    if ! wait_until 60 test -s "$t/es.port"; then
        echo "FAIL the Elasticsearch emulator did not start"; cat "$t/es.err"; exit 1
    fi
    ES_PORT=$(cat "$t/es.port")
    export ES_URL=http://127.0.0.1:$ES_PORT
}

# es_docs FIELD: FIELD (dotted for nested, e.g. source.topic; _index for the index) of every
# document indexed in bp-anomalies*, one per line, in the emulator's order, duplicates kept.
es_docs() {
    curl -s -XPOST -H 'Content-Type: application/json' \
        "$ES_URL/bp-anomalies*/_search?size=10000000" -d '{}' | python3 -c '
import json, sys
for hit in json.load(sys.stdin)["hits"]["hits"]:
    v = hit["_source"] if sys.argv[1] != "_index" else {"_index": hit["_index"]}
    for part in sys.argv[1].split("."):
        v = v.get(part) if isinstance(v, dict) else None
    print(v)' "$1"
}

# es_count: documents indexed in bp-anomalies* (0 while the emulator is not answering).
es_count() {
    curl -s "$ES_URL/bp-anomalies*/_count" |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get("count", 0))' 2>/dev/null || echo 0
}
