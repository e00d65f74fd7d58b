/* sink-file: documents to files, durable before acknowledged.
 *
 * layout = ndjson      one compact document per line, in hourly files named from the
 *                      reading's own time; every file a batch touched is fsync'd before write()
 *                      returns, and a failed batch is truncated back so no partial line stays.
 * layout = per-record  one pretty document per file (the original archive): a batch's files
 *                      are written without their names, made durable together (syncfs),
 *                      named, and synced once more before any reading of the batch is
 *                      acknowledged. A reading with a logical id is named by it, and
 *                      its later versions and its retraction replace that file, keeping a
 *                      trail (file_revision.c).
 * path = -             ndjson to standard output.
 */
#include "file_names.h"
#include "file_revision.h"
#include "group_sync.h"
#include "name_filter.h"
#include "temp_files.h"

#include "common/clock.h"
#include "common/io.h"

#include <bppipe/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DIR_MODE 0750
#define FILE_MODE 0640
#define MAX_TOUCHED 64 /* hourly files one batch may touch before they are synced early */
/* per-record: files of one group (a larger batch is written in groups of this many, a syncfs
 * each and one more at the end; measured: bench/durability, the sink's doc, "Durability"). Two
 * groups are open at once (one written while the other's syncfs runs): an eighth of the
 * process's open-file limit each, within these bounds, so that the sockets and the other sinks
 * keep theirs (1 024, Debian's default limit, gives two of 128). At most 256: a write of the
 * lane's up to 1 024 readings is then four groups, each one's syncfs overlapping the writing of
 * the next, where one group of 1 024 waited for its syncfs with nothing to overlap (es_fast
 * per-record first pass 25 510-30 488 readings/s against 20 450-27 855, the sink's doc) */
#define GROUP_MIN 32
#define GROUP_MAX 256

enum { REFUSED = 1, RENAMED = 2 };

typedef struct touched {
    char name[64];
    int fd;
    off_t start; /* size before this batch: where to truncate back to on failure */
} touched;

typedef struct pending {
    size_t record; /* its index in the batch */
    bool logical;  /* named by its logical id: a version (file_revision.h) */
    char name[BP_RECORD_NAME_MAX + 1];
} pending;

typedef struct sink {
    const bp_host *host;
    bp_ctx *ctx;
    char dir[PATH_MAX];
    int dir_fd;
    bool to_stdout, per_record;
    bool swept; /* per-record: the temporary files of an earlier run are removed */
    bool kept;  /* per-record: this write found files that already held their document */
    touched files[MAX_TOUCHED];
    size_t n_files;
    unsigned char *marks; /* per record of the batch being written: REFUSED, RENAMED or 0 */
    size_t marks_cap;
    /* per-record: the files written and not yet named, two groups of group_max: one written
     * while the other's syncfs() runs on `syncer` */
    pending *group[2];
    size_t group_max;
    bp_temp *temps[2];
    bp_group_sync syncer;
    bool syncing;  /* syncer started (at the first write) */
    bp_temps made; /* per-record: how this folder's files are made */
    /* per-record: the versions among the group's files, and which files of each group get their
     * name: named on the syncer's thread after the group's syncfs(), each result (0 or an errno)
     * in `linked` */
    bp_revisions revs;
    bool *named[2];
    int *linked[2];
    int naming_b;    /* the group the syncer names after its syncfs() */
    size_t naming_k; /* and how many files it holds */
    /* per-record: the names the folder may hold (its listing at the first write, and every name
     * given since): a name it does not hold is not looked up before its file is made */
    bp_name_filter names;
} sink;

static const bp_option options[] = {
    BP_OPTION_STRING("path", NULL, BP_OPT_REQUIRED,
                     "folder for the files (created 0750), or - for standard output"),
    BP_OPTION_ENUM("layout", "ndjson", "ndjson|per-record",
                   "hourly NDJSON files, or one pretty JSON file per reading"),
};

/* mkdir -p with an explicit mode (umask must not widen or narrow it). */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, DIR_MODE) == 0)
            chmod(buf, DIR_MODE);
        else if (errno != EEXIST)
            return -1;
        *p = saved;
        if (!saved)
            break;
    }
    return 0;
}

