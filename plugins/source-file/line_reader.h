/* Lines of any length from a file descriptor, with a timeout for pipes and terminals. Pure
 * POSIX, no stdio, so a signal or a quiet stdin never blocks the pipeline. */
#ifndef BPPIPE_LINE_READER_H
#define BPPIPE_LINE_READER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bp_lines {
    int fd;
    char *buf;
    size_t start, end, cap;
    bool eof;
} bp_lines;

enum { BP_LINE_OK = 0, BP_LINE_WAIT = 1, BP_LINE_EOF = 2, BP_LINE_ERROR = -1 };

void bp_lines_init(bp_lines *r, int fd);
void bp_lines_free(bp_lines *r);
/* Next line without its '\n' (and without a trailing '\r'). The pointer is valid until the
 * next call. Waits at most timeout_ms for data (0: do not wait). Returns BP_LINE_OK,
 * BP_LINE_WAIT (nothing yet), BP_LINE_EOF, or BP_LINE_ERROR (errno set). A last line without
 * '\n' is returned at end of file. */
int bp_lines_next(bp_lines *r, int timeout_ms, const char **line, size_t *len);

/* Reads a whole file into a malloc'd buffer; NULL on error (errno set). */
char *bp_read_file(const char *path, size_t *len);

#endif
