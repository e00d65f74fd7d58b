#!/usr/bin/env bash
# rsyslog and the bppipe ward side by side, each consuming the same N seed-format readings (the
# FHIR Observations of pipelines/producer.ini, 2 000 patients) from one embedded broker
# (`bppipe broker`) into a fresh Elasticsearch stand-in of its own (bench/es_standin: C, one
# thread, nothing stored, the one bench/es_fast.sh uses; the Python emulator of the tests held
# both sides near 55 000/s):
#   rsyslog  imkafka -> mmjsonparse -> 4 rules -> omelasticsearch _bulk / omfile
#            (bench/rsyslog_ward.conf: its own config, pid file and work folder under a
#            temporary folder, in the foreground; never the system's rsyslog)
#   bppipe   pipelines/ward.ini (rules + model; anomalies to sink-es, normal readings to an
#            NDJSON archive, alarm events to a file)
# For each: steady readings/s (the time between 10 % and 90 % of the documents the stand-in
# received, from the stand-in's own timeline: the wall clock of every _bulk request it answered
# and the documents it held then, interpolated between two requests; scaled to all readings;
# the NDJSON files are no measure: rsyslog's async omfile grows in one step a second), CPU µs
# per reading (utime + stime from
# /proc/PID/stat, the whole run), peak RSS (VmHWM), and the stand-in's own CPU, to show when it
# is the bottleneck.
#
#   bash bench/rsyslog_side_by_side.sh [N] [BUILD_DIR]      (defaults: 100000, build)
#
# RUNS=K runs each side K times over the same preloaded topic (each run a consumer group of its
# own, so each reads all N readings, and a fresh stand-in), alternating the sides, prints every
# run and then each side's median. At 100 000 readings the steady window is about one second,
# and the ward's figure varies by up to half between runs on a shared 2-core machine: report
# several runs (docs/kafka.md, "Memory and speed").
#
# Installs rsyslog, rsyslog-kafka and rsyslog-elasticsearch with apt-get when they are missing
# (root; Debian 12 has them), with invoke-rc.d told not to start the system's rsyslog service.
# WARD_INI runs another pipeline file instead of pipelines/ward.ini, WARD_OPTS adds -o overrides
# to it (e.g. "-o source.kafka.kafka.queued.max.messages.kbytes=8192"); ONLY=rsyslog or
# ONLY=bppipe runs one side.
set -euo pipefail
N=${1:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build}
bppipe=$build/bppipe
standin=${STANDIN:-$build/bench/es_standin/es_standin}
only=${ONLY:-}
runs=${RUNS:-1}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "rsyslog_side_by_side: RUNS must be a whole number" \
                                        "of at least 1" >&2; exit 2; }
for f in "$bppipe" "$standin"; do
    [ -x "$f" ] || { echo "rsyslog_side_by_side: no $f; build bppipe, the plugins and" \
                          "es_standin first" >&2; exit 2; }
done

install_rsyslog() {
    local pkgs="rsyslog rsyslog-kafka rsyslog-elasticsearch" p missing=
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    [ "$(id -u)" = 0 ] || { echo "rsyslog_side_by_side: needs$missing (run as root, or" \
                                 "apt-get install them)" >&2; exit 2; }
    if apt-cache policy $missing | grep -q 'Candidate: (none)' ||
        [ -z "$(apt-cache policy $missing)" ]; then
        apt-get update -qq
    fi
    # Debian starts a service when its package is installed unless policy-rc.d says no.
    local policy=/usr/sbin/policy-rc.d made=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made=1
    fi
    echo "installing$missing ..."
    # shellcheck disable=SC2086 # a list of package names
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
        >/dev/null || { [ -n "$made" ] && rm -f "$policy"; exit 1; }
    [ -n "$made" ] && rm -f "$policy"
    return 0
}
[ "$only" = bppipe ] || install_rsyslog

t=$(mktemp -d)
broker= es= proc=
stop() { # stop PID: SIGTERM, then wait for it
    [ -n "$1" ] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null || true
}
cleanup() {
    stop "$proc"
    stop "$es"
    stop "$broker"
    rm -rf "$t"
}
trap cleanup EXIT

# Every partition stays well under the embedded broker's ~5 MiB: ~1.1 KiB a message, half full.
partitions=$(( (N * 1150 * 2 + 5 * 1048576 - 1) / (5 * 1048576) ))
[ "$partitions" -ge 48 ] || partitions=48
"$bppipe" broker --quiet --topic "blood-pressure:$partitions" --bootstrap-file "$t/bootstrap" \
    >/dev/null 2>"$t/broker.err" &
broker=$!
for _ in $(seq 100); do [ -s "$t/bootstrap" ] && break; sleep 0.1; done
[ -s "$t/bootstrap" ] || { cat "$t/broker.err"; exit 1; }
brokers=$(cat "$t/bootstrap")

