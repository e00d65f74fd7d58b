#!/usr/bin/env bash
# HL7 v2 over MLLP into the ward: messages/s and readings/s through one source-mllp listener from
# many concurrent connections, and the time from a message's last byte to its ACK (p50/p99).
# The ward is pipelines/ward.ini with its Kafka source swapped for source-mllp (as
# docs/plugins/source-mllp.md shows) and its sinks as shipped: anomalies to sink-es, here into
# the fast Elasticsearch stand-in (bench/es_standin, C, nothing stored) with ward.ini's disk
# buffer in a temporary folder, normal readings to sink-file, alarm events to a file,
# dead letters to a file. The client is bppipe-monitor (tools/mllp-monitor): CONNECTIONS
# monitors, each sending its next PCD-01 message (one reading with mean and pulse) once the last
# one is acknowledged (or at RATE messages/s over all of them), and each ACK written only once
# the message is stored. Prints the monitor's figures, bppipe's CPU and peak RSS, and checks the
# books: every acknowledged reading is in the stand-in or the archive.
#
#   bash bench/mllp.sh [N] [CONNECTIONS] [BUILD_DIR]     (defaults: 100000, 64, build)
#
# RATE=R paces the monitors at R messages/s in all (latency at a steady load; default: as fast
# as the ACKs come back). PATIENTS (default 2000) sizes the ward. NORMAL_LAYOUT=per-record
# writes the archive as ward.ini does (one fsync'd file per normal reading: a disk benchmark);
# the default ndjson measures the pipeline. WARD_OPTS adds -o overrides to the ward.
set -euo pipefail
N=${1:-100000}
conns=${2:-64}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${3:-$root/build}
bppipe=$build/bppipe
monitor=$build/bppipe-monitor
standin=$build/bench/es_standin/es_standin
for f in "$bppipe" "$monitor" "$standin"; do
    [ -x "$f" ] || { echo "mllp: no $f; build bppipe, the plugins, bppipe-monitor and es_standin" >&2
                     exit 2; }
done
patients=${PATIENTS:-2000}
layout=${NORMAL_LAYOUT:-ndjson}
t=$(mktemp -d)
es='' ward=''
cleanup() {
    for p in $ward $es; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$t"
}
trap cleanup EXIT

"$standin" --port-file "$t/es.port" --quiet >/dev/null 2>"$t/standin.err" &
es=$!
for _ in $(seq 100); do [ -s "$t/es.port" ] && break; sleep 0.05; done
[ -s "$t/es.port" ] || { cat "$t/standin.err"; exit 1; }
url=http://127.0.0.1:$(cat "$t/es.port")

# shellcheck disable=SC2086 # WARD_OPTS is a list of words
WARD_DIR=$t/ward WARD_STATS_INTERVAL=0 "$bppipe" run "$root/pipelines/ward.ini" \
    -o source.kafka.plugin=source-mllp -o source.kafka.listen=127.0.0.1:0 \
    -o "source.kafka.port_file=$t/mllp.addr" -o "source.kafka.max_connections=$((conns + 16))" \
    -o "sink.anomalies.url=$url" -o "sink.normal.layout=$layout" \
    -o "sink.alarms.path=$t/alarms.ndjson" -o "detector.ml.model=$root/models/bp_logreg.json" \
    ${WARD_OPTS:-} --summary-json "$t/ward.json" >/dev/null 2>"$t/ward.err" &
ward=$!
for _ in $(seq 300); do [ -s "$t/mllp.addr" ] || ! kill -0 "$ward" 2>/dev/null && break; sleep 0.05; done
[ -s "$t/mllp.addr" ] || { echo "mllp: the ward did not start:" >&2; tail -n 20 "$t/ward.err" >&2; exit 1; }
addr=$(cat "$t/mllp.addr")
ticks() { awk '{print $14 + $15}' "/proc/$ward/stat"; }
tck=$(getconf CLK_TCK)

pace="as fast as the ACKs come back"
[ -z "${RATE:-}" ] || pace="$RATE messages/s"
echo "ward.ini from MLLP at $addr: $N messages from $conns connections, $patients patients," \
     "$pace; anomalies to es_standin, normal archive $layout"
cpu0=$(ticks)
"$monitor" --to "$addr" --connections "$conns" --patients "$patients" --count "$N" \
    --rate "${RATE:-0}" --seed 11 --start-time 2026-01-01T00:00:00Z --json >"$t/monitor.json" \
    2>"$t/monitor.err" || { cat "$t/monitor.err" "$t/monitor.json"; tail -n 20 "$t/ward.err"; exit 1; }
cpu1=$(ticks)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$ward/status")
kill -TERM "$ward"
wait "$ward" || { echo "mllp: the ward exited $?" >&2; tail -n 20 "$t/ward.err" >&2; exit 1; }
ward=''
curl -sf "$url/_emulator/stats" >"$t/es.json"
python3 - "$t" "$cpu0" "$cpu1" "$tck" "$rss" "$layout" <<'PY'
import glob, json, os, sys
t, cpu0, cpu1, tck, rss, layout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
m = json.load(open(os.path.join(t, "monitor.json")))
w = json.load(open(os.path.join(t, "ward.json")))
es = json.load(open(os.path.join(t, "es.json")))
cpu = (cpu1 - cpu0) / tck
print(f"monitor: {m['aa']} AA, {m['ae']} AE, {m['ar']} AR, {m['unacknowledged']} unanswered, "
      f"{m['resent']} resent in {m['seconds']:.2f} s")
print(f"  {m['messages_per_s']:.0f} messages/s, {m['readings_per_s']:.0f} readings/s; "
      f"last byte to ACK p50 {m['ack_ms_p50']:.2f} ms, p99 {m['ack_ms_p99']:.2f} ms, "
      f"max {m['ack_ms_max']:.2f} ms")
print(f"bppipe: {cpu:.2f} s CPU during the sending ({cpu * 1e6 / max(m['acknowledged'], 1):.1f} "
      f"µs/message), peak RSS {rss / 1024:.1f} MiB")
if layout == "ndjson":
    normal = sum(1 for p in glob.glob(os.path.join(t, "ward/normal_cases/*.ndjson")) for _ in open(p))
else:
    normal = len(glob.glob(os.path.join(t, "ward/normal_cases/**/*.json"), recursive=True))
docs = es["documents"]
spooled = w["sinks"].get("sink.anomalies", {}).get("in_spool", 0)
ok = (w["readings_in"] == w["anomaly"] + w["normal"] + w["invalid"] and w["in_flight"] == 0
      and normal == w["normal"] and docs + spooled == w["anomaly"]
      and m["readings"] == w["anomaly"] + w["normal"] and m["unacknowledged"] == 0)
print(f"books: {m['readings']} readings acknowledged AA = ward in {w['readings_in']} = anomaly "
      f"{w['anomaly']} (stand-in {docs}, spool {spooled}) + normal {w['normal']} (archive {normal})"
      f" + invalid {w['invalid']}" + ("" if ok else "  ** DO NOT BALANCE **"))
sys.exit(0 if ok else 1)
PY
