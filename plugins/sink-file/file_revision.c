#include "file_revision.h"

#include "file_names.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file under a logical name larger than this is not a document this sink wrote (a pretty
 * reading is about 1 KiB): it is read as far as this, enough for its leading fields. */
#define HELD_READ_MAX (256 * 1024)

typedef struct bp_rev_slot {
    const char *name;   /* NULL: not a file under a logical name */
    uint64_t name_hash; /* compared before the names: a group holds up to 1 024 slots */
    bool applied;
    bp_held after;   /* what the name holds once this slot is renamed */
    const char *doc; /* its document, hashed into after.hash only when a later slot needs it */
    size_t len;
    bool hashed;
} bp_rev_slot;

int bp_logical_file_name(const char *logical_id, char *out, size_t out_len)
{
    char part[BP_NAME_PART_MAX + 1];
    bp_name_part(logical_id, "noid", part, sizeof part);
    int n = snprintf(out, out_len, "obs_%s.json", part);
    return n > 0 && (size_t)n < out_len ? 0 : -1;
}

/* The value after the top-level key `key` ("\"version\"") of a document, or NULL. Keys of
 * nested objects (source, hl7v2) are skipped: only depth 1 counts. */
static const char *top_value(const char *doc, size_t len, const char *key)
{
    size_t klen = strlen(key), depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = doc[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '"') {
            if (depth == 1 && len - i > klen && memcmp(doc + i, key, klen) == 0) {
                const char *v = doc + i + klen;
                const char *end = doc + len;
                while (v < end && (*v == ' ' || *v == ':'))
                    v++;
                return v < end ? v : NULL;
            }
            in_string = true;
        }
    }
    return NULL;
}

void bp_held_parse(const char *doc, size_t len, bp_held *h)
{
    h->present = true;
    h->version = 0;
    h->revised = h->retracted = false;
    const char *v = top_value(doc, len, "\"version\"");
    if (v)
        for (const char *end = doc + len;
             v < end && *v >= '0' && *v <= '9' && h->version < INT64_MAX / 10 - 9; v++)
            h->version = h->version * 10 + (*v - '0');
    const char *r = top_value(doc, len, "\"revision\"");
    if (r && (size_t)(doc + len - r) >= 9) {
        h->retracted = memcmp(r, "\"retract\"", 9) == 0;
        h->revised = h->retracted || memcmp(r, "\"replace\"", 9) == 0;
    }
}

bool bp_revision_applies(const bp_held *held, const bp_held *next)
{
    if (!held->present)
        return !next->retracted; /* a retraction of what this folder never held: nothing */
    if (held->hash == next->hash)
        return false; /* the same document again: a replay */
    if (held->version && next->version) {
        if (next->version != held->version)
            return next->version > held->version;
        return next->retracted && !held->retracted; /* an equal version only to retract it */
    }
    /* A version unknown: the last one wins, except that an original never undoes what
     * replaced it and a tombstone stays one. */
    if (!next->revised && held->revised)
        return false;
    return !(next->retracted && held->retracted);
}

int bp_trail_name(const char *name, const bp_held *held, char *out, size_t out_len)
{
    size_t base = strlen(name);
    if (base > 5 && strcmp(name + base - 5, ".json") == 0)
        base -= 5;
    int n = held->version
                ? snprintf(out, out_len, "%.*s~v%" PRId64 ".json", (int)base, name, held->version)
                : snprintf(out, out_len, "%.*s~h%016" PRIx64 ".json", (int)base, name, held->hash);
    return n > 0 && (size_t)n < out_len ? 0 : -1;
}

int bp_revisions_init(bp_revisions *rv, int dir_fd, size_t cap)
{
    rv->dir_fd = dir_fd;
    rv->slots = calloc(cap, sizeof *rv->slots);
    rv->cap = cap;
    rv->n = 0;
    rv->trails = 0;
    return rv->slots ? 0 : -1;
}

void bp_revisions_free(bp_revisions *rv)
{
    free(rv->slots);
    rv->slots = NULL;
}

