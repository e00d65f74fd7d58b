#!/usr/bin/env bash
# The ward's live page in a real browser (docs/live-page.md): a simulated ward with the rules,
# the model, a sink-alert sink and file sinks, its listener on a free port with a bearer token;
# headless Chromium opens /#token=... and tests/live/browser.py checks what it renders. The
# screenshot stays in the build tree: LIVE_SHOT.
set -u
t=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT
export LIVE_OUT=$t LIVE_MODEL=$BPPIPE_SOURCE_DIR/models/bp_logreg.json LIVE_TOKEN=live-test-token-7c2 LIVE_N=6 LIVE_RATE=2
"$BPPIPE" run "$BPPIPE_SOURCE_DIR/tests/live/ward.ini" --duration 120 2>"$t/err" &
pid=$!
for _ in $(seq 1 100); do [ -s "$t/port" ] && break; sleep 0.1; done
[ -s "$t/port" ] || { echo "FAIL the ward did not listen"; cat "$t/err"; exit 1; }
addr=$(cat "$t/port")
echo "page: http://$addr/"
/usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/live/browser.py" "http://$addr/#token=$LIVE_TOKEN" "$LIVE_N" \
    "$LIVE_SHOT"
rc=$?
lines=$(cat "$t/alerts.ndjson" 2>/dev/null | wc -l)
if [ "$lines" -gt 0 ]; then echo "ok   the alert sink wrote $lines alert(s)"; else
    echo "FAIL the alert sink wrote nothing"; rc=1; fi
kill "$pid" 2>/dev/null
wait "$pid"
ec=$?
pid=
[ "$ec" = 0 ] || { echo "FAIL the ward exited $ec"; tail -5 "$t/err"; rc=1; }
exit $rc
