#include "pipeline/loader.h"

#include "base/log.h"
#include "common/io.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if UINTPTR_MAX == 0xffffffffffffffffu
#define ELF_CLASS ELFCLASS64
typedef Elf64_Ehdr elf_ehdr;
typedef Elf64_Phdr elf_phdr;
typedef Elf64_Shdr elf_shdr;
#else
#define ELF_CLASS ELFCLASS32
typedef Elf32_Ehdr elf_ehdr;
typedef Elf32_Phdr elf_phdr;
typedef Elf32_Shdr elf_shdr;
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ELF_DATA ELFDATA2LSB
#else
#define ELF_DATA ELFDATA2MSB
#endif

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
    if (!bp_plugin_name_ok(d->name)) {
        snprintf(err, err_len,
                 "%s: refused: plugin calls itself '%s', which is not a plugin name (lower-case "
                 "letters, digits, '-' and '_', at most %d)",
                 path, d->name ? d->name : "(null)", BP_PLUGIN_NAME_MAX);
        return -1;
    }
    if (strcmp(d->name, stem) != 0) {
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

bool bp_plugin_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > BP_PLUGIN_NAME_MAX || !(islower((unsigned char)name[0]) ||
                                              isdigit((unsigned char)name[0])))
        return false;
    for (const char *c = name; *c; c++)
        if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '_'))
            return false;
    return true;
}

/* Does [off, off + len) lie inside a file of `size` bytes? (No overflow on hostile values.) */
static bool within(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* Reads exactly `len` bytes at `off`; false on an error or a short read. */
static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
    return bp_pread_full(fd, buf, len, off) == (ssize_t)len;
}

/* Every segment dlopen would map lies inside the file. */
static const char *check_segments(int fd, const elf_ehdr *eh, uint64_t size, char *detail,
                                  size_t len)
{
    if (eh->e_phnum == 0 || eh->e_phentsize != sizeof(elf_phdr) ||
        !within(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(elf_phdr), size)) {
        snprintf(detail, len, "truncated or damaged: its program header table is not inside "
                 "its %llu bytes", (unsigned long long)size);
        return detail;
    }
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        elf_phdr ph;
        if (!read_at(fd, &ph, sizeof ph, eh->e_phoff + (uint64_t)i * sizeof ph) ||
            !within(ph.p_offset, ph.p_filesz, size)) {
            snprintf(detail, len, "truncated: segment %u ends at byte %llu, the file has %llu",
                     i, (unsigned long long)ph.p_offset + ph.p_filesz,
                     (unsigned long long)size);
            return detail;
        }
    }
    return NULL;
}

/* The section header table lies inside the file. dlopen does not read it, but a table cut
 * short is what a copy cut short looks like. With SHN_LORESERVE sections or more, e_shnum is
 * 0 and the count is in the first entry's sh_size. */
static const char *check_sections(int fd, const elf_ehdr *eh, uint64_t size, char *detail,
                                  size_t len)
{
    if (eh->e_shoff == 0)
        return NULL; /* no section headers at all (stripped with sstrip): nothing to check */
    uint64_t count = eh->e_shnum;
    elf_shdr first;
    bool sized = eh->e_shentsize == sizeof(elf_shdr) &&
                 within(eh->e_shoff, sizeof first, size) &&
                 read_at(fd, &first, sizeof first, eh->e_shoff);
    if (sized && count == 0)
        count = first.sh_size;
    if (sized && count <= size / sizeof first && within(eh->e_shoff, count * sizeof first, size))
        return NULL;
    snprintf(detail, len, "truncated: its section header table is not inside its %llu bytes",
             (unsigned long long)size);
    return detail;
}

/* Why the open file `fd` of `size` bytes is not a shared object dlopen can map whole, or
 * NULL when it is one. */
