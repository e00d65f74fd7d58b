/* lib/common/io: whole reads and writes. Through a pipe, read() and write() move fewer bytes
 * than asked whenever the other end is slower; with a signal handler installed without
 * SA_RESTART, a blocked call fails with EINTR. Both must be invisible to the callers. */
#include "check.h"
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#define BIG (1024 * 1024) /* 16 times a pipe's default capacity */

static unsigned char pattern_at(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

static void fill(unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = pattern_at(i);
}

static bool is_pattern(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != pattern_at(i))
            return false;
    return true;
}

/* The far end of a pipe, moving `piece` bytes at a time with a pause between pieces: writing
 * `buf` into the pipe, or reading the pipe into `buf`. */
typedef struct far_end {
    int fd;
    bool writes;
    size_t total, piece;
    unsigned pause_us;
    unsigned char *buf;
    size_t moved;
} far_end;

static void *far_end_run(void *arg)
{
    far_end *e = arg;
    while (e->moved < e->total) {
        size_t n = e->total - e->moved < e->piece ? e->total - e->moved : e->piece;
        ssize_t r =
            e->writes ? write(e->fd, e->buf + e->moved, n) : read(e->fd, e->buf + e->moved, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        e->moved += (size_t)r;
        usleep(e->pause_us);
    }
    close(e->fd);
    return NULL;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* SIGALRM every millisecond, without SA_RESTART: blocked reads and writes of this thread fail
 * with EINTR or return short. Threads started while `block` is set do not take the signal. */
static void alarms_on(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void alarms_off(void)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    signal(SIGALRM, SIG_IGN);
}

/* A thread that never takes SIGALRM, so the signals land on the thread under test. */
static void start_far_end(pthread_t *t, far_end *e)
{
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    pthread_create(t, NULL, far_end_run, e);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void pread_on_a_file(void)
{
    char path[] = "/tmp/bp_test_io_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    unlink(path);
    unsigned char data[10000], back[10000];
    fill(data, sizeof data);
    CHECK(bp_write_all(fd, data, sizeof data) == 0);
    CHECK(bp_pread_full(fd, back, sizeof back, 0) == (ssize_t)sizeof back);
    CHECK(memcmp(back, data, sizeof back) == 0);
    /* At an offset; the file position does not move (a write goes on at the end). */
    CHECK(bp_pread_full(fd, back, 100, 5000) == 100);
    CHECK(memcmp(back, data + 5000, 100) == 0);
    CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)sizeof data);
    /* Short only at the end of the file: the bytes there are, then 0 past it. */
    CHECK(bp_pread_full(fd, back, 500, sizeof data - 200) == 200);
    CHECK(memcmp(back, data + sizeof data - 200, 200) == 0);
    CHECK(bp_pread_full(fd, back, 500, sizeof data + 1) == 0);
    CHECK(bp_pread_full(fd, back, 0, 0) == 0);
    /* bp_read_full reads from the file position. */
    CHECK(lseek(fd, 9000, SEEK_SET) == 9000);
    CHECK(bp_read_full(fd, back, sizeof back) == 1000);
    CHECK(memcmp(back, data + 9000, 1000) == 0);
    close(fd);
    /* Errors are errors, with errno. */
    errno = 0;
    CHECK(bp_pread_full(fd, back, 10, 0) == -1 && errno == EBADF);
    errno = 0;
    CHECK(bp_read_full(fd, back, 10) == -1 && errno == EBADF);
    errno = 0;
    CHECK(bp_write_all(fd, data, 10) == -1 && errno == EBADF);
}

/* The writer sends 1 MiB in pieces of 1000 bytes: each read() returns what one piece holds. */
static void short_reads(bool with_signals)
{
    int p[2];
    CHECK(pipe(p) == 0);
    unsigned char *src = malloc(BIG), *dst = malloc(BIG + 10);
    fill(src, BIG);
    far_end e = {p[1], true, BIG, 1000, with_signals ? 20 : 0, src, 0};
    pthread_t t;
    alarms = 0;
    if (with_signals)
        alarms_on();
    start_far_end(&t, &e);
    /* Asking for more than will come: everything, then the end of the pipe. */
    ssize_t got = bp_read_full(p[0], dst, BIG + 10);
    if (with_signals)
        alarms_off();
    CHECK(got == BIG);
    CHECK(is_pattern(dst, BIG));
    if (with_signals)
        CHECK(alarms > 0);
    CHECK(bp_read_full(p[0], dst, 10) == 0);
    close(p[0]); /* before the join: a writer left behind by a failed read gets EPIPE */
    pthread_join(t, NULL);
    free(src);
    free(dst);
}

/* The reader takes 4096 bytes at a time: a write of 1 MiB into a 64 KiB pipe goes in parts. */
static void short_writes(bool with_signals)
{
    int p[2];
    CHECK(pipe(p) == 0);
    unsigned char *src = malloc(BIG), *dst = malloc(BIG);
    fill(src, BIG);
    far_end e = {p[0], false, BIG, 4096, with_signals ? 20 : 0, dst, 0};
    pthread_t t;
    alarms = 0;
    if (with_signals)
        alarms_on();
    start_far_end(&t, &e);
    int rc = bp_write_all(p[1], src, BIG);
    if (with_signals)
        alarms_off();
    close(p[1]);
    pthread_join(t, NULL);
    CHECK(rc == 0);
    CHECK(e.moved == BIG);
    CHECK(is_pattern(dst, BIG));
    if (with_signals)
        CHECK(alarms > 0);
    free(src);
    free(dst);
}

/* A pipe nobody reads any more: the error, not a loop. */
static void broken_pipe(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    close(p[0]);
    errno = 0;
    CHECK(bp_write_all(p[1], "x", 1) == -1 && errno == EPIPE);
    close(p[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* EPIPE instead */
    pread_on_a_file();
    short_reads(false);
    short_writes(false);
    short_reads(true);
    short_writes(true);
    broken_pipe();
    return CHECK_DONE();
}
