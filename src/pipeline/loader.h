/* Finding and loading plugin .so files, and refusing the ones this host cannot run. Every
 * refusal is one line naming the file and the cause. */
#ifndef BPPIPE_LOADER_H
#define BPPIPE_LOADER_H

#include "bppipe/plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when descriptor `d` has `member`: its struct_size covers it. A plugin built against an
 * older plugin.h has a shorter descriptor, whose later members are not there to be read. */
#define BP_DESC_HAS(d, member) \
    ((size_t)(d)->struct_size >= offsetof(bp_plugin, member) + sizeof((d)->member))

/* The descriptor's capability flags (BP_CAP_*); 0 without a descriptor or for one built before
 * the flags existed. */
static inline uint32_t bp_desc_caps(const bp_plugin *d)
{
    return d && BP_DESC_HAS(d, caps) ? d->caps : 0;
}

/* Whether the plugin honours revisions (BP_CAP_REVISIONS, docs/revisions.md): a sink or
 * detector that declares it. Only a plugin built against the 1.8 header or later can: the bit
 * did not exist before (`bppipe conform` fails a plugin that sets bits it cannot know).
 * abi_minor is not looked at: it is the lowest host a plugin needs (sink-es says 0, to load in
 * older hosts too), not the header it was built with. */
static inline bool bp_desc_takes_revisions(const bp_plugin *d)
{
    return d && (bp_desc_caps(d) & BP_CAP_REVISIONS) != 0;
}

typedef struct bp_loaded {
    char *path;             /* the file */
    void *handle;           /* dlopen handle */
    const bp_plugin *desc;  /* validated descriptor, static in the .so */
} bp_loaded;

typedef struct bp_loader {
    char **dirs; /* search directories, in order */
    size_t n_dirs;
    bp_loaded *loaded; /* every plugin loaded so far (each file once) */
    size_t n_loaded, cap_loaded;
} bp_loader;

/* Search order: `extra` (a ':'-separated list, e.g. [pipeline] plugin_path; relative entries
 * are taken relative to `base_dir`, which may be NULL), then $BPPIPE_PLUGIN_PATH, then the
 * plugins of the executable's own build tree or install (found from /proc/self/exe). */
int bp_loader_init(bp_loader *ld, const char *extra, const char *base_dir);
void bp_loader_free(bp_loader *ld);

/* Plugin names: 1 to BP_PLUGIN_NAME_MAX lower-case letters, digits, '-' and '_', starting with
 * a letter or digit. A plugin is found by name in the search directories, never by a path. */
#define BP_PLUGIN_NAME_MAX 64
bool bp_plugin_name_ok(const char *name);

/* Loads `path` and validates it as a plugin: first as a file (a regular ELF shared object of
 * this machine's class, not cut short: what dlopen would map is inside the file), then its
 * descriptor. On refusal returns -1 with one line in `err`. */
int bp_loader_open_file(bp_loader *ld, const char *path, const bp_loaded **out, char *err,
                        size_t err_len);

/* Finds plugin `name` (file name.so) in the search directories. Refuses a name that is not a
 * plugin name (a path, say), a plugin that is missing (listing where it looked) or invalid.
 * When several directories hold name.so, the first in the search order is used and the
 * others are named in one warning (logged when the plugin is first loaded). */
int bp_loader_find(bp_loader *ld, const char *name, const bp_loaded **out, char *err,
                   size_t err_len);

/* Calls `visit` for every .so in the search directories, loaded or refused (then `plugin` is
 * NULL and `err` says why), sorted by directory order then file name. */
typedef void (*bp_loader_visit)(void *user, const char *path, const bp_loaded *plugin,
                                const char *err);
void bp_loader_scan(bp_loader *ld, bp_loader_visit visit, void *user);

const char *bp_kind_name(bp_kind kind);

#endif