static const char *elf_problem(int fd, uint64_t size, char *detail, size_t len)
{
    elf_ehdr eh;
    if (size < EI_NIDENT || !read_at(fd, eh.e_ident, EI_NIDENT, 0) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return "not a loadable shared object (not an ELF file)";
    if (eh.e_ident[EI_CLASS] != ELF_CLASS || eh.e_ident[EI_DATA] != ELF_DATA) {
        snprintf(detail, len, "not a loadable shared object (an ELF file for %d-bit %s-endian "
                 "machines, this bppipe is %d-bit %s-endian)",
                 eh.e_ident[EI_CLASS] == ELFCLASS64 ? 64 : 32,
                 eh.e_ident[EI_DATA] == ELFDATA2MSB ? "big" : "little",
                 ELF_CLASS == ELFCLASS64 ? 64 : 32, ELF_DATA == ELFDATA2MSB ? "big" : "little");
        return detail;
    }
    if (size < sizeof eh || !read_at(fd, &eh, sizeof eh, 0))
        return "truncated: the file is shorter than an ELF header";
    if (eh.e_type != ET_DYN)
        return "not a loadable shared object (an ELF file, but not a shared object)";
    const char *why = check_segments(fd, &eh, size, detail, len);
    return why ? why : check_sections(fd, &eh, size, detail, len);
}

/* What dlopen() would map must be in the file. dlopen maps each segment as the program
 * headers describe it, and touching a mapped page past the end of the file raises SIGBUS
 * (a copy cut short, a full disk during an install): so before dlopen the file must be a
 * regular file of this machine's ELF class and byte order, a shared object, whose size
 * covers the program header table, every segment's p_offset + p_filesz, and the section
 * header table. The rest (machine, dynamic section, symbols) is dlopen's to refuse. `file` is
 * read, `path` (as the user gave it) named in the refusal. O_NONBLOCK: a FIFO named .so does
 * not hang the listing. */
static int check_elf(const char *file, const char *path, char *err, size_t err_len)
{
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot read plugin file: %s", path, strerror(errno));
        return -1;
    }
    char detail[160];
    const char *why;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(detail, sizeof detail, "cannot stat it: %s", strerror(errno));
        why = detail;
    } else if (!S_ISREG(st.st_mode)) {
        why = "not a regular file";
    } else {
        why = elf_problem(fd, (uint64_t)st.st_size, detail, sizeof detail);
    }
    close(fd);
    if (!why)
        return 0;
    snprintf(err, err_len, "%s: refused: %s%s", path, why,
             strncmp(why, "truncated", 9) == 0 ? " (a copy cut short? reinstall or rebuild it)"
                                               : "");
    return -1;
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
    if (check_elf(real, path, err, err_len) != 0)
        return -1;
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
    if (!bp_plugin_name_ok(name)) {
        snprintf(err, err_len,
                 "'%s' is not a plugin name: a plugin is named by its file in the plugin path "
                 "without '.so' (lower-case letters, digits, '-' and '_'), never by a path; put "
                 "the file in a folder of plugin_path or BPPIPE_PLUGIN_PATH and give its name",
                 name);
        return -1;
    }
    char first[PATH_MAX] = "", where[1024] = "", shadowed[1024] = "";
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
            used = strlen(shadowed);
            snprintf(shadowed + used, sizeof shadowed - used, "%s%s", used ? ", " : "", real);
        }
    }
    if (!first[0]) {
        snprintf(err, err_len, "plugin '%s' not found (looked in: %s); run 'bppipe plugins' to "
                 "list what is installed", name, where[0] ? where : "no directories");
        return -1;
    }
    /* The first file in the search order is used, as PATH does; the others are named once,
     * when the plugin is first loaded, so a stale copy earlier in the path is noticed. */
    if (shadowed[0] && !already_loaded(ld, first))
        bp_log("loader", BP_LOG_WARN,
               "plugin '%s': using %s (first in the search order); shadowed, not used: %s", name,
               first, shadowed);
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
        if (n > 1) /* an empty folder leaves names NULL, which qsort must not see */
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
