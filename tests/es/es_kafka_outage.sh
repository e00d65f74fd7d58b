#!/usr/bin/env bash
# Kafka-fed ward into the emulator with Elasticsearch gone for OUTAGE_S seconds (default 60) in
# the middle of the run, while the producer keeps writing: nothing is lost, nothing is indexed
# twice (documents = distinct ids = anomalies judged), and consumption waits for the cluster.
# Then the same topic replayed from the beginning by a new consumer group adds zero documents.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$t"
}
trap cleanup EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
j() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1]))" "$2"; }
src=$BPPIPE_SOURCE_DIR
OUTAGE_S=${OUTAGE_S:-60}
FIRST=2000  # readings on the topic before the ward starts
MORE=1000   # readings the producer adds during the outage
N=$((FIRST + MORE))

"$BPPIPE" broker --quiet --topic blood-pressure:3 --bootstrap-file "$t/bootstrap" \
    >/dev/null 2>"$t/broker.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$t/bootstrap" ] && break; sleep 0.1; done
export KAFKA_BROKERS=$(cat "$t/bootstrap")
/usr/bin/python3 "$src/tests/es/es_emulator.py" --port-file "$t/port" >/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$t/port" ] && break; sleep 0.05; done
port=$(cat "$t/port")
es() { curl -s "http://127.0.0.1:$port$1" "${@:2}"; }
stat() { es /_emulator/stats | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

produce() { # produce COUNT SEED
    PRODUCER_RATE=0 PRODUCER_COUNT=$1 PRODUCER_SEED=$2 "$BPPIPE" run "$src/pipelines/producer.ini" \
        -o source.ward.patients=30 2>>"$t/producer.err"
}
produce $FIRST 1 || { echo "FAIL producer"; exit 1; }

cat >"$t/ward.ini" <<INI
[pipeline]
batch_size = 100
stats_interval = 0
retry_initial_ms = 50
retry_max_ms = 1000
; --max-records stops the reading while the cluster may still be down: the sink then gets this
; long to deliver (the default would leave the rest uncommitted for the next run)
drain_timeout_ms = 600000
[source.kafka]
plugin = source-kafka
brokers = \${KAFKA_BROKERS}
topics = blood-pressure
group = \${GROUP}
start = earliest
[detector.rules]
plugin = detector-rules
[sink.es]
plugin = sink-es
route = anomaly
url = http://127.0.0.1:$port
timeout_ms = 2000
connect_timeout_ms = 500
INI

# The ward is slowed a little by the emulator (slow_ms) so the outage lands mid-run.
es /_emulator/faults -XPOST -H 'Content-Type: application/json' -d '{"slow_ms": 100}' >/dev/null
GROUP=ward "$BPPIPE" run "$t/ward.ini" --max-records $N --summary-json "$t/ward.json" \
    2>"$t/ward.err" &
ward=$!
pids+=($ward)
for _ in $(seq 200); do [ "$(stat documents)" -gt 0 ] && break; sleep 0.05; done
before=$(stat documents)
# slow_ms stays: the emulator stops listening up to 0.5 s after this request, and the ward reads
# ahead of sink-es (its own lane), so an emulator at full speed could take the whole backlog
# before the outage begins.
es /_emulator/faults -XPOST -H 'Content-Type: application/json' \
    -d "{\"refuse_s\": $OUTAGE_S}" >/dev/null
produce $MORE 2 || { echo "FAIL producer (during the outage)"; fail=1; }
# mid-outage once sink-es said it retries (it was a fixed OUTAGE_S / 2)
wait_until 60 grep -q "will retry" "$t/ward.err"
check "the ward waits during the outage (still running)" 'kill -0 $ward 2>/dev/null'
check "it logs the outage" 'grep -q "will retry" "$t/ward.err"'
for _ in $(seq $((OUTAGE_S * 2 + 120))); do kill -0 $ward 2>/dev/null || break; sleep 0.5; done
wait $ward
rc=$?
check "the ward finishes after the outage (exit 0)" '[ $rc = 0 ]'
check "the sink retried through the outage" \
    '[ "$(j "$t/ward.json" "d[\"sinks\"][\"sink.es\"][\"retries\"]")" -gt 0 ]'
check "the outage began mid-run ($before documents before it)" \
    '[ "$before" -gt 0 ] && [ "$before" -lt "$(stat documents)" ]'
anomalies=$(j "$t/ward.json" "d['anomaly']")
es "/bp-anomalies*/_search?size=1000000" -XPOST -H 'Content-Type: application/json' -d '{}' |
    python3 -c 'import json,sys; [print(h["_id"]) for h in json.load(sys.stdin)["hits"]["hits"]]' \
    >"$t/ids"
docs=$(stat documents)
distinct=$(sort -u "$t/ids" | wc -l)
check "read all $N readings" '[ "$(j "$t/ward.json" "d[\"readings_in\"]")" = $N ]'
check "documents ($docs) = distinct ids ($distinct) = anomalies judged ($anomalies)" \
    '[ "$docs" = "$distinct" ] && [ "$distinct" = "$anomalies" ] && [ "$docs" -gt 0 ]'
check "no id listed twice" '[ "$(wc -l <"$t/ids")" = "$docs" ]'

# A replay of the whole topic by a new group: every create is a 409; zero new documents.
GROUP=replay "$BPPIPE" run "$t/ward.ini" --max-records $N --summary-json "$t/replay.json" \
    2>"$t/replay.err"
check "replay exits 0" '[ $? = 0 ]'
check "replay adds zero documents" '[ "$(stat documents)" = "$docs" ]'
check "replay: every anomaly was already there" \
    'grep -q "es_already_there *$anomalies" "$t/replay.err"'
[ $fail = 0 ] || { tail -n 25 "$t/ward.err"; tail -n 5 "$t/replay.err"; }
exit $fail
