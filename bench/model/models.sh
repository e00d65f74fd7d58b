#!/usr/bin/env bash
# Models' speed: readings/s on one core for detector-logreg's model and for tree models (the
# shipped 16-feature history model and a 100-tree model on systolic and diastolic, trained
# here), then the simulated ward's throughput (source-faker, as fast as it goes → detector-rules
# → each model detector → anomalies to sink-file) with no model, with detector-logreg and with
# detector-xgboost on each tree model. Best of RUNS runs each.
# Usage: bash bench/model/models.sh [BUILD_DIR (build)] [READINGS (200000)] [RUNS (3)]
# Use a build without sanitizers (RelWithDebInfo), and nobody else building.
set -eu
build=${1:-build}
n=${2:-200000}
runs=${3:-3}
src=$(cd "$(dirname "$0")/../.." && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
"$build/bppipe" train --model gbtree --seed 42 --out "$t/basic100.json" >/dev/null
taskset -c 0 "$build/bench/bench_models" "$src/models/bp_logreg.json" "$t/basic100.json" \
    "$src/models/bp_gbtree.json"
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
batch_size = 500
[source.ward]
plugin = source-faker
patients = 200
rate = 0
count = $n
seed = 7
[detector.rules]
plugin = detector-rules
[detector.lr]
plugin = detector-logreg
model = $src/models/bp_logreg.json
[detector.xgb]
plugin = detector-xgboost
model = $src/models/bp_gbtree.json
[sink.anomalies]
plugin = sink-file
route = anomaly
path = $t/out
INI
ward() { # ward LABEL SECTIONS-TO-DROP... : best readings/s of $runs runs
    local label=$1 best=0
    shift
    cp "$t/p.ini" "$t/run.ini"
    for s in "$@"; do sed -i "/^\[$s\]/,/^model/d" "$t/run.ini"; done
    for _ in $(seq "$runs"); do
        rm -rf "$t/out"
        rate=$("$build/bppipe" run "$t/run.ini" 2>&1 | sed -n 's/.* \([0-9]*\) readings\/s.*/\1/p')
        [ "${rate:-0}" -gt "$best" ] && best=$rate
    done
    printf '  ward, %-44s %8d readings/s\n' "$label:" "$best"
}
echo "the ward, $n readings of 200 patients, best of $runs:"
ward "rules alone" detector.lr detector.xgb
ward "rules + detector-logreg" detector.xgb
ward "rules + detector-xgboost (bp_gbtree.json)" detector.lr
sed -i "s|^model = .*bp_gbtree.json|model = $t/basic100.json|" "$t/p.ini"
ward "rules + detector-xgboost (100 trees, 2 features)" detector.lr
