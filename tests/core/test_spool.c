/* The disk spool (src/delivery/spool.c): order across segment rolls and reopens, the full status, a torn
 * tail cut at every byte of the last entry, refusals of damaged, foreign and newer spools, and a
 * writer killed with SIGKILL in the middle of its appends. Everything happens in one temporary
 * folder that is removed at the end. */
#include "check.h"
#include "delivery/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIRST_SEG "00000000000000000001.seg"

/* ------------------------------------------------------------------------------------------ */
/* Entries: entry i has its own length (8..297 bytes) and content, so any mix-up shows. */

static size_t entry_len(uint64_t i)
{
    return 8 + (size_t)((i * 37) % 290);
}

static void entry_fill(uint64_t i, unsigned char *b)
{
    size_t len = entry_len(i);
    for (size_t j = 0; j < len; j++)
        b[j] = (unsigned char)(i * 131 + j * 7);
    memcpy(b, &i, sizeof i);
}

static int entry_ok(uint64_t i, const void *p, size_t len)
{
    unsigned char want[512];
    entry_fill(i, want);
    return len == entry_len(i) && memcmp(p, want, len) == 0;
}

static uint64_t entry_index(const void *p)
{
    uint64_t i;
    memcpy(&i, p, sizeof i);
    return i;
}

static uint64_t framed(uint64_t from, uint64_t to)
{
    uint64_t n = 0;
    for (uint64_t i = from; i < to; i++)
        n += BP_SPOOL_FRAME_HEADER + entry_len(i);
    return n;
}

/* Appends entries [from, to): singly and in batches of up to 4, as a runner might. */
static int append_range(bp_spool *s, uint64_t from, uint64_t to)
{
    unsigned char bufs[4][512];
    bp_spool_entry e[4];
    while (from < to) {
        size_t n = (size_t)(from % 5);
        n = n == 0 ? 1 : n > to - from ? (size_t)(to - from) : n;
        for (size_t k = 0; k < n; k++) {
            entry_fill(from + k, bufs[k]);
            e[k].data = bufs[k];
            e[k].len = entry_len(from + k);
        }
        int r = n == 1 ? bp_spool_append(s, e[0].data, e[0].len) : bp_spool_append_many(s, e, n);
        if (r != BP_SPOOL_OK) {
            fprintf(stderr, "append %llu: %s\n", (unsigned long long)from, bp_spool_error(s));
            return r;
        }
        from += n;
    }
    return BP_SPOOL_OK;
}

/* Peeks entries 0..n-1 and returns how many of them are entries from, from+1, ... */
static uint64_t verify_range(bp_spool *s, uint64_t from, uint64_t n)
{
    uint64_t good = 0;
    for (uint64_t i = 0; i < n; i++) {
        const void *p;
        size_t len;
        int r = bp_spool_peek(s, i, &p, &len);
        if (r != BP_SPOOL_OK)
            fprintf(stderr, "peek %llu: %d %s\n", (unsigned long long)i, r, bp_spool_error(s));
        good += r == BP_SPOOL_OK && entry_ok(from + i, p, len);
    }
    return good;
}

/* ------------------------------------------------------------------------------------------ */
/* Files */

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bp_spool *open_ok(const char *dir, uint64_t max)
{
    char err[512];
    bp_spool *s = NULL;
    int r = bp_spool_open(dir, max, &s, err, sizeof err);
    CHECK(r == BP_SPOOL_OK && s != NULL);
    if (r != BP_SPOOL_OK)
        fprintf(stderr, "open %s: %s\n", dir, err);
    return s;
}

/* Opens a spool that must be refused with `status`; returns the message. */
static const char *open_refused(const char *dir, int status, char *err, size_t errlen)
{
    bp_spool *s = (bp_spool *)1;
    int r = bp_spool_open(dir, 1 << 20, &s, err, errlen);
    CHECK(r == status);
    CHECK(s == NULL);
    if (r != status)
        fprintf(stderr, "open %s: %d (%s), expected %d\n", dir, r, err, status);
    if (r == BP_SPOOL_OK)
        bp_spool_close(s);
    return err;
}

