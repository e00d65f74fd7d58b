#!/usr/bin/env bash
# The ward into the fast Elasticsearch stand-in (bench/es_standin, C, nothing stored), so the
# figures are bppipe's and not a Python emulator's: N simulated readings (source-faker, 2 000
# patients, as fast as possible) judged by detector-rules + detector-logreg and routed as
# pipelines/ward.ini routes them (pipeline batches of 500, sink-es batches of its default 1 000):
# anomalies into the stand-in with _bulk create, normal readings to sink-file, critical ones to
# sink-alert (a file), invalid ones to a dead-letter file. Prints readings/s, CPU µs/reading and
# peak RSS of bppipe (/usr/bin/time), the stand-in's CPU and counters; then replays the same
# readings, every create a 409 answered the way Elasticsearch does, and checks nothing was
# indexed twice.
#
#   bash bench/es_fast.sh [N] [BUILD_DIR]          (defaults: 200000, build)
#
# ES_ROUTE=all sends every reading to Elasticsearch (not only anomalies); COMPRESS=true gzips
# the _bulk bodies; NORMAL_LAYOUT=per-record writes the archive as ward.ini does (one fsync'd
# file per normal reading: a disk benchmark), the default ndjson measures the pipeline.
# STANDIN=PATH runs another es_standin binary (an ASan build, say). DECODE_THREADS=N sets
# [pipeline] decode_threads (default: bppipe's, the online processors up to 4; 1 decodes on
# the main thread alone). WRAP=CMD runs bppipe under CMD (e.g. "strace -c -f -o FILE").
#
# The per-record first pass creates a file per normal reading; on ext4 without a journal each
# new inode skips, one by one, the inodes its folder's block groups freed in the last 60 s (360 s
# while their inode-table block is not yet written back): the clean-up of a previous per-record
# run (tens of thousands of files), or of other work's temporary folders beside it, then costs
# several times the archive itself (docs/plugins/sink-file.md, "Durability"). So a per-record
# run waits, saying so, until six minutes have passed since a benchmark last removed a per-record
# archive (bench/freed_inodes.sh). KEEP_ARCHIVE=1 leaves the
# work folder (the archive and the logs) in place and prints it, for back-to-back runs that must
# not free inodes in front of each other: remove the folders once the runs are over.
set -euo pipefail
N=${1:-200000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build}
bppipe=$build/bppipe
standin=${STANDIN:-$build/bench/es_standin/es_standin}
for f in "$bppipe" "$standin"; do
    [ -x "$f" ] || { echo "es_fast: no $f; build bppipe, the plugins and es_standin" >&2; exit 2; }
done
route=${ES_ROUTE:-anomaly}
layout=${NORMAL_LAYOUT:-ndjson}
compress=${COMPRESS:-false}
# shellcheck source=bench/freed_inodes.sh
. "$root/bench/freed_inodes.sh"
[ "$layout" != per-record ] || freed_inodes_wait es_fast
t=$(mktemp -d)
es=
cleanup() {
    [ -n "$es" ] && kill -TERM "$es" 2>/dev/null && wait "$es" 2>/dev/null
    # what the stand-in said besides its closing line (a sanitizer's report, say)
    grep -v '^es_standin: stopping' "$t/standin.err" >&2 || true
    if [ -n "${KEEP_ARCHIVE:-}" ]; then
        echo "es_fast: kept $t (KEEP_ARCHIVE); remove it when done" >&2
        return
    fi
    if [ "$layout" = per-record ]; then
        freed_inodes_remove "$t"
    else
        rm -rf "$t"
    fi
}
trap cleanup EXIT

"$standin" --port-file "$t/port" >/dev/null 2>"$t/standin.err" &
es=$!
for _ in $(seq 100); do [ -s "$t/port" ] && break; sleep 0.05; done
[ -s "$t/port" ] || { cat "$t/standin.err"; exit 1; }
url=http://127.0.0.1:$(cat "$t/port")
stats() { curl -sf "$url/_emulator/stats"; }
es_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$es/stat"; } # assumes 100 ticks/s

