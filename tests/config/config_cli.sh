#!/usr/bin/env bash
# `bppipe check` on broken pipelines: exit 2 and a line naming file, line, section and key.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/out"
good() {
    cat <<INI
[pipeline]
batch_size = 50
[source.ward]
plugin = source-faker
count = 10
rate = 0
[detector.rules]
plugin = detector-rules
[sink.archive]
plugin = sink-file
route = normal
path = $t/out
INI
}
expect() { # expect NAME STATUS PATTERN [extra args...]
    local name=$1 want=$2 pattern=$3
    shift 3
    "$BPPIPE" check "$t/p.ini" "$@" >"$t/log" 2>&1
    local got=$?
    if [ "$got" != "$want" ] || ! grep -q -- "$pattern" "$t/log"; then
        echo "FAIL $name: status $got (want $want)"; cat "$t/log"; fail=1
    else
        echo "ok   $name"
    fi
}
good >"$t/p.ini"
expect "a good pipeline checks" 0 "is valid"

good | sed 's/^path = /pth = /' >"$t/p.ini"
expect "misspelt key" 2 "p.ini:12: \[sink.archive\] unknown key 'pth' (did you mean 'path'?)"
good | sed 's/^route = normal/route = sometimes/' >"$t/p.ini"
expect "bad route" 2 "p.ini:11: \[sink.archive\] key 'route': 'sometimes' is not one of"
good | sed 's/^batch_size = 50/batch_size = 0/' >"$t/p.ini"
expect "pipeline key out of bounds" 2 "p.ini:2: \[pipeline\] key 'batch_size': 0 is out of bounds"
good | sed 's/^count = 10/count = many/' >"$t/p.ini"
expect "wrong type" 2 "p.ini:5: \[source.ward\] key 'count': 'many' is not an integer"
good | sed 's/^plugin = detector-rules/plugin = sink-file/' >"$t/p.ini"
expect "plugin of the wrong kind" 2 "'sink-file' is a sink plugin, not a detector"
good | grep -v '^plugin = detector-rules' >"$t/p.ini"
expect "missing plugin key" 2 "p.ini:7: \[detector.rules\] missing required key 'plugin'"
good | grep -v '^path = ' >"$t/p.ini"
expect "missing required key" 2 "\[sink.archive\] missing required key 'path'"
# a key given twice (the appended one lands in [sink.archive], which has no 'rate')
{ good; echo "path = $t/other"; } >"$t/p.ini"
expect "duplicate key" 2 "p.ini:13: \[sink.archive\] key 'path' is given twice (first at line 12)"
good | sed 's/^\[sink.archive\]/[sinks.archive]/' >"$t/p.ini"
expect "unknown section" 2 "p.ini:9: unknown section \[sinks.archive\]"
good | sed 's/^count = 10/count = ${BPPIPE_TEST_NOT_SET}/' >"$t/p.ini"
expect "undefined variable" 2 "environment variable BPPIPE_TEST_NOT_SET is not set"
good | sed 's/^count = 10/count = ${BPPIPE_TEST_NOT_SET:-12}/' >"$t/p.ini"
expect "variable default" 0 "is valid"
good >"$t/p.ini"
expect "override with a bad value" 2 "\-o: \[sink.archive\] key 'layout'" -o sink.archive.layout=xml
expect "override swaps a plugin" 2 "'detector-rules' is a detector plugin, not a sink" \
    -o sink.archive.plugin=detector-rules
expect "override adds a section" 0 "2 sink(s)" -o sink.extra.plugin=sink-file -o sink.extra.path="$t/out2"
good | grep -v '^\[source.ward\]' | grep -v '^plugin = source-faker' | grep -v '^count' | grep -v '^rate' >"$t/p.ini"
expect "no source" 2 "no \[source.NAME\] section"
"$BPPIPE" check "$t/does-not-exist.ini" >"$t/log" 2>&1
[ $? = 2 ] && grep -q "cannot open pipeline file" "$t/log" && echo "ok   missing file" || { echo "FAIL missing file"; fail=1; }
# hostile files (issue 11): a device or a huge file is refused at once, not read into memory
start=$(date +%s)
timeout 20 "$BPPIPE" check /dev/zero >"$t/log" 2>&1
st=$?
[ $st = 2 ] && grep -q "/dev/zero: not a regular file" "$t/log" && [ $(( $(date +%s) - start )) -lt 5 ] \
    && echo "ok   /dev/zero is refused at once" || { echo "FAIL /dev/zero: status $st"; cat "$t/log"; fail=1; }
