/* The durable per-sink spool: segment files of CRC-framed entries plus a head file that records
 * how far the entries have been consumed. docs/spool.md describes the format and argues when
 * what is durable; the comments here say how each step keeps that argument true. */
#include "delivery/spool.h"

#include "bppipe/plugin.h"
#include "common/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEG_MAGIC "BPSPOOLS"  /* 8 bytes, no NUL on disk */
#define HEAD_MAGIC "BPSPOOLH" /* 8 bytes, no NUL on disk */
#define HEAD_NAME "head"
#define HEAD_TMP "head.tmp"
#define SEG_TMP "segment.tmp"
#define SEG_SUFFIX ".seg"
#define REFUSED "; nothing was changed (see docs/spool.md, \"A refused spool\")"

enum {
    NAME_BUF = 32,          /* 20 digits + ".seg" + NUL always fit */
    SEG_DIGITS = 20,        /* digits of the largest uint64_t */
    FRAME_TORN = 100,       /* read_frame(): the frame is cut short (internal) */
    ZERO_CHUNK = 64 * 1024, /* bytes read at a time when checking a zero-filled tail */
    SEG_MIN = 4 * 1024,     /* segment size bounds (the target is max_bytes / 8) */
    SEG_MAX = 64 * 1024 * 1024
};

typedef enum { READ_SCAN, READ_DATA, READ_SKIP } read_mode;

/* A position in the spool: a segment's sequence number and a byte offset in it. */
typedef struct spool_pos {
    uint64_t seq, off;
} spool_pos;

struct bp_spool {
    char *dir;              /* the folder as given, for messages */
    int dirfd;              /* the folder, open and flock()ed while the spool is open */
    int wfd;                /* the newest segment, for appends */
    int rfd;                /* the segment last read, kept open */
    uint64_t rfd_seq;       /* which segment rfd is */
    uint64_t max_bytes;     /* bound on `bytes` */
    uint64_t seg_target;    /* roll to a new segment beyond this size */
    uint64_t first_seq;     /* sequence number of sizes[0], the segment holding the head */
    uint64_t *sizes;        /* verified bytes of each live segment, header included */
    size_t nsegs, segs_cap; /* live segments are first_seq .. first_seq + nsegs - 1 */
    spool_pos head;         /* the oldest entry not consumed, as the head file says */
    spool_pos cur;          /* read cursor: where entry number cur_index starts */
    uint64_t cur_index;     /* entries between head and cur */
    uint64_t cur_bytes;     /* framed bytes between head and cur */
    uint64_t count, bytes;  /* entries not consumed, and their framed bytes */
    unsigned char *buf;     /* the entry peek() returned; scratch while scanning */
    size_t buf_cap;
    char *msg;    /* message of the last failure (malloc'd) */
    int msg_lost; /* the last failure's message could not be allocated */
    int broken;   /* an fsync or a rollback failed: only close() is safe */
};

/* What one pass over the folder's names found. */
typedef struct spool_dir {
    uint64_t *seqs;       /* segment sequence numbers, sorted */
    size_t n, cap, stale; /* seqs[0 .. stale) lie before the head: consumed, to delete */
    int has_head, has_head_tmp, has_seg_tmp;
} spool_dir;

/* ------------------------------------------------------------------------------------------ */
/* CRC32C (Castagnoli), four bits at a time from a constant 16-entry table: small, needs no
 * initialisation, and fast enough next to the fsync that every append waits for. */

uint32_t bp__crc32c(uint32_t crc, const void *p, size_t n)
{
    static const uint32_t t[16] = {0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
                                   0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
                                   0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
                                   0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75};
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        crc = (crc >> 4) ^ t[crc & 15];
        crc = (crc >> 4) ^ t[crc & 15];
    }
    return ~crc;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* Messages */

static int fail(bp_spool *s, int status, const char *fmt, ...) BP_PRINTF(3, 4);

