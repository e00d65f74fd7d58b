#!/usr/bin/env bash
# Latency from Kafka to the Elasticsearch acknowledgement at a steady rate: bench_produce
# (bench/latency/bench_produce.c) produces simulated-ward FHIR Observations to the embedded
# broker (`bppipe broker`) at RATE readings/s for WARMUP + SECONDS seconds while
# pipelines/ward.ini, as shipped (its [pipeline] batch_size, poll timeout and linger), consumes
# them: anomalies into the fast Elasticsearch stand-in (bench/es_standin), normal readings into
# the archive in a temporary folder, alarm events to a file. The stand-in logs, for
# every _bulk item, the Kafka partition and offset the document carries and the wall-clock time
# its answer was ready (--latency-log); the producer logs each message's partition and offset
# (from its delivery report) and the instant it was produced, which librdkafka stamps as the
# message's CreateTime (the instant it is handed to librdkafka: the producer's linger.ms, 20 ms
# here, and the produce request's trip come before the broker's append, so this line counts
# time the reading spent in the producer, not yet in Kafka; the second line starts at the
# broker's acknowledgement, just after the append). Per reading: latency = acknowledgement -
# produced (one host, one clock). Prints
# p50/p90/p99/p99.9/max over the readings produced after the warm-up, the ward's CPU and RSS.
#
#   bash bench/latency.sh [RATE] [SECONDS] [BUILD_DIR]      (defaults: 5000, 60, build)
#
# WARMUP (seconds, default 10) is produced first and left out: the consumer group joins in it.
# PRODUCER_LINGER_MS (default 20) sets the producer's linger.ms. Not 1: `bppipe broker` serves
# one message set per partition per fetch (librdkafka 2.0.2's mock), and with a produce request
# a millisecond the sets are so small that the ward fell behind (p50 11.8 s; README). FETCH_WAIT_MS
# (default 10) sets the ward's kafka.fetch.wait.max.ms: `bppipe broker` (librdkafka's mock
# cluster) holds a fetch that finds nothing for that whole wait, even when data arrives meanwhile,
# where a real broker answers as soon as it has data; ward.ini leaves librdkafka's 500 ms, which
# a real Kafka only waits when the topic is idle (README, "latency"). FETCH_WAIT_MS= leaves it.
# ES_ROUTE=all sends every reading to the stand-in, so every reading is measured, not only the
# anomalies. WARD_OPTS adds -o overrides to the ward, e.g. WARD_OPTS="-o pipeline.linger_ms=50".
# NORMAL_LAYOUT=ndjson writes the archive as one NDJSON file instead of ward.ini's one fsync'd
# file per normal reading; with those files, a run first waits until six minutes have passed since
# a benchmark last removed such an archive (bench/freed_inodes.sh: ext4 without a journal makes
# new files skip recently freed inodes, and the ward then falls seconds behind). PARTITIONS (default 12) sizes the topic. BASELINE=1 also runs kcat
# on the topic during the run and reports its own latency from Kafka timestamp to output: the
# floor the broker and a bare consumer set (BASELINE_KCAT adds kcat options, e.g.
# "-X fetch.wait.max.ms=10"). STAGES=1 runs the ward at log_level = debug and prints where the
# time went, from its per-batch lines (docs/operations.md, "Where the latency goes"): how long each
# batch's oldest reading waited from its Kafka timestamp to the poll's return, the poll, decoding
# and judging, each sink's writes and how long after the poll they began, the commits, and the
# pauses behind a full lane. KEEP=DIR keeps the run's logs (the ward's, the stand-in's latency
# log, the producer's positions) in DIR.
set -euo pipefail
rate=${1:-5000}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${3:-$root/build}
bppipe=$build/bppipe
standin=$build/bench/es_standin/es_standin
producer=$build/bench/bench_produce
warmup=${WARMUP:-10}
route=${ES_ROUTE:-anomaly}
layout=${NORMAL_LAYOUT:-per-record}
for f in "$bppipe" "$standin" "$producer"; do
    [ -x "$f" ] || { echo "latency: no $f; build bppipe, the plugins, es_standin and" \
                          "bench_produce" >&2; exit 2; }
done
[ -z "${BASELINE:-}" ] || command -v kcat >/dev/null ||
    { echo "latency: BASELINE needs kcat (apt-get install kcat)" >&2; exit 2; }
