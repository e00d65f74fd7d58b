# Helpers for the Elasticsearch script tests; source after setting $t (a mktemp -d folder).
# es_start NAME [emulator flags...]: starts an emulator, sets ES_PORT_<NAME> and ES_PID_<NAME>.
# es_stats PORT FIELD: one counter from /_emulator/stats. es_fault PORT JSON: sets faults.
EMULATOR="$BPPIPE_SOURCE_DIR/tests/es/es_emulator.py"
. "$BPPIPE_SOURCE_DIR/tests/wait.sh"
es_pids=()
es_start() {
    local name=$1
    shift
    /usr/bin/python3 "$EMULATOR" --port-file "$t/es-$name.port" "$@" >/dev/null &
    es_pids+=($!)
    eval "ES_PID_$name=$!"
    wait_until 60 test -s "$t/es-$name.port"
    eval "ES_PORT_$name=$(cat "$t/es-$name.port")"
}
es_stop_all() {
    for p in "${es_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    es_pids=()
}
es_stats() {
    curl -s "http://127.0.0.1:$1/_emulator/stats" |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
es_stats_tls() { # es_stats_tls FIELD: stats of the HTTPS emulator on $T
    curl -s --cacert "$t/cert.pem" "https://127.0.0.1:$T/_emulator/stats" |
        /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
es_fault() {
    curl -s -XPOST -H 'Content-Type: application/json' "http://127.0.0.1:$1/_emulator/faults" \
        -d "$2" >/dev/null
}
# es_ids PORT: every document's _id in bp-anomalies*, sorted (duplicates kept).
es_ids() {
    curl -s -XPOST -H 'Content-Type: application/json' \
        "http://127.0.0.1:$1/bp-anomalies*/_search?size=10000000" -d '{}' |
        /usr/bin/python3 -c 'import json,sys; [print(h["_id"]) for h in json.load(sys.stdin)["hits"]["hits"]]' |
        sort
}
# file_ids DIR: the stable_id of every document in DIR's NDJSON files, sorted.
file_ids() {
    cat "$1"/*.ndjson 2>/dev/null |
        /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["stable_id"]) for l in sys.stdin if l.strip()]' |
        sort
}
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
