#!/usr/bin/env bash
# sink-file honours revisions (issue 26; docs/plugins/sink-file.md, "Revisions"), fed by
# sink_feed (records the host's decoder made, with logical id, version and revision set on them,
# until the decoders and the engine set them). per-record: a reading with a logical id is
# obs_<id>.json; a newer version replaces it whole and the replaced file stays as
# obs_<id>~v<version>.json; a retraction puts a tombstone there the same way; an older version or
# the same one again changes nothing; a retraction of what the folder never held writes
# nothing. ndjson: every version and the tombstone are lines. Then kill -9 in the middle of a
# group of replacements: every name holds a whole document, the old version or the new one.
set -u
. "$(dirname "$0")/../wait.sh"
fail=0
t=$(mktemp -d)
feed_pid=
trap '[ -n "$feed_pid" ] && kill -9 "$feed_pid" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; fi; }
feed="$BPPIPE_BUILD_DIR/tests/plugins/sink_feed"
so="$BPPIPE_BUILD_DIR/plugins/sink-file.so"
py=/usr/bin/python3
field() { # field FILE KEY: a top-level field of a JSON file
    "$py" -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$1" "$2"
}
rec() { "$feed" "$so" -o "path=$t/rec" -o layout=per-record >>"$t/rec.out" 2>>"$t/rec.err"; }

# ID PATIENT SYS DIA MINUTE CRITICAL LOGICAL_ID VERSION REVISION
printf 'a1 P1 190 125 0 1 L1 1 -\n' | rec
check "a first version is named by its logical id" "[ -f '$t/rec/obs_L1.json' ] && [ \$(field '$t/rec/obs_L1.json' systolic_pressure) = 190 ]"
printf 'a1c P1 130 85 0 0 L1 2 replace\n' | rec
check "a newer version replaces the file" "[ \$(field '$t/rec/obs_L1.json' systolic_pressure) = 130 ] && [ \$(field '$t/rec/obs_L1.json' revision) = replace ]"
check "the replaced version is its trail" "[ \$(field '$t/rec/obs_L1~v1.json' systolic_pressure) = 190 ] && [ \$(field '$t/rec/obs_L1~v1.json' version) = 1 ]"
printf 'a1 P1 190 125 0 1 L1 1 -\nwrite\na1c P1 130 85 0 0 L1 2 replace\n' | rec
check "a replayed older version and the same version again change nothing" "[ \$(field '$t/rec/obs_L1.json' systolic_pressure) = 130 ] && [ \$(ls '$t/rec' | wc -l) = 2 ]"
check "and are delivered" "[ \$(grep -c '^a1 delivered' '$t/rec.out') = 2 ] && [ \$(grep -c '^a1c delivered' '$t/rec.out') = 2 ]"
printf 'a1x P1 - - 0 0 L1 3 retract\n' | rec
check "a retraction puts the tombstone in its place" "[ \$(field '$t/rec/obs_L1.json' revision) = retract ] && [ \$(field '$t/rec/obs_L1.json' systolic_pressure) = None ] && [ \$(field '$t/rec/obs_L1.json' logical_id) = L1 ]"
check "the retracted version is kept as a trail" "[ \$(field '$t/rec/obs_L1~v2.json' systolic_pressure) = 130 ]"
printf 'a1c P1 130 85 0 0 L1 2 replace\nwrite\na1x P1 - - 0 0 L1 3 retract\n' | rec
check "a replay after the retraction does not bring the reading back" "[ \$(field '$t/rec/obs_L1.json' revision) = retract ] && [ \$(ls '$t/rec' | wc -l) = 3 ]"
printf 'z9 P1 - - 0 0 L9 2 retract\n' | rec
check "a retraction of what the folder never held writes nothing, delivered" "[ ! -e '$t/rec/obs_L9.json' ] && grep -q '^z9 delivered' '$t/rec.out'"
# Two versions of one logical id in one write, the newer first: the newer stays.
printf 'b5 P2 150 95 1 0 L2 5 replace\nb4 P2 140 90 1 0 L2 4 replace\n' | rec
check "within one write the newer version wins whatever the order" "[ \$(field '$t/rec/obs_L2.json' version) = 5 ]"
# The same across two groups of one write (ulimit -n 256: groups of 32 files), and across two
# writes of one run: the newer version was named after the older one's group was written, and
# the name it took (not in the folder at the first write, so not looked up then: the name filter)
# is looked up when the older one is decided.
{
    echo "e9 P5 150 95 1 0 L5 9 replace"
    for i in $(seq 1 40); do echo "f$i P5 120 80 1 0 F$i 1 -"; done
    echo "e8 P5 140 90 1 0 L5 8 replace"
    echo write
    echo "e7 P5 130 85 1 0 L5 7 replace"
} | (ulimit -n 256 && exec "$feed" "$so" -o "path=$t/rec" -o layout=per-record) >>"$t/rec.out" 2>>"$t/rec.err"
check "across groups and writes of one run the newer version stays" "[ \$(field '$t/rec/obs_L5.json' version) = 9 ] && [ ! -e '$t/rec/obs_L5~v9.json' ] && grep -q '^e8 delivered' '$t/rec.out' && grep -q '^e7 delivered' '$t/rec.out'"
# Versions unknown: the last wins, with a trail named by the replaced document's hash; the
# original never undoes its correction.
printf 'c1 P3 180 110 2 0 L3 0 -\n' | rec
printf 'c2 P3 120 80 2 0 L3 0 replace\n' | rec
printf 'c1 P3 180 110 2 0 L3 0 -\n' | rec
check "unknown versions: the correction stands" "[ \$(field '$t/rec/obs_L3.json' systolic_pressure) = 120 ]"
check "unknown versions: the trail is named by a hash" "ls '$t/rec' | grep -qE '^obs_L3~h[0-9a-f]{16}\\.json\$' && [ \$(ls '$t/rec' | grep -c '^obs_L3~') = 1 ]"
# A reading without a logical id keeps the original archive's name.
printf 'd1 P4 118 76 3 0 - 0 -\n' | rec
check "no logical id: the original name" "ls '$t/rec' | grep -qE '^P4_none_20260301_080300_d1\\.json\$'"
check "files 0640, no temporary file left" "[ -z \"\$(find '$t/rec' -type f ! -perm 640)\" ] && ! ls -a '$t/rec' | grep -q tmp"
check "every file is whole JSON" "for f in '$t'/rec/*; do \"$py\" -c 'import json,sys; json.load(open(sys.argv[1]))' \"\$f\" || exit 1; done"
check "no record refused, no error" "! grep -q rejected '$t/rec.out' && [ ! -s '$t/rec.err' ]"

