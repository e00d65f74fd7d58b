#!/usr/bin/env bash
# sink-es into the Elasticsearch emulator (tests/es/es_emulator.py): N simulated readings
# (source-faker, detector-rules), every one indexed (route = all) with _bulk batches of BATCH
# documents. Prints documents/s and where the time went: inside the emulator handling _bulk
# (its own clock, summed over requests) versus everything else bppipe does (generating,
# decoding, judging, serializing, building NDJSON, HTTP). Then replays the same readings
# (every create a 409) to show the cost of idempotence. The emulator is single-process Python,
# so absolute numbers say more about it than about a real cluster; the split is the point.
#
#   bash bench/es_bulk.sh [N] [BATCH] [BUILD_DIR]      (defaults: 100000, 1000, build)
set -euo pipefail
N=${1:-100000}
BATCH=${2:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${3:-$root/build}
t=$(mktemp -d)
emu=
cleanup() {
    [ -n "$emu" ] && kill "$emu" 2>/dev/null && wait "$emu" 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT
python3 "$root/tests/es/es_emulator.py" --port-file "$t/port" >/dev/null &
emu=$!
for _ in $(seq 100); do [ -s "$t/port" ] && break; sleep 0.05; done
port=$(cat "$t/port")
stat() { curl -s "http://127.0.0.1:$port/_emulator/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
emu_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$emu/stat"; }  # assumes 100 ticks/s

cat >"$t/bench.ini" <<INI
[pipeline]
batch_size = $BATCH
stats_interval = 0
[source.ward]
plugin = source-faker
patients = 1000
rate = 0
count = $N
seed = 5
start_time = 2026-01-01T00:00:00Z
[detector.rules]
plugin = detector-rules
[sink.es]
plugin = sink-es
route = all
url = http://127.0.0.1:$port
batch_size = $BATCH
INI

run() { # run LABEL
    local label=$1 busy0 cpu0 busy1 cpu1
    busy0=$(stat busy_s)
    cpu0=$(emu_cpu)
    /usr/bin/time -f '%e %U %S %M' -o "$t/time" "$build/bppipe" run "$t/bench.ini" 2>"$t/$label.err"
    busy1=$(stat busy_s)
    cpu1=$(emu_cpu)
    read -r wall user sys rss <"$t/time"
    python3 - "$label" "$N" "$wall" "$user" "$sys" "$rss" "$busy0" "$busy1" "$cpu0" "$cpu1" <<'PY'
import sys
label, n = sys.argv[1], int(sys.argv[2])
wall, user, sys_s, rss, b0, b1, c0, c1 = map(float, sys.argv[3:])
emu = b1 - b0
print(f"{label:<8} {n / wall:>9.0f} documents/s  {wall:6.2f} s wall: emulator {emu:5.2f} s "
      f"({100 * emu / wall:4.1f} %), bppipe {wall - emu:5.2f} s ({100 * (wall - emu) / wall:4.1f} %)"
      f"  | CPU: bppipe {user + sys_s:5.2f} s, emulator {c1 - c0:5.2f} s; bppipe peak RSS "
      f"{rss / 1024:.1f} MiB")
PY
}
echo "indexing $N readings in _bulk batches of $BATCH into the emulator on port $port ..."
run first
docs=$(stat documents)
[ "$docs" = "$N" ] || { echo "expected $N documents, the emulator holds $docs"; exit 1; }
run replay
[ "$(stat documents)" = "$N" ] || { echo "the replay added documents"; exit 1; }
echo "documents: $docs after both runs; _bulk requests: $(stat bulk_requests); connections: $(stat connections)"
