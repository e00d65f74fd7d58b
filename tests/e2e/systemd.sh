#!/usr/bin/env bash
# deploy/systemd/bppipe@.service: systemd-analyze verify finds nothing to say about it (with
# ExecStart pointed at the bppipe under test), it is sandboxed and Type=notify, and bppipe
# speaks the notify protocol: READY=1 once the pipeline is open, STOPPING=1 when the run ends,
# to a path socket and to an abstract one; without NOTIFY_SOCKET it runs as before.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
unit="$BPPIPE_SOURCE_DIR/deploy/systemd/bppipe@.service"

sed "s|^ExecStart=/usr/bin/bppipe |ExecStart=$BPPIPE |" "$unit" >"$t/bppipe@ward.service"
systemd-analyze verify "$t/bppipe@ward.service" >"$t/verify" 2>&1
st=$?
check "systemd-analyze verify accepts the unit without a remark" "[ $st = 0 ] && [ ! -s '$t/verify' ]" || cat "$t/verify"
for key in Type=notify Restart=on-failure DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes \
           CapabilityBoundingSet= PrivateTmp=yes 'StateDirectory=bppipe/%i' UMask=0077 \
           'ExecStart=/usr/bin/bppipe run /etc/bppipe/%i.ini' 'ExecReload=/bin/kill -HUP $MAINPID'; do
    check "the unit sets $key" "grep -qxF '$key' '$unit'"
done

cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
[source.ward]
plugin = source-faker
count = 20
rate = 0
[sink.out]
plugin = sink-file
path = $t/out
INI
# listen.py SOCKET OUT: receives datagrams until STOPPING=1 (or 30 s), one per line in OUT.
cat >"$t/listen.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind("\0" + name[1:] if name.startswith("@") else name)
s.settimeout(30)
with open(sys.argv[2], "w") as out:
    open(sys.argv[2] + ".ready", "w").close()
    try:
        while True:
            msg = s.recv(4096).decode()
            out.write(msg + "\n")
            out.flush()
            if msg == "STOPPING=1":
                break
    except socket.timeout:
        pass
PY
for sock in "$t/notify" "@bppipe-test-$$"; do
    rm -f "$t/got" "$t/got.ready"
    /usr/bin/python3 "$t/listen.py" "$sock" "$t/got" &
    lp=$!
    for _ in $(seq 100); do [ -f "$t/got.ready" ] && break; sleep 0.05; done
    NOTIFY_SOCKET=$sock "$BPPIPE" run "$t/p.ini" 2>"$t/err"
    st=$?
    wait $lp
    check "with NOTIFY_SOCKET=$sock: READY=1, then STOPPING=1 (exit $st)" \
        "[ $st = 0 ] && [ \"\$(cat '$t/got' | tr '\n' ' ')\" = 'READY=1 STOPPING=1 ' ]"
done
rm -rf "$t/out"
NOTIFY_SOCKET= "$BPPIPE" run "$t/p.ini" 2>"$t/err"
check "without NOTIFY_SOCKET the run is as before" "[ $? = 0 ] && [ \$(cat '$t'/out/*.ndjson | wc -l) = 20 ]"
exit $fail
