# Helpers of the source-mllp script tests; source after setting $t (a mktemp -d folder) and
# tests/es/lib.sh (the Elasticsearch emulator, check).
. "$BPPIPE_SOURCE_DIR/tests/wait.sh"
TOOL=(/usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/mllp/mllp_tool.py")
bp_pid=

# mllp_ini FILE ES_PORT [SOURCE LINES...]: MLLP in; every reading to Elasticsearch (the
# emulator) and to a per-record archive; dead letters to $t/dead.
mllp_ini() {
    local file=$1 es=$2
    shift 2
    {
        printf '[pipeline]\nbatch_size = 50\nstats_interval = 0\n\n'
        printf '[source.mllp]\nplugin = source-mllp\nlisten = 127.0.0.1:0\nport_file = %s\n' "$t/port"
        for line in "$@"; do printf '%s\n' "$line"; done
        printf '\n[sink.es]\nplugin = sink-es\nroute = all\nurl = http://127.0.0.1:%s\n' "$es"
        printf '\n[sink.archive]\nplugin = sink-file\nroute = all\nlayout = per-record\n'
        printf 'path = %s\n' "$t/archive"
        printf '\n[sink.dead]\nplugin = sink-file\nroute = invalid\npath = %s\n' "$t/dead"
    } >"$file"
}

# true once bppipe wrote its port file, or has exited (then waiting longer is pointless)
_listening() { [ -s "$t/port" ] || ! kill -0 "$bp_pid" 2>/dev/null; }

# bp_start INI LOG [run options...]: starts bppipe, waits until it listens ($t/port).
bp_start() {
    local ini=$1 log=$2
    shift 2
    rm -f "$t/port"
    "$BPPIPE" run "$ini" "$@" 2>>"$log" &
    bp_pid=$!
    wait_until 60 _listening && [ -s "$t/port" ] && return 0
    echo "bppipe did not listen; its log:" >&2
    tail -n 20 "$log" >&2
    return 1
}

# bp_stop: a clean stop (SIGTERM: drain, flush) and its exit status.
bp_stop() {
    [ -n "$bp_pid" ] || return 0
    kill -TERM "$bp_pid" 2>/dev/null
    wait "$bp_pid"
    local st=$?
    bp_pid=
    return $st
}

# archive_ids: the stable id of every reading in the per-record archive, sorted (duplicates
# kept: a reading written twice under two names would show).
archive_ids() {
    find "$t/archive" -name '*.json' -print0 2>/dev/null |
        xargs -0 -r /usr/bin/python3 -c '
import json, sys
for p in sys.argv[1:]:
    print(json.load(open(p))["stable_id"])' | sort
}

# j FILE EXPR: a value from a JSON file (d is the document).
j() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

# wait_for SECONDS CONDITION: polls CONDITION every 0.1 s.
wait_for() {
    local n=$(($1 * 10))
    for _ in $(seq "$n"); do eval "$2" && return 0; sleep 0.1; done
    return 1
}

# es_control_ids PORT: the message control ids (M000123) the documents in Elasticsearch carry.
es_control_ids() {
    curl -s -XPOST -H 'Content-Type: application/json' \
        "http://127.0.0.1:$1/bp-anomalies*/_search?size=10000000" -d '{}' |
        grep -o 'M[0-9]\{6\}' | sort -u
}

