#!/usr/bin/env bash
# lib/wardsim's PCD-01 encoder read by python3-hl7 (Debian's, not ours): clean messages and
# every kind of deliberately broken one.
set -euo pipefail
dump="$BPPIPE_BUILD_DIR/tests/faker/pcd01_dump"
here=$(dirname "$0")
/usr/bin/python3 -c 'import hl7' || { echo "FAIL python3-hl7 missing (scripts/setup-debian.sh)"; exit 1; }
"$dump" 200 42 0 | /usr/bin/python3 "$here/pcd01_hl7.py"
"$dump" 400 9 0.3 | /usr/bin/python3 "$here/pcd01_hl7.py"