static size_t count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += strlen(e->d_name) > 4 && strcmp(e->d_name + strlen(e->d_name) - 4, ".seg") == 0;
    if (d)
        closedir(d);
    return n;
}

/* The newest segment's name (names sort as their numbers do). */
static void last_segment(const char *dir, char name[64])
{
    DIR *d = opendir(dir);
    name[0] = '\0';
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, ".seg") && strcmp(e->d_name, name) > 0)
            snprintf(name, 64, "%s", e->d_name);
    if (d)
        closedir(d);
}

static off_t file_size(const char *dir, const char *name)
{
    char *p = join(dir, name);
    struct stat st;
    off_t n = p && stat(p, &st) == 0 ? st.st_size : -1;
    free(p);
    return n;
}

/* Changes the byte at `off` of a file of the folder: XOR with `x`, or set to `x` if `set`. */
static void poke(const char *dir, const char *name, off_t off, unsigned char x, int set)
{
    char *p = join(dir, name);
    int fd = p ? open(p, O_RDWR) : -1;
    unsigned char b = 0;
    CHECK(fd >= 0 && pread(fd, &b, 1, off) == 1);
    b = set ? x : (unsigned char)(b ^ x);
    CHECK(fd >= 0 && pwrite(fd, &b, 1, off) == 1);
    if (fd >= 0)
        close(fd);
    free(p);
}

/* A copy of every file of a folder, to restore it or to compare with later. */
typedef struct snap_file {
    char name[64];
    unsigned char *data;
    size_t len;
} snap_file;

typedef struct snap {
    snap_file f[64];
    size_t n;
} snap;

static void snap_take(const char *dir, snap *sn)
{
    sn->n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL && sn->n < 64;) {
        if (e->d_name[0] == '.')
            continue;
        snap_file *f = &sn->f[sn->n++];
        snprintf(f->name, sizeof f->name, "%s", e->d_name);
        off_t size = file_size(dir, e->d_name);
        f->len = size > 0 ? (size_t)size : 0;
        f->data = malloc(f->len + 1);
        char *p = join(dir, e->d_name);
        int fd = open(p, O_RDONLY);
        CHECK(fd >= 0 && read(fd, f->data, f->len) == (ssize_t)f->len);
        close(fd);
        free(p);
    }
    if (d)
        closedir(d);
}

static void snap_free(snap *sn)
{
    for (size_t i = 0; i < sn->n; i++)
        free(sn->f[i].data);
    sn->n = 0;
}

static void snap_restore(const char *dir, const snap *sn)
{
    rm_tree(dir);
    CHECK(mkdir(dir, 0700) == 0);
    for (size_t i = 0; i < sn->n; i++) {
        char *p = join(dir, sn->f[i].name);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0 && write(fd, sn->f[i].data, sn->f[i].len) == (ssize_t)sn->f[i].len);
        close(fd);
        free(p);
    }
}

/* 1 when the folder holds exactly the files of `sn`, byte for byte. */
static int snap_same(const char *dir, const snap *sn)
{
    snap now;
    snap_take(dir, &now);
    int same = now.n == sn->n;
    for (size_t i = 0; same && i < sn->n; i++) {
        const snap_file *a = &sn->f[i];
        same = 0;
        for (size_t j = 0; j < now.n; j++)
            if (!strcmp(a->name, now.f[j].name))
                same = a->len == now.f[j].len && !memcmp(a->data, now.f[j].data, a->len);
    }
    snap_free(&now);
    return same;
}

/* ------------------------------------------------------------------------------------------ */

static void check_modes(const char *dir)
{
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    DIR *d = opendir(dir);
    size_t files = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char *p = join(dir, e->d_name);
        CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
        files++;
        free(p);
    }
    if (d)
        closedir(d);
    CHECK(files >= 2); /* segments and the head file */
}

