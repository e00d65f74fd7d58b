/* The steps of sink-file's per-record layout, made durable a batch at a time: every file is
 * written under a hidden temporary name (".NAME.tmp") with its writeback started at once; then
 * the data of all of them is made durable together (bp_temp_sync_all); only then is each renamed
 * into place, and the caller fsyncs the folder once before it reports any outcome. So a name in
 * the folder always holds a whole document, whatever moment a crash picks. */
#ifndef BPPIPE_TEMP_FILES_H
#define BPPIPE_TEMP_FILES_H

#include <stddef.h>

/* Writes `doc` and a newline to ".NAME.tmp" in `dir_fd` (created 0640, truncated when it was
 * there), starts its writeback and leaves it open in *fd. 0, or -1 with errno set (nothing is
 * left behind then). */
int bp_temp_write(int dir_fd, const char *name, const char *doc, size_t len, int *fd);

/* fsyncs files from a few threads while the caller writes the next ones: fsyncs in flight
 * together share the filesystem's journal commits and the disk's cache flushes, where one
 * after the other each waits for its own, and the waits overlap the writing. */
#define BP_SYNC_THREADS_MAX 16
typedef struct bp_syncer bp_syncer;

bp_syncer *bp_syncer_new(void);
void bp_syncer_free(bp_syncer *y);
/* Starts `threads` helpers for a group of files: fds[i] and errs[i] for the i-th added. */
void bp_syncer_begin(bp_syncer *y, const int *fds, int *errs, int threads);
/* fds[n] is written (n: how many were added before): the helpers fsync it. */
void bp_syncer_add(bp_syncer *y);
/* Waits until every added file is fsync'd (errs[i]: 0 or its errno) and the helpers ended. */
void bp_syncer_end(bp_syncer *y);

/* Renames ".NAME.tmp" to NAME in `dir_fd`; 0, or -1 with errno set and the temporary file
 * removed. */
int bp_temp_commit(int dir_fd, const char *name);

/* Removes ".NAME.tmp"; errno is kept. */
void bp_temp_discard(int dir_fd, const char *name);

/* Removes the temporary files a killed run left in `dir_fd` (regular files named ".*.tmp":
 * readings whose batch was never acknowledged, so they are read and written again). Returns
 * how many were removed. */
size_t bp_temp_remove_leftovers(int dir_fd);

#endif
