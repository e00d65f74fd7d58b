#!/usr/bin/env bash
# The Debian packages, from the packages alone. Builds them (`--target package`, Release, in a
# build dir of its own kept between runs, so a rerun only rebuilds what changed), unpacks every
# .deb with dpkg-deb -x into an empty root (nothing is installed on this machine), and there:
# bppipe lists its plugins and runs the demo, and `bppipe broker` runs the broker of bppipe-kafka;
# from bppipe alone (no bppipe-kafka) the same work, and `bppipe broker` says what to install;
# the example plugin builds against the unpacked
# SDK (CMake package, and pkg-config), packages itself, is unpacked beside them and is listed
# and run by bppipe with nothing configured.
set -u
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1 ($2)"; fail=1; return 1; fi; }
show() { echo "---- $1"; tail -n 30 "$1"; }
cmake=${CMAKE_COMMAND:-cmake}
b="$BPPIPE_BUILD_DIR/packaging-build"
unset BPPIPE_PLUGIN_PATH BPPIPE_MODEL DPKG_ADMINDIR CMAKE_PREFIX_PATH PKG_CONFIG_PATH

# 1. the packages
rm -f "$b"/*.deb
"$cmake" -S "$BPPIPE_SOURCE_DIR" -B "$b" -DCMAKE_BUILD_TYPE=Release -DBPPIPE_TESTS=OFF \
    -DBPPIPE_BENCH=OFF >"$t/configure" 2>&1 &&
    "$cmake" --build "$b" -j2 --target package >"$t/build" 2>&1
st=$?
check "cmake --build --target package succeeds" "[ $st = 0 ]" ||
    { show "$t/configure"; show "$t/build"; exit 1; }
deb() { ls "$b"/"$1"_*.deb 2>/dev/null | head -n1; }
for p in bppipe bppipe-kafka bppipe-elasticsearch bppipe-dev; do
    check "$p .deb written" "[ -n '$(deb $p)' ]"
done
[ "$fail" = 0 ] || exit 1
field() { dpkg-deb -f "$(deb "$1")" "$2"; }
files() { dpkg-deb -c "$(deb "$1")" | awk '{print $6}' | sed 's#^\./#/#'; }
# depends PKG TEXT...: PKG's Depends holds every TEXT; holds PKG REGEX...: a file of PKG matches
# each REGEX; origin LIST NAME LINE: the line after plugin NAME's in LIST is LINE (spaces before)
depends() {
    local d; d=$(field "$1" Depends); shift
    for x; do grep -qF -- "$x" <<<"$d" || return 1; done
}
holds() {
    local f; f=$(files "$1"); shift
    for x; do grep -q -- "$x" <<<"$f" || return 1; done
}
origin() { grep -A1 "^$2 " "$1" | grep -qxF -- "$(printf '%19s%s' '' "$3")"; }
v=$(field bppipe Version)
check "bppipe's Depends come from its ELF files (dpkg-shlibdeps): libc, cJSON, inih" \
    "depends bppipe 'libc6 (>=' libcjson1 libinih1"
check "bppipe-kafka depends on librdkafka and on bppipe of its own version" \
    "depends bppipe-kafka librdkafka1 'bppipe (= $v)'"
check "bppipe's Depends name no librdkafka: leaving out bppipe-kafka leaves it out" \
    "! field bppipe Depends | grep -q rdkafka"
check "bppipe-elasticsearch depends on libcurl and zlib" \
    "depends bppipe-elasticsearch libcurl zlib1g"
check "bppipe-dev depends on bppipe of its own version" "depends bppipe-dev 'bppipe (= $v)'"
check "the Kafka plugins are in bppipe-kafka, not in bppipe" \
    "holds bppipe-kafka '/source-kafka\.so$' '/sink-kafka\.so$' && ! holds bppipe kafka"
check "the broker's helper is in bppipe-kafka, in lib/bppipe/ beside the plugin dir" \
    "holds bppipe-kafka '/lib/bppipe/bppipe-broker$' && ! holds bppipe broker"
check "sink-es is in bppipe-elasticsearch, not in bppipe" \
    "holds bppipe-elasticsearch '/sink-es\.so$' && ! holds bppipe sink-es"
check "bppipe installs the service unit where systemd looks (deploy/systemd)" \
    "holds bppipe '^/usr/lib/systemd/system/bppipe@\.service$'"
check "bppipe-dev holds the header, CMake package, pkg-config file and plugin guide" \
    "holds bppipe-dev '/include/bppipe/plugin\.h$' '/cmake/bppipe/bppipeConfig\.cmake$' \
         '/cmake/bppipe/bppipeConfigVersion\.cmake$' '/pkgconfig/bppipe\.pc$' \
         '/share/doc/.*/plugin-guide\.md$'"
