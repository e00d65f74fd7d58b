#!/usr/bin/env bash
# Quick start: install dependencies, build, and run the real loop for a bounded time: the
# embedded Kafka broker (`bppipe broker`), the producer (pipelines/producer.ini: a simulated
# ward to the topic blood-pressure) and the ward (pipelines/ward.ini, the production pipeline,
# consuming as the consumer group bppipe-ward) with its HTTP listener for the live page. At the
# end it prints where every reading went, stops all three and leaves nothing running.
#
# Usage: bash scripts/demo.sh [SECONDS]      (default 60; Ctrl-C stops everything cleanly)
#
# Environment:
#   ES_URL                    anomalies to this Elasticsearch (ward.ini's sink-es, with its
#                             disk buffer); unset: to NDJSON files, no Elasticsearch needed
#   BPPIPE_DEMO_DIR           where everything is written (default out/demo; emptied first)
#   BPPIPE_DEMO_PATIENTS      patients on the simulated ward (default 10)
#   BPPIPE_DEMO_RATE          readings per second per patient (default 1)
#   BPPIPE_DEMO_LISTEN        the ward's http_listen (default 127.0.0.1:0, any free port)
#   BPPIPE_BUILD              the build folder to use (default build)
#   BPPIPE_DEMO_SKIP_SETUP=1  skip scripts/setup-debian.sh and the build: use BPPIPE_BUILD as it is
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case $seconds in '' | *[!0-9]*) echo "usage: bash scripts/demo.sh [SECONDS]" >&2; exit 2 ;; esac
build=${BPPIPE_BUILD:-build}
out=${BPPIPE_DEMO_DIR:-out/demo}
patients=${BPPIPE_DEMO_PATIENTS:-10}
rate=${BPPIPE_DEMO_RATE:-1}
listen=${BPPIPE_DEMO_LISTEN:-127.0.0.1:0}
topic=blood-pressure
# The in-memory broker keeps only the newest ~5 MiB of each partition. Readings are keyed by
# patient, so one partition may hold many patients' readings: the producer stops at 4 000
# readings (~1 KiB each, ~4 MiB), which fit in one partition whatever the keys' spread, and the
# six partitions spread the patients over the consumer group.
partitions=6
max_readings=4000
py=/usr/bin/python3
[ -x "$py" ] || py=python3

. scripts/demo_lib.sh
demo_setup "$build"
bppipe=$build/bppipe
[ -x "$bppipe" ] || { echo "bppipe demo: no $bppipe (build it, or unset BPPIPE_DEMO_SKIP_SETUP)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"

# Each component runs in a session of its own (setsid), so Ctrl-C reaches this script alone and
# the script stops them in order: the producer, then the ward once it has read what was
# produced, then the broker. The exit trap stops whatever is still running, whatever happened.
broker_pid='' ward_pid='' producer_pid='' stopping=0
on_signal() {
    stopping=$((stopping + 1))
    if [ $stopping = 1 ]; then
        echo "bppipe demo: stopping (Ctrl-C again: stop without waiting for the ward to catch up)"
    fi
}
trap on_signal INT TERM
stop() { demo_stop "$@"; }
cleanup() {
    trap '' INT TERM
    stop producer "$producer_pid"
    stop ward "$ward_pid"
    stop broker "$broker_pid"
}
trap cleanup EXIT

# metric NAME: the sum of one metric's samples on the ward's listener (empty when it is down).
metric() {
    curl -s --max-time 2 "http://$addr/metrics" 2>/dev/null |
        awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2; f = 1 } END { if (f) printf "%d", s }'
}

echo "bppipe demo: the real loop for ${seconds}s: bppipe broker -> pipelines/producer.ini -> Kafka" \
    "topic $topic ($partitions partitions) -> pipelines/ward.ini (consumer group bppipe-ward)"
setsid "$bppipe" broker --topic "$topic:$partitions" --bootstrap-file "$out/broker.addr" \
    >"$out/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 100); do [ -s "$out/broker.addr" ] && break; sleep 0.1; done
[ -s "$out/broker.addr" ] || { echo "bppipe demo: the broker did not start:" >&2; cat "$out/broker.log" >&2; exit 1; }
export KAFKA_BROKERS KAFKA_TOPIC=$topic
KAFKA_BROKERS=$(cat "$out/broker.addr")
echo "bppipe demo: broker   pid $broker_pid, bootstrap $KAFKA_BROKERS (in memory)"

