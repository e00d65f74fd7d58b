#!/usr/bin/env bash
# The alarm stage's cost: the simulated ward (source-faker, PATIENTS patients, as fast as it
# goes) judged by detector-rules and detector-trend into NDJSON files, N readings, once without
# [alarms] and once with pipelines/ward.ini's [alarms] (five conditions, a keyed-state lookup per
# condition and reading), RUNS times each, alternating. Prints readings/s of each run (the run
# summary's) and the alarm events of the ward's.
#   bash bench/alarms.sh [N] [PATIENTS] [RUNS]      (BPPIPE: the executable, default build/bppipe)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bppipe=${BPPIPE:-$root/build/bppipe}
n=${1:-300000}
patients=${2:-2000}
runs=${3:-3}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cat >"$t/base.ini" <<INI
[pipeline]
batch_size = 500
stats_interval = 0
[source.ward]
plugin = source-faker
patients = $patients
seed = 7
rate = 0
[detector.rules]
plugin = detector-rules
[detector.trend]
plugin = detector-trend
[sink.all]
plugin = sink-file
route = all
path = $t/out
layout = ndjson
[sink.alarms]
plugin = sink-file
route = alarm
path = $t/alarms
layout = ndjson
INI
cp "$t/base.ini" "$t/alarms.ini"
# the ward's [alarms] section, as shipped
awk '/^\[alarms\]/ { on = 1; print; next } /^\[/ { on = 0 } on && !/^;/ && NF' \
    "$root/pipelines/ward.ini" >>"$t/alarms.ini"
rate() { sed -n 's/^  elapsed .*, \([0-9]*\) readings\/s$/\1/p' "$1"; }
for ((i = 1; i <= runs; i++)); do
    for name in base alarms; do
        rm -rf "$t/out" "$t/alarms"
        "$bppipe" run "$t/$name.ini" --max-records "$n" 2>"$t/$name.err"
        events=$(sed -n 's/^  alarms *\([0-9]*\) event.*/\1/p' "$t/$name.err")
        printf '%-7s run %d: %s readings/s%s\n' "$name" "$i" "$(rate "$t/$name.err")" \
            "${events:+, $events alarm events}"
    done
done