mkfifo "$t/fifo.ini"
timeout 20 "$BPPIPE" check "$t/fifo.ini" >"$t/log" 2>&1
st=$?
[ $st = 2 ] && grep -q "fifo.ini: not a regular file" "$t/log" \
    && echo "ok   a FIFO is refused without waiting for a writer" || { echo "FAIL fifo: status $st"; cat "$t/log"; fail=1; }
{ good; head -c 1100000 /dev/zero | tr '\0' ';'; echo; } >"$t/big.ini"
timeout 20 "$BPPIPE" check "$t/big.ini" >"$t/log" 2>&1
st=$?
[ $st = 2 ] && grep -q "big.ini: .* bytes, over the 1 MiB limit" "$t/log" \
    && echo "ok   a file over 1 MiB is refused" || { echo "FAIL big file: status $st"; cat "$t/log"; fail=1; }
# a UTF-8 byte-order mark at the start is skipped
{ printf '\xef\xbb\xbf'; good; } >"$t/p.ini"
expect "a UTF-8 BOM is accepted" 0 "is valid"
{ printf '\xef\xbb\xbf'; good | sed 's/^count = 10/count = many/'; } >"$t/p.ini"
expect "line numbers after a BOM" 2 "p.ini:5: \[source.ward\] key 'count'"
# a plugin is named, never reached by a path
good | sed 's|^plugin = detector-rules|plugin = ../../somewhere/x|' >"$t/p.ini"
expect "a plugin path is refused" 2 "p.ini:8: \[detector.rules\] key 'plugin': '../../somewhere/x' is not a plugin name"
good >"$t/p.ini"
expect "a plugin path given with -o is refused" 2 "is not a plugin name" -o "detector.rules.plugin=$BPPIPE_BUILD_DIR/plugins/detector-rules"
# -o never echoes a value, which may be a secret (issue 11)
good >"$t/p.ini"
expect "-o error names the key" 2 "-o sink.es.api_key: unterminated" -o 'sink.es.api_key=S3CRET${X'
grep -q S3CRET "$t/log" && { echo "FAIL -o echoed the secret:"; cat "$t/log"; fail=1; }
expect "-o without '=' is not echoed" 2 "no SECTION.KEY before '='" -o 'sink.es.api_key:S3CRET'
grep -q S3CRET "$t/log" && { echo "FAIL -o echoed the secret:"; cat "$t/log"; fail=1; }
expect "-o without a key is not echoed" 2 "-o sink.es=...: expected SECTION.KEY=VALUE" -o 'sink.es=S3CRET'
grep -q S3CRET "$t/log" && { echo "FAIL -o echoed the secret:"; cat "$t/log"; fail=1; }
if [ -f "$BPPIPE_BUILD_DIR/plugins/sink-es.so" ]; then
    # a secret option's value is never printed by check, right or wrong (port 1: nothing answers)
    { good; printf '[sink.es]\nplugin = sink-es\nurl = http://127.0.0.1:1\napi_key = S3CRET\n'; } >"$t/p.ini"
    "$BPPIPE" check "$t/p.ini" -o 'sink.es.password=S3CRET2' -o 'sink.es.username=u' >"$t/log" 2>&1
    grep -q S3CRET "$t/log" && { echo "FAIL check echoed a secret:"; cat "$t/log"; fail=1; } || echo "ok   check prints no secret value"
fi
# -o SECTION.plugin swaps a plugin, -u removes (issue 13; the shipped ward: tests/e2e/swap.sh)
good >"$t/p.ini"
echo '{}' >"$t/in.ndjson"
expect "a swap drops the old plugin's keys, naming them" 0 "dropped 2 keys of the file that source-file does not take: count, rate" \
    -o source.ward.plugin=source-file -o source.ward.path="$t/in.ndjson"
expect "a swap keeps the new plugin's -o keys whatever their order" 0 "is valid: source source-file" \
    -o source.ward.path="$t/in.ndjson" -o source.ward.plugin=source-file
expect "without the swap, the keys are still checked" 2 "unknown key 'path'" -o source.ward.path="$t/in.ndjson"
expect "-u removes a detector" 0 "0 detector(s)" -u detector.rules
expect "-u removes a key" 2 "missing required key 'path'" -u sink.archive.path
expect "-u of a missing section" 2 "-u sink.nothere: there is no section \[sink.nothere\]" -u sink.nothere
expect "-u of a missing key" 2 "-u sink.archive.pth: \[sink.archive\] has no key 'pth' to remove (did you mean 'path'?)" -u sink.archive.pth
expect "-u of the only sink" 2 "no \[sink.NAME\] section" -u sink.archive
good | sed 's/^count = 10/count = ${BPPIPE_TEST_NOT_SET}/' >"$t/p.ini"
expect "an undefined variable in a key the swap drops is no error" 0 "is valid" \
    -o source.ward.plugin=source-file -o source.ward.path="$t/in.ndjson"
expect "nor in a key -u removes" 0 "is valid" -u source.ward.count

# several problems are all reported at once
good | sed -e 's/^path = /pth = /' -e 's/^count = 10/count = x/' >"$t/p.ini"
expect "all problems at once" 2 "3 problems found"
exit $fail