static int sink_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->dir_fd = -1;
    const char *path = host->opt_string(ctx, "path");
    const char *layout = host->opt_string(ctx, "layout");
    s->per_record = layout && strcmp(layout, "per-record") == 0;
    if (strcmp(path, "-") == 0) {
        if (s->per_record) {
            host->log(ctx, BP_LOG_ERROR,
                      "path = - writes NDJSON to standard output; use "
                      "layout = ndjson or give a folder");
            goto fail;
        }
        s->to_stdout = true;
        *state = s;
        return BP_OK;
    }
    snprintf(s->dir, sizeof s->dir, "%s", path);
    if (make_dirs(s->dir) != 0) {
        host->log(ctx, BP_LOG_ERROR,
                  "cannot create folder %s: %s; create it or choose another "
                  "path",
                  s->dir, strerror(errno));
        goto fail;
    }
    s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0 || access(s->dir, W_OK | X_OK) != 0) {
        host->log(ctx, BP_LOG_ERROR, "folder %s is not writable: %s; fix its permissions", s->dir,
                  strerror(errno));
        goto fail;
    }
    if (s->per_record) {
        struct rlimit lim;
        rlim_t eighth = getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur / 8 : GROUP_MIN;
        s->group_max = eighth < GROUP_MIN ? GROUP_MIN : eighth > GROUP_MAX ? GROUP_MAX : eighth;
        for (int b = 0; b < 2; b++) {
            s->group[b] = calloc(s->group_max, sizeof *s->group[b]);
            s->temps[b] = calloc(s->group_max, sizeof *s->temps[b]);
        }
        for (int b = 0; b < 2; b++) {
            s->named[b] = calloc(s->group_max, sizeof *s->named[b]);
            s->linked[b] = calloc(s->group_max, sizeof *s->linked[b]);
        }
        bp_temps_init(&s->made, s->dir_fd);
        if (!s->group[0] || !s->group[1] || !s->temps[0] || !s->temps[1] || !s->named[0] ||
            !s->named[1] || !s->linked[0] || !s->linked[1] ||
            bp_revisions_init(&s->revs, s->dir_fd, s->group_max) != 0 ||
            bp_name_filter_init(&s->names) != 0) {
            host->log(ctx, BP_LOG_ERROR, "out of memory");
            goto fail;
        }
    }
    *state = s;
    return BP_OK;
fail:
    for (int b = 0; b < 2; b++) {
        free(s->group[b]);
        free(s->temps[b]);
        free(s->named[b]);
        free(s->linked[b]);
    }
    bp_revisions_free(&s->revs);
    bp_name_filter_free(&s->names);
    if (s->dir_fd >= 0)
        close(s->dir_fd);
    free(s);
    return BP_FATAL;
}

static void sink_close(void *state)
{
    sink *s = state;
    if (s->dir_fd >= 0)
        close(s->dir_fd);
    if (s->syncing)
        bp_group_sync_stop(&s->syncer);
    free(s->marks);
    for (int b = 0; b < 2; b++) {
        free(s->group[b]);
        free(s->temps[b]);
        free(s->named[b]);
        free(s->linked[b]);
    }
    bp_revisions_free(&s->revs);
    bp_name_filter_free(&s->names);
    free(s);
}

/* Whether a failure to write one reading's data will be the same on every retry: then the
 * reading is refused (a dead letter with the reason), not retried. A full disk, an I/O error,
 * a quota or a permission can be fixed while the host waits; a name or a file the system
 * will never take cannot. */
static bool permanent_errno(int e)
{
    switch (e) {
    case ENAMETOOLONG:
    case EINVAL:
    case EISDIR:
    case EFBIG:
    case ELOOP:
    case EILSEQ: return true;
    default: return false;
    }
}

/* Clears the per-record marks for a batch of n records; -1 when out of memory. */
static int begin_marks(sink *s, size_t n)
{
    if (n > s->marks_cap) {
        unsigned char *grown = realloc(s->marks, n);
        if (!grown)
            return -1;
        s->marks = grown;
        s->marks_cap = n;
    }
    if (n)
        memset(s->marks, 0, n);
    return 0;
}

