#!/usr/bin/env bash
# Corrections and retractions in Elasticsearch (issue 26), sink-es's part on its own: records built
# by a host stand-in (tests/es/es_sink_harness.c) with logical ids, versions and revisions, sent by
# the sink-es plugin to the emulator. A final reading, then its correction: one document with the
# corrected values; the first version replayed: refused by its version, delivered, nothing
# changed; a retraction deletes it, a retraction of a reading never stored is delivered; a
# correction that moves a reading from the anomaly index to the normal one leaves the anomaly
# index; a retraction without an effective time is placed only where the index name is fixed.
# The same through bppipe's disk buffer: a spool seeded with such records (what a run that stopped
# while the cluster was away leaves, tests/es/es_spool_seed.c) is delivered by `bppipe run` at
# start with the revisions intact.
# Usage: es_revisions.sh HARNESS SINK_ES_SO SPOOL_SEED
set -u
HARNESS=$1
PLUGIN=$2
SEED=$3
fail=0
t=$(mktemp -d)
trap 'es_stop_all; [ -n "${ES_KEEP:-}" ] && echo "kept $t" || rm -rf "$t"' EXIT
. "$BPPIPE_SOURCE_DIR/tests/es/lib.sh"

es_start main
P=$ES_PORT_main
URL=http://127.0.0.1:$P
MAR=1772359200000 # 2026-03-01T10:00:00Z: index bp-anomalies-2026.03
IDX=bp-anomalies-2026.03

run() { # run OUT INDEX ARGS...: one harness run, its output kept in $t/OUT
    local out=$1 index=$2
    shift 2
    "$HARNESS" "$PLUGIN" "$URL" "$index" "$@" >"$t/$out" 2>"$t/$out.log"
    local rc=$?
    [ $rc -eq 0 ] || { echo "harness exited $rc:"; cat "$t/$out" "$t/$out.log"; }
    return $rc
}
line() { grep -qxF "$2" "$t/$1"; }
# doc INDEX ID FIELD: a field of the stored document, "missing" when there is none
doc() {
    curl -s "$URL/$1/_doc/$2" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["_source"].get(sys.argv[1]) if d.get("found") else "missing")' "$3"
}
version() { curl -s "$URL/$1/_doc/$2" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("_version"))'; }
count() { curl -s "$URL/$1/_count" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("count"))'; }

# 1. final 190/125 (version 1), then corrected to 130/85 (version 2): one document, v2's values
run first "bp-anomalies-%Y.%m" "id=obs-1/1,lid=obs-1,v=1,sys=190,dia=125,eff=$MAR"
check "version 1 delivered, created" 'line first "obs-1/1 delivered" && line first "count es_created 1"'
check "stored under the logical id" '[ "$(doc $IDX obs-1 systolic_pressure)" = 190 ]'
run second "bp-anomalies-%Y.%m" "id=obs-1/2,lid=obs-1,v=2,rev=replace,sys=130,dia=85,eff=$MAR"
check "the correction replaced it" 'line second "obs-1/2 delivered" && line second "count es_replaced 1"'
check "one document, the corrected values, version 2" \
    '[ "$(count $IDX)" = 1 ] && [ "$(doc $IDX obs-1 systolic_pressure)" = 130 ] && [ "$(doc $IDX obs-1 diastolic_pressure)" = 85 ] && [ "$(version $IDX obs-1)" = 2 ]'

# 2. version 1 replayed (a Kafka replay): refused by its version, delivered, counted stale
run replay "bp-anomalies-%Y.%m" "id=obs-1/1,lid=obs-1,v=1,sys=190,dia=125,eff=$MAR" / \
    "id=obs-1/2,lid=obs-1,v=2,rev=replace,sys=130,dia=85,eff=$MAR"
check "the replays are delivered and counted stale" \
    'line replay "obs-1/1 delivered" && line replay "obs-1/2 delivered" && line replay "count es_stale 2"'
check "the replay changed nothing" '[ "$(doc $IDX obs-1 systolic_pressure)" = 130 ] && [ "$(version $IDX obs-1)" = 2 ] && [ "$(count $IDX)" = 1 ]'

# 3. entered-in-error (version 3): deleted; then again, and the correction replayed: stale
run retract "bp-anomalies-%Y.%m" "id=obs-1/3,lid=obs-1,v=3,rev=retract,eff=$MAR"
check "the retraction deleted it" 'line retract "obs-1/3 delivered" && line retract "count es_deleted 1" && [ "$(doc $IDX obs-1 systolic_pressure)" = missing ]'
run again "bp-anomalies-%Y.%m" "id=obs-1/3,lid=obs-1,v=3,rev=retract,eff=$MAR" \
    "id=obs-1/2,lid=obs-1,v=2,rev=replace,sys=130,dia=85,eff=$MAR"
check "a replay after the retraction stays deleted (tombstone)" \
    'line again "count es_stale 2" && [ "$(doc $IDX obs-1 systolic_pressure)" = missing ] && [ "$(count $IDX)" = 0 ]'

# 4. retractions of readings never stored: delivered (404 not_found, or no such index)
run ghost "bp-anomalies-%Y.%m" "id=ghost/2,lid=ghost,v=2,rev=retract,eff=$MAR" \
    "id=old/1,lid=old,rev=retract,eff=1577872800000"
check "retractions of nothing are delivered" \
    'line ghost "ghost/2 delivered" && line ghost "old/1 delivered" && line ghost "count es_already_gone 2"'
