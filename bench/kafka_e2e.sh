#!/usr/bin/env bash
# Kafka end to end: preloads the embedded broker (`bppipe broker`) with N readings from
# pipelines/producer.ini, then measures pipelines/ward.ini consuming all of them (decode, rules,
# model, anomalies into the Elasticsearch emulator of tests/es, normal readings to files, offset
# commits) and, for comparison, the same N messages consumed raw by `kcat -C -e -o beginning`.
# Prints readings/s, CPU seconds and peak RSS for both, and how long the emulator was busy
# answering (a real cluster does that work on other machines).
#
#   bash bench/kafka_e2e.sh [N] [BUILD_DIR]      (defaults: 100000, build)
#
# NORMAL_LAYOUT=per-record benchmarks the archive exactly as ward.ini writes it (one fsync'd
# file per normal reading); the default, ndjson, measures the pipeline rather than the disk.
set -euo pipefail
N=${1:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build}
bppipe=$build/bppipe
layout=${NORMAL_LAYOUT:-ndjson}
t=$(mktemp -d)
broker=
es=
cleanup() {
    [ -n "$broker" ] && kill -TERM "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
    [ -n "$es" ] && kill -TERM "$es" 2>/dev/null && wait "$es" 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT

# 48 partitions keep each under the embedded broker's 5 MiB per-partition retention.
"$bppipe" broker --quiet --topic blood-pressure:48 --bootstrap-file "$t/bootstrap" >/dev/null &
broker=$!
for _ in $(seq 1 100); do [ -s "$t/bootstrap" ] && break; sleep 0.1; done
export KAFKA_BROKERS=$(cat "$t/bootstrap")
/usr/bin/python3 "$root/tests/es/es_emulator.py" --port-file "$t/es.port" >/dev/null &
es=$!
for _ in $(seq 1 100); do [ -s "$t/es.port" ] && break; sleep 0.05; done
export ES_URL=http://127.0.0.1:$(cat "$t/es.port")

echo "preloading $N readings into $KAFKA_BROKERS ..."
PRODUCER_RATE=0 PRODUCER_COUNT=$N "$bppipe" run "$root/pipelines/producer.ini" \
    -o source.ward.patients=2000 2>"$t/producer.err"
grep -q "delivered $N," "$t/producer.err" || { tail "$t/producer.err"; exit 1; }

# measure LABEL COMMAND...: runs COMMAND under /usr/bin/time and prints one result line.
measure() {
    local label=$1
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$t/time" "$@"
    read -r wall user sys rss_kb <"$t/time"
    python3 - "$label" "$N" "$wall" "$user" "$sys" "$rss_kb" <<'PY'
import sys
label, n, wall, user, sys_s, rss = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"{label:<28} {n / wall:>10.0f} readings/s  {wall:6.2f} s wall  "
      f"{user + sys_s:6.2f} s CPU  {rss / 1024:7.1f} MiB peak RSS")
PY
}

echo "consuming $N readings (normal archive layout: $layout) ..."
measure "bppipe ward.ini" env WARD_DIR="$t/ward" KAFKA_GROUP=bench WARD_STATS_INTERVAL=0 \
    "$bppipe" run "${WARD_INI:-$root/pipelines/ward.ini}" --max-records "$N" \
    -o sink.normal.layout="$layout" -o sink.alarms.path="$t/alarms.ndjson" 2>"$t/ward.err"
tail -n 14 "$t/ward.err" | sed 's/^/    /'
curl -s "$ES_URL/_emulator/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("    emulator: %d documents in %d bulk requests, %.2f s busy"
      % (s["documents"], s["bulk_requests"], s["busy_s"]))'
# kcat's output goes to a file inside the measured command, so the result line stays here.
measure "kcat -C -e -o beginning" \
    sh -c 'exec kcat -b "$1" -q -C -t blood-pressure -o beginning -e -f "%p %o %s\n" >"$2"' \
    kcat "$KAFKA_BROKERS" "$t/raw"
positions=$(cut -d' ' -f1,2 "$t/raw" | sort -u | wc -l)
echo "kcat read $(wc -l <"$t/raw") messages at $positions distinct positions"
echo "note: the ward figure includes joining the consumer group (about 3 s with this broker)"