echo "preloading $N readings into $brokers ($partitions partitions) ..."
KAFKA_BROKERS=$brokers PRODUCER_RATE=0 PRODUCER_COUNT=$N "$bppipe" run \
    "$root/pipelines/producer.ini" -o source.ward.patients=2000 2>"$t/producer.err"
grep -q "delivered $N," "$t/producer.err" || { tail "$t/producer.err"; exit 1; }

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
es_docs() {
    curl -sf "$es_url/_emulator/stats" | grep -o '"documents": *[0-9]*' | grep -o '[0-9]*$'
}
lines() { { cat "$@" 2>/dev/null || true; } | wc -l; }

# start_es: a fresh stand-in for one side.
start_es() {
    rm -f "$t/es.port"
    "$standin" --port-file "$t/es.port" --timeline "$t/timeline" >/dev/null 2>"$t/es.err" &
    es=$!
    for _ in $(seq 100); do [ -s "$t/es.port" ] && break; sleep 0.05; done
    [ -s "$t/es.port" ] || { cat "$t/es.err"; exit 1; }
    es_url=http://127.0.0.1:$(cat "$t/es.port")
}

# stored_bytes DIR: the bytes of the normal and dead-letter NDJSON files under DIR (not the
# alert file: its readings are also in the stand-in).
stored_bytes() {
    find "$1" -type f -name '*.ndjson' \( -path '*normal*' -o -path '*dead-letter*' \) \
        -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'
}

# watch LABEL DIR: follows the running $proc until the stand-in's documents and the files under
# DIR stop growing for 3 s, then prints the side's figures and stops it. Readings that did not
# go to Elasticsearch are counted as lines of DIR's files (normal and dead-letter).
watch() {
    local label=$1 dir=$2 now docs bytes last= same=0 cpu0_es cpu_es cpu hwm began=$SECONDS
    cpu0_es=$(cpu_ticks "$es")
    : >"$t/samples"
    # Every 0.5 s: the window comes from the stand-in's timeline, and each sample (curl, find)
    # takes CPU from the two cores both sides need (every 0.1 s it was about a third of a core).
    while sleep 0.5; do
        kill -0 "$proc" 2>/dev/null ||
            { echo "$label exited early" >&2; tail "$t/$label.err" >&2; exit 1; }
        now=$EPOCHREALTIME
        docs=$(es_docs || echo 0)
        bytes=$(stored_bytes "$dir")
        echo "$now $docs $bytes" >>"$t/samples"
        if [ "$docs $bytes" = "$last" ] && [ "$docs" -gt 0 ]; then
            same=$((same + 1))
            [ "$same" -ge 6 ] && break
        else
            same=0
        fi
        last="$docs $bytes"
        if [ $((SECONDS - began)) -gt 600 ]; then
            echo "$label: no end after 600 s" >&2
            break
        fi
    done
    cpu=$(cpu_ticks "$proc")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$proc/status")
    cpu_es=$(( $(cpu_ticks "$es") - cpu0_es ))
    stop "$proc"
    proc=
    local normal dead
    normal=$(lines "$dir"/normal*/*.ndjson "$dir"/normal.ndjson)
    dead=$(lines "$dir"/dead-letter*/*.ndjson "$dir"/dead-letter.ndjson)
    docs=$(es_docs)
    /usr/bin/python3 - "$label" "$N" "$t/samples" "$cpu" "$ticks" "$hwm" "$cpu_es" "$docs" "$normal" \
        "$dead" "$t/timeline" <<'PY' | tee -a "$t/results"
import sys
label, n, samples = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cpu, hz, hwm, cpu_es, docs, normal, dead = (int(x) for x in sys.argv[4:11])
rows = [tuple(float(x) for x in line.split()) for line in open(samples)]
t0 = rows[0][0]
# The stand-in's documents after each _bulk request it answered (its --timeline): the files are
# no measure (rsyslog's async omfile grows its file in one step a second).
stored = [tuple(float(x) for x in line.split()) for line in open(sys.argv[11])]
stored = stored or [(t, d) for t, d, _ in rows]
def first(at):
    """When `at` readings were stored, interpolated between the two samples around it."""
    prev = None
    for t, s in stored:
        if s >= at:
            if prev is None or s == prev[1]:
                return t
            return prev[0] + (t - prev[0]) * (at - prev[1]) / (s - prev[1])
        prev = (t, s)
    return stored[-1][0]
total = stored[-1][1]
t10, t90 = first(0.1 * total), first(0.9 * total)
steady = 0.8 * n / (t90 - t10) if t90 > t10 else float("nan")
end = next(t for t, d, _ in rows if d >= docs)
books = "books balance" if docs + normal + dead == n else \
        f"MISMATCH: {docs} + {normal} + {dead} != {n}"
print(f"{label:<8} {steady:>8.0f} readings/s steady  {cpu / hz * 1e6 / n:6.1f} CPU µs/reading "
      f"({cpu / hz:.2f} s)  peak RSS {hwm / 1024:6.1f} MiB  |  window {t90 - t10:.2f} s  |  "
      f"stand-in CPU {cpu_es / hz:.2f} s "
      f"({cpu_es / hz / (t90 - t10) * 100 if t90 > t10 else 0:.0f} % of a core while steady, "
      f"{cpu_es / hz / (end - t0) * 100:.0f} % over {end - t0:.1f} s)")
print(f"         {docs} documents in Elasticsearch, {normal} normal, {dead} dead letters: {books}")
PY
}

