/* `bppipe plugins [NAME]`: what the loader finds, and one plugin's options. */
#include "cli/commands.h"

#include "cli/pkg_owner.h"
#include "config/options.h"
#include "pipeline/loader.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plugin the listing shows: printed after the scan, once the packages are looked up. */
typedef struct row {
    const bp_plugin *desc; /* static in the .so, which the loader keeps open */
    char *path, *real;
    char *shadowed_by; /* the file of this name that is used, or NULL when this one is */
} row;

/* What the listing has seen: the first file of each name, the one bppipe uses, and the rows. */
typedef struct listing {
    int refused;
    char **names, **paths, **reals;
    size_t n;
    row *rows;
    size_t n_rows;
} listing;

static void name_of(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    snprintf(out, len, "%s", base ? base + 1 : path);
    size_t n = strlen(out);
    if (n > 3)
        out[n - 3] = '\0'; /* ".so" */
}

/* The index of the first file named `name` seen, or -1 (then it is remembered). */
static long first_of(listing *ls, const char *name, const char *path, const char *real)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->names[i], name) == 0)
            return (long)i;
    char **names = realloc(ls->names, (ls->n + 1) * sizeof *names);
    if (names)
        ls->names = names;
    char **paths = realloc(ls->paths, (ls->n + 1) * sizeof *paths);
    if (paths)
        ls->paths = paths;
    char **reals = realloc(ls->reals, (ls->n + 1) * sizeof *reals);
    if (reals)
        ls->reals = reals;
    if (!names || !paths || !reals)
        return -1;
    names[ls->n] = strdup(name);
    paths[ls->n] = strdup(path);
    reals[ls->n] = strdup(real);
    if (names[ls->n] && paths[ls->n] && reals[ls->n]) {
        ls->n++;
    } else {
        free(names[ls->n]);
        free(paths[ls->n]);
        free(reals[ls->n]);
    }
    return -1;
}

static void listing_free(listing *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->names[i]);
        free(ls->paths[i]);
        free(ls->reals[i]);
    }
    free(ls->names);
    free(ls->paths);
    free(ls->reals);
    for (size_t i = 0; i < ls->n_rows; i++) {
        free(ls->rows[i].path);
        free(ls->rows[i].real);
        free(ls->rows[i].shadowed_by);
    }
    free(ls->rows);
}

static void add_row(listing *ls, const bp_plugin *desc, const char *path, const char *real,
                    const char *shadowed_by)
{
    row *rows = realloc(ls->rows, (ls->n_rows + 1) * sizeof *rows);
    if (!rows)
        return;
    ls->rows = rows;
    row *r = &rows[ls->n_rows];
    *r = (row){.desc = desc, .path = strdup(path), .real = strdup(real)};
    if (shadowed_by)
        r->shadowed_by = strdup(shadowed_by);
    if (!r->path || !r->real || (shadowed_by && !r->shadowed_by)) {
        free(r->path);
        free(r->real);
        free(r->shadowed_by);
        return;
    }
    ls->n_rows++;
}

/* Where a plugin came from: "package NAME VERSION, PATH" when a Debian package installed it,
 * else "file PATH". */
static void print_origin(const bp_pkg_owner *o, const char *path)
{
    if (o->name[0])
        printf("package %s%s%s, %s\n", o->name, o->version[0] ? " " : "", o->version, path);
    else
        printf("file %s\n", path);
}

/* Prints every row: name, kind, version, ABI, description, then where it came from. */
static void print_rows(const listing *ls)
{
    const char **reals = calloc(ls->n_rows ? ls->n_rows : 1, sizeof *reals);
    bp_pkg_owner *owners = calloc(ls->n_rows ? ls->n_rows : 1, sizeof *owners);
    if (reals && owners) {
        for (size_t i = 0; i < ls->n_rows; i++)
            reals[i] = ls->rows[i].real;
        bp_pkg_owners(reals, ls->n_rows, owners);
    }
    for (size_t i = 0; i < ls->n_rows; i++) {
        const row *r = &ls->rows[i];
        const bp_plugin *d = r->desc;
        printf("%-18s %-9s %-8s ABI %u.%u  %s\n", d->name, bp_kind_name(d->kind),
               d->version ? d->version : "?", d->abi_major, d->abi_minor,
               d->description ? d->description : "");
        if (r->shadowed_by) {
            printf("%-18s %s: shadowed by %s (first in the search order), not used\n", "", r->path,
                   r->shadowed_by);
        } else {
            printf("%-18s ", "");
            if (owners)
                print_origin(&owners[i], r->path);
            else
                printf("file %s\n", r->path);
        }
    }
    free(reals);
    free(owners);
}