/* Records the message of a failure (allocated to its full length) and returns `status`. */
static int fail(bp_spool *s, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *m = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (m) {
        va_start(ap, fmt);
        vsnprintf(m, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    free(s->msg);
    s->msg = m;
    s->msg_lost = m == NULL;
    return status;
}

/* A failed system call on file `name` of the folder (NULL: the folder itself). */
static int fail_io(bp_spool *s, const char *name, const char *what)
{
    int e = errno;
    return fail(s, BP_SPOOL_EIO, "%s%s%s: %s: %s", s->dir, name ? "/" : "", name ? name : "", what,
                strerror(e));
}

/* After a failed fsync the kernel may have dropped the dirty pages it could not write, so what
 * the file holds is unknown: the spool refuses further work until it is opened again, which
 * reads the files as they are. */
static int fail_sync(bp_spool *s, const char *name)
{
    int r = fail_io(s, name, "fsync");
    s->broken = 1;
    return r;
}

static int refuse_broken(bp_spool *s)
{
    return fail(s, BP_SPOOL_EBROKEN,
                "%s: an earlier write or fsync failed, so the files may not hold what they "
                "should: close the spool and open it again",
                s->dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Files */

static void seg_name(char name[NAME_BUF], uint64_t seq)
{
    snprintf(name, NAME_BUF, "%020" PRIu64 SEG_SUFFIX, seq);
}

/* 1 and *seq set when `name` is exactly 20 digits and ".seg". */
static int parse_seg_name(const char *name, uint64_t *seq)
{
    if (strlen(name) != SEG_DIGITS + strlen(SEG_SUFFIX) || strcmp(name + SEG_DIGITS, SEG_SUFFIX))
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < SEG_DIGITS; i++) {
        unsigned d = (unsigned)(name[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *seq = v;
    return 1;
}

/* Writes every byte of iov[0..cnt) at `off`; -1 with errno on failure. Changes iov. */
static int pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off)
{
    for (;;) {
        while (cnt > 0 && iov->iov_len == 0) {
            iov++;
            cnt--;
        }
        if (cnt == 0)
            return 0;
        ssize_t w = pwritev(fd, iov, cnt, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        off += (uint64_t)w;
        for (size_t left = (size_t)w; left > 0; iov++, cnt--) {
            size_t take = left < iov->iov_len ? left : iov->iov_len;
            iov->iov_base = (char *)iov->iov_base + take;
            iov->iov_len -= take;
            left -= take;
            if (iov->iov_len > 0)
                break;
        }
    }
}

static int reserve_buf(bp_spool *s, size_t n)
{
    if (n <= s->buf_cap)
        return BP_SPOOL_OK;
    size_t cap = s->buf_cap ? s->buf_cap : 4096;
    while (cap < n)
        cap = cap > SIZE_MAX / 2 ? n : cap * 2;
    unsigned char *b = realloc(s->buf, cap);
    if (!b)
        return fail(s, BP_SPOOL_ENOMEM, "%s: out of memory for a %zu-byte entry", s->dir, n);
    s->buf = b;
    s->buf_cap = cap;
    return BP_SPOOL_OK;
}

static int reserve_segs(bp_spool *s, size_t n)
{
    if (n <= s->segs_cap)
        return BP_SPOOL_OK;
    size_t cap = s->segs_cap ? s->segs_cap * 2 : 8;
    if (cap < n)
        cap = n;
    uint64_t *p = realloc(s->sizes, cap * sizeof *p);
    if (!p)
        return fail(s, BP_SPOOL_ENOMEM, "%s: out of memory", s->dir);
    s->sizes = p;
    s->segs_cap = cap;
    return BP_SPOOL_OK;
}

/* Replaces file `name` with `n` bytes: written to `tmp`, fsync'd, renamed over `name`, and the
 * folder fsync'd, so after a crash `name` holds either the old bytes or the new ones. A
 * leftover `tmp` is never part of the spool and is deleted by the next open. */
static int replace_file(bp_spool *s, const char *tmp, const char *name, const void *p, size_t n)
{
    int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_io(s, tmp, "create");
    struct iovec iov = {(void *)p, n};
    int r = BP_SPOOL_OK;
    if (pwritev_full(fd, &iov, 1, 0) != 0)
        r = fail_io(s, tmp, "write");
    else if (fsync(fd) != 0)
        r = fail_sync(s, tmp);
    if (close(fd) != 0 && r == BP_SPOOL_OK)
        r = fail_io(s, tmp, "close");
    if (r == BP_SPOOL_OK && renameat(s->dirfd, tmp, s->dirfd, name) != 0)
        r = fail_io(s, name, "rename");
    if (r == BP_SPOOL_OK && fsync(s->dirfd) != 0)
        r = fail_sync(s, NULL);
    return r;
}

static int write_head(bp_spool *s, spool_pos pos)
{
    unsigned char h[BP_SPOOL_HEAD_SIZE];
    memcpy(h, HEAD_MAGIC, 8);
    put32(h + 8, BP_SPOOL_FORMAT_VERSION);
    put64(h + 12, pos.seq);
    put64(h + 20, pos.off);
    put32(h + 28, bp__crc32c(0, h, 28));
    return replace_file(s, HEAD_TMP, HEAD_NAME, h, sizeof h);
}

/* Creates segment `seq` (header only) and appends it to the live segments. */
static int create_segment(bp_spool *s, uint64_t seq)
{
    int r = reserve_segs(s, s->nsegs + 1);
    if (r)
        return r;
    unsigned char h[BP_SPOOL_SEGMENT_HEADER];
    memcpy(h, SEG_MAGIC, 8);
    put32(h + 8, BP_SPOOL_FORMAT_VERSION);
    put64(h + 12, seq);
    put32(h + 20, bp__crc32c(0, h, 20));
    char name[NAME_BUF];
    seg_name(name, seq);
    r = replace_file(s, SEG_TMP, name, h, sizeof h);
    if (r)
        return r;
    if (s->nsegs == 0)
        s->first_seq = seq;
    s->sizes[s->nsegs++] = BP_SPOOL_SEGMENT_HEADER;
    return BP_SPOOL_OK;
}

static int open_segment(bp_spool *s, uint64_t seq, int flags)
{
    char name[NAME_BUF];
    seg_name(name, seq);
    int fd = openat(s->dirfd, name, flags | O_CLOEXEC);
    if (fd < 0)
        fail_io(s, name, "open");
    return fd;
}

/* The segment `seq` open for reading; the descriptor stays owned by the spool. */
static int read_fd(bp_spool *s, uint64_t seq)
{
    if (s->rfd >= 0 && s->rfd_seq == seq)
        return s->rfd;
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = open_segment(s, seq, O_RDONLY);
    s->rfd_seq = seq;
    return s->rfd;
}

/* ------------------------------------------------------------------------------------------ */
/* Frames */

static uint64_t seg_size(const bp_spool *s, uint64_t seq)
{
    return s->sizes[seq - s->first_seq];
}

static uint64_t last_seq(const bp_spool *s)
{
    return s->first_seq + s->nsegs - 1;
}

/* 1 when every byte of [off, size) is zero: how a file system may show, after a power loss,
 * the end of a file whose size reached the disk before its data did. */
static int zero_tail(bp_spool *s, int fd, const char *name, uint64_t off, uint64_t size)
{
    int r = reserve_buf(s, ZERO_CHUNK);
    if (r)
        return r;
    while (off < size) {
        size_t n = size - off < ZERO_CHUNK ? (size_t)(size - off) : ZERO_CHUNK;
        ssize_t got = bp_pread_full(fd, s->buf, n, off);
        if (got < 0)
            return fail_io(s, name, "read");
        if ((size_t)got < n)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (s->buf[i])
                return 0;
        off += n;
    }
    return 1;
}

/* The frame header at `off` is damaged: a torn tail when only zeros follow (scan), else
 * corruption. */
static int bad_frame_header(bp_spool *s, int fd, const char *name, uint64_t off, uint64_t size,
                            read_mode mode)
{
    int z = mode == READ_SCAN ? zero_tail(s, fd, name, off, size) : 0;
    if (z < 0)
        return z;
    if (z)
        return FRAME_TORN;
    return fail(s, BP_SPOOL_ECORRUPT,
                "%s/%s: refused: the entry header at offset %" PRIu64 " fails its CRC" REFUSED,
                s->dir, name, off);
}

/* Reads the frame at `off` of a segment holding `size` bytes. BP_SPOOL_OK with *len set (and,
 * unless READ_SKIP, the verified bytes in s->buf); FRAME_TORN when the frame is cut short; or
 * BP_SPOOL_ECORRUPT / EIO with the message set. */
static int read_frame(bp_spool *s, int fd, const char *name, uint64_t off, uint64_t size,
                      read_mode mode, uint32_t *len)
{
    unsigned char h[BP_SPOOL_FRAME_HEADER];
    if (size - off < sizeof h)
        return FRAME_TORN;
    if (bp_pread_full(fd, h, sizeof h, off) != (ssize_t)sizeof h)
        return fail_io(s, name, "read");
    if (bp__crc32c(0, h, 8) != get32(h + 8))
        return bad_frame_header(s, fd, name, off, size, mode);
    *len = get32(h);
    if (*len > BP_SPOOL_MAX_ENTRY)
        return fail(s, BP_SPOOL_ECORRUPT,
                    "%s/%s: refused: the entry at offset %" PRIu64 " claims %" PRIu32
                    " bytes, more than an entry can hold" REFUSED,
                    s->dir, name, off, *len);
    if (size - off - sizeof h < *len)
        return FRAME_TORN;
    if (mode == READ_SKIP)
        return BP_SPOOL_OK;
    int r = reserve_buf(s, *len ? *len : 1);
    if (r)
        return r;
    if (bp_pread_full(fd, s->buf, *len, off + sizeof h) != (ssize_t)*len)
        return fail_io(s, name, "read");
    if (bp__crc32c(0, s->buf, *len) != get32(h + 4))
        return fail(s, BP_SPOOL_ECORRUPT,
                    "%s/%s: refused: the %" PRIu32 "-byte entry at offset %" PRIu64
                    " fails its CRC (the bytes changed after they were written)" REFUSED,
                    s->dir, name, *len, off);
    return BP_SPOOL_OK;
}

/* Reads the frame at `pos` of a live segment, whose bytes were all verified or written by us:
 * a frame cut short here is damage, not a torn tail. */
static int load_frame(bp_spool *s, spool_pos pos, read_mode mode, uint32_t *len)
{
    char name[NAME_BUF];
    seg_name(name, pos.seq);
    int fd = read_fd(s, pos.seq);
    if (fd < 0)
        return BP_SPOOL_EIO;
    int r = read_frame(s, fd, name, pos.off, seg_size(s, pos.seq), mode, len);
    if (r == FRAME_TORN)
        r = fail(s, BP_SPOOL_ECORRUPT, "%s/%s: the entry at offset %" PRIu64 " is cut short",
                 s->dir, name, pos.off);
    return r;
}

/* Moves a position at the end of a segment to the start of the next one, if there is one. */
static void normalize(const bp_spool *s, spool_pos *pos)
{
    while (pos->seq < last_seq(s) && pos->off == seg_size(s, pos->seq)) {
        pos->seq++;
        pos->off = BP_SPOOL_SEGMENT_HEADER;
    }
}

/* Advances `pos` over k entries, adding their framed bytes to *bytes. */
static int walk(bp_spool *s, spool_pos *pos, uint64_t k, uint64_t *bytes)
{
    for (uint64_t i = 0; i < k; i++) {
        normalize(s, pos);
        uint32_t len;
        int r = load_frame(s, *pos, READ_SKIP, &len);
        if (r)
            return r;
        pos->off += BP_SPOOL_FRAME_HEADER + (uint64_t)len;
        *bytes += BP_SPOOL_FRAME_HEADER + (uint64_t)len;
    }
    normalize(s, pos);
    return BP_SPOOL_OK;
}

static void reset_cursor(bp_spool *s)
{
    s->cur = s->head;
    s->cur_index = 0;
    s->cur_bytes = 0;
}

/* Makes `pos` the durable head, then deletes the segments before it. Deleting is tidying: a
 * segment left behind (unlink failed, or a crash) lies before the head and the next open
 * deletes it, so a failed unlink does not fail the consume. */
static int commit_head(bp_spool *s, spool_pos pos)
{
    if (pos.seq == s->head.seq && pos.off == s->head.off)
        return BP_SPOOL_OK;
    int r = write_head(s, pos);
    if (r)
        return r;
    s->head = pos;
    size_t drop = (size_t)(pos.seq - s->first_seq);
    for (size_t i = 0; i < drop; i++) {
        char name[NAME_BUF];
        seg_name(name, s->first_seq + i);
        if (s->rfd >= 0 && s->rfd_seq == s->first_seq + i) {
            close(s->rfd);
            s->rfd = -1;
        }
        unlinkat(s->dirfd, name, 0);
    }
    memmove(s->sizes, s->sizes + drop, (s->nsegs - drop) * sizeof *s->sizes);
    s->nsegs -= drop;
    s->first_seq = pos.seq;
    return BP_SPOOL_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Opening: list, verify everything, and only then repair */

static int refuse_name(bp_spool *s, const char *name)
{
    return fail(s, BP_SPOOL_EFOREIGN,
                "%s/%s: refused: not a file of a bppipe spool (a spool folder holds only *.seg "
                "segments and '" HEAD_NAME "'; give each sink a folder of its own)" REFUSED,
                s->dir, name);
}

static int add_seq(bp_spool *s, spool_dir *d, uint64_t seq)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        uint64_t *p = realloc(d->seqs, cap * sizeof *p);
        if (!p)
            return fail(s, BP_SPOOL_ENOMEM, "%s: out of memory", s->dir);
        d->seqs = p;
        d->cap = cap;
    }
    d->seqs[d->n++] = seq;
    return BP_SPOOL_OK;
}

static int classify(bp_spool *s, spool_dir *d, const struct dirent *e)
{
    const char *n = e->d_name;
    uint64_t seq;
    if (!strcmp(n, ".") || !strcmp(n, ".."))
        return BP_SPOOL_OK;
    if (!strcmp(n, HEAD_NAME))
        d->has_head = 1;
    else if (!strcmp(n, HEAD_TMP))
        d->has_head_tmp = 1;
    else if (!strcmp(n, SEG_TMP))
        d->has_seg_tmp = 1;
    else if (parse_seg_name(n, &seq))
        return add_seq(s, d, seq);
    else if (strcmp(n, "lost+found") != 0) /* a file system mounted on the folder has one */
        return refuse_name(s, n);
    return BP_SPOOL_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int list_folder(bp_spool *s, spool_dir *d)
{
    int fd = dup(s->dirfd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        int r = fail_io(s, NULL, "read folder");
        if (fd >= 0)
            close(fd);
        return r;
    }
    rewinddir(dir);
    int r = BP_SPOOL_OK;
    while (r == BP_SPOOL_OK) {
        errno = 0;
        struct dirent *e = readdir(dir);
        if (!e) {
            if (errno)
                r = fail_io(s, NULL, "read folder");
            break;
        }
        r = classify(s, d, e);
    }
    closedir(dir);
    if (d->n)
        qsort(d->seqs, d->n, sizeof *d->seqs, cmp_u64);
    return r;
}

/* Checks magic, version and CRC of a header of `want` bytes of which `got` were read. The
 * version is checked before the CRC: a newer format may lay out the rest differently. */
static int check_preamble(bp_spool *s, const char *name, const unsigned char *b, size_t got,
                          const char *magic, size_t want)
{
    if (got < 8 || memcmp(b, magic, 8) != 0)
        return fail(s, BP_SPOOL_EFOREIGN,
                    "%s/%s: refused: not a bppipe spool file (its first bytes are not the "
                    "spool's magic)" REFUSED,
                    s->dir, name);
    uint32_t v = got >= 12 ? get32(b + 8) : BP_SPOOL_FORMAT_VERSION;
    if (v != BP_SPOOL_FORMAT_VERSION)
        return fail(s, BP_SPOOL_EVERSION,
                    "%s/%s: refused: spool format version %" PRIu32 ", this bppipe reads version "
                    "%u: drain it with the bppipe that wrote it" REFUSED,
                    s->dir, name, v, BP_SPOOL_FORMAT_VERSION);
    if (got < want)
        return fail(s, BP_SPOOL_ECORRUPT,
                    "%s/%s: refused: the header is cut short (%zu of %zu bytes)" REFUSED, s->dir,
                    name, got, want);
    if (bp__crc32c(0, b, want - 4) != get32(b + want - 4))
        return fail(s, BP_SPOOL_ECORRUPT, "%s/%s: refused: the header fails its CRC" REFUSED,
                    s->dir, name);
    return BP_SPOOL_OK;
}

/* Opens `name` read-only and reads up to `want` bytes of it into b; *size is the file's. */
static int read_start(bp_spool *s, const char *name, unsigned char *b, size_t want, size_t *got,
                      uint64_t *size, int *fd_out)
{
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_io(s, name, "open");
    struct stat st;
    int r = BP_SPOOL_OK;
    if (fstat(fd, &st) != 0)
        r = fail_io(s, name, "stat");
    else if (!S_ISREG(st.st_mode))
        r = refuse_name(s, name);
    ssize_t n = r ? 0 : bp_pread_full(fd, b, want, 0);
    if (n < 0)
        r = fail_io(s, name, "read");
    if (r == BP_SPOOL_OK && fd_out) {
        *fd_out = fd;
    } else {
        close(fd);
    }
    *got = n > 0 ? (size_t)n : 0;
    *size = r ? 0 : (uint64_t)st.st_size;
    return r;
}

/* The consumed position: from the head file, or the start of the oldest segment without one. */
static int read_head(bp_spool *s, const spool_dir *d, spool_pos *head)
{
    head->seq = d->n ? d->seqs[0] : 1;
    head->off = BP_SPOOL_SEGMENT_HEADER;
    if (!d->has_head)
        return BP_SPOOL_OK;
    unsigned char h[BP_SPOOL_HEAD_SIZE];
    size_t got;
    uint64_t size;
    int r = read_start(s, HEAD_NAME, h, sizeof h, &got, &size, NULL);
    if (r == BP_SPOOL_OK)
        r = check_preamble(s, HEAD_NAME, h, got, HEAD_MAGIC, sizeof h);
    if (r == BP_SPOOL_OK && size != sizeof h)
        r = fail(s, BP_SPOOL_ECORRUPT,
                 "%s/" HEAD_NAME ": refused: %" PRIu64 " bytes, not %u" REFUSED, s->dir, size,
                 BP_SPOOL_HEAD_SIZE);
    if (r)
        return r;
    head->seq = get64(h + 12);
    head->off = get64(h + 20);
    if (head->off < BP_SPOOL_SEGMENT_HEADER)
        return fail(s, BP_SPOOL_ECORRUPT,
                    "%s/" HEAD_NAME ": refused: offset %" PRIu64 " lies inside a header" REFUSED,
                    s->dir, head->off);
    return BP_SPOOL_OK;
}

/* The live segments run from the head's without a gap; the ones before it are stale. */
static int check_sequence(bp_spool *s, spool_dir *d, spool_pos head)
{
    size_t i = 0;
    while (i < d->n && d->seqs[i] < head.seq)
        i++;
    d->stale = i;
    char name[NAME_BUF];
    if (d->has_head && (i == d->n || d->seqs[i] != head.seq)) {
        seg_name(name, head.seq);
        return fail(s, BP_SPOOL_ECORRUPT,
                    "%s/%s: refused: the head file names this segment, but it is missing" REFUSED,
                    s->dir, name);
    }
    for (i++; i < d->n; i++) {
        if (d->seqs[i] != d->seqs[i - 1] + 1) {
            char after[NAME_BUF];
            seg_name(name, d->seqs[i - 1] + 1);
            seg_name(after, d->seqs[i]);
            return fail(s, BP_SPOOL_ECORRUPT,
                        "%s/%s: refused: this segment is missing, though %s follows" REFUSED,
                        s->dir, name, after);
        }
    }
    return reserve_segs(s, d->n - d->stale);
}

/* Verifies every frame of an open segment. `from` is where unconsumed entries start; it must
 * be a frame boundary. A frame cut short is a torn tail only in the newest segment. */
static int scan_frames(bp_spool *s, int fd, const char *name, int is_last, uint64_t from,
                       uint64_t size, uint64_t *end)
{
    uint64_t off = BP_SPOOL_SEGMENT_HEADER;
    int boundary = off == from;
    while (off < size) {
        uint32_t len;
        int r = read_frame(s, fd, name, off, size, READ_SCAN, &len);
        if (r == FRAME_TORN && is_last)
            break;
        if (r == FRAME_TORN)
            return fail(s, BP_SPOOL_ECORRUPT,
                        "%s/%s: refused: the segment ends inside the entry at offset %" PRIu64
                        ", but a newer segment follows it" REFUSED,
                        s->dir, name, off);
        if (r)
            return r;
        if (off >= from) {
            s->count++;
            s->bytes += BP_SPOOL_FRAME_HEADER + (uint64_t)len;
        }
        off += BP_SPOOL_FRAME_HEADER + (uint64_t)len;
        boundary |= off == from;
    }
    if (!boundary)
        return fail(s, BP_SPOOL_ECORRUPT,
                    "%s/" HEAD_NAME ": refused: the consumed position (offset %" PRIu64
                    " of %s) is not the start of an entry" REFUSED,
                    s->dir, from, name);
    *end = off;
    return BP_SPOOL_OK;
}

static int scan_segment(bp_spool *s, uint64_t seq, int is_last, spool_pos head, uint64_t *size)
{
    char name[NAME_BUF];
    seg_name(name, seq);
    unsigned char h[BP_SPOOL_SEGMENT_HEADER];
    size_t got;
    int fd = -1;
    int r = read_start(s, name, h, sizeof h, &got, size, &fd);
    if (r == BP_SPOOL_OK)
        r = check_preamble(s, name, h, got, SEG_MAGIC, sizeof h);
    if (r == BP_SPOOL_OK && get64(h + 12) != seq)
        r = fail(s, BP_SPOOL_ECORRUPT,
                 "%s/%s: refused: its header says it is segment %" PRIu64 REFUSED, s->dir, name,
                 get64(h + 12));
    uint64_t from = seq == head.seq ? head.off : BP_SPOOL_SEGMENT_HEADER;
    uint64_t end = 0;
    if (r == BP_SPOOL_OK)
        r = scan_frames(s, fd, name, is_last, from, *size, &end);
    if (r == BP_SPOOL_OK)
        s->sizes[s->nsegs++] = end;
    if (fd >= 0)
        close(fd);
    return r;
}

/* Verifies every live segment; *tail_size is the newest one's file size (before truncation). */
static int scan_all(bp_spool *s, const spool_dir *d, spool_pos head, uint64_t *tail_size)
{
    size_t live = d->n - d->stale;
    s->first_seq = head.seq;
    for (size_t i = 0; i < live; i++) {
        int r = scan_segment(s, d->seqs[d->stale + i], i + 1 == live, head, tail_size);
        if (r)
            return r;
    }
    return BP_SPOOL_OK;
}

static int truncate_tail(bp_spool *s)
{
    uint64_t seq = last_seq(s);
    char name[NAME_BUF];
    seg_name(name, seq);
    int fd = open_segment(s, seq, O_WRONLY);
    if (fd < 0)
        return BP_SPOOL_EIO;
    int r = BP_SPOOL_OK;
    if (ftruncate(fd, (off_t)s->sizes[s->nsegs - 1]) != 0)
        r = fail_io(s, name, "truncate the torn tail");
    else if (fdatasync(fd) != 0)
        r = fail_sync(s, name);
    close(fd);
    return r;
}

static int unlink_name(bp_spool *s, const char *name)
{
    if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT)
        return fail_io(s, name, "delete");
    return BP_SPOOL_OK;
}

/* After everything verified: drop leftovers of interrupted steps and the torn tail. */
static int repair(bp_spool *s, const spool_dir *d, uint64_t tail_size)
{
    int r = BP_SPOOL_OK;
    int changed = d->has_head_tmp || d->has_seg_tmp || d->stale > 0;
    if (d->has_head_tmp)
        r = unlink_name(s, HEAD_TMP);
    if (r == BP_SPOOL_OK && d->has_seg_tmp)
        r = unlink_name(s, SEG_TMP);
    for (size_t i = 0; r == BP_SPOOL_OK && i < d->stale; i++) {
        char name[NAME_BUF];
        seg_name(name, d->seqs[i]);
        r = unlink_name(s, name);
    }
    if (r == BP_SPOOL_OK && s->nsegs && tail_size > s->sizes[s->nsegs - 1])
        r = truncate_tail(s);
    if (r == BP_SPOOL_OK && changed && fsync(s->dirfd) != 0)
        r = fail_sync(s, NULL);
    return r;
}

static int load(bp_spool *s)
{
    spool_dir d = {0};
    spool_pos head;
    uint64_t tail_size = 0;
    int r = list_folder(s, &d);
    if (r == BP_SPOOL_OK)
        r = read_head(s, &d, &head);
    if (r == BP_SPOOL_OK)
        r = check_sequence(s, &d, head);
    if (r == BP_SPOOL_OK)
        r = scan_all(s, &d, head, &tail_size);
    if (r == BP_SPOOL_OK)
        r = repair(s, &d, tail_size);
    if (r == BP_SPOOL_OK && s->nsegs == 0)
        r = create_segment(s, head.seq);
    if (r == BP_SPOOL_OK && (s->wfd = open_segment(s, last_seq(s), O_WRONLY)) < 0)
        r = BP_SPOOL_EIO;
    if (r == BP_SPOOL_OK) {
        s->head = head;
        normalize(s, &head);
        r = commit_head(s, head);
        reset_cursor(s);
    }
    free(d.seqs);
    return r;
}

static int make_folder(bp_spool *s, char *path)
{
    if (mkdir(path, 0700) != 0)
        return errno == EEXIST ? BP_SPOOL_OK
                               : fail(s, BP_SPOOL_EIO, "%s: cannot create folder %s: %s", s->dir,
                                      path, strerror(errno));
    char *slash = strrchr(path, '/');
    const char *parent = slash ? (slash == path ? "/" : path) : ".";
    if (slash && slash != path)
        *slash = '\0';
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ok = fd >= 0 && fsync(fd) == 0;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (slash && slash != path)
        *slash = '/';
    if (!ok)
        return fail(s, BP_SPOOL_EIO, "%s: fsync of the folder holding it: %s", s->dir, strerror(e));
    return BP_SPOOL_OK;
}

/* mkdir -p with mode 0700, fsyncing the parent of each folder made so that it survives a
 * crash. Works on a copy of the path. */
static int make_folders(bp_spool *s)
{
    char *p = strdup(s->dir);
    if (!p)
        return fail(s, BP_SPOOL_ENOMEM, "%s: out of memory", s->dir);
    int r = BP_SPOOL_OK;
    for (char *q = p + 1; r == BP_SPOOL_OK; q++) {
        if (*q != '/' && *q != '\0')
            continue;
        char c = *q;
        *q = '\0';
        r = make_folder(s, p);
        *q = c;
        if (c == '\0')
            break;
    }
    free(p);
    return r;
}

static int open_folder(bp_spool *s)
{
    int r = make_folders(s);
    if (r)
        return r;
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0)
        return fail_io(s, NULL, "open folder");
    if (flock(s->dirfd, LOCK_EX | LOCK_NB) == 0)
        return BP_SPOOL_OK;
    if (errno == EWOULDBLOCK)
        return fail(s, BP_SPOOL_EBUSY,
                    "%s: refused: the spool is open elsewhere (another bppipe, or another sink "
                    "given the same folder)",
                    s->dir);
    return fail_io(s, NULL, "lock folder");
}

/* ------------------------------------------------------------------------------------------ */
/* The API */

static uint64_t segment_target(uint64_t max_bytes)
{
    uint64_t t = max_bytes / 8;
    return t < SEG_MIN ? SEG_MIN : t > SEG_MAX ? SEG_MAX : t;
}

int bp_spool_open(const char *dir, uint64_t max_bytes, bp_spool **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!dir || !*dir || !out || max_bytes == 0) {
        if (err && errlen)
            snprintf(err, errlen, "spool: invalid argument (folder, handle or max_bytes)");
        return BP_SPOOL_EINVAL;
    }
    bp_spool *s = calloc(1, sizeof *s);
    if (!s) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", dir);
        return BP_SPOOL_ENOMEM;
    }
    s->dirfd = s->wfd = s->rfd = -1;
    s->max_bytes = max_bytes > UINT64_MAX / 2 ? UINT64_MAX / 2 : max_bytes;
    s->seg_target = segment_target(s->max_bytes);
    s->dir = strdup(dir);
    int r = s->dir ? open_folder(s) : fail(s, BP_SPOOL_ENOMEM, "%s: out of memory", dir);
    if (r == BP_SPOOL_OK)
        r = load(s);
    if (r == BP_SPOOL_OK) {
        *out = s;
        return BP_SPOOL_OK;
    }
    if (err && errlen)
        snprintf(err, errlen, "%s", bp_spool_error(s));
    bp_spool_close(s);
    return r;
}

/* The framed size of a batch, or ETOOBIG when it could never fit. */
static int batch_bytes(bp_spool *s, const bp_spool_entry *e, size_t n, uint64_t *need)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!e[i].data && e[i].len)
            return fail(s, BP_SPOOL_EINVAL, "%s: entry %zu of the batch has no data", s->dir, i);
        if (e[i].len > BP_SPOOL_MAX_ENTRY)
            return fail(s, BP_SPOOL_ETOOBIG,
                        "%s: an entry of %zu bytes is more than the %zu "
                        "a spool entry can hold",
                        s->dir, e[i].len, BP_SPOOL_MAX_ENTRY);
        total += BP_SPOOL_FRAME_HEADER + (uint64_t)e[i].len;
        if (total > s->max_bytes)
            return fail(s, BP_SPOOL_ETOOBIG,
                        "%s: %zu entr%s of %" PRIu64 "+ bytes with framing, more than the "
                        "spool's limit of %" PRIu64 " bytes: append fewer at a time",
                        s->dir, n, n == 1 ? "y" : "ies", total, s->max_bytes);
    }
    *need = total;
    return BP_SPOOL_OK;
}

