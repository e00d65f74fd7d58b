/* Revisions in sink-file's per-record layout (docs/revisions.md, docs/plugins/sink-file.md,
 * "Revisions"): a reading that has a logical id is archived under a name made of that id alone,
 * so every version of it, and its retraction, finds the same file. A newer version is renamed
 * over the file (the way every per-record file is named), after the file it replaces got a
 * second name, its trail; a retraction puts its tombstone document there the same way; an
 * older version (a replay) leaves the newer file as it is. This layer decides and makes the
 * trail link; sink_file.c writes, syncs and renames as for any reading. */
#ifndef BPPIPE_FILE_REVISION_H
#define BPPIPE_FILE_REVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The name of the file of a logical id: "obs_<id>.json", the id a bp_name_part(). Returns 0, or
 * -1 when it does not fit out_len (BP_RECORD_NAME_MAX + 1 always does). */
int bp_logical_file_name(const char *logical_id, char *out, size_t out_len);

/* What a version is, as the host's fields say it (BP_F_VERSION, BP_F_REVISION) and as a file
 * under a logical name holds it (its document's top-level "version" and "revision"). */
typedef struct bp_held {
    bool present;    /* a file is there (for a held version) */
    int64_t version; /* 0: unknown */
    bool revised;    /* its revision is "replace" or "retract": it replaced an earlier one */
    bool retracted;  /* its revision is "retract": a tombstone */
    uint64_t hash;   /* FNV-1a of the document without its final newline */
} bp_held;

/* Reads the top-level "version" and "revision" of a document (JSON, compact or pretty) into
 * *h (present, version, revised, retracted; hash is the caller's). */
void bp_held_parse(const char *doc, size_t len, bp_held *h);

/* Whether version `next` goes under the name where `held` is: false when it would change
 * nothing or undo something newer (the same bytes; an older version; the same version, unless a
 * retraction of it; with a version unknown, an original over a correction or a retraction, or a
 * retraction over a tombstone; a retraction where nothing is held). */
bool bp_revision_applies(const bp_held *held, const bp_held *next);

/* The trail name of the file `held` under `name` ("obs_X.json"): "obs_X~v<version>.json", or
 * "obs_X~h<16 hex digits of its hash>.json" when its version is unknown. 0, or -1 when it does
 * not fit. */
int bp_trail_name(const char *name, const bp_held *held, char *out, size_t out_len);

/* What the layer remembers of the files of one group (sink_file.c's group of files written
 * before their names are given), so that two versions of one logical id in one group are
 * decided in order: the later one is compared with the earlier one, not with the disk. */
typedef struct bp_revisions {
    int dir_fd;
    struct bp_rev_slot *slots; /* one per file of the group */
    size_t cap, n;
    size_t trails; /* trail links made since bp_revisions_begin */
} bp_revisions;

int bp_revisions_init(bp_revisions *rv, int dir_fd, size_t cap);
void bp_revisions_free(bp_revisions *rv);
/* Forgets the previous group. */
void bp_revisions_begin(bp_revisions *rv);

/* Decides for file `slot` of the group (slots in the order they are renamed), a version under
 * the logical name `name` (`absent`: the caller knows the folder holds no file under it, which
 * is then not read; an earlier slot of the group under it still counts), its document `doc` (what
 * its file holds, without the newline), its version (0: unknown) and revision ("replace", "retract"
 * or NULL). *apply: rename it over the name (the file there, if any, first got its trail link);
 * else it is discarded and changes nothing. 0, or -1 with errno set (the file there cannot be read,
 * the trail cannot be linked). */
int bp_revisions_decide(bp_revisions *rv, size_t slot, const char *name, bool absent,
                        const char *doc, size_t len, int64_t version, const char *revision,
                        bool *apply);

#endif