static void list_one(void *user, const char *path, const bp_loaded *pl, const char *err)
{
    listing *ls = user;
    char name[256], real[PATH_MAX];
    name_of(path, name, sizeof name);
    if (!realpath(path, real))
        snprintf(real, sizeof real, "%s", path);
    long first = first_of(ls, name, path, real);
    if (first >= 0 && strcmp(ls->reals[first], real) == 0)
        return; /* the same file reached twice through the search path */
    if (!pl) {
        fprintf(stderr, "warning: %s\n", err);
        ls->refused++;
        if (first >= 0)
            fprintf(stderr, "warning: %s: shadowed by %s (first in the search order), not used\n",
                    path, ls->paths[first]);
        return;
    }
    add_row(ls, pl->desc, path, real, first >= 0 ? ls->paths[first] : NULL);
}

static void show_one(const bp_loaded *pl)
{
    const bp_plugin *d = pl->desc;
    char real[PATH_MAX];
    if (!realpath(pl->path, real))
        snprintf(real, sizeof real, "%s", pl->path);
    const char *paths[1] = {real};
    bp_pkg_owner owner;
    bp_pkg_owners(paths, 1, &owner);
    printf("%s %s (%s plugin, ABI %u.%u)\n  %s\n  file: %s\n", d->name,
           d->version ? d->version : "?", bp_kind_name(d->kind), d->abi_major, d->abi_minor,
           d->description ? d->description : "", pl->path);
    if (owner.name[0])
        printf("  package: %s%s%s\n", owner.name, owner.version[0] ? " " : "", owner.version);
    else
        printf("  package: none (a file no Debian package installed)\n");
    printf("\noptions:\n");
    printf("  %-22s %-12s %s\n", "plugin", "string", "required: this plugin's name");
    if (d->kind == BP_KIND_SINK)
        printf("  %-22s %-12s default: all  one of anomaly|normal|all|critical|invalid|"
               "skipped\n", "route", "enum");
    bp_options_print(stdout, d->options, d->n_options);
}

int bp_cmd_plugins(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        puts("usage: bppipe plugins [NAME]\n\n"
             "Lists the plugins found (name, kind, version, ABI, description, and where it came\n"
             "from: 'package NAME VERSION, FILE' when a Debian package installed it, read from\n"
             "dpkg's database ($DPKG_ADMINDIR or /var/lib/dpkg) without running dpkg, else\n"
             "'file FILE'), or prints the options of plugin NAME (type, default, bounds, help)\n"
             "with its file and package. Plugins are searched in\n"
             "$BPPIPE_PLUGIN_PATH (':'-separated) and then in the executable's own build tree\n"
             "or install (a pipeline's plugin_path comes first). When two folders hold a\n"
             "plugin of the same name, the first in this order is used and the other is listed\n"
             "as shadowed. Files that cannot be loaded (not a plugin, built for another ABI,\n"
             "truncated) are reported with the reason. NAME is a plugin's name, not a path.");
        return 0;
    }
    if (argc > 2) {
        fprintf(stderr, "error: usage: bppipe plugins [NAME]\n");
        return 2;
    }
    bp_loader ld;
    if (bp_loader_init(&ld, NULL, NULL) != 0)
        return 1;
    int status = 0;
    if (argc == 2) {
        const bp_loaded *pl;
        char err[2048];
        if (bp_loader_find(&ld, argv[1], &pl, err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            status = 2;
        } else {
            show_one(pl);
        }
    } else {
        listing ls = {0};
        bp_loader_scan(&ld, list_one, &ls);
        print_rows(&ls);
        listing_free(&ls);
        if (ld.n_dirs == 0)
            fprintf(stderr, "warning: no plugin directory found; set BPPIPE_PLUGIN_PATH\n");
    }
    bp_loader_free(&ld);
    return status;
}
