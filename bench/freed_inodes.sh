# shellcheck shell=bash
# Sourced by the benchmarks that write a per-record archive (es_fast.sh, latency.sh).
#
# On ext4 without a journal (this project's development machines) each new inode skips, one by
# one, every inode of its block group freed less than 60 s ago, or 360 s while the inode-table
# block that holds it is not yet written back (recently_deleted in fs/ext4/ialloc.c), and a
# run's own new files keep dirtying those blocks: a run that starts within six minutes of the
# removal of a previous run's archive measures that, not the ward (7 610 readings/s against
# 30 000 and more: docs/plugins/sink-file.md, "Durability"). So the next per-record run waits out
# what is left of the six minutes, saying so. KEEP_ARCHIVE=1 (es_fast.sh) keeps the archive
# instead, for runs back to back. Other work that deletes many files on the same filesystem has
# the same effect and is not waited for.

# The stamp of the last removal, one per temporary folder.
freed_inodes_stamp=${TMPDIR:-/tmp}/bppipe-bench.freed
freed_inodes_age_s=361

# freed_inodes_wait NAME: waits until six minutes have passed since a benchmark last removed an
# archive.
freed_inodes_wait() {
    [ -f "$freed_inodes_stamp" ] || return 0
    local age
    age=$(( $(date +%s) - $(stat -c %Y "$freed_inodes_stamp") ))
    [ "$age" -lt "$freed_inodes_age_s" ] || return 0
    echo "$1: waiting $(( freed_inodes_age_s - age )) s: a previous run removed its archive" \
         "${age} s ago, and ext4 without a journal makes new files skip the inodes freed in the" \
         "last 360 s (KEEP_ARCHIVE=1 keeps an archive instead)" >&2
    sleep $(( freed_inodes_age_s - age ))
}

# freed_inodes_remove DIR: removes DIR (an archive's work folder) and stamps the time.
freed_inodes_remove() {
    rm -rf "$1"
    touch "$freed_inodes_stamp"
}