# ndjson: the trail is the file itself
printf 'a1 P1 190 125 0 1 L1 1 -\na1c P1 130 85 0 0 L1 2 replace\na1x P1 - - 0 0 L1 3 retract\n' |
    "$feed" "$so" -o "path=$t/nd" >"$t/nd.out" 2>&1
nd=$(ls "$t"/nd/*.ndjson 2>/dev/null | head -n1)
check "ndjson: each version and the tombstone are appended" "[ -n '$nd' ] && [ \$(wc -l <'$nd') = 3 ] && \"$py\" -c '
import json,sys
d=[json.loads(l) for l in open(sys.argv[1])]
assert [x.get(\"revision\") for x in d]==[None,\"replace\",\"retract\"], d
assert [x.get(\"version\") for x in d]==[1,2,3] and d[2].get(\"systolic_pressure\") is None
' '$nd'"

# kill -9 in the middle of replacements: 2000 logical ids at version k, written in groups of 64
# files (ulimit -n 512: an eighth of it), killed once a first trail of this round is there
# (between the trails and the renames of a group, or between groups), then written again to the
# end as a replay would. At every kill each name holds a whole document of version k-1 or k.
kf="$t/kill"
mkdir -p "$kf"
N=2000
gen() { for i in $(seq 1 $N); do echo "k$i-$1 PK 1$((i % 90 + 10)) 80 4 0 K$i $1 $2"; done; }
kfeed() { (ulimit -n 512 && exec "$feed" "$so" -o "path=$kf" -o layout=per-record); }
gen 1 - | kfeed >/dev/null 2>&1
killed=0
for k in 2 3 4 5 6; do
    gen "$k" replace >"$t/gen"
    kfeed <"$t/gen" >/dev/null 2>&1 &
    feed_pid=$!
    wait_until 30 eval "ls '$kf' | grep -q '~v$((k - 1))\\.json\$' || ! kill -0 $feed_pid 2>/dev/null"
    kill -9 "$feed_pid" 2>/dev/null && killed=$((killed + 1))
    wait "$feed_pid" 2>/dev/null
    feed_pid=
    check "kill -9 at round $k: every name whole, version $((k - 1)) or $k" "\"$py\" - '$kf' $k $N <<'PY'
import json, os, sys
d, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(1, n + 1):
    doc = json.load(open(os.path.join(d, 'obs_K%d.json' % i)))
    assert doc['version'] in (k - 1, k), (i, doc['version'])
PY"
    kfeed <"$t/gen" >/dev/null 2>&1
done
echo "kills that hit a running write: $killed of 5"
check "the kills hit a running write (at least one)" "[ $killed -ge 1 ]"
check "after the replays: every name at version 6, every trail of 1 to 5 kept" "\"$py\" - '$kf' $N <<'PY'
import json, os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    assert json.load(open(os.path.join(d, 'obs_K%d.json' % i)))['version'] == 6
    for v in range(1, 6):
        assert json.load(open(os.path.join(d, 'obs_K%d~v%d.json' % (i, v))))['version'] == v, (i, v)
PY"
exit $fail
