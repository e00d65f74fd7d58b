#include "common/io.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

/* One loop for read() and pread(): with `at`, at offset `off`, else at the file position. */
static ssize_t read_loop(int fd, void *buf, size_t n, bool at, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = at ? pread(fd, (char *)buf + got, n - got, (off_t)(off + got))
                       : read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t bp_read_full(int fd, void *buf, size_t n)
{
    return read_loop(fd, buf, n, false, 0);
}

ssize_t bp_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    return read_loop(fd, buf, n, true, off);
}

int bp_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0)
            errno = EIO; /* no progress and no error: never loop, never report "Success" */
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
