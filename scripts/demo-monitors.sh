#!/usr/bin/env bash
# The hospital loop for a bounded time: simulated bedside monitors (bppipe-monitor) send HL7 v2
# ORU^R01 messages of the IHE PCD-01 profile over MLLP to the gateway (pipelines/gateway.ini:
# source-mllp -> Kafka, each message acknowledged once Kafka has it), the embedded Kafka broker
# (`bppipe broker`) holds them, and the ward (pipelines/ward.ini, as scripts/demo.sh runs it)
# decodes, judges and stores them. At the end it prints where every message went and whether
# the books balance, stops everything and leaves nothing running.
#
# Usage: bash scripts/demo-monitors.sh [SECONDS]   (default 60; Ctrl-C stops everything cleanly)
#
# Environment:
#   ES_URL                    anomalies to this Elasticsearch; unset: to NDJSON files
#   BPPIPE_DEMO_DIR           where everything is written (default out/demo-monitors; emptied)
#   BPPIPE_DEMO_PATIENTS      patients (beds) on the ward (default 10)
#   BPPIPE_DEMO_MONITORS      MLLP connections, each the monitor of some beds (default 4)
#   BPPIPE_DEMO_RATE          readings per second per patient (default 1)
#   BPPIPE_DEMO_LISTEN        the ward's http_listen (default 127.0.0.1:0, any free port)
#   BPPIPE_BUILD              the build folder to use (default build)
#   BPPIPE_DEMO_SKIP_SETUP=1  skip scripts/setup-debian.sh and the build: use BPPIPE_BUILD as it is
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case $seconds in '' | *[!0-9]*) echo "usage: bash scripts/demo-monitors.sh [SECONDS]" >&2; exit 2 ;; esac
build=${BPPIPE_BUILD:-build}
out=${BPPIPE_DEMO_DIR:-out/demo-monitors}
patients=${BPPIPE_DEMO_PATIENTS:-10}
monitors=${BPPIPE_DEMO_MONITORS:-4}
rate=${BPPIPE_DEMO_RATE:-1}
listen=${BPPIPE_DEMO_LISTEN:-127.0.0.1:0}
topic=blood-pressure
# As scripts/demo.sh: the in-memory broker keeps ~5 MiB per partition; 4 000 messages fit.
partitions=6
max_messages=4000
py=/usr/bin/python3
[ -x "$py" ] || py=python3

. scripts/demo_lib.sh
demo_setup "$build"
bppipe=$build/bppipe
monitor=$build/bppipe-monitor
for f in "$bppipe" "$monitor"; do
    [ -x "$f" ] || { echo "bppipe demo: no $f (build it, or unset BPPIPE_DEMO_SKIP_SETUP)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out"

# Each component in a session of its own (setsid): Ctrl-C reaches this script alone, which
# stops them in order: the monitors, the gateway, the ward once it has read what the gateway
# produced, the broker. The exit trap stops whatever still runs, whatever happened.
broker_pid='' ward_pid='' gateway_pid='' monitor_pid='' stopping=0
on_signal() {
    stopping=$((stopping + 1))
    [ $stopping = 1 ] && echo "bppipe demo: stopping (Ctrl-C again: stop without waiting for the ward)"
}
trap on_signal INT TERM
stop() { demo_stop "$@"; }
cleanup() {
    trap '' INT TERM
    stop monitors "$monitor_pid"
    stop gateway "$gateway_pid"
    stop ward "$ward_pid"
    stop broker "$broker_pid"
}
trap cleanup EXIT
metric() {
    curl -s --max-time 2 "http://$addr/metrics" 2>/dev/null |
        awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2; f = 1 } END { if (f) printf "%d", s }'
}
# wait_file FILE PID WHAT: until FILE is written, or its process ended
wait_file() {
    for _ in $(seq 1 200); do [ -s "$1" ] || ! kill -0 "$2" 2>/dev/null && break; sleep 0.1; done
    [ -s "$1" ] || { echo "bppipe demo: the $3 did not start:" >&2; tail -n 20 "$out/$3.log" >&2; exit 1; }
}

echo "bppipe demo: for ${seconds}s: bppipe-monitor ($monitors connections, $patients beds) -> MLLP ->" \
    "pipelines/gateway.ini -> Kafka topic $topic -> pipelines/ward.ini"