static void refuse(sink *s, bp_batch *batch, size_t i, const char *why)
{
    s->host->set_outcome(s->ctx, s->host->batch_at(batch, i), BP_REJECTED, why);
    s->marks[i] = REFUSED;
}

/* Records [0, end) not refused are durable: they are delivered, whatever the batch returns. */
static void delivered_before(sink *s, bp_batch *batch, size_t end)
{
    for (size_t k = 0; k < end; k++)
        if (s->marks[k] != REFUSED)
            s->host->set_outcome(s->ctx, s->host->batch_at(batch, k), BP_DELIVERED, NULL);
}

static int64_t record_time(const bp_host *h, const bp_record *r)
{
    double ms = h->number(r, BP_F_EFFECTIVE_MS);
    if (!isnan(ms))
        return (int64_t)ms;
    return bp_wall_ms() / 1000 * 1000; /* no time of its own: now, in whole seconds */
}

/* The hourly file for `name`, opened for append at its first use in this batch. */
static touched *touch(sink *s, const char *name)
{
    for (size_t i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i].name, name) == 0)
            return &s->files[i];
    if (s->n_files == MAX_TOUCHED)
        return NULL;
    touched *t = &s->files[s->n_files];
    t->fd = openat(s->dir_fd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, FILE_MODE);
    if (t->fd < 0)
        return NULL;
    struct stat st;
    if (fstat(t->fd, &st) != 0) {
        close(t->fd);
        return NULL;
    }
    fchmod(t->fd, FILE_MODE);
    t->start = st.st_size;
    snprintf(t->name, sizeof t->name, "%s", name);
    s->n_files++;
    return t;
}

/* Ends the batch: sync (or, after a failure, truncate back) and close every touched file. */
static int finish_files(sink *s, bool ok)
{
    int rc = 0, err = errno; /* errno of the first failure survives the clean-up */
    for (size_t i = 0; i < s->n_files; i++) {
        touched *t = &s->files[i];
        if (ok && fsync(t->fd) != 0)
            ok = false, rc = -1, err = errno;
        if (!ok && ftruncate(t->fd, t->start) != 0 && rc == 0)
            rc = -1, err = errno;
        close(t->fd);
    }
    s->n_files = 0;
    if (ok && fsync(s->dir_fd) != 0)
        rc = -1, err = errno;
    errno = err;
    return ok ? rc : -1;
}

/* Documents gathered for one hourly file and written together: two write() calls per reading
 * were a seventh of the ward benchmark's CPU. Whatever is gathered is written before its file
 * is synced, so the batch's durability is unchanged. */
typedef struct gathered {
    int fd; /* the file the bytes are for, -1 for none */
    size_t len;
    char data[32 * 1024];
} gathered;

/* Writes what is gathered; 0, or -1 with errno set. */
static int gathered_flush(gathered *g)
{
    int rc = g->len ? bp_write_all(g->fd, g->data, g->len) : 0;
    g->len = 0;
    return rc;
}

/* Adds one document and its newline for `fd`; 0, or -1 with errno set. */
static int gathered_add(gathered *g, int fd, const char *doc, size_t len)
{
    if ((g->fd != fd || g->len + len + 1 > sizeof g->data) && gathered_flush(g) != 0)
        return -1;
    g->fd = fd;
    if (len + 1 > sizeof g->data)
        return bp_write_all(fd, doc, len) != 0 || bp_write_all(fd, "\n", 1) != 0 ? -1 : 0;
    memcpy(g->data + g->len, doc, len);
    g->data[g->len + len] = '\n';
    g->len += len + 1;
    return 0;
}