all=bppipe\ bppipe-kafka\ bppipe-elasticsearch\ bppipe-dev
check "no file is in two packages" \
    "[ -z \"\$(for p in $all; do files \$p | grep -v '/\$'; done | sort | uniq -d)\" ]"

# 2. bppipe from the unpacked packages alone
r="$t/root"
mkdir "$r"
for p in bppipe bppipe-kafka bppipe-elasticsearch bppipe-dev; do dpkg-deb -x "$(deb $p)" "$r"; done
exe="$r/usr/bin/bppipe"
plugdir=$(dirname "$(find "$r" -name sink-file.so | head -n1)")
(cd "$t" && "$exe" plugins >"$t/plugins" 2>"$t/plugins.err")
check "the unpacked bppipe lists its plugins" "[ $? = 0 ] && [ ! -s '$t/plugins.err' ]"
for p in source-faker source-file source-kafka detector-rules detector-logreg detector-trend \
         sink-file sink-es sink-kafka sink-alert sink-capture; do
    check "  $p, from the unpacked plugin dir, as a file no package owns" \
        "origin '$t/plugins' $p 'file $plugdir/$p.so'"
done
check "and nothing from the build trees" "! grep -q '$BPPIPE_BUILD_DIR' '$t/plugins'"
# were the packages installed, bppipe would name them: a stand-in dpkg database holding the
# packages' own file lists (under the root) and versions
mkdir -p "$t/dpkg/info"
: >"$t/dpkg/status"
for p in bppipe bppipe-kafka; do
    files $p | sed "s#^#$r#" >"$t/dpkg/info/$p:amd64.list"
    printf 'Package: %s\nStatus: install ok installed\nVersion: %s\n\n' $p "$v" >>"$t/dpkg/status"
done
(cd "$t" && DPKG_ADMINDIR="$t/dpkg" "$exe" plugins >"$t/plugins.dpkg" 2>&1)
check "with the packages in dpkg's database, plugins names each one's package and version" \
    "origin '$t/plugins.dpkg' sink-file 'package bppipe $v, $plugdir/sink-file.so' &&
     origin '$t/plugins.dpkg' source-kafka 'package bppipe-kafka $v, $plugdir/source-kafka.so' &&
     origin '$t/plugins.dpkg' sink-es 'file $plugdir/sink-es.so'"
"$exe" broker --help >"$t/bhelp" 2>&1
check "the unpacked bppipe broker --help runs bppipe-kafka's helper" \
    "[ $? = 0 ] && head -n1 '$t/bhelp' | grep -q '^usage: bppipe broker '" || show "$t/bhelp"
"$exe" broker --quiet --bootstrap-file "$t/bootstrap" >/dev/null 2>"$t/broker.err" &
bpid=$!
for _ in $(seq 100); do [ -s "$t/bootstrap" ] && break; sleep 0.1; done
check "  and the broker starts (a bootstrap address on 127.0.0.1)" \
    "grep -q '^127\.0\.0\.1:[0-9]*$' '$t/bootstrap'" || show "$t/broker.err"
kill "$bpid" 2>/dev/null
wait "$bpid"
check "  and stops on SIGTERM (exit 0)" "[ $? = 0 ]"
share="$r/usr/share/bppipe"
(cd "$share" && BPPIPE_DEMO_DIR="$t/demo" "$exe" run pipelines/demo.ini --max-records 3000 \
    --summary-json "$t/sum.json" >"$t/demo.out" 2>"$t/demo.err")
st=$?
check "the demo pipeline runs from the unpacked share/bppipe (exit 0)" "[ $st = 0 ]" ||
    show "$t/demo.err"
j() { python3 -c "import json,sys; d=json.load(open('$t/sum.json')); print(eval(sys.argv[1]))" \
          "$1"; }