check "no index created for a plain delete" '! curl -s "$URL/_emulator/stats" | grep -q "bp-anomalies-2020.01"'
# ...and the reading arriving after its retraction is refused while the tombstone lasts
run late "bp-anomalies-%Y.%m" "id=ghost/1,lid=ghost,v=1,sys=150,dia=95,eff=$MAR"
check "a reading after its retraction is refused by version" 'line late "count es_stale 1" && [ "$(doc $IDX ghost systolic_pressure)" = missing ]'

# 5. a correction that moves the reading from the anomaly index to the normal one: the engine
#    sends the replacement to the normal sink and a retraction companion to the anomaly sink
run moved-a bp-anomalies-x "id=m/1,lid=m,v=1,sys=150,dia=95,eff=$MAR"
run moved-n bp-normal-x "id=m/2,lid=m,v=2,rev=replace,sys=120,dia=80,eff=$MAR"
run moved-r bp-anomalies-x "id=m/2,lid=m,v=2,rev=retract,eff=$MAR"
check "the corrected reading left the anomaly index" \
    '[ "$(doc bp-anomalies-x m systolic_pressure)" = missing ] && [ "$(doc bp-normal-x m systolic_pressure)" = 120 ]'

# 6. without a version: a first reading is a create (409 on a replay), a replacement an index
run noversion bp-plain "id=a/1,lid=a,sys=140,dia=90,eff=$MAR" / "id=a/1,lid=a,sys=140,dia=90,eff=$MAR" / \
    "id=a/x,lid=a,rev=replace,sys=125,dia=82,eff=$MAR"
check "unversioned: create, replay 409, replacement indexed" \
    'line noversion "count es_already_there 1" && line noversion "count es_replaced 1" && [ "$(doc bp-plain a systolic_pressure)" = 125 ]'
run nolid bp-plain "id=plain-1,sys=141,dia=91,eff=$MAR"
check "no logical id: the stable id is the _id, as before" '[ "$(doc bp-plain plain-1 systolic_pressure)" = 141 ]'

# 7. a retraction without an effective time: the dated pattern cannot say where its reading went
run notime "bp-anomalies-%Y.%m" "id=q/2,lid=q,v=2,rev=retract"
check "dated index: a dead letter saying why" 'grep -q "^q/2 rejected: retraction without an effective time: index = bp-anomalies-%Y.%m" "$t/notime"'
run fixed-a bp-fixed "id=f/1,lid=f,v=1,sys=150,dia=95,eff=$MAR"
check "fixed index: stored under the logical id" '[ "$(doc bp-fixed f systolic_pressure)" = 150 ]'
run fixed-r bp-fixed "id=f/2,lid=f,v=2,rev=retract"
check "fixed index: deleted" 'line fixed-r "f/2 delivered" && [ "$(doc bp-fixed f systolic_pressure)" = missing ]'

# 8. one batch: version 2 before version 1 (reordered), then a 429 on the first try
es_fault "$P" '{"item_429": 1}'
run order bp-order "id=o/2,lid=o,v=2,rev=replace,sys=118,dia=78,eff=$MAR" "id=o/1,lid=o,v=1,sys=170,dia=100,eff=$MAR"
check "order and a 429: the newer version stands" \
    'line order "o/2 delivered" && line order "o/1 delivered" && [ "$(doc bp-order o systolic_pressure)" = 118 ] && [ "$(version bp-order o)" = 2 ]'

# 9. the disk buffer: records with revisions spooled by an earlier run, delivered after a restart
es_start spool
S=$ES_PORT_spool
"$SEED" "$t/spool" || { echo "cannot seed the spool"; exit 1; }
: >"$t/empty.ndjson"
cat >"$t/spool.ini" <<INI
[pipeline]
stats_interval = 0
retry_initial_ms = 20
retry_max_ms = 100
[source.in]
plugin = source-file
path = $t/empty.ndjson
[sink.es]
plugin = sink-es
route = anomaly
url = http://127.0.0.1:$S
buffer = disk
buffer_path = $t/spool
INI
timeout 60 "$BPPIPE" run "$t/spool.ini" --summary-json "$t/spool.json" >"$t/spool.log" 2>&1
check "the restarted run exits 0" "[ $? = 0 ]"
check "spooled correction: one document with the corrected values" \
    '[ "$(URL=http://127.0.0.1:$S count $IDX)" = 1 ] && [ "$(URL=http://127.0.0.1:$S doc $IDX obs-s systolic_pressure)" = 130 ] && [ "$(URL=http://127.0.0.1:$S doc $IDX obs-s revision)" = replace ] && [ "$(URL=http://127.0.0.1:$S version $IDX obs-s)" = 2 ]'
check "spooled retraction: deleted" '[ "$(URL=http://127.0.0.1:$S doc $IDX obs-r systolic_pressure)" = missing ] && [ "$(es_stats $S deleted)" = 1 ]'
check "all 4 came from the disk buffer, which is empty afterwards" \
    'grep -q "4 record(s) in its disk buffer" "$t/spool.log" && /usr/bin/python3 -c "import json,sys; k=json.load(open(sys.argv[1]))[\"sinks\"][\"sink.es\"]; sys.exit(not (k[\"delivered\"] == 4 and k[\"in_spool\"] == 0))" "$t/spool.json"'

if [ $fail -ne 0 ]; then
    cat "$t/spool.log"
    for f in "$t"/*.log; do echo "== $f"; cat "$f"; done
fi
exit $fail
