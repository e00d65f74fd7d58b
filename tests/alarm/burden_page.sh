#!/usr/bin/env bash
# The live page's alarm burden panel in headless Chromium (tests/live/browser.py): the live
# page's ward with [alarms] added by -o (every critical reading an alarm of condition crit)
# shows the panel with the pipeline's row and crit's; tests/live/live_page.sh checks it hidden
# without [alarms].
set -u
. "$(dirname "$0")/../wait.sh"
t=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && { wait_gone 10 "$pid" || kill -9 "$pid"; }
    wait 2>/dev/null
    rm -rf "$t"
}
trap cleanup EXIT
export LIVE_OUT=$t LIVE_MODEL=$BPPIPE_SOURCE_DIR/models/bp_logreg.json LIVE_TOKEN=burden-page-7 LIVE_N=6 LIVE_RATE=4
"$BPPIPE" run "$BPPIPE_SOURCE_DIR/tests/live/ward.ini" --duration 120 \
    -o alarms.crit.match=severity=critical -o alarms.crit.priority=high 2>"$t/err" &
pid=$!
wait_until 60 test -s "$t/port" || { echo "FAIL the ward did not listen"; cat "$t/err"; exit 1; }
LIVE_EXPECT_BURDEN=crit /usr/bin/python3 "$BPPIPE_SOURCE_DIR/tests/live/browser.py" \
    "http://$(cat "$t/port")/#token=$LIVE_TOKEN" "$LIVE_N" "$t/shot.png"