# The ward is pipelines/ward.ini itself, the production pipeline, with the demo's edits on the
# command line only: anomalies to files unless ES_URL is set, alarm events to a file, the HTTP
# listener on. Nothing is copied, so the demo always runs what is deployed.
ward_edits=(-o "pipeline.http_listen=$listen" -o "pipeline.http_port_file=$out/http.addr"
            -o "sink.alarms.path=$out/alarms.ndjson")
if [ -n "${ES_URL:-}" ]; then
    anomalies_to="Elasticsearch at $ES_URL (index bp-anomalies-YYYY.MM; disk buffer $out/spool/anomalies)"
else
    ward_edits+=(-o sink.anomalies.plugin=sink-file -o "sink.anomalies.path=$out/anomalies"
                 -o sink.anomalies.layout=ndjson)
    anomalies_to="$out/anomalies/ (NDJSON; set ES_URL for Elasticsearch)"
fi
WARD_DIR=$out WARD_STATS_INTERVAL=10 setsid "$bppipe" run pipelines/ward.ini "${ward_edits[@]}" \
    --summary-json "$out/ward.json" >"$out/ward.out" 2>"$out/ward.log" &
ward_pid=$!
for _ in $(seq 1 200); do
    [ -s "$out/http.addr" ] || ! kill -0 "$ward_pid" 2>/dev/null && break
    sleep 0.1
done
[ -s "$out/http.addr" ] || { echo "bppipe demo: the ward did not start:" >&2; tail -n 20 "$out/ward.log" >&2; exit 1; }
addr=$(cat "$out/http.addr")
echo "bppipe demo: ward     pid $ward_pid, log $out/ward.log"
echo "bppipe demo: the live page: http://$addr/   (also /metrics, /healthz, /readyz)"

# The producer: the simulated ward, a few deliberately broken payloads among the readings, and
# those sent to the topic too (a second sink-kafka, route = invalid) so that the ward
# dead-letters them with their Kafka position.
count=$("$py" -c "import sys; print(min(int(round(float(sys.argv[1]) * int(sys.argv[2]) * int(sys.argv[3]))), $max_readings))" \
    "$rate" "$patients" "$seconds")
[ "$count" -gt 0 ] || count=1
PRODUCER_RATE=$rate PRODUCER_COUNT=$count setsid "$bppipe" run pipelines/producer.ini \
    -o "source.ward.patients=$patients" -o source.ward.invalid_rate=0.01 \
    -o sink.broken.plugin=sink-kafka -o sink.broken.route=invalid \
    -o "sink.broken.brokers=$KAFKA_BROKERS" -o "sink.broken.topic=$topic" \
    --duration "$seconds" --summary-json "$out/producer.json" >"$out/producer.out" \
    2>"$out/producer.log" &
producer_pid=$!
echo "bppipe demo: producer pid $producer_pid, $patients patients, $rate reading(s)/s each," \
    "at most $count readings, log $out/producer.log"

started=$(date +%s)
next=10
while [ $stopping = 0 ] && kill -0 "$producer_pid" 2>/dev/null; do
    sleep 0.5 || true
    now=$(($(date +%s) - started))
    if [ $now -ge $next ]; then
        next=$((next + 10))
        echo "  ${now}s: the ward read $(metric bppipe_readings_decoded_total) readings:" \
            "anomaly $(metric 'bppipe_readings_total{route="anomaly"}')," \
            "normal $(metric 'bppipe_readings_total{route="normal"}')," \
            "dead letters $(metric 'bppipe_readings_total{route="invalid"}')"
    fi
done
stop producer "$producer_pid"
producer_pid=''
produced=$("$py" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(s["delivered"] for s in d["sinks"].values()))' "$out/producer.json" 2>/dev/null || echo 0)
# The ward reads what was produced, then stops: up to 30 s (a second Ctrl-C: at once).
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
status=0
"$py" - "$out" "$topic" "$anomalies_to" <<'PY' || status=$?
import json, os, sys

sys.path.insert(0, "scripts")
from demo_books import Folder

out, topic, anomalies_to = sys.argv[1], sys.argv[2], sys.argv[3]
folder = Folder(out)
load, docs, rc = folder.load, folder.docs, folder.rc