count() { cat "$t/demo/$1"/*.ndjson 2>/dev/null | wc -l | tr -d ' '; }
check "3000 readings in, books balance against the files written" \
    "[ $(j "d['readings_in']") = 3000 ] &&
     [ $(j "d['anomaly']+d['normal']+d['invalid']") = 3000 ] &&
     [ $(count anomalies) = $(j "d['anomaly']") ] && [ $(count normal) = $(j "d['normal']") ]"
check "the packaged model scored the anomalies" "grep -q ml_risk_score '$t/demo'/anomalies/*.ndjson"

# 2b. bppipe without bppipe-kafka: no librdkafka, plugins and the demo work, the broker is absent
r0="$t/root0"
mkdir "$r0"
dpkg-deb -x "$(deb bppipe)" "$r0"
exe0="$r0/usr/bin/bppipe"
check "bppipe alone links no librdkafka" "ldd '$exe0' >'$t/ldd0' && ! grep -q rdkafka '$t/ldd0'"
(cd "$t" && "$exe0" plugins >"$t/plugins0" 2>"$t/plugins0.err")
check "bppipe alone lists its plugins, and no Kafka plugin" \
    "[ $? = 0 ] && [ ! -s '$t/plugins0.err' ] && grep -q '^sink-file ' '$t/plugins0' &&
     ! grep -q kafka '$t/plugins0'"
(cd "$r0/usr/share/bppipe" && BPPIPE_DEMO_DIR="$t/demo0" "$exe0" run pipelines/demo.ini \
    --max-records 1000 >/dev/null 2>"$t/demo0.err")
check "bppipe alone runs the demo (exit 0, documents written)" \
    "[ $? = 0 ] && ls '$t/demo0'/*/*.ndjson >/dev/null 2>&1" || show "$t/demo0.err"
"$exe0" broker --quiet >"$t/broker0.out" 2>"$t/broker0.err"
st=$?
check "bppipe alone: bppipe broker exits 2, one line naming bppipe-kafka, nothing else" \
    "[ $st = 2 ] && [ ! -s '$t/broker0.out' ] && [ \$(wc -l <'$t/broker0.err') = 1 ] &&
     grep -q 'bppipe-broker, which is not installed: it comes in the bppipe-kafka package' \
         '$t/broker0.err'" || show "$t/broker0.err"

# 3. the example plugin against the unpacked SDK: CMake package, pkg-config, its own .deb
ex="$r/usr/share/doc/bppipe/examples/detector-pulse-pressure"
check "bppipe-dev ships the example" \
    "[ -f '$ex/CMakeLists.txt' ] && [ -f '$ex/detector_pulse_pressure.c' ]"
"$cmake" -S "$ex" -B "$t/ex" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$r/usr" \
    >"$t/ex.configure" 2>&1 && "$cmake" --build "$t/ex" --target package >"$t/ex.build" 2>&1
st=$?
check "the example builds and packages itself with find_package(bppipe) from the root" \
    "[ $st = 0 ]" || { show "$t/ex.configure"; show "$t/ex.build"; }
check "  against the unpacked header" \
    "grep -qF -- '$r/usr/include' '$t/ex/CMakeFiles/detector-pulse-pressure.dir/flags.make'"
exdeb=$(ls "$t"/ex/bppipe-detector-pulse-pressure_*.deb 2>/dev/null | head -n1)
check "its .deb is written" "[ -n '$exdeb' ]"
if [ -n "$exdeb" ]; then
    check "  installs the plugin into bppipe's plugin dir, nothing else" \
        "[ \"\$(dpkg-deb -c '$exdeb' | awk '{print \$6}' | grep -v '/\$')\" = \
           './${plugdir#$r/}/detector-pulse-pressure.so' ]"
    check "  depends on bppipe and on what dpkg-shlibdeps found (libc)" \
        "dpkg-deb -f '$exdeb' Depends | grep -q 'bppipe (>=' &&
         dpkg-deb -f '$exdeb' Depends | grep -q libc6"
    dpkg-deb -x "$exdeb" "$r"
fi
(cd "$t" && "$exe" plugins >"$t/plugins" 2>&1)
check "the unpacked bppipe lists the unpacked example, with nothing configured" \
    "origin '$t/plugins' detector-pulse-pressure 'file $plugdir/detector-pulse-pressure.so'"
(cd "$share" && BPPIPE_DEMO_DIR="$t/demo2" "$exe" run pipelines/demo.ini --max-records 500 \
    -o detector.pp.plugin=detector-pulse-pressure >/dev/null 2>"$t/demo2.err")
check "and runs it in the demo: readings carry its pp_mmhg" \
    "[ $? = 0 ] && grep -q '\"pp_mmhg\"' '$t/demo2'/*/*.ndjson" || show "$t/demo2.err"

# pkg-config from the unpacked root: the header's folder and the plugin dir
pc() { PKG_CONFIG_PATH="$(dirname "$(find "$r" -name bppipe.pc | head -n1)")" pkg-config "$@"; }
inc=$(pc --cflags-only-I bppipe-plugin | sed 's/^-I//; s/ *$//')
check "pkg-config bppipe-plugin gives the unpacked include dir" "[ -f '$inc/bppipe/plugin.h' ]"
check "pkg-config's plugindir is where bppipe searches" \
    "[ \"\$(realpath \"\$(pc --variable=plugindir bppipe)\")\" = '$plugdir' ]"
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -Wl,--no-undefined \
    $(pc --cflags bppipe-plugin) "$ex/detector_pulse_pressure.c" -o "$t/pp.so" -lm 2>"$t/cc"
check "the example compiles with pkg-config's flags alone" "[ $? = 0 ]" || show "$t/cc"
exit $fail
