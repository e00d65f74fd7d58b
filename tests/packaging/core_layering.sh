#!/usr/bin/env bash
# The core never reaches into plugins: no file under core/ includes a header that lives under
# plugins/ (by path or by a name only a plugin folder holds), and src/CMakeLists.txt names
# no path under plugins/ and no library target a plugin folder defines. Code both need lives
# in lib/ (the clinical rules and model: lib/clinical).
set -u
src=${1:-$BPPIPE_SOURCE_DIR}
fail=0
bad() { echo "FAIL $*"; fail=1; }

# Headers anywhere but under plugins/: what a core include may resolve to.
declare -A plugin_only=()
allowed=$(cd "$src" && find src include lib -name '*.h' -printf '%f\n' 2>/dev/null | sort -u)
for h in $(cd "$src" && find plugins -name '*.h' -printf '%f\n' | sort -u |
           comm -23 - <(printf '%s\n' "$allowed")); do
    plugin_only[$h]=1
done
while read -r file inc; do
    case "$inc" in
        *plugins/*) bad "$file includes $inc, a path under plugins/" ;;
    esac
    if [ -n "${plugin_only[${inc##*/}]:-}" ]; then
        bad "$file includes $inc, a header only plugins/ holds"
    fi
done < <(cd "$src" && grep -roE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]+[>"]' \
             --include='*.c' --include='*.h' src |
         sed -E 's/^([^:]+):.*[<"]([^>"]+)[>"]$/\1 \2/')

cm="$src/src/CMakeLists.txt"
if grep -nE 'plugins/' "$cm"; then
    bad "src/CMakeLists.txt names a path under plugins/ (lines above)"
fi
defines='s/^[[:space:]]*(add_library|bppipe_add_plugin)\(([A-Za-z0-9_.+-]+).*/\2/p'
targets=$(cat "$src"/plugins/*/CMakeLists.txt | sed -nE "$defines" | sort -u)
code=$(sed 's/#.*//' "$cm") # what CMake reads: comments may name a plugin
for t in $targets; do
    if grep -qE "(^|[^A-Za-z0-9_-])${t}([^A-Za-z0-9_-]|$)" <<<"$code"; then
        bad "src/CMakeLists.txt names $t, a target defined under plugins/"
    fi
done
[ "$fail" = 0 ] &&
    echo "ok   core/ includes nothing from plugins/, src/CMakeLists.txt names nothing of theirs"
exit $fail