/* The newest segment is made durable before the next one is created, so every segment but the
 * newest is complete on disk: a cut-short frame anywhere else is damage, not a crash. */
static int roll(bp_spool *s)
{
    char name[NAME_BUF];
    seg_name(name, last_seq(s));
    if (fdatasync(s->wfd) != 0)
        return fail_sync(s, name);
    int r = create_segment(s, last_seq(s) + 1);
    if (r)
        return r;
    int fd = open_segment(s, last_seq(s), O_WRONLY);
    if (fd < 0)
        return BP_SPOOL_EIO;
    close(s->wfd);
    s->wfd = fd;
    return BP_SPOOL_OK;
}

static int write_entry(bp_spool *s, const bp_spool_entry *e)
{
    uint64_t frame = BP_SPOOL_FRAME_HEADER + (uint64_t)e->len;
    uint64_t end = s->sizes[s->nsegs - 1];
    if (end > BP_SPOOL_SEGMENT_HEADER && end + frame > s->seg_target) {
        int r = roll(s);
        if (r)
            return r;
    }
    unsigned char h[BP_SPOOL_FRAME_HEADER];
    put32(h, (uint32_t)e->len);
    put32(h + 4, bp__crc32c(0, e->data, e->len));
    put32(h + 8, bp__crc32c(0, h, 8));
    struct iovec iov[2] = {{h, sizeof h}, {(void *)e->data, e->len}};
    if (pwritev_full(s->wfd, iov, 2, s->sizes[s->nsegs - 1]) != 0) {
        char name[NAME_BUF];
        seg_name(name, last_seq(s));
        return fail_io(s, name, "write");
    }
    s->sizes[s->nsegs - 1] += frame;
    return BP_SPOOL_OK;
}

