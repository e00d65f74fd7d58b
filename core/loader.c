#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The smallest descriptor and option structs this host accepts: ABI 1.0's. */
#define MIN_PLUGIN_SIZE (offsetof(bp_plugin, flush) + sizeof(void (*)(void)))
#define MIN_OPTION_SIZE (offsetof(bp_option, help) + sizeof(const char *))

const char *bp_kind_name(bp_kind kind)
{
    switch (kind) {
    case BP_KIND_SOURCE: return "source";
    case BP_KIND_DETECTOR: return "detector";
    case BP_KIND_SINK: return "sink";
    default: return "unknown";
    }
}

static int add_dir(bp_loader *ld, const char *dir, size_t len, const char *base_dir)
{
    if (len == 0)
        return 0;
    char path[PATH_MAX];
    if (dir[0] != '/' && base_dir)
        snprintf(path, sizeof path, "%s/%.*s", base_dir, (int)len, dir);
    else
        snprintf(path, sizeof path, "%.*s", (int)len, dir);
    char **dirs = realloc(ld->dirs, (ld->n_dirs + 1) * sizeof *dirs);
    if (!dirs)
        return -1;
    ld->dirs = dirs;
    if (!(ld->dirs[ld->n_dirs] = strdup(path)))
        return -1;
    ld->n_dirs++;
    return 0;
}

static int add_list(bp_loader *ld, const char *list, const char *base_dir)
{
    while (list && *list) {
        const char *colon = strchr(list, ':');
        size_t len = colon ? (size_t)(colon - list) : strlen(list);
        if (add_dir(ld, list, len, base_dir) != 0)
            return -1;
        list = colon ? colon + 1 : NULL;
    }
    return 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The executable's own plugins: build/plugins beside a build-tree bppipe, or
 * <prefix>/lib/bppipe/plugins for an installed one. Nothing is configured at build time but
 * the relative path, so a build tree or install can be moved. */
static int add_builtin_dirs(bp_loader *ld)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plugins", exe);
    if (is_dir(path) && add_dir(ld, path, strlen(path), NULL) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", exe, BPPIPE_PLUGIN_DIR_FROM_BIN);
    char real[PATH_MAX];
    if (is_dir(path) && realpath(path, real) && add_dir(ld, real, strlen(real), NULL) != 0)
        return -1;
    return 0;
}

int bp_loader_init(bp_loader *ld, const char *extra, const char *base_dir)
{
    memset(ld, 0, sizeof *ld);
    if (add_list(ld, extra, base_dir) != 0 || add_list(ld, getenv("BPPIPE_PLUGIN_PATH"), NULL) != 0 ||
        add_builtin_dirs(ld) != 0) {
        bp_loader_free(ld);
        return -1;
    }
    return 0;
}

void bp_loader_free(bp_loader *ld)
{
    for (size_t i = 0; i < ld->n_dirs; i++)
        free(ld->dirs[i]);
    free(ld->dirs);
    for (size_t i = 0; i < ld->n_loaded; i++) {
        free(ld->loaded[i].path);
        dlclose(ld->loaded[i].handle);
    }
    free(ld->loaded);
    memset(ld, 0, sizeof *ld);
}

/* "dir/sink-file.so" -> "sink-file" in `out`. */
static void stem_of(const char *path, char *out, size_t out_len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, out_len, "%s", base);
    size_t n = strlen(out);
    if (n > 3 && strcmp(out + n - 3, ".so") == 0)
        out[n - 3] = '\0';
}

static int check_options(const bp_plugin *d, const char *path, char *err, size_t err_len)
{
    if (d->n_options && !d->options) {
        snprintf(err, err_len, "%s: refused: declares %zu options but no option table", path,
                 d->n_options);
        return -1;
    }
    for (size_t i = 0; i < d->n_options; i++) {
        const bp_option *o = &d->options[i];
        if (o->struct_size < MIN_OPTION_SIZE || !o->name || o->type < BP_OPT_STRING ||
            o->type > BP_OPT_PREFIX || (o->type == BP_OPT_ENUM && !o->choices)) {
            snprintf(err, err_len, "%s: refused: option #%zu (%s) is malformed", path, i + 1,
                     o->name ? o->name : "unnamed");
            return -1;
        }
    }
    return 0;
}

static int check_descriptor(const bp_plugin *d, const char *path, char *err, size_t err_len)
{
    char stem[256];
    stem_of(path, stem, sizeof stem);
    if (!d) {
        snprintf(err, err_len, "%s: refused: %s() returned no descriptor", path, BP_ENTRY_SYMBOL);
        return -1;
    }
    /* abi_major sits at the same offset in every ABI, so it is checked before the size. */
    if (d->abi_major != BP_ABI_MAJOR) {
        snprintf(err, err_len,
                 "%s: refused: plugin was built for ABI %u, this bppipe speaks ABI %d; rebuild it "
                 "against this bppipe's bppipe/plugin.h",
                 path, d->abi_major, BP_ABI_MAJOR);
        return -1;
    }
    if (d->abi_minor > BP_ABI_MINOR) {
        snprintf(err, err_len,
                 "%s: refused: plugin needs ABI %u.%u, this bppipe provides %d.%d; upgrade bppipe",
                 path, d->abi_major, d->abi_minor, BP_ABI_MAJOR, BP_ABI_MINOR);
        return -1;
    }
    if (d->struct_size < MIN_PLUGIN_SIZE) {
        snprintf(err, err_len, "%s: refused: descriptor is %u bytes, ABI %d.0 needs at least %zu",
                 path, d->struct_size, BP_ABI_MAJOR, (size_t)MIN_PLUGIN_SIZE);
        return -1;
    }
    if (!d->name || strcmp(d->name, stem) != 0) {
        snprintf(err, err_len,
                 "%s: refused: plugin calls itself '%s' but the file is named '%s.so'; rename the "
                 "file to %s.so",
                 path, d->name ? d->name : "(null)", stem, d->name ? d->name : "NAME");
        return -1;
    }
    bool ok = d->open && d->close;
    switch (d->kind) {
    case BP_KIND_SOURCE: ok = ok && d->poll; break;
    case BP_KIND_DETECTOR: ok = ok && d->detect; break;
    case BP_KIND_SINK: ok = ok && d->write; break;
    default:
        snprintf(err, err_len, "%s: refused: unknown plugin kind %d", path, (int)d->kind);
        return -1;
    }
    if (!ok) {
        snprintf(err, err_len, "%s: refused: a %s plugin needs open, close and %s", path,
                 bp_kind_name(d->kind),
                 d->kind == BP_KIND_SOURCE ? "poll" : d->kind == BP_KIND_SINK ? "write" : "detect");
        return -1;
    }
    return check_options(d, path, err, err_len);
}

