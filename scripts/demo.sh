#!/usr/bin/env bash
# Quick start: install dependencies, build, and run the simulated ward for a bounded time.
# Usage: bash scripts/demo.sh [SECONDS [MAX_READINGS]]   (defaults: 15 s, 50 000 readings)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
max=${2:-50000}
bash scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
out=${BPPIPE_DEMO_DIR:-out/demo}
rm -rf "$out"
echo "bppipe demo: running pipelines/demo.ini (at most ${seconds}s / ${max} readings; Ctrl-C stops it cleanly)"
BPPIPE_DEMO_DIR="$out" ./build/bppipe run pipelines/demo.ini --duration "$seconds" --max-records "$max"
echo
echo "bppipe demo: output"
for d in anomalies normal dead-letter; do
    n=$(cat "$out/$d"/*.ndjson 2>/dev/null | wc -l)
    printf '  %-12s %6d documents in %s/%s/\n' "$d" "$n" "$out" "$d"
done
first=$(ls "$out"/anomalies/*.ndjson 2>/dev/null | head -n1)
if [ -n "$first" ]; then
    echo
    echo "bppipe demo: the first anomaly, from $first"
    head -n1 "$first" | python3 -m json.tool
fi
