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

# demo_setup BUILD: Debian's packages and a RelWithDebInfo build in BUILD, unless
# BPPIPE_DEMO_SKIP_SETUP=1 says to use BUILD as it is.
demo_setup() {
    [ "${BPPIPE_DEMO_SKIP_SETUP:-}" = 1 ] && return 0
    bash scripts/setup-debian.sh
    cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$1" -j"$(nproc)" >/dev/null
}
