/* The ways of making a batch of new files durable, timed on the disk of a folder: what
 * sink-file's per-record layout chose from (docs/plugins/sink-file.md, "Durability").
 *
 *   bench_durability DIR [FILES_PER_BATCH] [BATCHES] [BYTES] [MODES]   (defaults 300, 40, 1200)
 *
 * Every mode writes each file to a temporary name, makes the data durable, renames it into
 * place and fsyncs the folder once per batch (once per file for "each"), in a new subfolder of
 * DIR, and prints files/s, the time of one batch (p50, max) and the CPU it used:
 *   none         no data sync at all, only the folder's: not durable, the floor of the rest
 *   each         write, fsync, rename one file at a time (sink-file before issue 23)
 *   each-T       the same from T threads at once, each taking the next file of the batch
 *   fsync        write all, then fsync each in turn
 *   fsync-T      write all, then fsync them from T threads (T = 2, 4, 8)
 *   syncfs       write all, then one syncfs() (the whole filesystem)
 *   sfr-fdatasync  sync_file_range(WRITE) as each is written, then fdatasync each in turn
 *   sfr-fsync-T  sync_file_range(WRITE) as each is written, then fsync from T threads
 *   sfr-syncfs   sync_file_range(WRITE) as each is written, then one syncfs()
 *   tmpfile-syncfs  each written to an unnamed O_TMPFILE, one syncfs(), each linked to its name
 *                (linkat of /proc/self/fd/N), one more syncfs() for the links and link counts
 *                (instead of the folder's fsync): two syscalls fewer per file, no temporary name
 *
 * MODES (a fifth argument, comma-separated labels, e.g. "syncfs,fsync-4") runs only those.
 * Every mode writes into its own subfolder that keeps the files of all its batches, so the
 * folder grows as an archive does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef enum {
    NONE,
    EACH,
    FSYNC,
    FSYNC_T,
    SYNCFS,
    SFR_FDATASYNC,
    SFR_FSYNC_T,
    SFR_SYNCFS,
    EACH_T,
    TMPFILE_SYNCFS
} mode;

typedef struct job {
    int *fds;
    size_t n, next;
    pthread_mutex_t lock;
    int (*sync)(int);
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void *sync_worker(void *arg)
{
    job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->n)
            return NULL;
        if (j->sync(j->fds[i]) != 0)
            die("sync");
    }
}

typedef struct each_job {
    int dfd;
    size_t batch, n;
    const char *doc;
    size_t len;
    atomic_size_t next;
} each_job;

/* One file at a time, start to end (write, fsync, rename), from several threads at once. */
static void *each_worker(void *arg)
{
    each_job *j = arg;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
        char tmp[64], name[64];
        snprintf(tmp, sizeof tmp, ".f%06zu_%04zu.json.tmp", j->batch, i);
        snprintf(name, sizeof name, "f%06zu_%04zu.json", j->batch, i);
        int fd = openat(j->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0 || write(fd, j->doc, j->len) != (ssize_t)j->len || fsync(fd) != 0 ||
            renameat(j->dfd, tmp, j->dfd, name) != 0)
            die("each-T");
        close(fd);
    }
    return NULL;
}

static void sync_all(int *fds, size_t n, int threads, int (*sync)(int))
{
    job j = {.fds = fds, .n = n, .sync = sync};
    pthread_mutex_init(&j.lock, NULL);
    pthread_t tid[16];
    for (int t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, sync_worker, &j) != 0)
            die("pthread_create");
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&j.lock);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *only; /* the modes asked for, comma-separated; NULL: all */