static void test_order(const char *root)
{
    char *parent = join(root, "order");
    char *dir = join(parent, "sink-es");
    bp_spool *s = open_ok(dir, 64 * 1024); /* segments of 8 KiB: about 50 entries each */
    if (!s)
        goto done;
    CHECK(bp_spool_count(s) == 0 && bp_spool_bytes(s) == 0);
    CHECK(append_range(s, 0, 150) == BP_SPOOL_OK);
    CHECK(bp_spool_count(s) == 150);
    CHECK(bp_spool_bytes(s) == framed(0, 150));
    size_t segs = count_segments(dir);
    CHECK(segs >= 3);
    CHECK(verify_range(s, 0, 150) == 150);
    const void *p;
    size_t len;
    CHECK(bp_spool_peek(s, 5, &p, &len) == BP_SPOOL_OK && entry_ok(5, p, len));
    CHECK(bp_spool_peek(s, 2, &p, &len) == BP_SPOOL_OK && entry_ok(2, p, len));
    CHECK(bp_spool_peek(s, 3, &p, &len) == BP_SPOOL_OK && entry_ok(3, p, len));
    CHECK(bp_spool_peek(s, 150, &p, &len) == BP_SPOOL_END);

    char err[512];
    open_refused(dir, BP_SPOOL_EBUSY, err, sizeof err);
    CHECK_CONTAINS(err, "open elsewhere");

    CHECK(bp_spool_consume(s, 151) == BP_SPOOL_EINVAL);
    CHECK(bp_spool_count(s) == 150);
    CHECK(bp_spool_consume(s, 100) == BP_SPOOL_OK); /* the cursor was at 4: walks on from it */
    CHECK(bp_spool_count(s) == 50 && bp_spool_bytes(s) == framed(100, 150));
    CHECK(count_segments(dir) < segs);
    check_modes(dir);
    struct stat st;
    CHECK(stat(parent, &st) == 0 && (st.st_mode & 0777) == 0700);
    bp_spool_close(s);

    s = open_ok(dir, 64 * 1024);
    if (!s)
        goto done;
    CHECK(bp_spool_count(s) == 50 && bp_spool_bytes(s) == framed(100, 150));
    CHECK(verify_range(s, 100, 50) == 50);
    CHECK(append_range(s, 150, 200) == BP_SPOOL_OK);
    bp_spool_close(s);
done:
    free(dir);
    free(parent);
}

/* Goes on with test_order's spool (entries 100..199): consumes from every cursor position. */
static void test_drain(const char *root)
{
    char *dir = join(root, "order/sink-es");
    bp_spool *s = open_ok(dir, 64 * 1024);
    const void *p;
    size_t len;
    if (!s)
        goto done;
    CHECK(bp_spool_count(s) == 100);
    CHECK(verify_range(s, 100, 10) == 10);
    CHECK(bp_spool_consume(s, 10) == BP_SPOOL_OK); /* the cursor is exactly there */
    CHECK(verify_range(s, 110, 90) == 90);
    CHECK(bp_spool_peek(s, 7, &p, &len) == BP_SPOOL_OK && entry_ok(117, p, len));
    CHECK(bp_spool_consume(s, 3) == BP_SPOOL_OK); /* the cursor is past it */
    CHECK(bp_spool_peek(s, 5, &p, &len) == BP_SPOOL_OK && entry_ok(118, p, len));
    CHECK(bp_spool_consume(s, 87) == BP_SPOOL_OK);
    CHECK(bp_spool_count(s) == 0 && bp_spool_bytes(s) == 0);
    CHECK(count_segments(dir) == 1);
    CHECK(bp_spool_peek(s, 0, &p, &len) == BP_SPOOL_END);
    bp_spool_close(s);

    s = open_ok(dir, 64 * 1024);
    CHECK(bp_spool_count(s) == 0);
    CHECK(append_range(s, 200, 260) == BP_SPOOL_OK);
    CHECK(verify_range(s, 200, 60) == 60);
    bp_spool_close(s);
done:
    free(dir);
}

