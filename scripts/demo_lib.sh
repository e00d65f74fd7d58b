# What scripts/demo.sh and scripts/demo-monitors.sh share (sourced; both set $out first).

# demo_stop NAME PID: SIGTERM, up to 30 s for a clean exit, then SIGKILL; writes the exit status
# to $out/NAME.rc, where the books (scripts/demo_books.py) read it.
demo_stop() {
    local pid=$2
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bppipe demo: $1 (pid $pid) did not stop in 30 s: killed" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    echo "$rc" >"$out/$1.rc"
}