prod, ward = load("producer.json"), load("ward.json")
if not prod or not ward:
    print("  no summary from the %s: see its log in %s/" % ("producer" if not prod else "ward", out))
    sys.exit(1)
produced = sum(s["delivered"] for s in prod["sinks"].values())
ok = True
sinks = ward["sinks"]
outputs = [("anomalies", "sink.anomalies", anomalies_to, "anomalies/*.ndjson"),
           ("normal", "sink.normal", out + "/normal_cases/ (one JSON file each)", "normal_cases/*.json"),
           ("dead letters", "sink.dead-letter", out + "/dead-letter/ (NDJSON, with the reason)",
            "dead-letter/*.ndjson")]
via_kafka, not_via = {}, {}
first_anomaly = None
for label, sink, where, pattern in outputs:
    delivered = sinks.get(sink, {}).get("delivered", 0)
    line = "  %-13s %6d  %s" % (label, delivered, where)
    if sink != "sink.anomalies" or not anomalies_to.startswith("Elasticsearch"):
        found = docs(pattern)
        if len(found) != delivered:
            line += "  ** %d found there **" % len(found)
            ok = False
        for d in found:
            src = d.get("source") or {}
            if "topic" in src and "partition" in src:
                via_kafka.setdefault(label, set()).add((src["topic"], src["partition"]))
            else:
                not_via[label] = not_via.get(label, 0) + 1
        if sink == "sink.anomalies" and found:
            first_anomaly = found[0]
    print(line)
# Alarm events (docs/alarms.md) are FHIR DetectedIssue resources of their own: one per transition
# of an alarm (raised, escalated, acknowledged, resolved), an alarm standing for all the readings
# of its patient and condition until it resolves, so fewer than the critical readings.
events = ward.get("alarm_events", 0)
counted = ward.get("counters", {}).get("sink.alarms", {})
sent = int(counted.get("alarm_events_sent", 0))
found = len(docs("alarms.ndjson"))
line = "  %-13s %6d  %s/alarms.ndjson (FHIR DetectedIssue)" % ("alarm events", sent, out)
if found != sent or sent != events:
    line += "  ** %d found there, %d counted by the ward **" % (found, events)
    ok = False
print(line)
spooled = sinks.get("sink.anomalies", {}).get("in_spool", 0)
if spooled:
    print("  (%d anomalies still in the disk buffer, delivered when Elasticsearch answers)" % spooled)

inn, an, no, inv, fl = (ward[k] for k in ("readings_in", "anomaly", "normal", "invalid", "in_flight"))
balanced = produced == inn == an + no + inv + fl and fl == 0
ok &= balanced
print()
print("  the books: produced %d (to Kafka) = consumed %d = anomaly %d + normal %d + dead letters %d"
      " (+ in flight %d)%s" % (produced, inn, an, no, inv, fl, "" if balanced else "  ** DO NOT BALANCE **"))
for label, where in sorted(via_kafka.items()):
    parts = sorted(p for t, p in where if t == topic)
    print("  through Kafka: the source of every %s document names topic %s, partitions %s"
          % (label.rstrip("s").replace("ie", "y"), topic, " ".join(map(str, parts))))
for label, n in sorted(not_via.items()):
    print("  ** %d %s document(s) name no Kafka topic and partition in their source **" % (n, label))
    ok = False
if first_anomaly:
    keep = ("observation_id", "patient_id", "systolic_pressure", "diastolic_pressure",
            "anomaly_type", "bp_category", "severity", "ml_risk_score", "source")
    print("\n  the first anomaly (%s/anomalies/):" % out)
    print("  " + json.dumps({k: first_anomaly[k] for k in keep if k in first_anomaly}))
print("\n  logs: %s/broker.log, producer.log, ward.log; summaries: producer.json, ward.json" % out)
stopped = "broker %s, producer %s, ward %s" % (rc("broker"), rc("producer"), rc("ward"))
print("  stopped (exit status): %s; nothing left running" % stopped)
ok &= all(rc(n) == "0" for n in ("broker", "producer", "ward"))
sys.exit(0 if ok else 1)
PY
if grep -q 'dropped its' "$out/broker.log"; then
    echo "bppipe demo: the broker dropped messages:"; grep 'dropped' "$out/broker.log"; status=1
fi
exit $status