static void test_full(const char *root)
{
    char *dir = join(root, "full");
    bp_spool *s = open_ok(dir, 4096);
    unsigned char b[200];
    memset(b, 'x', sizeof b);
    b[0] = 0;
    size_t n = 0;
    int r = BP_SPOOL_OK;
    while (s && (r = bp_spool_append(s, b, 100)) == BP_SPOOL_OK)
        b[0] = (unsigned char)++n;
    CHECK(r == BP_SPOOL_FULL);
    CHECK(n == 4096 / (100 + BP_SPOOL_FRAME_HEADER));
    CHECK_CONTAINS(bp_spool_error(s), "full");
    CHECK(bp_spool_append(s, b, 100) == BP_SPOOL_FULL);
    bp_spool_entry two[2] = {{b, 30}, {b, 30}};              /* 64 bytes left, 84 needed */
    CHECK(bp_spool_append_many(s, two, 2) == BP_SPOOL_FULL); /* all or nothing */
    CHECK(bp_spool_count(s) == n);
    CHECK(bp_spool_append(s, b, 5000) == BP_SPOOL_ETOOBIG);
    CHECK(bp_spool_append(s, b, BP_SPOOL_MAX_ENTRY + 1) == BP_SPOOL_ETOOBIG);
    CHECK(bp_spool_append(s, NULL, 3) == BP_SPOOL_EINVAL);
    bp_spool_close(s);

    s = open_ok(dir, 4096);
    CHECK(bp_spool_count(s) == n);
    for (size_t i = 0; s && i < n; i++) {
        const void *p;
        size_t len;
        CHECK(bp_spool_peek(s, i, &p, &len) == BP_SPOOL_OK && len == 100 &&
              ((const unsigned char *)p)[0] == (unsigned char)i);
    }
    CHECK(bp_spool_consume(s, 1) == BP_SPOOL_OK);
    CHECK(bp_spool_append(s, b, 100) == BP_SPOOL_OK);  /* room again */
    CHECK(bp_spool_append(s, b, 60) == BP_SPOOL_FULL); /* 64 bytes left, 72 needed */
    bp_spool_close(s);

    s = open_ok(dir, 1000); /* a lower limit than what it holds: drains, takes nothing */
    CHECK(bp_spool_count(s) == n);
    CHECK(bp_spool_append(s, b, 1) == BP_SPOOL_FULL);
    bp_spool_close(s);
    free(dir);
}

/* Builds a spool of `n` entries in several segments; consumes `consumed` of them. */
static void build(const char *dir, uint64_t n, uint64_t consumed)
{
    bp_spool *s = open_ok(dir, 64 * 1024);
    CHECK(append_range(s, 0, n) == BP_SPOOL_OK);
    CHECK(bp_spool_consume(s, consumed) == BP_SPOOL_OK);
    bp_spool_close(s);
}

static void test_torn_tail(const char *root)
{
    char *dir = join(root, "torn");
    const uint64_t n = 60;
    build(dir, n, 0);
    char last[64];
    last_segment(dir, last);
    CHECK(strcmp(last, FIRST_SEG) > 0); /* several segments */
    off_t size = file_size(dir, last);
    off_t start = size - (off_t)(BP_SPOOL_FRAME_HEADER + entry_len(n - 1));
    snap sn;
    snap_take(dir, &sn);
    size_t bad = 0;
    for (off_t cut = start; cut < size; cut++) {
        snap_restore(dir, &sn);
        char *p = join(dir, last);
        CHECK(truncate(p, cut) == 0);
        free(p);
        bp_spool *s = open_ok(dir, 64 * 1024);
        int ok = s && bp_spool_count(s) == n - 1 && verify_range(s, 0, n - 1) == n - 1 &&
                 file_size(dir, last) == start && append_range(s, n - 1, n + 1) == BP_SPOOL_OK;
        bp_spool_close(s);
        s = ok ? open_ok(dir, 64 * 1024) : NULL;
        ok = ok && bp_spool_count(s) == n + 1 && verify_range(s, 0, n + 1) == n + 1;
        bp_spool_close(s);
        if (!ok && bad++ < 3)
            fprintf(stderr, "torn tail cut at %lld of %lld: wrong\n", (long long)cut,
                    (long long)size);
    }
    CHECK(bad == 0);

    /* A tail of zeros (how some file systems show unwritten data after a power loss). */
    snap_restore(dir, &sn);
    char *p = join(dir, last);
    CHECK(truncate(p, size + 100) == 0);
    free(p);
    bp_spool *s = open_ok(dir, 64 * 1024);
    CHECK(bp_spool_count(s) == n && verify_range(s, 0, n) == n);
    CHECK(file_size(dir, last) == size);
    bp_spool_close(s);
    snap_free(&sn);
    free(dir);
}

