#define _GNU_SOURCE /* sync_file_range */
#include "temp_files.h"

#include "common/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
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

int bp_temp_write(int dir_fd, const char *name, const char *doc, size_t len, int *fd)
{
    char tmp[NAME_MAX + 1];
    if (temp_name(name, tmp, sizeof tmp) != 0)
        return -1;
    int f = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    if (f < 0)
        return -1;
    fchmod(f, FILE_MODE); /* whatever the umask: archives hold patient data */
    if (write_doc(f, doc, len) != 0) {
        int err = errno;
        close(f);
        unlinkat(dir_fd, tmp, 0);
        errno = err;
        return -1;
    }
#ifdef SYNC_FILE_RANGE_WRITE
    /* Starts the disk write now, while the rest of the batch is written: the fsyncs later find
     * the data on its way and the blocks of the whole batch allocated in one journal commit.
     * Only a head start; durability is the fsync's. */
    sync_file_range(f, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
    *fd = f;
    return 0;
}

struct bp_syncer {
    pthread_mutex_t mu;
    pthread_cond_t more, done;
    const int *fds;
    int *errs;
    size_t ready, taken, finished;
    bool closing;
    pthread_t helpers[BP_SYNC_THREADS_MAX];
    int started;
};

static void *sync_loop(void *arg)
{
    bp_syncer *y = arg;
    pthread_mutex_lock(&y->mu);
    for (;;) {
        while (y->taken == y->ready && !y->closing)
            pthread_cond_wait(&y->more, &y->mu);
        if (y->taken == y->ready)
            break;
        size_t i = y->taken++;
        pthread_mutex_unlock(&y->mu);
        int err = fsync(y->fds[i]) == 0 ? 0 : errno;
        pthread_mutex_lock(&y->mu);
        y->errs[i] = err;
        if (++y->finished == y->ready && y->closing)
            pthread_cond_signal(&y->done);
    }
    pthread_mutex_unlock(&y->mu);
    return NULL;
}

bp_syncer *bp_syncer_new(void)
{
    bp_syncer *y = calloc(1, sizeof *y);
    if (!y)
        return NULL;
    pthread_mutex_init(&y->mu, NULL);
    pthread_cond_init(&y->more, NULL);
    pthread_cond_init(&y->done, NULL);
    return y;
}

void bp_syncer_free(bp_syncer *y)
{
    if (!y)
        return;
    pthread_mutex_destroy(&y->mu);
    pthread_cond_destroy(&y->more);
    pthread_cond_destroy(&y->done);
    free(y);
}

void bp_syncer_begin(bp_syncer *y, const int *fds, int *errs, int threads)
{
    y->fds = fds;
    y->errs = errs;
    y->ready = y->taken = y->finished = 0;
    y->closing = false;
    y->started = 0;
    if (threads > BP_SYNC_THREADS_MAX)
        threads = BP_SYNC_THREADS_MAX;
    /* A helper that cannot start leaves its share to the others, or to bp_syncer_end(). */
    while (y->started < threads && pthread_create(&y->helpers[y->started], NULL, sync_loop, y) == 0)
        y->started++;
}

void bp_syncer_add(bp_syncer *y)
{
    pthread_mutex_lock(&y->mu);
    y->ready++;
    pthread_cond_signal(&y->more);
    pthread_mutex_unlock(&y->mu);
}

void bp_syncer_end(bp_syncer *y)
{
    pthread_mutex_lock(&y->mu);
    y->closing = true;
    pthread_cond_broadcast(&y->more);
    pthread_mutex_unlock(&y->mu);
    if (!y->started)
        sync_loop(y); /* no helper could start: this thread fsyncs them all */
    for (int t = 0; t < y->started; t++)
        pthread_join(y->helpers[t], NULL);
}

int bp_temp_commit(int dir_fd, const char *name)
{
    char tmp[NAME_MAX + 1];
    if (temp_name(name, tmp, sizeof tmp) != 0)
        return -1;
    if (renameat(dir_fd, tmp, dir_fd, name) == 0)
        return 0;
    int err = errno;
    unlinkat(dir_fd, tmp, 0);
    errno = err;
    return -1;
}

void bp_temp_discard(int dir_fd, const char *name)
{
    char tmp[NAME_MAX + 1];
    int err = errno;
    if (temp_name(name, tmp, sizeof tmp) == 0)
        unlinkat(dir_fd, tmp, 0);
    errno = err;
}

size_t bp_temp_remove_leftovers(int dir_fd)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    size_t removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        struct stat st;
        if (e->d_name[0] != '.' || len < 6 || strcmp(e->d_name + len - 4, ".tmp") != 0)
            continue;
        /* Only what this sink makes: a regular file, never a folder or a link someone put. */
        if (fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        removed += unlinkat(dir_fd, e->d_name, 0) == 0;
    }
    closedir(d);
    return removed;
}
