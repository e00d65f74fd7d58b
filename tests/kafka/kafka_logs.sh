#!/usr/bin/env bash
# What source-kafka and sink-kafka say when the cluster is not there or not what the section
# expects (lib/kafka/kafka_talk.c):
#  1. the broker is killed mid-run: "broker HOST:PORT refuses connections (is it running?)" at
#     warn, held to a line per 10 s by the host's rate limit, and never librdkafka's guess that
#     the broker "might require SASL" (it said so, at error, when a connection closed);
#  2. a TLS listener whose certificate names another host, with the right CA given: the host
#     name is the trouble, not the CA; with no CA given: that none was given;
#  3. a CA file that is not there: named, and the run refused.
. "$(dirname "$0")/lib.sh"
start_broker --topic bp:1
# wait_for FILE PATTERN [SECONDS]: until grep -E finds PATTERN in FILE
wait_for() {
    for _ in $(seq $((${3:-60} * 10))); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
# ini FILE BROKERS [lines...]: a source-kafka reading topic bp and a sink-kafka, both on BROKERS
ini() {
    local file=$1 brokers=$2
    shift 2
    {
        printf '[pipeline]\nstats_interval = 0\n'
        printf '[source.k]\nplugin = source-kafka\nbrokers = %s\ngroup = g\ntopics = bp\n' "$brokers"
        for kv in "$@"; do printf '%s\n' "$kv"; done
        printf '[sink.out]\nplugin = sink-kafka\nbrokers = %s\ntopic = out\nroute = all\n' "$brokers"
        for kv in "$@"; do printf '%s\n' "$kv"; done
    } >"$file"
}

# 1. the broker goes away
ini "$t/down.ini" "$BROKERS"
"$BPPIPE" run "$t/down.ini" 2>"$t/down.err" &
run=$!
track $run
check "1: the group assigns the partition" "wait_for '$t/down.err' 'assigned 1 partition'"
kill -TERM "$broker_pid"
refused="warn  \[source.k\] broker $BROKERS refuses connections \(is it running\?\)"
check "1: a refused connection is said as such, at warn, naming the broker" \
    "wait_for '$t/down.err' '$refused'"
# The rate limit's own summary ("repeated N more times") comes 10 s or more after the first line:
# by then librdkafka has retried many times, on three handles (member, changelog producer and
# reader), and all of it is in these few lines.
check "1: repeats are summarised" "wait_for '$t/down.err' '$refused.*\(repeated [0-9]+ more times\)'"
kill -TERM $run
wait $run
check "1: the run stops cleanly with the broker down" "[ $? = 0 ]"
n=$(grep -cE "$refused" "$t/down.err")
check "1: at most a line per 10 s ($n lines)" "[ $n -ge 2 ] && [ $n -le 4 ]"
check "1: no guess about SASL above debug" \
    "! grep -E '^[^ ]+ (error|warn |info ) ' '$t/down.err' | grep -qE 'might require SASL|requires SASL'"
check "1: librdkafka's own connection lines stay at debug" \
    "! grep -qE '(error|warn ) .*(librdkafka FAIL|librdkafka ERROR|_TRANSPORT)' '$t/down.err'"

# 2. a TLS listener (it only shakes hands: the certificate check happens first)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=wrong.example \
    -addext subjectAltName=DNS:wrong.example -keyout "$t/key.pem" -out "$t/cert.pem" 2>/dev/null
/usr/bin/python3 - "$t/cert.pem" "$t/key.pem" "$t/tls.port" <<'PY' &
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
import os; os.rename(sys.argv[3] + ".tmp", sys.argv[3])
def shake(c):
    try:
        ctx.wrap_socket(c, server_side=True).recv(1)
    except Exception:
        pass
    finally:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=shake, args=(c,), daemon=True).start()
PY
track $!
wait_for "$t/tls.port" . 10 || { echo "FAIL the TLS listener did not start"; exit 1; }
TLS=127.0.0.1:$(cat "$t/tls.port")
# tls NAME [lines...]: runs against the listener until the source says why TLS failed
tls() {
    local name=$1
    shift
    ini "$t/$name.ini" "$TLS" "kafka.security.protocol = ssl" "$@"
    "$BPPIPE" run "$t/$name.ini" 2>"$t/$name.err" &
    local pid=$!
    track $pid
    wait_for "$t/$name.err" 'error \[source.k\] TLS: ' 30
    kill -TERM $pid
    wait $pid
}
tls wronghost "kafka.ssl.ca.location = $t/cert.pem"
check "2: right CA, wrong host name: the host name is named as the trouble" \
    "grep -q 'error \[source.k\] TLS: the certificate of broker $TLS is issued for another host name (its CA is trusted, kafka.ssl.ca.location = $t/cert.pem)' '$t/wronghost.err'"
check "2: and not the CA" "! grep -qE 'not signed by|ssl.ca.location is correctly configured' '$t/wronghost.err'"
tls noca
check "2: unknown CA and none given: says none was given" \
    "grep -q 'error \[source.k\] TLS: the certificate of broker $TLS is signed by a CA this host does not trust, and no kafka.ssl.ca.location is given' '$t/noca.err'"
# sink-kafka serves librdkafka's events where it writes or closes: `bppipe check` closes it after
# asking the brokers (their handshake was tried by then), so its words are there at the end.
printf '[source.ward]\nplugin = source-faker\n[sink.out]\nplugin = sink-kafka\nbrokers = %s\ntopic = out\nkafka.security.protocol = ssl\n' \
    "$TLS" >"$t/sink.ini"
"$BPPIPE" check "$t/sink.ini" --timeout 3 >"$t/sink.err" 2>&1
check "2: sink-kafka says the same" \
    "[ $? = 2 ] && grep -q 'error \[sink.out\] TLS: the certificate of broker $TLS is signed by a CA this host does not trust, and no kafka.ssl.ca.location is given' '$t/sink.err'"

# 3. a CA file that is not there
ini "$t/missing.ini" "$TLS" "kafka.security.protocol = ssl" "kafka.ssl.ca.location = $t/nowhere.pem"
"$BPPIPE" check --offline "$t/missing.ini" >"$t/missing.out" 2>&1
check "3: a missing CA file is refused, named, with why" \
    "[ $? = 2 ] && grep -q 'kafka.ssl.ca.location = $t/nowhere.pem cannot be read: No such file or directory' '$t/missing.out'"
[ $fail = 0 ] || tail -n 20 "$t"/*.err
exit $fail
