#!/usr/bin/env bash
# source-mllp's TLS against Python's ssl module (OpenSSL's client, not bppipe's code), with
# certificates made by `openssl` here, in a temporary folder: PCD-01 messages sent through TLS
# get their answers and land once; plain MLLP on the TLS port, a handshake that never comes, a
# client without a certificate or with one of another CA are refused (counted, logged once with
# the peer and the reason) without harming the others; answers the client does not read at once
# are kept and written later; `bppipe check` refuses a key that is not the certificate's, a key
# others can read, a certificate without its key.
set -u
fail=0
t=$(mktemp -d)
bp_pid=
trap '[ -n "$bp_pid" ] && kill -9 $bp_pid 2>/dev/null; rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
. "$BPPIPE_SOURCE_DIR/tests/mllp/lib.sh"
CLIENT=(/usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/mllp/mllp_tls_client.py")

# ---- certificates: two CAs, the listener's (for 127.0.0.1), a client of each CA -------------
umask 077
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ca() { openssl req -x509 "${newkey[@]}" -days 2 -subj "/CN=bppipe test $1" \
    -keyout "$t/$1.key" -out "$t/$1.crt" 2>/dev/null; }
leaf() { # NAME CA EXTENSIONS
    openssl req "${newkey[@]}" -subj "/CN=bppipe test $1" -keyout "$t/$1.key" \
        -out "$t/$1.csr" 2>/dev/null &&
        printf '%b\n' "$3" >"$t/$1.ext" &&
        openssl x509 -req -in "$t/$1.csr" -CA "$t/$2.crt" -CAkey "$t/$2.key" -CAcreateserial \
            -days 2 -extfile "$t/$1.ext" -out "$t/$1.crt" 2>/dev/null
}
ca ca1 && ca ca2 &&
    leaf server ca1 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth' &&
    leaf client1 ca1 'extendedKeyUsage=clientAuth' &&
    leaf client2 ca2 'extendedKeyUsage=clientAuth' || { echo "FAIL openssl made no certificates"; exit 1; }

ini() { # FILE [SOURCE LINES...]
    local file=$1
    shift
    {
        printf '[pipeline]\nbatch_size = 50\nstats_interval = 0\n\n'
        printf '[source.mllp]\nplugin = source-mllp\nlisten = 127.0.0.1:0\nport_file = %s\n' "$t/port"
        for line in "$@"; do printf '%s\n' "$line"; done
        printf '\n[sink.archive]\nplugin = sink-file\nroute = all\nlayout = per-record\n'
        printf 'path = %s\n' "$t/archive"
        printf '\n[sink.dead]\nplugin = sink-file\nroute = invalid\npath = %s\n' "$t/dead"
    } >"$file"
}
tls=("tls_cert_file = $t/server.crt" "tls_key_file = $t/server.key")

# ---- bppipe check: what is wrong with the files, in words --------------------------------
ini "$t/ok.ini" "${tls[@]}" "tls_ca_file = $t/ca1.crt"
check "check accepts the certificate, its key and a CA file" \
    "'$BPPIPE' check --offline '$t/ok.ini' 2>'$t/check.err'"
ini "$t/pair.ini" "tls_cert_file = $t/server.crt" "tls_key_file = $t/client1.key"
"$BPPIPE" check --offline "$t/pair.ini" 2>"$t/pair.err"
check "check refuses a key that is not the certificate's, saying so" \
    "[ $? != 0 ] && grep -q 'client1.key is not the private key of the certificate in tls_cert_file' '$t/pair.err'"
cp "$t/server.key" "$t/open.key" && chmod 644 "$t/open.key"
ini "$t/open.ini" "tls_cert_file = $t/server.crt" "tls_key_file = $t/open.key"
"$BPPIPE" check --offline "$t/open.ini" 2>"$t/open.err"
check "check refuses a key others can read, saying to chmod 600 it" \
    "[ $? != 0 ] && grep -q 'other users can read or write it (mode 644).*chmod 600' '$t/open.err'"
ini "$t/half.ini" "tls_cert_file = $t/server.crt"
"$BPPIPE" check --offline "$t/half.ini" 2>"$t/half.err"
check "check refuses a certificate without its key" \
    "[ $? != 0 ] && grep -q 'tls_cert_file is set without tls_key_file' '$t/half.err'"

# ---- TLS without client certificates --------------------------------------------------------
"${TOOL[@]}" gen 20 "$t/a.mllp" --first 0
"${TOOL[@]}" gen 1 "$t/plain.mllp" --first 100
"${TOOL[@]}" gen 40 "$t/pipe.mllp" --first 200
ini "$t/tls.ini" "${tls[@]}" "idle_timeout_s = 2"
bp_start "$t/tls.ini" "$t/err" --summary-json "$t/sum.json" || exit 1
check "the listener says it speaks TLS" "grep -q 'MLLP listener on 127.0.0.1:[0-9]* (TLS)' '$t/err'"
"${CLIENT[@]}" stall "$t/port" >"$t/stall.out" &
stall_pid=$!
"${CLIENT[@]}" send "$t/port" "$t/a.mllp" "$t/ca1.crt" >"$t/a.out" 2>&1
check "a TLS client gets an AA for each of its 20 messages" \
    "[ \$(grep -c '^M0000[0-9][0-9] AA$' '$t/a.out') = 20 ]"
"${CLIENT[@]}" plain "$t/port" "$t/plain.mllp" >"$t/plain.out" 2>&1
check "plain MLLP on the TLS port is closed without an answer" \
    "grep -qx 'closed without an answer' '$t/plain.out'"
"${CLIENT[@]}" pipelined "$t/port" "$t/pipe.mllp" "$t/ca1.crt" --fat 200000 >"$t/pipe.out" 2>&1
check "40 messages sent before any answer is read (8 MB of answers: the listener must wait to write) all get their AA, in order" \
    "[ \$(grep -c ' AA$' '$t/pipe.out') = 40 ] && [ \"\$(cut -d' ' -f1 '$t/pipe.out')\" = \"\$(seq -f 'M%06g' 200 239)\" ]"
wait "$stall_pid"
check "a handshake that never comes is closed by the idle timeout" \
    "grep -qx 'closed by the listener' '$t/stall.out'"
bp_stop
check "bppipe stops cleanly (exit 0)" "[ $? = 0 ]"
c() { j "$t/sum.json" "d['counters']['source.mllp'].get('$1', -1)"; }
check "the plain client is counted as a failed handshake (and no message from it)" \
    "[ \$(c tls_handshake_failed) = 1 ] && [ \$(c messages) = 60 ] && [ \$(c tls_handshakes) = 2 ]"
check "the stalled handshake was closed by the idle timeout" "[ \$(c connections_idle_closed) = 1 ]"
check "the failure is logged with the peer and OpenSSL's reason, without the payload" \
    "grep -q 'TLS handshake with 127.0.0.1:[0-9]* failed: [a-z]' '$t/err' && ! grep -q 'MSH' '$t/err'"
archive_ids >"$t/ids"
check "every reading landed once (60)" \
    "[ \$(wc -l <'$t/ids') = 60 ] && [ \$(sort -u '$t/ids' | wc -l) = 60 ]"

# ---- client certificates required (tls_ca_file) ---------------------------------------------
rm -rf "$t/archive"
ini "$t/mtls.ini" "${tls[@]}" "tls_ca_file = $t/ca1.crt"
bp_start "$t/mtls.ini" "$t/err2" --summary-json "$t/sum2.json" || exit 1
"${TOOL[@]}" gen 3 "$t/b.mllp" --first 500
"${CLIENT[@]}" send "$t/port" "$t/b.mllp" "$t/ca1.crt" >"$t/none.out" 2>&1
check "a client without a certificate is refused" "grep -q '^refused:' '$t/none.out'"
"${CLIENT[@]}" send "$t/port" "$t/b.mllp" "$t/ca1.crt" --cert "$t/client2.crt" \
    --key "$t/client2.key" >"$t/other.out" 2>&1
check "a client with a certificate of another CA is refused" "grep -q '^refused:' '$t/other.out'"
"${CLIENT[@]}" send "$t/port" "$t/b.mllp" "$t/ca1.crt" --cert "$t/client1.crt" \
    --key "$t/client1.key" >"$t/good.out" 2>&1
check "a client with a certificate of tls_ca_file's CA gets its 3 AA" \
    "[ \$(grep -c ' AA$' '$t/good.out') = 3 ]"
bp_stop
check "bppipe stops cleanly (exit 0)" "[ $? = 0 ]"
check "both refusals counted, only the accepted client's messages read" \
    "[ \$(j '$t/sum2.json' \"d['counters']['source.mllp']['tls_handshake_failed']\") = 2 ] && [ \$(j '$t/sum2.json' \"d['counters']['source.mllp']['messages']\") = 3 ]"
check "the refusals say why: no certificate, an issuer not trusted" \
    "grep -q 'failed: peer did not return a certificate' '$t/err2' && grep -q 'failed: client certificate refused: unable to get local issuer certificate' '$t/err2'"
check "the accepted client's readings landed once (3)" "[ \$(archive_ids | sort -u | wc -l) = 3 ]"
[ $fail = 0 ] || tail -n 20 "$t/err" "$t/err2" "$t"/*.out
exit $fail