void bp_revisions_begin(bp_revisions *rv)
{
    for (size_t i = 0; i < rv->n; i++)
        rv->slots[i].name = NULL;
    rv->n = 0;
    rv->trails = 0;
}

/* What the file under `name` holds: *h (present false when there is none). 0, or -1. */
static int read_held(int dir_fd, const char *name, bp_held *h)
{
    memset(h, 0, sizeof *h);
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        /* A folder in its place: the rename will say so (EISDIR, the reading refused). */
        return errno == ENOENT || errno == EISDIR ? 0 : -1;
    char *buf = malloc(HELD_READ_MAX);
    size_t len = 0;
    ssize_t got = 0;
    while (buf && len < HELD_READ_MAX &&
           ((got = read(fd, buf + len, HELD_READ_MAX - len)) > 0 || (got < 0 && errno == EINTR)))
        len += got > 0 ? (size_t)got : 0;
    int err = !buf ? ENOMEM : got < 0 ? errno : 0;
    close(fd);
    if (err) {
        free(buf);
        errno = err;
        return -1;
    }
    if (len && buf[len - 1] == '\n')
        len--; /* sink-file ends every document with one */
    bp_held_parse(buf, len, h);
    h->hash = bp_fnv1a64(buf, len, 0);
    free(buf);
    return 0;
}

/* The hash of slot `sl`'s document, computed at its first use. */
static uint64_t slot_hash(bp_rev_slot *sl)
{
    if (!sl->hashed) {
        sl->after.hash = bp_fnv1a64(sl->doc, sl->len, 0);
        sl->hashed = true;
    }
    return sl->after.hash;
}

int bp_revisions_decide(bp_revisions *rv, size_t slot, const char *name, bool absent,
                        const char *doc, size_t len, int64_t version, const char *revision,
                        bool *apply)
{
    /* What this version is comes from the host's fields alone; its document is hashed only
     * when it is compared with another one (a first version, the usual case, never is). */
    bp_held next = {.present = true};
    next.version = version > 0 ? version : 0;
    next.retracted = revision && strcmp(revision, "retract") == 0;
    next.revised = next.retracted || (revision && strcmp(revision, "replace") == 0);
    uint64_t name_hash = bp_fnv1a64(name, strlen(name), 0);

    /* The latest earlier file of this group under the same name stands for the disk: it will
     * be there when this one is renamed. */
    const bp_held *held = NULL;
    for (size_t i = slot < rv->n ? slot : rv->n; i-- > 0;) {
        bp_rev_slot *sl = &rv->slots[i];
        if (sl->name && sl->applied && sl->name_hash == name_hash && strcmp(sl->name, name) == 0) {
            slot_hash(sl);
            held = &sl->after;
            break;
        }
    }
    bp_held on_disk = {.present = false};
    if (!held) {
        if (!absent && read_held(rv->dir_fd, name, &on_disk) != 0)
            return -1;
        held = &on_disk;
    }
    bool hashed = held->present;
    if (hashed)
        next.hash = bp_fnv1a64(doc, len, 0);
    *apply = bp_revision_applies(held, &next);
    /* A trail only where a version gives way to another: a correction, a retraction, a newer
     * version. The same version sent again (a replay with another offset or verdict, or a file
     * found damaged) is written over, as every per-record replay is, and leaves no trail. */
    bool gives_way = next.revised || held->version != next.version;
    if (*apply && held == &on_disk && on_disk.present && gives_way) {
        /* The file it replaces keeps a name of its own, made before the rename, so that some
         * name holds it at every moment. A trail a replay already made is the same file. */
        char trail[BP_RECORD_NAME_MAX + 48];
        if (bp_trail_name(name, &on_disk, trail, sizeof trail) != 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (linkat(rv->dir_fd, name, rv->dir_fd, trail, 0) != 0 && errno != EEXIST)
            return -1;
        rv->trails++;
    }
    if (slot < rv->cap) {
        for (size_t i = rv->n; i < slot; i++)
            rv->slots[i].name = NULL;
        rv->slots[slot] = (bp_rev_slot){name, name_hash, *apply, next, doc, len, hashed};
        if (slot >= rv->n)
            rv->n = slot + 1;
    }
    return 0;
}