static const bp_loaded *already_loaded(const bp_loader *ld, const char *real)
{
    for (size_t i = 0; i < ld->n_loaded; i++)
        if (strcmp(ld->loaded[i].path, real) == 0)
            return &ld->loaded[i];
    return NULL;
}

int bp_loader_open_file(bp_loader *ld, const char *path, const bp_loaded **out, char *err,
                        size_t err_len)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(err, err_len, "%s: cannot read plugin file: %s", path, strerror(errno));
        return -1;
    }
    const bp_loaded *prev = already_loaded(ld, real);
    if (prev) {
        *out = prev;
        return 0;
    }
    /* RTLD_NODELETE: a plugin and the libraries it pulls in (libcurl, librdkafka, OpenSSL)
     * stay mapped until the process exits, even after dlclose. Unloading libraries that hold
     * thread-local storage leaves stale entries in glibc's TLS vector, which LeakSanitizer
     * then reads at exit and crashes on; and those libraries are not written to be unloaded. */
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        snprintf(err, err_len, "%s: refused: not a loadable shared object (%s)", path, dlerror());
        return -1;
    }
    bp_entry_fn entry;
    *(void **)&entry = dlsym(h, BP_ENTRY_SYMBOL);
    if (!entry) {
        snprintf(err, err_len,
                 "%s: refused: not a bppipe plugin (no exported symbol %s; declare one with "
                 "BP_PLUGIN())",
                 path, BP_ENTRY_SYMBOL);
        dlclose(h);
        return -1;
    }
    const bp_plugin *d = entry();
    if (check_descriptor(d, path, err, err_len) != 0) {
        dlclose(h);
        return -1;
    }
    if (ld->n_loaded == ld->cap_loaded) {
        size_t cap = ld->cap_loaded ? ld->cap_loaded * 2 : 8;
        bp_loaded *l = realloc(ld->loaded, cap * sizeof *l);
        if (!l)
            goto nomem;
        ld->loaded = l;
        ld->cap_loaded = cap;
    }
    bp_loaded *slot = &ld->loaded[ld->n_loaded];
    if (!(slot->path = strdup(real)))
        goto nomem;
    slot->handle = h;
    slot->desc = d;
    ld->n_loaded++;
    *out = slot;
    return 0;
nomem:
    dlclose(h);
    snprintf(err, err_len, "%s: out of memory", path);
    return -1;
}

int bp_loader_find(bp_loader *ld, const char *name, const bp_loaded **out, char *err,
                   size_t err_len)
{
    char first[PATH_MAX] = "", where[1024] = "";
    for (size_t i = 0; i < ld->n_dirs; i++) {
        char path[PATH_MAX], real[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.so", ld->dirs[i], name);
        size_t used = strlen(where);
        snprintf(where + used, sizeof where - used, "%s%s", used ? ", " : "", ld->dirs[i]);
        if (access(path, F_OK) != 0 || !realpath(path, real))
            continue;
        if (!first[0]) {
            memcpy(first, real, sizeof first);
        } else if (strcmp(first, real) != 0) {
            snprintf(err, err_len,
                     "plugin '%s' is provided twice: %s and %s; remove one, or narrow "
                     "plugin_path / BPPIPE_PLUGIN_PATH",
                     name, first, real);
            return -1;
        }
    }
    if (!first[0]) {
        snprintf(err, err_len, "plugin '%s' not found (looked in: %s); run 'bppipe plugins' to "
                 "list what is installed", name, where[0] ? where : "no directories");
        return -1;
    }
    return bp_loader_open_file(ld, first, out, err, err_len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void bp_loader_scan(bp_loader *ld, bp_loader_visit visit, void *user)
{
    for (size_t i = 0; i < ld->n_dirs; i++) {
        DIR *d = opendir(ld->dirs[i]);
        if (!d)
            continue;
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len <= 3 || strcmp(e->d_name + len - 3, ".so") != 0)
                continue;
            char **grown = realloc(names, (n + 1) * sizeof *names);
            if (!grown)
                break;
            names = grown;
            if ((names[n] = strdup(e->d_name)))
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t k = 0; k < n; k++) {
            char path[PATH_MAX], err[1024];
            snprintf(path, sizeof path, "%s/%s", ld->dirs[i], names[k]);
            const bp_loaded *p = NULL;
            if (bp_loader_open_file(ld, path, &p, err, sizeof err) == 0)
                visit(user, path, p, NULL);
            else
                visit(user, path, NULL, err);
            free(names[k]);
        }
        free(names);
    }
}