/* Undoes a failed batch: deletes the segments it created (newest first, so a crash here leaves
 * no gap) and cuts the old newest segment back. If that fails too, the spool is broken. */
static void rollback(bp_spool *s, size_t nsegs, uint64_t size)
{
    int ok = 1;
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = -1;
    if (s->nsegs > nsegs) {
        close(s->wfd);
        for (; s->nsegs > nsegs; s->nsegs--) {
            char name[NAME_BUF];
            seg_name(name, last_seq(s));
            ok &= unlinkat(s->dirfd, name, 0) == 0 || errno == ENOENT;
        }
        s->wfd = open_segment(s, last_seq(s), O_WRONLY);
    }
    ok &= s->wfd >= 0 && ftruncate(s->wfd, (off_t)size) == 0 && fdatasync(s->wfd) == 0;
    ok &= fsync(s->dirfd) == 0;
    s->sizes[s->nsegs - 1] = size;
    reset_cursor(s);
    if (!ok)
        s->broken = 1;
}

int bp_spool_append_many(bp_spool *s, const bp_spool_entry *entries, size_t n)
{
    if (!s || (n && !entries))
        return s ? fail(s, BP_SPOOL_EINVAL, "%s: append: no entries", s->dir) : BP_SPOOL_EINVAL;
    if (s->broken)
        return refuse_broken(s);
    uint64_t need = 0;
    int r = batch_bytes(s, entries, n, &need);
    if (r || n == 0)
        return r;
    if (s->bytes >= s->max_bytes || need > s->max_bytes - s->bytes)
        return fail(s, BP_SPOOL_FULL,
                    "%s: spool is full (%" PRIu64 " of %" PRIu64 " bytes held, %" PRIu64
                    " more needed)",
                    s->dir, s->bytes, s->max_bytes, need);
    size_t nsegs = s->nsegs;
    uint64_t size = s->sizes[nsegs - 1];
    for (size_t i = 0; i < n && r == BP_SPOOL_OK; i++)
        r = write_entry(s, &entries[i]);
    if (r == BP_SPOOL_OK && fdatasync(s->wfd) != 0) {
        char name[NAME_BUF];
        seg_name(name, last_seq(s));
        r = fail_sync(s, name);
    }
    if (r) {
        rollback(s, nsegs, size);
        return r;
    }
    s->count += n;
    s->bytes += need;
    return BP_SPOOL_OK;
}

