/* The snapshot files of keyed state: the format, written atomically and read back (see
 * state_snapshot.h). Pure: no globals. */
#include "pipeline/state_snapshot.h"

#include "bppipe/plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SNAP_MAGIC "BPSTATE1"
#define SNAP_MAX_NS 1024
#define SNAP_MAX_TOPIC 4096
#define SNAP_NO_TOPIC UINT32_MAX

static bool put_u32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return fwrite(b, 4, 1, f) == 1;
}

static bool put_bytes(FILE *f, const void *p, size_t n)
{
    return put_u32(f, (uint32_t)n) && (n == 0 || fwrite(p, n, 1, f) == 1);
}

int bp_state_snapshot_begin(bp_state_snapshot_writer *w, const char *file, const char *ns)
{
    memset(w, 0, sizeof *w);
    size_t n = strlen(file) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", file, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        free(tmp);
        errno = saved;
        return -1;
    }
    *w = (bp_state_snapshot_writer){.file = file, .tmp = tmp, .f = f};
    w->ok = fwrite(SNAP_MAGIC, 8, 1, f) == 1 && put_bytes(f, ns, strlen(ns));
    return 0;
}

void bp_state_snapshot_put(bp_state_snapshot_writer *w, const char *topic, int32_t partition,
                           const void *key, size_t key_len, const void *value, size_t len)
{
    if (!w->ok)
        return;
    w->ok = (topic ? put_bytes(w->f, topic, strlen(topic)) : put_u32(w->f, SNAP_NO_TOPIC)) &&
            put_u32(w->f, (uint32_t)partition) && put_bytes(w->f, key, key_len) &&
            put_bytes(w->f, value, len);
}

/* The rename itself is durable only once the folder is. */
static void sync_folder_of(const char *file)
{
    char *dir = strdup(file);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
    int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
}

int bp_state_snapshot_finish(bp_state_snapshot_writer *w)
{
    bool ok = fflush(w->f) == 0 && fsync(fileno(w->f)) == 0 && w->ok;
    ok = fclose(w->f) == 0 && ok;
    w->f = NULL;
    int saved = errno;
    if (!ok || rename(w->tmp, w->file) != 0) {
        saved = errno;
        unlink(w->tmp);
        free(w->tmp);
        w->tmp = NULL;
        errno = saved;
        return -1;
    }
    free(w->tmp);
    w->tmp = NULL;
    sync_folder_of(w->file);
    return 0;
}

static bool get_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 4, 1, f) != 1)
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

/* Reads a length-prefixed field of at most `max` bytes into a new allocation (NUL-terminated).
 * 1: read, 0: the end of the file before it, -1: damaged. */
static int get_bytes(FILE *f, size_t max, unsigned char **out, size_t *len)
{
    uint32_t n;
    if (!get_u32(f, &n))
        return 0;
    if (n > max || !(*out = malloc((size_t)n + 1)))
        return -1;
    if (n && fread(*out, n, 1, f) != 1) {
        free(*out);
        *out = NULL;
        return -1;
    }
    (*out)[n] = '\0';
    *len = n;
    return 1;
}

/* Reads one key's record after its topic length `tlen` and hands it to `visit`. False when it
 * is damaged or not taken. */
static bool read_key(FILE *f, uint32_t tlen, bp_state_snapshot_visit visit, void *user)
{
    unsigned char *topic = NULL, *key = NULL, *value = NULL;
    size_t kl = 0, vl = 0;
    uint32_t part;
    bool ok = tlen == SNAP_NO_TOPIC || tlen <= SNAP_MAX_TOPIC;
    if (ok && tlen != SNAP_NO_TOPIC) {
        ok = (topic = malloc((size_t)tlen + 1)) && (tlen == 0 || fread(topic, tlen, 1, f) == 1);
        if (topic)
            topic[tlen] = '\0';
    }
    ok = ok && get_u32(f, &part) && get_bytes(f, BP_STATE_MAX_KEY, &key, &kl) == 1 &&
         get_bytes(f, BP_STATE_MAX_VALUE, &value, &vl) == 1;
    ok = ok && visit(user, (char *)topic, (int32_t)part, key, kl, value, vl) == 0;
    free(topic);
    free(key);
    if (!ok)
        free(value);
    return ok;
}

int bp_state_snapshot_read(const char *file, const char *ns, bp_state_snapshot_visit visit,
                           void *user, char *why, size_t why_len, size_t *loaded)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        snprintf(why, why_len, "cannot read it: %s", strerror(errno));
        return -1;
    }
    char magic[8];
    unsigned char *got_ns = NULL;
    size_t ns_len = 0;
    int rc = -1;
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, SNAP_MAGIC, 8) != 0) {
        snprintf(why, why_len,
                 "not a bppipe state snapshot (an older detector-trend one is "
                 "not read: that history starts again)");
        goto done;
    }
    if (get_bytes(f, SNAP_MAX_NS, &got_ns, &ns_len) != 1 || strcmp((char *)got_ns, ns) != 0) {
        snprintf(why, why_len, "it holds the state of %s, not of %s", got_ns ? (char *)got_ns : "?",
                 ns);
        goto done;
    }
    for (;;) {
        uint32_t tlen;
        if (!get_u32(f, &tlen)) {
            rc = 0; /* the end */
            break;
        }
        if (!read_key(f, tlen, visit, user)) {
            snprintf(why, why_len, "it is damaged after %zu keys", *loaded);
            break;
        }
        ++*loaded;
    }
done:
    free(got_ns);
    fclose(f);
    return rc;
}