cat >"$t/bench.ini" <<INI
[pipeline]
batch_size = 500
stats_interval = 0
${DECODE_THREADS:+decode_threads = $DECODE_THREADS}
[source.ward]
plugin = source-faker
patients = 2000
rate = 0
count = $N
seed = 11
start_time = 2026-01-01T00:00:00Z
[detector.rules]
plugin = detector-rules
[detector.ml]
plugin = detector-logreg
model = $root/models/bp_logreg.json
[sink.anomalies]
plugin = sink-es
route = $route
url = $url
compress = $compress
[sink.normal]
plugin = sink-file
route = normal
path = $t/ward/normal_cases
layout = $layout
[sink.dead-letter]
plugin = sink-file
route = invalid
path = $t/ward/dead-letter
layout = ndjson
[sink.alerts]
plugin = sink-alert
route = critical
path = $t/alerts.ndjson
cooldown = 900
INI

# run LABEL: one bppipe run under /usr/bin/time; prints its figures and the stand-in's.
run() {
    local label=$1 cpu0 cpu1
    stats >"$t/before.json"
    cpu0=$(es_cpu)
    /usr/bin/time -f '%e %U %S %M' -o "$t/time" ${WRAP:-} "$bppipe" run "$t/bench.ini" \
        2>"$t/$label.err" || { tail -n 20 "$t/$label.err"; exit 1; }
    cpu1=$(es_cpu)
    stats >"$t/after.json"
    python3 - "$label" "$N" "$t/time" "$t/before.json" "$t/after.json" "$cpu0" "$cpu1" \
        "$t/$label.err" <<'PY'
import json, re, sys
label, n = sys.argv[1], int(sys.argv[2])
wall, user, sys_s, rss = map(float, open(sys.argv[3]).read().split())
a, b = json.load(open(sys.argv[4])), json.load(open(sys.argv[5]))
cpu0, cpu1 = float(sys.argv[6]), float(sys.argv[7])
d = {k: b[k] - a[k] for k in ("documents", "bulk_requests", "items", "created", "conflicts",
                               "item_errors", "busy_s", "bytes_in")}
cpu = user + sys_s
print(f"{label:<7} {n / wall:>9.0f} readings/s  {wall:6.2f} s wall  "
      f"{cpu * 1e6 / n:5.2f} CPU µs/reading (user {user:.2f} s + sys {sys_s:.2f} s)  "
      f"peak RSS {rss / 1024:6.1f} MiB")
print(f"        stand-in: {d['items']} items in {d['bulk_requests']} _bulk requests "
      f"({d['bytes_in'] / 1e6:.1f} MB): {d['created']} created, {d['conflicts']} answered 409, "
      f"{d['item_errors'] - d['conflicts']} other item errors; CPU {cpu1 - cpu0:.2f} s, "
      f"busy {d['busy_s']:.3f} s; holds {b['documents']} documents, "
      f"{b['ids_remembered']} ids in {b['id_table_bytes'] / 2**20:.1f} MiB")
summary = open(sys.argv[8]).read()
for line in summary.splitlines():
    if re.search(r"readings in|sink\.anomalies |es_created|es_already_there", line):
        print("        bppipe:" + re.sub(r"\s+", " ", line))
PY
}

echo "ward into es_standin at $url: $N readings, route $route to sink-es (compress = $compress)," \
     "normal archive $layout"
run first
docs=$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["documents"])')
sent=$(sed -n 's/.*sink\.anomalies.*delivered \([0-9]*\),.*/\1/p' "$t/first.err")
[ "$docs" = "$sent" ] || { echo "es_fast: sink-es delivered $sent, es_standin has $docs"; exit 1; }
run replay
python3 - "$docs" <<PY
import json, subprocess, sys
s = json.loads(subprocess.check_output(["curl", "-sf", "$url/_emulator/stats"]))
docs = int(sys.argv[1])
ok = s["documents"] == docs and s["conflicts"] == docs and s["ids_not_remembered"] == 0
print(f"after both runs: {s['documents']} documents (first run {docs}), {s['conflicts']} creates "
      f"answered 409, {s['connections']} connection(s), largest _bulk {s['max_bulk_items']} items; "
      + ("every replayed reading was a 409" if ok else "MISMATCH"))
sys.exit(0 if ok else 1)
PY
