/* Lines of any length from a file descriptor, with a timeout for pipes and terminals. Pure
 * POSIX, no stdio, so a signal or a quiet stdin never blocks the pipeline. */
#ifndef BPPIPE_LINE_READER_H
#define BPPIPE_LINE_READER_H

#include <stdbool.h>
#include <stddef.h>

/* A reader over one descriptor. The buffer grows to hold the longest line seen (doubling from
 * 64 KiB) and is reused; bytes before `start` are consumed. */
typedef struct bp_lines {
    int fd;               /* not owned: the caller closes it */
    char *buf;            /* owned, cap bytes; NULL until the first read */
    size_t start, end, cap;
    bool eof;             /* read() returned 0 */
} bp_lines;

enum { BP_LINE_OK = 0, BP_LINE_WAIT = 1, BP_LINE_EOF = 2, BP_LINE_ERROR = -1 };

/* Starts reading `fd` (a file, pipe or terminal). Allocates nothing. */
void bp_lines_init(bp_lines *r, int fd);
/* Frees the buffer (not the descriptor); lines returned before are invalid afterwards. */
void bp_lines_free(bp_lines *r);
/* Next line without its '\n' (and without a trailing '\r'). The pointer is valid until the
 * next call. Waits at most timeout_ms for data (0: do not wait). Returns BP_LINE_OK,
 * BP_LINE_WAIT (nothing yet), BP_LINE_EOF, or BP_LINE_ERROR (errno set). A last line without
 * '\n' is returned at end of file. */
int bp_lines_next(bp_lines *r, int timeout_ms, const char **line, size_t *len);

/* Reads the whole file at `path` into a malloc'd buffer the caller frees, and its length into
 * *len. Returns NULL on error with errno set (ENOENT, EACCES, EISDIR, ENOMEM, ...). */
char *bp_read_file(const char *path, size_t *len);

#endif