int bp_spool_append(bp_spool *s, const void *data, size_t len)
{
    bp_spool_entry e = {data, len};
    return bp_spool_append_many(s, &e, 1);
}

int bp_spool_peek(bp_spool *s, uint64_t i, const void **data, size_t *len)
{
    if (!s || !data || !len)
        return s ? fail(s, BP_SPOOL_EINVAL, "%s: peek: no place for the entry", s->dir)
                 : BP_SPOOL_EINVAL;
    if (s->broken)
        return refuse_broken(s);
    if (i >= s->count)
        return BP_SPOOL_END;
    if (i < s->cur_index)
        reset_cursor(s);
    uint32_t n = 0;
    int r = walk(s, &s->cur, i - s->cur_index, &s->cur_bytes);
    if (r == BP_SPOOL_OK)
        r = load_frame(s, s->cur, READ_DATA, &n);
    if (r) {
        reset_cursor(s);
        return r;
    }
    /* The cursor moves past the entry returned, so reading on in order costs one read each. */
    s->cur.off += BP_SPOOL_FRAME_HEADER + (uint64_t)n;
    s->cur_bytes += BP_SPOOL_FRAME_HEADER + (uint64_t)n;
    s->cur_index = i + 1;
    *data = s->buf;
    *len = n;
    return BP_SPOOL_OK;
}