setsid "$bppipe" broker --topic "$topic:$partitions" --bootstrap-file "$out/broker.addr" \
    >"$out/broker.log" 2>&1 &
broker_pid=$!
wait_file "$out/broker.addr" "$broker_pid" broker
export KAFKA_BROKERS KAFKA_TOPIC=$topic
KAFKA_BROKERS=$(cat "$out/broker.addr")
echo "bppipe demo: broker   pid $broker_pid, bootstrap $KAFKA_BROKERS (in memory)"

ward_edits=(-o "pipeline.http_listen=$listen" -o "pipeline.http_port_file=$out/http.addr"
            -o "sink.alarms.path=$out/alarms.ndjson")
if [ -n "${ES_URL:-}" ]; then
    anomalies_to="Elasticsearch at $ES_URL"
else
    ward_edits+=(-o sink.anomalies.plugin=sink-file -o "sink.anomalies.path=$out/anomalies"
                 -o sink.anomalies.layout=ndjson)
    anomalies_to="$out/anomalies/ (NDJSON; set ES_URL for Elasticsearch)"
fi
WARD_DIR=$out WARD_STATS_INTERVAL=10 setsid "$bppipe" run pipelines/ward.ini "${ward_edits[@]}" \
    --summary-json "$out/ward.json" >"$out/ward.out" 2>"$out/ward.log" &
ward_pid=$!
wait_file "$out/http.addr" "$ward_pid" ward
addr=$(cat "$out/http.addr")
echo "bppipe demo: ward     pid $ward_pid, log $out/ward.log; the live page: http://$addr/"

MLLP_LISTEN=127.0.0.1:0 GATEWAY_DIR=$out/gateway GATEWAY_STATS_INTERVAL=10 setsid "$bppipe" run \
    pipelines/gateway.ini -o "source.monitors.port_file=$out/mllp.addr" \
    --summary-json "$out/gateway.json" >"$out/gateway.out" 2>"$out/gateway.log" &
gateway_pid=$!
wait_file "$out/mllp.addr" "$gateway_pid" gateway
echo "bppipe demo: gateway  pid $gateway_pid, MLLP on $(cat "$out/mllp.addr"), log $out/gateway.log"

count=$("$py" -c "import sys; print(max(1, min(int(round(float(sys.argv[1]) * int(sys.argv[2]) * int(sys.argv[3]))), $max_messages)))" \
    "$rate" "$patients" "$seconds")
msg_rate=$("$py" -c "import sys; print(float(sys.argv[1]) * int(sys.argv[2]))" "$rate" "$patients")
setsid "$monitor" --to "$(cat "$out/mllp.addr")" --connections "$monitors" --patients "$patients" \
    --rate "$msg_rate" --count "$count" --duration "$seconds" --invalid-rate 0.01 \
    --ack-log "$out/acks.log" --json >"$out/monitors.json" 2>"$out/monitors.log" &
monitor_pid=$!
echo "bppipe demo: monitors pid $monitor_pid, $msg_rate message(s)/s, at most $count, with a few" \
    "deliberately broken ones"

started=$(date +%s)
next=10
while [ $stopping = 0 ] && kill -0 "$monitor_pid" 2>/dev/null; do
    sleep 0.5 || true
    now=$(($(date +%s) - started))
    if [ $now -ge $next ]; then
        next=$((next + 10))
        echo "  ${now}s: acknowledged to the monitors $(wc -l <"$out/acks.log"); the ward read" \
            "$(metric bppipe_readings_decoded_total) readings"
    fi