total=$(python3 -c "print(round($rate * ($warmup + $seconds)))")
partitions=${PARTITIONS:-12}
linger=${PRODUCER_LINGER_MS:-20}
fetch_wait=${FETCH_WAIT_MS-10}
# shellcheck source=bench/freed_inodes.sh
. "$root/bench/freed_inodes.sh"
[ "$layout" != per-record ] || freed_inodes_wait latency
t=$(mktemp -d)
broker= es= ward= baseline=
stop() { # stop PID: SIGTERM, then wait for it
    [ -n "$1" ] && kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null || true
}
cleanup() {
    stop "$baseline"
    stop "$ward"
    stop "$es"
    stop "$broker"
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP" && find "$t" -maxdepth 1 -type f -exec cp {} "$KEEP/" \;
    fi
    if [ "$layout" = per-record ]; then
        freed_inodes_remove "$t" # the archive's files: the next run waits for them (above)
    else
        rm -rf "$t"
    fi
}
trap cleanup EXIT

"$bppipe" broker --quiet --topic "blood-pressure:$partitions" --bootstrap-file "$t/bootstrap" \
    >/dev/null 2>"$t/broker.err" &
broker=$!
"$standin" --port-file "$t/es.port" --latency-log "$t/acks" >/dev/null 2>"$t/standin.err" &
es=$!
for _ in $(seq 100); do [ -s "$t/bootstrap" ] && [ -s "$t/es.port" ] && break; sleep 0.05; done
[ -s "$t/bootstrap" ] && [ -s "$t/es.port" ] || { cat "$t/broker.err" "$t/standin.err"; exit 1; }
brokers=$(cat "$t/bootstrap")
url=http://127.0.0.1:$(cat "$t/es.port")
items() { curl -sf "$url/_emulator/stats" | grep -o '"items":[0-9]*' | grep -o '[0-9]*$'; }
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks, utime + stime

# shellcheck disable=SC2086 # WARD_OPTS is a list of words on purpose
env KAFKA_BROKERS="$brokers" ES_URL="$url" WARD_DIR="$t/ward" KAFKA_GROUP=latency \
    WARD_STATS_INTERVAL=1 \
    BPPIPE_MODEL="$root/models/bp_logreg.json" \
    "$bppipe" run "$root/pipelines/ward.ini" -o sink.anomalies.route="$route" \
    -o sink.normal.layout="$layout" -o sink.alarms.path="$t/alarms.ndjson" \
    ${fetch_wait:+-o source.kafka.kafka.fetch.wait.max.ms=$fetch_wait} \
    ${STAGES:+-o pipeline.log_level=debug} ${WARD_OPTS:-} \
    >"$t/ward.out" 2>"$t/ward.err" &
ward=$!
sleep 1
kill -0 "$ward" 2>/dev/null || { tail -n 20 "$t/ward.err"; exit 1; }

echo "latency: $rate readings/s for ${warmup} s of warm-up + ${seconds} s measured," \
     "$partitions partitions, sink-es route $route, archive $layout"
echo "ward.ini [pipeline] and sink-es settings as shipped:" \
     "$(grep -E '^(batch_size|linger_ms|poll_timeout_ms) *=' "$root/pipelines/ward.ini" |
        tr '\n' ' ')" \
     "(unset: defaults, see bppipe run --help / docs); for the mock broker:" \
     "kafka.fetch.wait.max.ms = ${fetch_wait:-not set}," \
     "producer linger.ms = $linger${WARD_OPTS:+; overrides: $WARD_OPTS}"