int bp_spool_consume(bp_spool *s, uint64_t n)
{
    if (!s)
        return BP_SPOOL_EINVAL;
    if (s->broken)
        return refuse_broken(s);
    if (n > s->count)
        return fail(s, BP_SPOOL_EINVAL,
                    "%s: consume %" PRIu64 " entries, but only %" PRIu64 " are held", s->dir, n,
                    s->count);
    /* Walk from the cursor when it is not past the target: after peeking 0..n-1 that is free. */
    int from_cur = s->cur_index <= n;
    spool_pos pos = from_cur ? s->cur : s->head;
    uint64_t bytes = from_cur ? s->cur_bytes : 0;
    int r = walk(s, &pos, from_cur ? n - s->cur_index : n, &bytes);
    if (r == BP_SPOOL_OK)
        r = commit_head(s, pos);
    if (r) {
        reset_cursor(s);
        return r;
    }
    s->count -= n;
    s->bytes -= bytes;
    if (s->cur_index >= n && !from_cur) {
        s->cur_index -= n;
        s->cur_bytes -= bytes;
    } else {
        reset_cursor(s);
    }
    return BP_SPOOL_OK;
}

uint64_t bp_spool_count(const bp_spool *s)
{
    return s ? s->count : 0;
}

uint64_t bp_spool_bytes(const bp_spool *s)
{
    return s ? s->bytes : 0;
}

