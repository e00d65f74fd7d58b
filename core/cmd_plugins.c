/* `bppipe plugins [NAME]`: what the loader finds, and one plugin's options. */
#include "commands.h"

#include "loader.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

static void list_one(void *user, const char *path, const bp_loaded *pl, const char *err)
{
    int *refused = user;
    if (!pl) {
        fprintf(stderr, "warning: %s\n", err);
        (*refused)++;
        return;
    }
    const bp_plugin *d = pl->desc;
    printf("%-18s %-9s %-8s ABI %u.%u  %s\n%-18s %s\n", d->name, bp_kind_name(d->kind),
           d->version ? d->version : "?", d->abi_major, d->abi_minor,
           d->description ? d->description : "", "", path);
}

static void show_one(const bp_loaded *pl)
{
    const bp_plugin *d = pl->desc;
    printf("%s %s (%s plugin, ABI %u.%u)\n  %s\n  file: %s\n\noptions:\n", d->name,
           d->version ? d->version : "?", bp_kind_name(d->kind), d->abi_major, d->abi_minor,
           d->description ? d->description : "", pl->path);
    printf("  %-22s %-12s %s\n", "plugin", "string", "required: this plugin's name");
    if (d->kind == BP_KIND_SINK)
        printf("  %-22s %-12s default: all  one of anomaly|normal|all|critical|invalid\n", "route",
               "enum");
    bp_options_print(stdout, d->options, d->n_options);
}

int bp_cmd_plugins(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        puts("usage: bppipe plugins [NAME]\n\n"
             "Lists the plugins found (name, kind, version, ABI, description, file), or prints\n"
             "the options of plugin NAME (type, default, bounds, help). Plugins are searched in\n"
             "$BPPIPE_PLUGIN_PATH (':'-separated) and then in the executable's own build tree\n"
             "or install; files that cannot be loaded are reported with the reason.");
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
        int refused = 0;
        bp_loader_scan(&ld, list_one, &refused);
        if (ld.n_dirs == 0)
            fprintf(stderr, "warning: no plugin directory found; set BPPIPE_PLUGIN_PATH\n");
    }
    bp_loader_free(&ld);
    return status;
}
