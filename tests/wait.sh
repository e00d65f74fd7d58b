# Waiting on conditions, for the script tests (sourced). A test waits for what it needs (a file,
# a port file, a count, a line that records a state change, a process gone), never for a fixed
# time: on a loaded machine or under a sanitizer everything is slower, and a fixed sleep is then
# too short, while on a quiet one it is time lost. A deadline only bounds a hang, so it is
# generous, and it is scaled by BPPIPE_TEST_SLOW (tests/CMakeLists.txt sets it higher for the
# sanitizer builds, whose processes run several times slower).
#
#   wait_until SECONDS COMMAND...  runs COMMAND every 20 ms until it succeeds (0), or 1 once
#                                  SECONDS x BPPIPE_TEST_SLOW have passed. Every 20 ms: a test
#                                  that must act mid-run (a kill at a quarter of the topic) sees
#                                  the moment.
#   wait_until_costly SECONDS COMMAND...
#                                  the same for a COMMAND that costs (a parse of all that was
#                                  written): it looks again after 20 ms, then less often, up to
#                                  every 0.5 s, so it does not take a core from what it waits for.
#   wait_gone SECONDS PID          wait_until the process PID has exited (it may be a child).
#   slow_s SECONDS                 SECONDS x BPPIPE_TEST_SLOW, for a `timeout` around a command.

slow_s() { echo $(($1 * ${BPPIPE_TEST_SLOW:-1})); }

_wait() { # MAX_PAUSE SECONDS COMMAND...
    local max=$1 deadline=$((SECONDS + $(slow_s "$2"))) pause=0.02
    shift 2
    while :; do
        "$@" && return 0
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep "$pause"
        [ "$pause" = "$max" ] && continue
        case $pause in
        0.02) pause=0.05 ;; 0.05) pause=0.1 ;; 0.1) pause=0.2 ;; 0.2) pause=0.5 ;;
        esac
    done
}
wait_until() { _wait 0.02 "$@"; }
wait_until_costly() { _wait 0.5 "$@"; }

_wait_gone() { ! kill -0 "$1" 2>/dev/null; }
wait_gone() { wait_until "$1" _wait_gone "$2"; }