const char *bp_spool_error(const bp_spool *s)
{
    if (!s)
        return "";
    if (s->msg_lost)
        return "out of memory (the error message was lost)";
    return s->msg ? s->msg : "";
}

const char *bp_spool_strerror(int status)
{
    switch (status) {
    case BP_SPOOL_OK: return "ok";
    case BP_SPOOL_FULL: return "spool is full";
    case BP_SPOOL_END: return "no such entry";
    case BP_SPOOL_EINVAL: return "invalid argument";
    case BP_SPOOL_ENOMEM: return "out of memory";
    case BP_SPOOL_EIO: return "input/output error";
    case BP_SPOOL_EBUSY: return "spool is open elsewhere";
    case BP_SPOOL_ETOOBIG: return "entry can never fit in the spool";
    case BP_SPOOL_EBROKEN: return "spool must be reopened after a failed write";
    case BP_SPOOL_ECORRUPT: return "spool is damaged";
    case BP_SPOOL_EFOREIGN: return "not a bppipe spool";
    case BP_SPOOL_EVERSION: return "unknown spool format version";
    default: return "unknown status";
    }
}

void bp_spool_close(bp_spool *s)
{
    if (!s)
        return;
    if (s->wfd >= 0)
        close(s->wfd);
    if (s->rfd >= 0)
        close(s->rfd);
    if (s->dirfd >= 0)
        close(s->dirfd); /* releases the lock */
    free(s->sizes);
    free(s->buf);
    free(s->msg);
    free(s->dir);
    free(s);
}