/* Each damage is refused with the file named, and the folder is left as it was. */
static void refuse_case(const char *dir, int status, const char *name, const char *says)
{
    snap before;
    snap_take(dir, &before);
    char err[1024];
    open_refused(dir, status, err, sizeof err);
    CHECK_CONTAINS(err, name);
    CHECK_CONTAINS(err, says);
    CHECK_CONTAINS(err, "docs/spool.md");
    CHECK(snap_same(dir, &before));
    snap_free(&before);
}

static void test_refusals(const char *root)
{
    char *dir = join(root, "refuse");
    build(dir, 150, 1); /* several segments and a head file */
    snap sn;
    snap_take(dir, &sn);
    char last[64];
    last_segment(dir, last);
    off_t e1 = BP_SPOOL_SEGMENT_HEADER + BP_SPOOL_FRAME_HEADER + (off_t)entry_len(0);

    poke(dir, FIRST_SEG, e1 + BP_SPOOL_FRAME_HEADER + (off_t)entry_len(1) / 2, 0x20, 0);
    refuse_case(dir, BP_SPOOL_ECORRUPT, FIRST_SEG, "fails its CRC");
    snap_restore(dir, &sn);
    poke(dir, FIRST_SEG, e1 + 1, 0x01, 0); /* the length of entry 1 */
    refuse_case(dir, BP_SPOOL_ECORRUPT, FIRST_SEG, "entry header");
    snap_restore(dir, &sn);
    poke(dir, last, file_size(dir, last) - 3, 0x80, 0); /* the complete newest entry */
    refuse_case(dir, BP_SPOOL_ECORRUPT, last, "fails its CRC");
    snap_restore(dir, &sn);
    poke(dir, last, 0, 'X', 1);
    refuse_case(dir, BP_SPOOL_EFOREIGN, last, "not a bppipe spool");
    snap_restore(dir, &sn);
    poke(dir, FIRST_SEG, 8, 2, 1);
    refuse_case(dir, BP_SPOOL_EVERSION, FIRST_SEG, "version 2");
    snap_restore(dir, &sn);
    poke(dir, "head", 21, 0x10, 0); /* the consumed offset */
    refuse_case(dir, BP_SPOOL_ECORRUPT, "head", "CRC");
    snap_restore(dir, &sn);
    poke(dir, "head", 8, 9, 1);
    refuse_case(dir, BP_SPOOL_EVERSION, "head", "version 9");
    snap_restore(dir, &sn); /* undamaged for test_refused_files */
    snap_free(&sn);
    free(dir);
}

/* Refusals for what the folder holds besides damaged bytes, and bad arguments. */
static void test_refused_files(const char *root)
{
    char *dir = join(root, "refuse");
    snap sn;
    snap_take(dir, &sn);
    char last[64];
    last_segment(dir, last);
    char *p = join(dir, "notes.txt");
    FILE *f = fopen(p, "w");
    CHECK(f && fputs("not a spool\n", f) >= 0);
    if (f)
        fclose(f);
    refuse_case(dir, BP_SPOOL_EFOREIGN, "notes.txt", "not a file of a bppipe spool");
    free(p);

    snap_restore(dir, &sn);
    p = join(dir, "00000000000000000002.seg");
    CHECK(unlink(p) == 0);
    free(p);
    refuse_case(dir, BP_SPOOL_ECORRUPT, "00000000000000000002.seg", "missing");

    snap_restore(dir, &sn);
    char *n = join(dir, last);
    p = join(dir, "00000000000000000099.seg"); /* a newest segment whose header says otherwise */
    CHECK(rename(n, p) == 0);
    refuse_case(dir, BP_SPOOL_ECORRUPT, "00000000000000000099.seg", "missing");
    free(n);
    free(p);

    snap_restore(dir, &sn); /* undamaged again: opens */
    bp_spool *s = open_ok(dir, 64 * 1024);
    CHECK(bp_spool_count(s) == 149 && verify_range(s, 1, 149) == 149);
    bp_spool_close(s);
    snap_free(&sn);

    char err[512];
    p = join(root, "a-file");
    f = fopen(p, "w");
    if (f)
        fclose(f);
    open_refused(p, BP_SPOOL_EIO, err, sizeof err);
    CHECK_CONTAINS(err, "a-file");
    free(p);
    CHECK(bp_spool_open(NULL, 10, &s, err, sizeof err) == BP_SPOOL_EINVAL);
    CHECK(bp_spool_open(dir, 0, &s, err, sizeof err) == BP_SPOOL_EINVAL);
    free(dir);
}

