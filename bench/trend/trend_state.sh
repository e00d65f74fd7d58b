#!/usr/bin/env bash
# detector-trend's state in the host (keyed state, ABI 1.5) with many patients, through the
# real plugin: source-faker's ward of PATIENTS patients, READINGS readings each, as fast as it
# goes, with and without detector-trend. Prints
#   - the encoded history per patient (the values and keys of the host's snapshot file), and
#   - the host's memory per patient: the difference of the two runs' peak RSS over PATIENTS.
# Usage: bench/trend/trend_state.sh [BUILD_DIR (build)] [PATIENTS (100000)] [READINGS (5)]
# Use a build without sanitizers (RelWithDebInfo).
set -eu
build=${1:-build}
patients=${2:-100000}
readings=${3:-5}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cat >"$t/p.ini" <<INI
[pipeline]
stats_interval = 0
[source.ward]
plugin = source-faker
patients = $patients
rate = 0
count = $((patients * readings))
seed = 7
start_time = 2026-01-01T00:00:00Z
[detector.trend]
plugin = detector-trend
max_patients = $patients
state_file = $t/trend.state
[sink.critical]
plugin = sink-file
route = critical
path = $t/out
INI
peak() { # peak RSS in KiB of: bppipe run ARGS...
    /usr/bin/time -f '%M' -o "$t/rss" "$build/bppipe" run "$t/p.ini" "$@" >/dev/null 2>"$t/err"
    cat "$t/rss"
}
with=$(peak)
grep -o 'detector.trend.*' "$t/err" | head -n3 || true
# The same run without the detector: the ward, decoding and the sink alone.
sed -i '/^\[detector.trend\]/,/^state_file/d' "$t/p.ini"
without=$(peak)
python3 - "$t/trend.state" "$patients" "$with" "$without" <<'PY'
import struct, sys
path, patients, with_kib, without_kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
b = open(path, "rb").read()
assert b[:8] == b"BPSTATE1"
at = 8
(n,) = struct.unpack_from("<I", b, at); at += 4 + n
keys = values = count = 0
sizes = {}
while at < len(b):
    (tl,) = struct.unpack_from("<I", b, at); at += 4
    if tl != 0xFFFFFFFF:
        at += tl
    at += 4  # partition
    (kl,) = struct.unpack_from("<I", b, at); at += 4 + kl
    (vl,) = struct.unpack_from("<I", b, at); at += 4 + vl
    keys += kl; values += vl; count += 1
    sizes[vl] = sizes.get(vl, 0) + 1
print("patients kept %d; encoded history %.1f bytes per patient (value sizes %s), key %.1f bytes;"
      " snapshot %.1f MB (%.1f bytes per patient)" % (count, values / count,
      ", ".join("%d: %d" % kv for kv in sorted(sizes.items())), keys / count, len(b) / 1e6,
      len(b) / count))
print("peak RSS %.1f MB with detector-trend, %.1f MB without: %.0f bytes per patient in the host"
      % (with_kib / 1024, without_kib / 1024, (with_kib - without_kib) * 1024 / patients))
PY
