/* The steps of sink-file's per-record layout, made durable a batch at a time. Every file of a
 * group is written without its final name: an unnamed O_TMPFILE where the filesystem has them,
 * else a hidden ".NAME.tmp". Then one syncfs() makes the data and the inodes of all of them
 * durable together; only then does each get its final name (linkat, or rename over a previous
 * copy), and the caller syncs once more before it reports any outcome. So a name in the folder
 * always holds a whole document, whatever moment a crash picks. Measured against the other ways
 * (fsync from threads, sync_file_range, one file at a time): bench/durability and
 * docs/plugins/sink-file.md, "Durability". */
#ifndef BPPIPE_TEMP_FILES_H
#define BPPIPE_TEMP_FILES_H

#include "name_filter.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* One written file waiting for its name. */
typedef struct bp_temp {
    int fd;
    bool named; /* ".NAME.tmp" in the folder, not an unnamed O_TMPFILE */
} bp_temp;

/* How the files of one folder are made. */
typedef struct bp_temps {
    int dir_fd;
    /* O_TMPFILE tried first (cleared when the folder's filesystem refuses it, or when a file
     * cannot be named: read by the writing thread while the naming thread may clear it) */
    atomic_bool unnamed;
    bool chmod; /* the umask takes bits of 0640 away: each file is chmod'ed back */
} bp_temps;

/* Prepares for `dir_fd`: reads the process's umask (from /proc/self/status; a fchmod per file
 * when it cannot be read). */
void bp_temps_init(bp_temps *ts, int dir_fd);

/* Writes `doc` and a newline to a new file (mode 0640) that has no final name yet: unnamed, or
 * ".NAME.tmp" (truncated when it was there). 0 and *t filled, or -1 with errno set (nothing is
 * left behind then). */
int bp_temp_write(bp_temps *ts, const char *name, const char *doc, size_t len, bp_temp *t);

/* Whether NAME already holds exactly `doc` and its newline (a replay of a reading already
 * archived, the same bytes: golden documents are byte-stable): a regular file, mode 0640, one
 * link. Then nothing is written: replacing it would free an inode and its block for nothing
 * (a synchronous discard each on a filesystem mounted with `discard`, and an inode the allocator
 * skips for the next minute). The caller still syncs before it acknowledges, so a name a killed
 * run linked and never synced is made durable too. */
bool bp_temp_same(const bp_temps *ts, const char *name, const char *doc, size_t len);

/* Makes every file written since the last call, and every name given, durable: one syncfs() of
 * the folder's filesystem, which reports (Linux 5.8 and later) any write error there since the
 * last call. 0, or -1 with errno set. */
int bp_temps_sync(bp_temps *ts);

/* Gives a synced file its final name NAME (replacing a previous copy whole) and closes it. 0, or
 * -1 with errno set and the file discarded. */
int bp_temp_commit(bp_temps *ts, bp_temp *t, const char *name);

/* Closes and removes a file that will not be named; errno is kept. */
void bp_temp_discard(bp_temps *ts, bp_temp *t, const char *name);

/* Removes the temporary files a killed run left in `dir_fd` (regular files named ".*.tmp":
 * readings whose batch was never acknowledged, so they are read and written again; unnamed
 * files leave nothing), and adds every other name the folder holds to `names` (freed, so that
 * every name is looked up, when the folder cannot be listed to its end). Returns how many were
 * removed. */
size_t bp_temp_remove_leftovers(int dir_fd, bp_name_filter *names);

#endif