static int write_ndjson(sink *s, bp_batch *batch)
{
    const bp_host *h = s->host;
    const char *what = "write";
    size_t durable = 0; /* records before this index are already synced */
    int err = 0;
    gathered g;
    g.fd = -1;
    g.len = 0;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        char name[64];
        size_t len;
        const char *doc = h->document(s->ctx, r, 0, &len);
        touched *t = NULL;
        if (!doc) {
            err = ENOMEM;
            goto fail;
        }
        if (bp_hour_file_name(record_time(h, r), name, sizeof name) != 0) {
            /* A time with no calendar hour never gets one: the reading is refused. */
            refuse(s, batch, i, "its time has no calendar hour to name an hourly file");
            continue;
        }
        if (s->n_files == MAX_TOUCHED) {
            /* A batch spanning many hours: make what is written durable and go on. */
            if (gathered_flush(&g) != 0) {
                err = errno;
                goto fail;
            }
            g.fd = -1;
            if (finish_files(s, true) != 0) {
                err = errno;
                what = "sync";
                goto fail;
            }
            durable = i;
        }
        if (!(t = touch(s, name))) {
            err = errno;
            what = "open";
            goto fail;
        }
        if (gathered_add(&g, t->fd, doc, len) != 0) {
            err = errno;
            goto fail;
        }
    }
    if (gathered_flush(&g) != 0) {
        err = errno;
        goto fail;
    }
    if (finish_files(s, true) == 0)
        return BP_OK;
    err = errno;
    what = "sync";
fail:
    finish_files(s, false);
    delivered_before(s, batch, durable);
    /* Every failure here concerns an hourly file many readings share (a folder in its place,
     * a full disk): it is the folder's to fix, and retried, never a reading's refusal. */
    h->log(s->ctx, BP_LOG_ERROR, "cannot %s in %s: %s; will retry", what, s->dir, strerror(err));
    return BP_RETRY;
}

/* The file name of one reading, `doc` its document; 0, or -1 when it has none (a time with no
 * calendar date). A reading with a logical id is named by it alone (*logical set), so that its
 * later versions and its retraction, whatever time or patient they say, find its file. */
static int name_of(const bp_host *h, const bp_record *r, const char *doc, size_t doc_len,
                   char *name, size_t len, bool *logical)
{
    const char *logical_id = h->text(r, BP_F_LOGICAL_ID);
    *logical = logical_id && !h->text(r, BP_F_INVALID_REASON);
    if (*logical)
        return bp_logical_file_name(logical_id, name, len);
    if (h->text(r, BP_F_INVALID_REASON) && !h->text(r, BP_F_PATIENT_ID)) {
        size_t plen;
        const void *payload = h->payload(r, &plen);
        double offset = h->number(r, BP_F_SOURCE_OFFSET);
        return bp_invalid_file_name(payload, plen, isnan(offset) ? -1 : (int64_t)offset,
                                    bp_doc_resource_index(doc, doc_len), name, len);
    }
    return bp_record_file_name(h->text(r, BP_F_PATIENT_ID), h->text(r, BP_F_PRACTITIONER_ID),
                               record_time(h, r), h->text(r, BP_F_STABLE_ID), name, len);
}

/* The reason a reading is refused for a failure that will be the same on every retry. */
static void refuse_for(sink *s, bp_batch *batch, size_t i, int err)
{
    /* The name is not logged (it is made of patient ids); the reason goes with the dead
     * letter, which carries the reading anyway. */
    char why[PATH_MAX + 96];
    snprintf(why, sizeof why, "cannot write its file in %s: %s (will not change on retry)", s->dir,
             strerror(err));
    refuse(s, batch, i, why);
}

/* Writes the temporary files of records [*next, n), at most group_max, into group `b`. Stops
 * at the first failure that may pass (*err set: it and the records after it are retried). */
static size_t write_group(sink *s, bp_batch *batch, int b, size_t *next, size_t n, int *err)
{
    const bp_host *h = s->host;
    size_t k = 0;
    for (; *next < n && k < s->group_max; ++*next) {
        size_t i = *next;
        bp_record *r = h->batch_at(batch, i);
        pending *p = &s->group[b][k];
        size_t len;
        const char *doc = h->document(s->ctx, r, BP_DOC_PRETTY, &len);
        if (doc && name_of(h, r, doc, len, p->name, sizeof p->name, &p->logical) != 0) {
            refuse(s, batch, i, "its time has no calendar date to name a file");
            continue;
        }
        if (!doc)
            errno = ENOMEM;
        /* A name the folder does not hold (a new reading: the usual case) is not looked up */
        if (doc && bp_name_filter_may_hold(&s->names, p->name) &&
            bp_temp_same(&s->made, p->name, doc, len)) {
            s->marks[i] = RENAMED; /* already archived, these very bytes: synced at the end */
            s->kept = true;
        } else if (doc && bp_temp_write(&s->made, p->name, doc, len, &s->temps[b][k]) == 0) {
            p->record = i;
            k++;
        } else if (doc && permanent_errno(errno)) {
            refuse_for(s, batch, i, errno);
        } else {
            *err = errno;
            break;
        }
    }
    return k;
}

