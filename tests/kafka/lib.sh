# Shared by the Kafka tests: a scratch folder, an embedded broker, bounded kcat calls, and
# cleanup of everything the test started (by process id) when it exits.
set -u
fail=0
t=$(mktemp -d)
started=()
cleanup() {
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${started[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$t"
}
trap cleanup EXIT
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1 ($2)"; fi; }
# Remembers a background process so that the exit trap stops it.
track() { started+=("$1"); }

# start_broker ARGS...: starts `bppipe broker` on 127.0.0.1 and sets BROKERS to its bootstrap.
start_broker() {
    rm -f "$t/bootstrap"
    "$BPPIPE" broker --quiet --bootstrap-file "$t/bootstrap" "$@" >"$t/broker.out" \
        2>"$t/broker.err" &
    broker_pid=$!
    track "$broker_pid"
    for _ in $(seq 1 100); do [ -s "$t/bootstrap" ] && break; sleep 0.1; done
    if [ ! -s "$t/bootstrap" ]; then
        echo "FAIL the broker did not start"; cat "$t/broker.err"; exit 1
    fi
    BROKERS=$(cat "$t/bootstrap")
    export KAFKA_BROKERS=$BROKERS
}

# kc ARGS...: kcat against the broker, never longer than 60 s.
kc() { timeout 60 kcat -b "$BROKERS" -q "$@"; }

# topic_count TOPIC: messages in TOPIC (consumed raw from the beginning).
topic_count() { kc -C -t "$1" -o beginning -e -f 'x\n' 2>/dev/null | wc -l | tr -d ' '; }

# ids FIELD DIR...: FIELD (e.g. stable_id) of every document in the NDJSON or per-record JSON
# files under each DIR, one per line.
ids() {
    python3 - "$@" <<'PY'
import json, os, sys
field = sys.argv[1]
for d in sys.argv[2:]:
    for root, _, files in os.walk(d):
        for f in sorted(files):
            p = os.path.join(root, f)
            with open(p) as fh:
                if f.endswith(".ndjson"):
                    for line in fh:
                        if line.strip():
                            print(json.loads(line).get(field))
                else:
                    print(json.load(fh).get(field))
PY
}

# topic_ids TOPIC: the FHIR "id" of every message in TOPIC, one per line.
topic_ids() {
    kc -C -t "$1" -o beginning -e -f '%s\n' | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        print(json.loads(line).get("id"))'
}
