#define _GNU_SOURCE /* O_TMPFILE, syncfs */
#include "temp_files.h"

#include "common/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define FILE_MODE 0640

static int temp_name(const char *name, char *out, size_t len)
{
    if ((size_t)snprintf(out, len, ".%s.tmp", name) >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* The document and its newline in one system call when the system takes them whole. */
static int write_doc(int fd, const char *doc, size_t len)
{
    struct iovec v[2] = {{(void *)doc, len}, {"\n", 1}};
    ssize_t n = writev(fd, v, 2);
    if (n == (ssize_t)(len + 1))
        return 0;
    if (n < 0 && errno != EINTR)
        return -1;
    size_t done = n > 0 ? (size_t)n : 0;
    if (done < len && bp_write_all(fd, doc + done, len - done) != 0)
        return -1;
    return done <= len ? bp_write_all(fd, "\n", 1) : 0;
}

void bp_temps_init(bp_temps *ts, int dir_fd)
{
    ts->dir_fd = dir_fd;
    ts->unnamed = true;
    ts->chmod = true;
    /* The umask is read, not set and restored: umask() is the whole process's, and other
     * threads create files meanwhile. */
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return;
    char line[128];
    unsigned mask;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Umask: %o", &mask) == 1) {
            ts->chmod = (mask & FILE_MODE) != 0;
            break;
        }
    fclose(f);
}

/* An unnamed file in the folder, or -1 with errno set; a filesystem without O_TMPFILE turns
 * them off for good (EISDIR: a kernel that does not know the flag). */
static int open_unnamed(bp_temps *ts)
{
#ifdef O_TMPFILE
    int f = openat(ts->dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, FILE_MODE);
    if (f >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return f;
#endif
    ts->unnamed = false;
    errno = EOPNOTSUPP;
    return -1;
}

int bp_temp_write(bp_temps *ts, const char *name, const char *doc, size_t len, bp_temp *t)
{
    char tmp[NAME_MAX + 1];
    int f = ts->unnamed ? open_unnamed(ts) : -1;
    t->named = f < 0;
    if (f < 0 && !ts->unnamed) {
        if (temp_name(name, tmp, sizeof tmp) != 0)
            return -1;
        f = openat(ts->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    }
    if (f < 0)
        return -1;
    if (ts->chmod)
        fchmod(f, FILE_MODE); /* whatever the umask: archives hold patient data */
    if (write_doc(f, doc, len) != 0) {
        int err = errno;
        close(f);
        if (t->named)
            unlinkat(ts->dir_fd, tmp, 0);
        errno = err;
        return -1;
    }
    t->fd = f;
    return 0;
}

/* Whether the `len` bytes of `f` from its start are `want`. */
static bool holds(int f, const char *want, size_t len)
{
    char buf[4096];
    while (len) {
        ssize_t n = read(f, buf, len < sizeof buf ? len : sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || memcmp(buf, want, (size_t)n) != 0)
            return false;
        want += n;
        len -= (size_t)n;
    }
    return true;
}

bool bp_temp_same(const bp_temps *ts, const char *name, const char *doc, size_t len)
{
    int f = openat(ts->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (f < 0)
        return false; /* the usual case: a new reading's name is free */
    struct stat st;
    bool same = fstat(f, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
                (st.st_mode & 07777) == FILE_MODE && (size_t)st.st_size == len + 1 &&
                holds(f, doc, len) && holds(f, "\n", 1);
    close(f);
    return same;
}

int bp_temps_sync(bp_temps *ts)
{
    /* One syncfs() for the whole group: the data, inodes and folder blocks of every file go
     * out together, and the cache is flushed once, where an fsync per file flushes it (and,
     * on ext4 without a journal, writes the folder) once per file. It also writes what else
     * is dirty on the filesystem: the price, measured in the sink's doc. */
    return syncfs(ts->dir_fd);
}

/* Links the unnamed file to `to`: 0, or -1 with errno set. AT_EMPTY_PATH needs Linux 6.10 (or
 * CAP_DAC_READ_SEARCH); /proc/self/fd/N works everywhere /proc is mounted. The one that failed
 * with ENOENT is not tried again. */
static int link_unnamed(bp_temps *ts, int fd, const char *to)
{
    static _Atomic int no_empty_path; /* the same for every folder of the process */
    if (!no_empty_path) {
        if (linkat(fd, "", ts->dir_fd, to, AT_EMPTY_PATH) == 0)
            return 0;
        if (errno != ENOENT && errno != EPERM && errno != EINVAL)
            return -1;
        no_empty_path = 1;
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, ts->dir_fd, to, AT_SYMLINK_FOLLOW);
}

/* Gives the unnamed file `fd` the name `name`: linked to it when it is free, else linked to
 * its temporary name and renamed over the previous copy (a replay), which stays whole until
 * the rename replaces it. */
static int name_unnamed(bp_temps *ts, int fd, const char *name)
{
    if (link_unnamed(ts, fd, name) == 0)
        return 0;
    if (errno != EEXIST) {
        if (errno == ENOENT || errno == EPERM)
            ts->unnamed = false; /* no way to name it here (no /proc): named files from now */
        return -1;
    }
    char tmp[NAME_MAX + 1]; /* formatted only here: a new name, the usual case, needs none */
    if (temp_name(name, tmp, sizeof tmp) != 0)
        return -1;
    /* Something already at the temporary name is not removed here: a killed run's is swept at
     * the next start, anything else is not this sink's (EEXIST: retried until it is gone). */
    if (link_unnamed(ts, fd, tmp) != 0)
        return -1;
    if (renameat(ts->dir_fd, tmp, ts->dir_fd, name) == 0)
        return 0;
    int err = errno;
    unlinkat(ts->dir_fd, tmp, 0);
    errno = err;
    return -1;
}

int bp_temp_commit(bp_temps *ts, bp_temp *t, const char *name)
{
    char tmp[NAME_MAX + 1];
    int rc = 0;
    if (t->named && (rc = temp_name(name, tmp, sizeof tmp)) == 0)
        rc = renameat(ts->dir_fd, tmp, ts->dir_fd, name);
    else if (!t->named)
        rc = name_unnamed(ts, t->fd, name);
    int err = errno;
    close(t->fd);
    if (rc != 0 && t->named)
        unlinkat(ts->dir_fd, tmp, 0);
    errno = err;
    return rc;
}

void bp_temp_discard(bp_temps *ts, bp_temp *t, const char *name)
{
    char tmp[NAME_MAX + 1];
    int err = errno;
    close(t->fd);
    if (t->named && temp_name(name, tmp, sizeof tmp) == 0)
        unlinkat(ts->dir_fd, tmp, 0);
    errno = err;
}

size_t bp_temp_remove_leftovers(int dir_fd, bp_name_filter *names)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        bp_name_filter_free(names); /* not known: every name is looked up */
        return 0;
    }
    size_t removed = 0;
    errno = 0;
    for (struct dirent *e; (e = readdir(d)); errno = 0) {
        size_t len = strlen(e->d_name);
        struct stat st;
        if (e->d_name[0] != '.' || len < 6 || strcmp(e->d_name + len - 4, ".tmp") != 0 ||
            fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            unlinkat(dir_fd, e->d_name, 0) != 0) {
            /* Only what this sink makes is removed: a regular file, never a folder or a link
             * someone put. Whatever stays is a name the folder holds. */
            bp_name_filter_add(names, e->d_name);
            continue;
        }
        removed++;
    }
    if (errno)
        bp_name_filter_free(names); /* the listing broke off: names may be missing from it */
    closedir(d);
    return removed;
}