done
stop monitors "$monitor_pid"
monitor_pid=''
stop gateway "$gateway_pid"
gateway_pid=''
produced=$("$py" -c 'import json, sys
print(json.load(open(sys.argv[1]))["sinks"]["sink.kafka"]["delivered"])' "$out/gateway.json" 2>/dev/null || echo 0)
for _ in $(seq 1 300); do
    [ $stopping -ge 2 ] && break
    [ "$(metric bppipe_readings_decoded_total)" -ge "$produced" ] 2>/dev/null && break
    sleep 0.1 || true
done
stop ward "$ward_pid"
ward_pid=''
stop broker "$broker_pid"
broker_pid=''
trap - EXIT INT TERM

echo
echo "bppipe demo: where everything went (all in $out/)"
"$py" - "$out" "$topic" "$anomalies_to" <<'PY'
import json, os, sys

sys.path.insert(0, "scripts")
from demo_books import Folder

out, topic, anomalies_to = sys.argv[1:4]
folder = Folder(out)
load, lines, rc = folder.load, folder.docs, folder.rc

mon, gw, ward = load("monitors.json"), load("gateway.json"), load("ward.json")
if not mon or not gw or not ward:
    print("  no summary from the %s: see its log in %s/" %
          ("monitors" if not mon else "gateway" if not gw else "ward", out))
    sys.exit(1)
ok = True
to_kafka = gw["sinks"].get("sink.kafka", {}).get("delivered", 0)
gw_dead = gw["sinks"].get("sink.dead-letter", {}).get("delivered", 0)
gw_dead_found = len(lines("gateway/dead-letter/*.ndjson"))
print("  monitors          %6d messages sent: %d AA, %d AE, %d AR, %d unacknowledged, %d sent again"
      % (mon["sent"], mon["aa"], mon["ae"], mon["ar"], mon["unacknowledged"], mon["resent"]))
print("  gateway           %6d readings to Kafka topic %s; %d dead letters in %s/gateway/dead-letter/%s"
      % (to_kafka, topic, gw_dead, out, "" if gw_dead_found == gw_dead else
         "  ** %d found there **" % gw_dead_found))
ok &= gw_dead_found == gw_dead
sinks = ward["sinks"]
via_kafka = set()
for label, sink, where, pattern in (
        ("anomalies", "sink.anomalies", anomalies_to, "anomalies/*.ndjson"),
        ("normal", "sink.normal", out + "/normal_cases/", "normal_cases/*.json"),
        ("dead letters", "sink.dead-letter", out + "/dead-letter/", "dead-letter/*.ndjson")):
    delivered = sinks.get(sink, {}).get("delivered", 0)
    line = "  ward %-12s %6d  %s" % (label, delivered, where)
    if sink != "sink.anomalies" or not anomalies_to.startswith("Elasticsearch"):
        found = lines(pattern)
        if len(found) != delivered:
            line += "  ** %d found there **" % len(found)
            ok = False
        for d in found:
            s = d.get("source") or {}
            if s.get("topic") != topic or "hl7v2" not in d:
                ok = False
                line += "  ** a document not from an HL7 v2 message through Kafka **"
                break
            via_kafka.add(s["partition"])
    print(line)
events = ward.get("alarm_events", 0)
print("  ward alarm events  %6d  %s/alarms.ndjson (FHIR DetectedIssue, docs/alarms.md)"
      % (len(lines("alarms.ndjson")), out))
if len(lines("alarms.ndjson")) != events:
    print("  ** the ward counted %d alarm event(s) **" % events)
    ok = False

inn, an, no, inv, fl = (ward[k] for k in ("readings_in", "anomaly", "normal", "invalid", "in_flight"))
books = (mon["unacknowledged"] == 0 and mon["aa"] == mon["readings"] == to_kafka == inn ==
         an + no + inv and fl == 0 and mon["ae"] + mon["ar"] == gw_dead)
ok &= books
print()
print("  the books: monitors' readings acknowledged AA %d = to Kafka by the gateway %d = consumed"
      " by the ward %d = anomaly %d + normal %d + dead letters %d (+ in flight %d); AE/AR %d ="
      " the gateway's dead letters %d%s" % (mon["readings"], to_kafka, inn, an, no, inv, fl,
                                            mon["ae"] + mon["ar"], gw_dead,
                                            "" if books else "  ** DO NOT BALANCE **"))
if via_kafka:
    print("  through Kafka: every document the ward wrote came from an HL7 v2 message on topic %s,"
          " partitions %s" % (topic, " ".join(map(str, sorted(via_kafka)))))
print("  last byte to ACK at the monitors: p50 %s ms, p99 %s ms" % (mon["ack_ms_p50"], mon["ack_ms_p99"]))
print("\n  logs: %s/broker.log, gateway.log, ward.log, monitors.log; summaries: monitors.json,"
      " gateway.json, ward.json" % out)
names = ("broker", "gateway", "ward", "monitors")
print("  stopped (exit status): %s; nothing left running" % ", ".join("%s %s" % (n, rc(n)) for n in names))
ok &= all(rc(n) == "0" for n in names)
sys.exit(0 if ok else 1)
PY