/* ------------------------------------------------------------------------------------------ */
/* kill -9 in the middle of appends and consumes */

typedef struct ack {
    uint64_t appended; /* entries 0 .. appended-1 were appended and returned 0 */
    uint64_t consumed; /* entries 0 .. consumed-1 were consumed and returned 0 */
} ack;

static void child_writer(const char *dir, int fd)
{
    bp_spool *s = NULL;
    char err[512];
    if (bp_spool_open(dir, 256 * 1024, &s, err, sizeof err) != BP_SPOOL_OK)
        _exit(2);
    ack a = {0, 0};
    for (uint64_t round = 0;; round++) {
        uint64_t n = 1 + round % 4;
        if (append_range(s, a.appended, a.appended + n) != BP_SPOOL_OK)
            _exit(3);
        a.appended += n;
        if (round % 7 == 6) {
            uint64_t c = bp_spool_count(s) < 5 ? bp_spool_count(s) : 5;
            if (bp_spool_consume(s, c) != BP_SPOOL_OK)
                _exit(4);
            a.consumed += c;
        }
        if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(5);
    }
}

static void kill_round(const char *dir, uint64_t kill_after)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_writer(dir, fds[1]);
    }
    close(fds[1]);
    ack a = {0, 0}, got;
    int killed = 0;
    while (read(fds[0], &got, sizeof got) == (ssize_t)sizeof got) {
        a = got;
        if (!killed && a.appended >= kill_after) {
            CHECK(kill(pid, SIGKILL) == 0);
            killed = 1; /* acks already in the pipe are read on, up to EOF */
        }
    }
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    bp_spool *s = open_ok(dir, 256 * 1024);
    uint64_t count = bp_spool_count(s);
    const void *p = NULL;
    size_t len = 0;
    CHECK(s && bp_spool_peek(s, 0, &p, &len) == BP_SPOOL_OK);
    uint64_t first = p ? entry_index(p) : 0;
    /* Consumed entries are gone; at most the one consume in flight may come back. */
    CHECK(first >= a.consumed && first <= a.consumed + 5);
    /* Every acknowledged append is there, in order; at most the batch in flight follows. */
    CHECK(first + count >= a.appended && first + count <= a.appended + 4);
    CHECK(verify_range(s, first, count) == count);
    fprintf(stderr,
            "kill -9: %llu appends and %llu consumes acknowledged; after reopen entries "
            "%llu..%llu\n",
            (unsigned long long)a.appended, (unsigned long long)a.consumed,
            (unsigned long long)first, (unsigned long long)(first + count - 1));
    CHECK(append_range(s, first + count, first + count + 3) == BP_SPOOL_OK);
    bp_spool_close(s);
}

static void test_kill9(const char *root)
{
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "kill-%d", i);
        char *dir = join(root, name);
        kill_round(dir, 150 + 170 * (uint64_t)i);
        free(dir);
    }
}

int main(void)
{
    CHECK(bp__crc32c(0, "123456789", 9) == 0xE3069283u); /* the CRC32C check value */
    CHECK(strcmp(bp_spool_strerror(BP_SPOOL_FULL), "spool is full") == 0);
    umask(022);
    const char *tmp = getenv("TMPDIR");
    char *root = join(tmp && *tmp ? tmp : "/tmp", "bppipe-spool-XXXXXX");
    CHECK(root && mkdtemp(root) != NULL);
    test_order(root);
    test_drain(root);
    test_full(root);
    test_torn_tail(root);
    test_refusals(root);
    test_refused_files(root);
    test_kill9(root);
    rm_tree(root);
    free(root);
    return CHECK_DONE();
}
