/* Whole reads and writes on file descriptors. read(), pread() and write() may move fewer bytes
 * than asked (a pipe, a signal, a slow disk) or fail with EINTR when a signal arrives first;
 * these loops go on until every byte has moved, the end of the file, or a real error. */
#ifndef BP_COMMON_IO_H
#define BP_COMMON_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads up to `n` bytes into `buf`, stopping early only at the end of the file. Returns the
 * bytes read (fewer than `n` only at the end), or -1 with errno set on an error; what was
 * read before an error is in `buf` but not counted. */
ssize_t bp_read_full(int fd, void *buf, size_t n);

/* The same at offset `off` of a file (pread: the file position does not move). */
ssize_t bp_pread_full(int fd, void *buf, size_t n, uint64_t off);

/* Writes all `n` bytes of `data`. Returns 0, or -1 with errno set (EIO when the system wrote
 * nothing and reported no error, so a caller never loops or reports "Success"). */
int bp_write_all(int fd, const void *data, size_t n);

#endif