if [ -n "${BASELINE:-}" ]; then
    # shellcheck disable=SC2086 # BASELINE_KCAT is a list of words on purpose
    kcat -b "$brokers" -q -u -C -t blood-pressure -o end -f '%T\n' ${BASELINE_KCAT:-} \
        > >(python3 -u -c '
import sys, time
with open(sys.argv[1], "w") as out:
    for line in sys.stdin:
        out.write("%s %.3f\n" % (line.strip(), time.time() * 1000))' "$t/baseline") &
    baseline=$!
    sleep 1
fi
cpu0=$(proc_cpu "$ward")
load0=$(cut -d' ' -f1 /proc/loadavg)
"$producer" --brokers "$brokers" --rate "$rate" --seconds "$seconds" \
    --warmup-seconds "$warmup" --linger-ms "$linger" --positions "$t/kafka" \
    >"$t/produce.out" 2>"$t/produce.err" ||
    { cat "$t/produce.out" "$t/produce.err"; exit 1; }
cpu1=$(proc_cpu "$ward")
load1=$(cut -d' ' -f1 /proc/loadavg)
cat "$t/produce.out"
read -r window_from window_to < <(sed -n 's/.*window_us \([0-9]*\) \([0-9]*\).*/\1 \2/p' \
    "$t/produce.out")
# Let the ward finish what was produced (it reads everything, then the stand-in's count stops
# moving), for at most DRAIN seconds (default 60).
read_in() { sed -n 's/^bppipe: in \([0-9]*\) .*/\1/p' "$t/ward.err" | tail -n 1; }
last=-1
for _ in $(seq "${DRAIN:-60}"); do
    now=$(items)
    [ "$(read_in)" = "$total" ] && [ "$now" = "$last" ] && break
    last=$now
    sleep 1
done
echo "ward: read $(read_in) of $total readings when stopped (the last status line)"
broker_cpu=$(proc_cpu "$broker")
es_cpu=$(proc_cpu "$es")
stop "$baseline"
baseline=
sleep 0.5
rss_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$ward/status")
stop "$ward"
ward=
stop "$es" # flushes the latency log
es=
# the broker keeps ~5 MiB a partition: a ward far behind loses the oldest (its last warning)
[ "$(read_in)" = "$total" ] || grep -E 'dropped' "$t/broker.err" | tail -n 1 >&2 || true
grep -E "sink\.anomalies +sink-es|sink\.normal +sink-file" "$t/ward.err" | sed 's/^ */    ward: /'
[ -z "${VERBOSE:-}" ] || grep '^bppipe: in' "$t/ward.err" | cut -c1-150

python3 - "$t/kafka" "$t/acks" "$window_from" "$window_to" "$total" "$cpu0" "$cpu1" \
    "$(getconf CLK_TCK)" "$rss_kb" "$broker_cpu" "$es_cpu" "$load0 $load1" "$(nproc)" \
    "${BASELINE:+$t/baseline}" <<'PY'
import sys
kafka_path, acks_path = sys.argv[1], sys.argv[2]
window_from, window_to, total = (int(x) for x in sys.argv[3:6])
cpu0, cpu1, hz, rss_kb = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
broker_cpu, es_cpu, loads, cores = int(sys.argv[10]), int(sys.argv[11]), sys.argv[12], sys.argv[13]
baseline_path = sys.argv[14]
stamp = {}
with open(kafka_path) as f:
    for line in f:
        p, o, produced, acked = line.split()
        stamp[(int(p), int(o))] = (int(produced) / 1000.0, int(acked) / 1000.0)  # ms
if len(stamp) != total:
    sys.exit(f"latency: {len(stamp)} delivery reports, {total} messages were produced")
first_ack = {}
with open(acks_path) as f:
    for line in f:
        p, o, ack, status = line.split()
        key = (int(p), int(o))
        if key not in first_ack and status in ("200", "201", "409"):
            first_ack[key] = int(ack)
lo, hi = window_from / 1000.0, window_to / 1000.0
steady = [(k, ts) for k, ts in stamp.items() if lo <= ts[0] <= hi]
lat = sorted((first_ack[k] / 1000.0 - ts[0]) for k, ts in steady if k in first_ack)
lat_acked = sorted((first_ack[k] / 1000.0 - ts[1]) for k, ts in steady if k in first_ack)
append = sorted(ts[1] - ts[0] for k, ts in steady)
unknown = [k for k in first_ack if k not in stamp]
if unknown:
    sys.exit(f"latency: {len(unknown)} acknowledged positions are not in the topic")
if not lat:
    sys.exit("latency: no reading of the measured window reached the stand-in")
def q(p, v=lat):
    return v[min(len(v) - 1, int(p * len(v)))]
def line(v):
    return (f"p50 {q(0.50, v):.1f}  p90 {q(0.90, v):.1f}  p99 {q(0.99, v):.1f}  "
            f"p99.9 {q(0.999, v):.1f}  max {v[-1]:.1f}  (min {v[0]:.1f})")
span = (hi - lo) / 1000.0
print(f"measured: {len(steady)} readings produced in {span:.1f} s ({len(steady) / span:.0f}/s), "
      f"{len(lat)} of them acknowledged by the stand-in (sink-es's route)")
print(f"latency, ms, Kafka CreateTime (produced) -> _bulk answer:  {line(lat)}")
print(f"latency, ms, broker's ack to the producer -> _bulk answer: {line(lat_acked)}")
print(f"  (the append is between the two; produced -> broker's ack, every reading: "
      f"p50 {q(0.5, append):.1f}  p99 {q(0.99, append):.1f}  max {append[-1]:.1f})")
produced_s = (window_to - window_from) / 1e6 * total / max(1, len(steady))
cpu = (cpu1 - cpu0) / hz
print(f"ward while producing: {cpu:.2f} s CPU for {total} readings ({cpu * 1e6 / total:.1f} "
      f"µs/reading, {cpu / produced_s * 100:.0f} % of one core), peak RSS {rss_kb / 1024:.1f} MiB")
print(f"whole run: broker {broker_cpu / hz:.2f} s CPU, stand-in {es_cpu / hz:.2f} s CPU; "
      f"load average {loads.replace(' ', ' -> ')} on {cores} cores (other work on the machine "
      f"delays every thread: compare runs at similar load)")
if baseline_path:
    base = []
    for line in open(baseline_path):
        ts, got = line.split()
        if lo <= int(ts) <= hi:
            base.append(float(got) - int(ts))
    base.sort()
    if base:
        b = lambda p: base[min(len(base) - 1, int(p * len(base)))]
        print(f"baseline, kcat reading the same topic at the same time: {len(base)} messages, "
              f"ms from Kafka timestamp to kcat's output: p50 {b(0.5):.1f}  p99 {b(0.99):.1f}  "
              f"max {base[-1]:.1f}")
PY
[ -z "${STAGES:-}" ] || /usr/bin/python3 - "$t/ward.err" "$window_from" "$window_to" <<'PY'
# Where the time went, from the ward's debug lines (src/engine/runner.c, src/delivery/lane.c),
# for the batches polled in the measured window (the poll's wall-clock stamp in the line's time
# is whole seconds: the window is taken to the second).
import re, sys, collections
from datetime import datetime, timezone
lo, hi = int(sys.argv[2]) // 1000000, int(sys.argv[3]) // 1000000 + 1
stamp = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) debug +\[([^]]+)\] (.*)$")
batch = re.compile(r"batch (\d+): (\d+) payload\(s\), (?:the oldest waited (-?\d+) ms)?.*"
                   r"the poll took ([\d.]+) ms, decoding, judging and routing ([\d.]+) ms")