static bool wanted(const char *label)
{
    if (!only)
        return true;
    size_t n = strlen(label);
    for (const char *p = only; (p = strstr(p, label)); p += n)
        if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static void run(const char *root, const char *label, mode m, int threads, size_t per_batch,
                size_t batches, const char *doc, size_t len)
{
    if (!wanted(label))
        return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", root, label);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        die(dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        die(dir);
    int *fds = calloc(per_batch, sizeof *fds);
    double *took = calloc(batches, sizeof *took);
    if (!fds || !took)
        die("calloc");
    double t0 = now_s(), c0 = cpu_s();
    for (size_t b = 0; b < batches; b++) {
        double b0 = now_s();
        if (m == EACH_T) {
            each_job j = {.dfd = dfd, .batch = b, .n = per_batch, .doc = doc, .len = len};
            atomic_init(&j.next, 0);
            pthread_t tid[16];
            for (int t = 0; t < threads; t++)
                if (pthread_create(&tid[t], NULL, each_worker, &j) != 0)
                    die("pthread_create");
            for (int t = 0; t < threads; t++)
                pthread_join(tid[t], NULL);
        }
        for (size_t i = 0; m != EACH_T && i < per_batch; i++) {
            char tmp[64], name[64];
            snprintf(tmp, sizeof tmp, ".f%06zu_%04zu.json.tmp", b, i);
            snprintf(name, sizeof name, "f%06zu_%04zu.json", b, i);
            int fd = m == TMPFILE_SYNCFS
                         ? openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0640)
                         : openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
            if (fd < 0 || write(fd, doc, len) != (ssize_t)len)
                die("write");
            if (m == SFR_FDATASYNC || m == SFR_FSYNC_T || m == SFR_SYNCFS)
                sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
            if (m == EACH) {
                if (fsync(fd) != 0 || renameat(dfd, tmp, dfd, name) != 0)
                    die("each");
                close(fd);
            } else {
                fds[i] = fd;
            }
        }
        if (m == FSYNC || m == SFR_FDATASYNC)
            sync_all(fds, per_batch, 1, m == FSYNC ? fsync : fdatasync);
        else if (m == FSYNC_T || m == SFR_FSYNC_T)
            sync_all(fds, per_batch, threads, fsync);
        else if ((m == SYNCFS || m == SFR_SYNCFS || m == TMPFILE_SYNCFS) && syncfs(dfd) != 0)
            die("syncfs");
        if (m == TMPFILE_SYNCFS) {
            for (size_t i = 0; i < per_batch; i++) {
                char proc[64], name[64];
                snprintf(proc, sizeof proc, "/proc/self/fd/%d", fds[i]);
                snprintf(name, sizeof name, "f%06zu_%04zu.json", b, i);
                if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) != 0)
                    die("linkat");
                close(fds[i]);
            }
            if (syncfs(dfd) != 0)
                die("syncfs");
        } else if (m != EACH && m != EACH_T) {
            for (size_t i = 0; i < per_batch; i++) {
                char tmp[64], name[64];
                snprintf(tmp, sizeof tmp, ".f%06zu_%04zu.json.tmp", b, i);
                snprintf(name, sizeof name, "f%06zu_%04zu.json", b, i);
                close(fds[i]);
                if (renameat(dfd, tmp, dfd, name) != 0)
                    die("rename");
            }
        }
        if (m != TMPFILE_SYNCFS && fsync(dfd) != 0)
            die("fsync dir");
        took[b] = now_s() - b0;
    }
    double wall = now_s() - t0, cpu = cpu_s() - c0;
    qsort(took, batches, sizeof *took, cmp_double);
    printf("%-14s %8.0f files/s  batch p50 %7.1f ms  max %7.1f ms  CPU %5.1f µs/file\n", label,
           (double)(per_batch * batches) / wall, took[batches / 2] * 1e3, took[batches - 1] * 1e3,
           cpu * 1e6 / (double)(per_batch * batches));
    fflush(stdout);
    close(dfd);
    free(fds);
    free(took);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: bench_durability DIR [FILES_PER_BATCH] [BATCHES] [BYTES] [MODES]\n");
        return 2;
    }
    size_t per_batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 300;
    size_t batches = argc > 3 ? strtoul(argv[3], NULL, 10) : 40;
    size_t len = argc > 4 ? strtoul(argv[4], NULL, 10) : 1200;
    only = argc > 5 ? argv[5] : NULL;
    if (!per_batch || !batches || !len)
        return 2;
    char *doc = malloc(len);
    if (!doc)
        return 1;
    memset(doc, 'x', len);
    doc[len - 1] = '\n';
    printf("%zu batches of %zu files of %zu bytes in %s\n", batches, per_batch, len, argv[1]);
    run(argv[1], "none", NONE, 1, per_batch, batches, doc, len);
    run(argv[1], "each", EACH, 1, per_batch, batches, doc, len);
    run(argv[1], "each-4", EACH_T, 4, per_batch, batches, doc, len);
    run(argv[1], "each-8", EACH_T, 8, per_batch, batches, doc, len);
    run(argv[1], "fsync", FSYNC, 1, per_batch, batches, doc, len);
    run(argv[1], "fsync-2", FSYNC_T, 2, per_batch, batches, doc, len);
    run(argv[1], "fsync-4", FSYNC_T, 4, per_batch, batches, doc, len);
    run(argv[1], "fsync-8", FSYNC_T, 8, per_batch, batches, doc, len);
    run(argv[1], "syncfs", SYNCFS, 1, per_batch, batches, doc, len);
    run(argv[1], "sfr-fdatasync", SFR_FDATASYNC, 1, per_batch, batches, doc, len);
    run(argv[1], "sfr-fsync-2", SFR_FSYNC_T, 2, per_batch, batches, doc, len);
    run(argv[1], "sfr-fsync-4", SFR_FSYNC_T, 4, per_batch, batches, doc, len);
    run(argv[1], "sfr-fsync-8", SFR_FSYNC_T, 8, per_batch, batches, doc, len);
    run(argv[1], "sfr-syncfs", SFR_SYNCFS, 1, per_batch, batches, doc, len);
    run(argv[1], "tmpfile-syncfs", TMPFILE_SYNCFS, 1, per_batch, batches, doc, len);
    free(doc);
    return 0;
}