/* The versions among the group's files (file_revision.h): each is kept (named[b][j] true) or,
 * older than or the same as what its name holds, discarded and delivered, as it changes
 * nothing. Decided once the group before is named (its names are what a version is compared
 * with) and before this group's syncfs(): every file a version replaces got its trail name here,
 * and that syncfs() makes the trails durable with the group's data, before any rename. A file
 * that cannot be decided is discarded and *err set (it and the rest are retried, or refused). */
static void decide_versions(sink *s, bp_batch *batch, int b, size_t k, int *err)
{
    const bp_host *h = s->host;
    bool *named = s->named[b];
    bp_revisions_begin(&s->revs);
    for (size_t j = 0; j < k; j++) {
        pending *p = &s->group[b][j];
        named[j] = true;
        if (!p->logical)
            continue;
        bp_record *r = h->batch_at(batch, p->record);
        size_t len;
        const char *doc = h->document(s->ctx, r, BP_DOC_PRETTY, &len);
        double v = h->number(r, BP_F_VERSION);
        bool apply = true;
        /* Asked now, not when the file was written: the group named meanwhile is in it */
        bool absent = !bp_name_filter_may_hold(&s->names, p->name);
        int rc = doc ? bp_revisions_decide(&s->revs, j, p->name, absent, doc, len,
                                           isnan(v) || v < 1 ? 0 : (int64_t)v,
                                           h->text(r, BP_F_REVISION), &apply)
                     : (errno = ENOMEM, -1);
        if (rc != 0 || !apply) {
            named[j] = false;
            bp_temp_discard(&s->made, &s->temps[b][j], p->name);
        }
        if (rc != 0 && permanent_errno(errno))
            refuse_for(s, batch, p->record, errno);
        else if (rc != 0)
            *err = *err ? *err : errno;
        else if (!apply) {
            s->marks[p->record] = RENAMED; /* nothing to change: delivered */
            h->count(s->ctx, "versions_unchanged", 1);
        }
    }
}

/* The syncer's job after group `naming_b`'s syncfs() succeeded: each of its kept files gets its
 * name, the result in linked[b][j]. It runs beside the writing of the next group and touches
 * only this group's files, the folder and the host-free parts of bp_temps. */
static void name_group(void *arg)
{
    sink *s = arg;
    int b = s->naming_b;
    for (size_t j = 0; j < s->naming_k; j++)
        if (s->named[b][j])
            s->linked[b][j] =
                bp_temp_commit(&s->made, &s->temps[b][j], s->group[b][j].name) == 0 ? 0 : errno;
}

/* Hands the k files of group `b`, decided, to the syncer: its syncfs(), then their names. */
static void begin_group(sink *s, int b, size_t k)
{
    for (size_t j = 0; j < k; j++)
        if (s->named[b][j]) /* before: a failed link may still have made the name */
            bp_name_filter_add(&s->names, s->group[b][j].name);
    s->naming_b = b;
    s->naming_k = k;
    bp_group_sync_begin(&s->syncer, name_group, s);
}

/* Waits for group `b` of k files at the syncer and marks what it named RENAMED. Returns the
 * errno of the first failure that may pass, or 0. */
static int finish_group(sink *s, bp_batch *batch, int b, size_t k)
{
    if (bp_group_sync_wait(&s->syncer) != 0) {
        /* Not known durable: written anew on the retry, in new files; a version decided to
         * change nothing is decided again then. */
        int err = errno;
        for (size_t j = 0; j < k; j++) {
            pending *p = &s->group[b][j];
            if (s->named[b][j])
                bp_temp_discard(&s->made, &s->temps[b][j], p->name);
            else if (s->marks[p->record] == RENAMED)
                s->marks[p->record] = 0;
        }
        return err;
    }
    int err = 0;
    for (size_t j = 0; j < k; j++) {
        if (!s->named[b][j])
            continue; /* discarded when its version was decided */
        size_t record = s->group[b][j].record;
        int e = s->linked[b][j];
        if (e == 0)
            s->marks[record] = RENAMED;
        else if (permanent_errno(e))
            refuse_for(s, batch, record, e);
        else
            err = err ? err : e;
    }
    return err;
}

