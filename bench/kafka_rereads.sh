#!/usr/bin/env bash
# Readings read again by pipelines/ward.ini after a rebalance, a Kafka outage or kill -9, and
# where they come from. A producer writes N readings at RATE/s to `bppipe broker` (16
# partitions) while the ward reads them (anomalies into the Elasticsearch emulator of tests/es,
# normal readings to NDJSON, consumer group session 6 s as in the tests):
#
#   rebalance  member a reads alone; b joins once N/4 are stored; a leaves (SIGTERM) at 3N/4
#   outage     the broker is stopped (SIGSTOP) for OUTAGE_S seconds (default 10, longer than
#              the session) once N/4 are stored, then continued
#   kill9      the ward is killed with -9 three times, each run once it stored N/8 more,
#              restarted each time
#
# Then, once every reading is stored, the runs are stopped with SIGTERM and it prints the
# readings delivered more than once (`re-read`: Elasticsearch documents created + 409 conflicts
# + normal lines, minus N), and what source-kafka said it gave up at each revocation
# (`uncommitted at revoke`: polled and not acknowledged / acknowledged but refused by the
# group). With kill9 it also prints, at each kill, what the group had committed.
#
#   bash bench/kafka_rereads.sh SCENARIO [N] [BUILD_DIR]     (defaults: 40000, build)
#
# RATE (default 2000) readings/s in all; KEEP=1 keeps the logs and prints where; WARD_OPTS adds
# -o overrides to every ward run (e.g. "-o source.kafka.commit_max_messages=0").
set -uo pipefail
scenario=${1:?usage: kafka_rereads.sh rebalance|outage|kill9 [N] [BUILD_DIR]}
N=${2:-40000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${3:-$root/build}
bppipe=$build/bppipe
offsets=$build/tests/kafka/kafka_offsets
RATE=${RATE:-2000}
t=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then echo "logs kept in $t"; else rm -rf "$t"; fi
}
trap cleanup EXIT

"$bppipe" broker --quiet --topic blood-pressure:16 --bootstrap-file "$t/bootstrap" >/dev/null &
broker=$!
pids+=($broker)
for _ in $(seq 1 100); do [ -s "$t/bootstrap" ] && break; sleep 0.1; done
export KAFKA_BROKERS=$(cat "$t/bootstrap")
/usr/bin/python3 "$root/tests/es/es_emulator.py" --port-file "$t/es.port" >/dev/null &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$t/es.port" ] && break; sleep 0.05; done
export ES_URL=http://127.0.0.1:$(cat "$t/es.port")
export KAFKA_GROUP=rr WARD_STATS_INTERVAL=0 WARD_DIR=$t/ward

# producer.ini's rate is per patient: 2 000 patients at RATE/2000 readings/s each.
(exec env PRODUCER_RATE=$(python3 -c "print($RATE / 2000)") PRODUCER_COUNT=$N \
    "$bppipe" run "$root/pipelines/producer.ini" -o source.ward.patients=2000 \
    2>"$t/producer.err") &
producer=$!
pids+=($producer)

# ward NAME [ARGS...]: starts ward.ini in the background (its pid in $ward_pid), log NAME.err
ward() {
    local name=$1
    shift
    # shellcheck disable=SC2086 # WARD_OPTS is a list of words on purpose
    (exec "$bppipe" run "$root/pipelines/ward.ini" -o sink.normal.layout=ndjson \
        -o sink.normal.path="$t/$name.normal" -o sink.alarms.path="$t/alarms.ndjson" \
        -o sink.anomalies.buffer_path="$t/$name.spool" \
        -o source.kafka.kafka.session.timeout.ms=6000 --summary-json "$t/$name.json" \
        ${WARD_OPTS:-} "$@" \
        2>"$t/$name.err") &
    ward_pid=$!
    pids+=($ward_pid)
}
es() { curl -s "$ES_URL/_emulator/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["created"], s["conflicts"])' 2>/dev/null || echo "0 0"; }
# normal: complete NDJSON lines written by every run, and their distinct observation ids
normal() { cat "$t"/*.normal/*.ndjson 2>/dev/null | python3 -c '
import json, sys
ids, n = set(), 0
for line in sys.stdin:
    try:
        ids.add(json.loads(line)["observation_id"]); n += 1
    except ValueError:
        pass
print(n, len(ids))'; }
# stored: distinct readings stored (Elasticsearch documents + distinct normal readings)
stored() { local c x n d; read -r c x < <(es); read -r n d < <(normal); echo $((c + d)); }
wait_stored() { for _ in $(seq 1 3000); do [ "$(stored)" -ge "$1" ] && return 0; sleep 0.1; done
    return 1; }
stop() { kill -TERM "$1"; wait "$1"; }

load() { uptime | sed 's/.*load average: //'; }
echo "scenario $scenario, $N readings at $RATE/s, load before: $(load)"
case $scenario in
rebalance)
    ward a; a=$ward_pid
    wait_stored $((N / 4))
    ward b; b=$ward_pid
    wait_stored $((N * 3 / 4))
    stop $a
    wait_stored $N
    stop $b
    ;;
outage)
    ward a; a=$ward_pid
    wait_stored $((N / 4))
    kill -STOP $broker
    sleep "${OUTAGE_S:-10}"
    kill -CONT $broker
    wait_stored $N
    stop $a
    ;;
kill9)
    for k in 1 2 3; do
        # each run stores N/8 more before it is killed (it first waits out the killed member's
        # session while the producer goes on)
        from=$(stored)
        ward k$k; p=$ward_pid
        wait_stored $((from + N / 8))
        kill -KILL $p; wait $p 2>/dev/null
        echo "kill $k at $(stored) stored; committed then (partition committed low high):" \
            "$("$offsets" "$KAFKA_BROKERS" rr blood-pressure | awk '{c += $2 - $3; h += $4 - $3}
                END {print c " of " h " readings committed"}')"
    done
    ward k4; p=$ward_pid
    wait_stored $N
    stop $p
    ;;
*) echo "unknown scenario $scenario"; exit 2 ;;
esac
wait $producer || { echo "the producer failed:"; tail -n 5 "$t/producer.err"; }
read -r created conflicts < <(es)
read -r lines distinct < <(normal)
echo "stored $((created + distinct)) distinct of $N; Elasticsearch $created created + $conflicts" \
    "conflicts; normal $lines lines, $distinct distinct"
echo "re-read (delivered more than once): $((created + conflicts + lines - N))" \
    "($(python3 -c "print(f'{100 * ($created + $conflicts + $lines - $N) / $N:.1f}')") %)"
for f in "$t"/*.json; do
    [ -s "$f" ] && echo "  $(basename "$f" .json) read $(python3 -c \
        "import json; print(json.load(open('$f'))['readings_in'])")"
done
grep -h 'uncommitted at revoke\|could not be committed before\|refused while' "$t"/*.err |
    sed 's/^/  /' | sort | uniq -c | sort -rn | head -n 12
echo "load after: $(load)"