# Each side starts with nothing of the other's output left to write back: without it, the page
# cache's writeback of one side's 100 MB of files ran beside the next side's steady window.
settle() { sync; }

# run_rsyslog RUN: one rsyslog run, consumer group rsyslog-bench-RUN, in folders of its own.
run_rsyslog() {
    local d=$t/rsyslog$1
    settle
    start_es
    mkdir -p "$d/work" "$d/out"
    sed -e "s|@WORK@|$d/work|g; s|@OUT@|$d/out|g; s|@GROUP@|rsyslog-bench-$1|g" \
        -e "s|@ES_PORT@|${es_url##*:}|g; s|@BROKERS@|$brokers|g" \
        "$root/bench/rsyslog_ward.conf" >"$d/rsyslog.conf"
    rsyslogd -n -f "$d/rsyslog.conf" -i "$d/rsyslog.pid" >"$t/rsyslog.out" 2>"$t/rsyslog.err" &
    proc=$!
    watch rsyslog "$d/out"
    [ ! -s "$d/out/es-errors.json" ] ||
        echo "         rsyslog's Elasticsearch errors: $(head -c 300 "$d/out/es-errors.json")"
    stop "$es"
    es=
}

# run_bppipe RUN: one run of the ward, consumer group bppipe-bench-RUN, in a folder of its own.
run_bppipe() {
    local d=$t/bppipe$1
    settle
    start_es
    # shellcheck disable=SC2086 # WARD_OPTS is a list of words on purpose
    env KAFKA_BROKERS="$brokers" ES_URL="$es_url" WARD_DIR="$d" KAFKA_GROUP="bppipe-bench-$1" \
        WARD_STATS_INTERVAL=0 BPPIPE_MODEL="$root/models/bp_logreg.json" \
        "$bppipe" run "${WARD_INI:-$root/pipelines/ward.ini}" -o sink.normal.layout=ndjson \
        -o sink.alarms.path="$d/alarms.ndjson" ${WARD_OPTS:-} \
        >"$t/bppipe.out" 2>"$t/bppipe.err" &
    proc=$!
    watch bppipe "$d"
    stop "$es"
    es=
}

[ "$only" = bppipe ] ||
    echo "rsyslog $(rsyslogd -v | head -n 1 | awk '{print $2}' | tr -d ,): imkafka ->" \
         "mmjsonparse -> 4 rules -> omelasticsearch _bulk / omfile (bench/rsyslog_ward.conf)"
[ "$only" = rsyslog ] ||
    echo "bppipe $("$bppipe" --version 2>/dev/null | head -n 1): ${WARD_INI:-pipelines/ward.ini}" \
         "(rules + model; sink-es, NDJSON archive, alert file)"
for run in $(seq "$runs"); do
    [ "$runs" = 1 ] || echo "run $run of $runs (load$(uptime | sed 's/.*load average//'))"
    [ "$only" = bppipe ] || run_rsyslog "$run"
    [ "$only" = rsyslog ] || run_bppipe "$run"
done

# Each side's median over the runs (the one run when RUNS=1), and the ratio of the medians.
/usr/bin/python3 - "$t/results" "$runs" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+)\s+([\d.]+) readings/s steady\s+([\d.]+) CPU µs/reading"
                 r".*peak RSS\s+([\d.]+)", line)
    if m:
        rows.setdefault(m.group(1), []).append(tuple(float(x) for x in m.groups()[1:]))
med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in rows.items()}
if int(sys.argv[2]) > 1:
    for k, (rate, cpu, rss) in med.items():
        each = ", ".join(f"{r[0]:.0f}" for r in rows[k])
        print(f"{k:<8} median of {len(rows[k])}: {rate:8.0f} readings/s steady  {cpu:6.1f} CPU "
              f"µs/reading  peak RSS {rss:6.1f} MiB  (readings/s of each run: {each})")
if "rsyslog" in med and "bppipe" in med:
    r, b = med["rsyslog"], med["bppipe"]
    print(f"bppipe / rsyslog: {b[0] / r[0]:.2f}x the steady throughput (target >= 4), "
          f"{b[1] / r[1]:.2f} of the CPU per reading (target <= 0.2); "
          f"bppipe peak RSS {b[2]:.1f} MiB (target <= 48)")
PY
echo "note: each side's wall time includes joining its consumer group (about 3 s with this broker)"