/* One file per reading, durable a batch at a time: every file written without its name, all of
 * them synced together, named, synced once more, and only then is any reading reported
 * delivered. The groups overlap: while one group's syncfs() and then the naming of its files run
 * on the syncer's thread, the next group is written on this one (the kernel's work per file,
 * split across two threads), and a group is named only once its own syncfs() has returned. A
 * reading whose file will never be taken is refused; after a failure that may pass, what was
 * renamed before it is delivered and the rest retried. */
static int write_per_record(sink *s, bp_batch *batch)
{
    const bp_host *h = s->host;
    size_t n = h->batch_count(batch), next = 0;
    int err = 0;
    bool written = false;
    if (!s->swept) {
        /* At the first write, not at open: `bppipe check` opens the sink beside a running
         * ward and must not take its files away. */
        size_t left = bp_temp_remove_leftovers(s->dir_fd, &s->names);
        if (left)
            h->log(s->ctx, BP_LOG_INFO,
                   "removed %zu temporary file(s) an interrupted run left "
                   "in %s (their readings were not acknowledged and are written again)",
                   left, s->dir);
        s->swept = true;
    }
    if (!s->syncing) {
        bp_group_sync_start(&s->syncer, s->dir_fd); /* without a thread: syncs in turn */
        s->syncing = true;
    }
    s->kept = false;
    int b = 0;         /* the group being written */
    size_t behind = 0; /* files of the other group, synced and named on the syncer meanwhile */
    while (next < n && !err) {
        size_t k = write_group(s, batch, b, &next, n, &err);
        if (behind) {
            int e = finish_group(s, batch, !b, behind);
            err = err ? err : e;
            behind = 0;
        }
        if (k) {
            int e = 0;
            decide_versions(s, batch, b, k, &e);
            err = err ? err : e;
            begin_group(s, b, k);
            behind = k;
            b = !b;
        }
        written = written || k > 0;
    }
    if (behind) {
        int e = finish_group(s, batch, !b, behind);
        err = err ? err : e;
    }
    written = written || s->kept;
    if (written && bp_temps_sync(&s->made) != 0) {
        /* No name is known durable: the whole batch is written again. */
        h->log(s->ctx, BP_LOG_ERROR, "cannot sync the files written in %s: %s; will retry", s->dir,
               strerror(errno));
        return BP_RETRY;
    }
    if (!err)
        return BP_OK;
    h->log(s->ctx, BP_LOG_ERROR, "cannot write a file in %s: %s; will retry", s->dir,
           strerror(err));
    for (size_t i = 0; i < n; i++)
        if (s->marks[i] == RENAMED)
            h->set_outcome(s->ctx, h->batch_at(batch, i), BP_DELIVERED, NULL);
    return BP_RETRY;
}

static int write_stdout(sink *s, bp_batch *batch)
{
    const bp_host *h = s->host;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        size_t len;
        const char *doc = h->document(s->ctx, h->batch_at(batch, i), 0, &len);
        if (!doc || fwrite(doc, 1, len, stdout) != len || fputc('\n', stdout) == EOF)
            return BP_RETRY;
    }
    return fflush(stdout) == 0 ? BP_OK : BP_RETRY;
}

static int sink_write(void *state, bp_batch *batch)
{
    sink *s = state;
    if (begin_marks(s, s->host->batch_count(batch)) != 0) {
        s->host->log(s->ctx, BP_LOG_ERROR, "out of memory; will retry");
        return BP_RETRY;
    }
    if (s->to_stdout)
        return write_stdout(s, batch);
    return s->per_record ? write_per_record(s, batch) : write_ndjson(s, batch);
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "sink-file",
    .version = "1.0.0",
    .kind = BP_KIND_SINK,
    .description = "documents to hourly NDJSON files or one JSON file per reading, fsync'd",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = sink_open,
    .close = sink_close,
    .write = sink_write,
    .caps = BP_CAP_REVISIONS,
};

BP_PLUGIN(descriptor)
