# shellcheck shell=bash
# Sourced by the benchmarks that write a per-record archive (es_fast.sh, latency.sh).
#
# On ext4 without a journal (this project's development machines) each new inode skips, one by
# one, every inode of its block group freed less than 60 s ago, or 360 s while the inode-table
# block that holds it is not yet written back (recently_deleted in fs/ext4/ialloc.c): a run that
# starts right after the previous run's archive was removed measures that, not the ward (2 242
# readings/s against 32 362: docs/plugins/sink-file.md, "Durability"). So the archive is removed
# and the filesystem synced at once (those blocks clean: 60 s, not 360), and the next run waits
# out what is left of the 60 s, saying so. Other work that deletes many files on the same
# filesystem has the same effect and is not waited for.

# The stamp of the last removal, one per machine user and temporary folder.
freed_inodes_stamp=${TMPDIR:-/tmp}/bppipe-bench.freed

# freed_inodes_wait NAME: waits until 60 s have passed since a benchmark last removed an archive.
freed_inodes_wait() {
    [ -f "$freed_inodes_stamp" ] || return 0
    local age
    age=$(( $(date +%s) - $(stat -c %Y "$freed_inodes_stamp") ))
    [ "$age" -lt 61 ] || return 0
    echo "$1: waiting $(( 61 - age )) s: a previous run removed its archive ${age} s ago, and" \
         "ext4 without a journal makes new files skip the inodes freed in the last 60 s" >&2
    sleep $(( 61 - age ))
}

# freed_inodes_remove DIR: removes DIR (an archive's work folder), syncs its filesystem and
# stamps the time.
freed_inodes_remove() {
    local parent
    parent=$(dirname "$1")
    rm -rf "$1"
    sync -f "$parent" 2>/dev/null || sync
    touch "$freed_inodes_stamp"
}