wrote = re.compile(r"wrote (\d+) record\(s\) of batch\(es\) (\d+)-(\d+) in ([\d.]+) ms, "
                   r"begun ([\d.]+) ms after")
commit = re.compile(r"batch (\d+) committed ([\d.]+) ms after its poll returned "
                    r"\(commit\(\) took ([\d.]+) ms\)")
paused = re.compile(r"source paused ([\d.]+) ms: the backlog of (\S+) was full")
v = collections.defaultdict(list)
for line in open(sys.argv[1], errors="replace"):
    m = stamp.match(line)
    if not m:
        continue
    t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    if not lo <= t.timestamp() <= hi:
        continue
    who, text = m.group(2), m.group(3)
    if (b := batch.match(text)):
        v["payloads per batch"].append(int(b.group(2)))
        if b.group(3) is not None:
            v["oldest reading: Kafka timestamp -> poll returned"].append(int(b.group(3)))
        v["poll"].append(float(b.group(4)))
        v["decode, judge, route"].append(float(b.group(5)))
    elif (w := wrote.match(text)):
        v[f"{who}: write"].append(float(w.group(4)))
        v[f"{who}: poll returned -> write begun"].append(float(w.group(5)))
    elif (c := commit.match(text)):
        v["poll returned -> committed"].append(float(c.group(2)))
        v["commit() on the main thread"].append(float(c.group(3)))
    elif (p := paused.match(text)):
        v[f"source paused, {p.group(2)} full"].append(float(p.group(1)))
if not v:
    sys.exit("latency: STAGES: no debug line of the ward in the measured window")
print("stages (ward debug lines, batches in the measured window), ms unless counted:")
for k, xs in v.items():
    xs.sort()
    q = lambda p: xs[min(len(xs) - 1, int(p * len(xs)))]
    print(f"  {k:48s} n {len(xs):6d}  p50 {q(0.5):8.1f}  p99 {q(0.99):8.1f}  "
          f"max {xs[-1]:8.1f}  sum {sum(xs):9.1f}")
PY
