#include "line_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void bp_lines_init(bp_lines *r, int fd)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
}

void bp_lines_free(bp_lines *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Reads more bytes; 1 got some, 0 would wait, -1 error. */
static int fill(bp_lines *r, int timeout_ms)
{
    if (r->start > 0 && r->start == r->end)
        r->start = r->end = 0;
    if (r->end == r->cap) {
        if (r->start > 0) { /* slide the partial line to the front */
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        } else {
            size_t cap = r->cap ? r->cap * 2 : 64 * 1024;
            char *b = realloc(r->buf, cap);
            if (!b)
                return -1;
            r->buf = b;
            r->cap = cap;
        }
    }
    struct pollfd p = {r->fd, POLLIN, 0};
    int ready = poll(&p, 1, timeout_ms);
    if (ready == 0 || (ready < 0 && errno == EINTR))
        return 0;
    if (ready < 0)
        return -1;
    ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0)
        r->eof = true;
    r->end += (size_t)n;
    return 1;
}

int bp_lines_next(bp_lines *r, int timeout_ms, const char **line, size_t *len)
{
    for (;;) {
        char *from = r->buf ? r->buf + r->start : NULL;
        char *nl = from ? memchr(from, '\n', r->end - r->start) : NULL;
        if (nl || (r->eof && r->end > r->start)) {
            size_t n = nl ? (size_t)(nl - from) : r->end - r->start;
            r->start += nl ? n + 1 : n;
            if (n > 0 && from[n - 1] == '\r')
                n--;
            *line = from;
            *len = n;
            return BP_LINE_OK;
        }
        if (r->eof)
            return BP_LINE_EOF;
        int got = fill(r, timeout_ms);
        if (got < 0)
            return BP_LINE_ERROR;
        if (got == 0)
            return BP_LINE_WAIT;
        timeout_ms = 0; /* data arrived: do not wait again within this call */
    }
}

char *bp_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int saved = errno;
            free(buf);
            buf = NULL;
            errno = saved;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (buf)
        *len = n;
    return buf;
}
