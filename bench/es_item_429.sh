#!/usr/bin/env bash
# sink-es when Elasticsearch sheds load: N simulated readings (source-faker, detector-rules,
# route = all) indexed into the emulator (tests/es/es_emulator.py) in batches of BATCH, once
# with every item taken and once with every K-th item answered 429 (item_429_every, counted
# over retries too). Prints both wall times and their ratio, and checks that every reading was
# indexed exactly once and none was dead-lettered. A retry that made progress starts the
# back-off over (docs/architecture.md), so the 429 run should stay within a few times the clean
# one instead of waiting out a growing back-off for each batch's last documents.
#
#   bash bench/es_item_429.sh [N] [BATCH] [K] [BUILD_DIR]   (defaults: 20000, 500, 3, build)
set -euo pipefail
N=${1:-20000}
BATCH=${2:-500}
K=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${4:-$root/build}
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
url="http://127.0.0.1:$port"
stat() { curl -s "$url/_emulator/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

pipeline() { # pipeline SEED
    cat <<INI
[pipeline]
batch_size = $BATCH
stats_interval = 0
[source.ward]
plugin = source-faker
patients = 1000
rate = 0
count = $N
seed = $1
start_time = 2026-01-01T00:00:00Z
[detector.rules]
plugin = detector-rules
[sink.es]
plugin = sink-es
route = all
url = $url
batch_size = $BATCH
[sink.dead]
plugin = sink-file
route = invalid
path = $t/dead-$1
INI
}

run() { # run LABEL SEED -> prints the wall time
    pipeline "$2" >"$t/$1.ini"
    local before
    before=$(stat documents)
    /usr/bin/time -f '%e' -o "$t/$1.time" "$build/bppipe" run "$t/$1.ini" \
        --summary-json "$t/$1.json" 2>"$t/$1.err"
    local after
    after=$(stat documents)
    [ $((after - before)) = "$N" ] || { echo "$1: expected $N new documents, got $((after - before))"; exit 1; }
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d['sink_rejected'] != 0)" \
        "$t/$1.json" || { echo "$1: readings were dead-lettered"; exit 1; }
}

echo "indexing $N readings in batches of $BATCH into the emulator on port $port ..."
run clean 11
curl -s -XPOST "$url/_emulator/faults" -d "{\"item_429_every\": $K}" >/dev/null
injected0=$(stat injected_item_429)
run storm 12
injected=$(( $(stat injected_item_429) - injected0 ))
python3 - "$t" "$N" "$K" "$injected" <<'PY'
import json, sys
t, n, k, injected = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
clean = float(open(t + "/clean.time").read().split()[-1])
storm = float(open(t + "/storm.time").read().split()[-1])
retries = json.load(open(t + "/storm.json"))["sinks"]["sink.es"]["retries"]
print(f"clean       {clean:6.2f} s  ({n / clean:8.0f} readings/s)")
print(f"1 item in {k} 429: {storm:6.2f} s  ({n / storm:8.0f} readings/s), {injected} items "
      f"answered 429, {retries} retries")
print(f"ratio       {storm / clean:6.2f}x")
PY
