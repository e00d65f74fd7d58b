#include "config/config.h"

#include "base/log.h"
#include "base/suggest.h"
#include "common/io.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* inih is built with INI_MAX_LINE 200 on Debian: longer lines would be split silently, so the
 * line reader below refuses them with a clear error instead. */
#define MAX_LINE 199

void bp_errors_add(bp_errors *e, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        char **items = realloc(e->items, cap * sizeof *items);
        if (!items)
            return;
        e->items = items;
        e->cap = cap;
    }
    char *copy = strdup(text);
    if (copy)
        e->items[e->n++] = copy;
}

void bp_errors_print(const bp_errors *e)
{
    for (size_t i = 0; i < e->n; i++) {
        if (bp_log_get_format() == BP_LOG_JSON)
            bp_log("config", BP_LOG_ERROR, "%s", e->items[i]);
        else
            fprintf(stderr, "error: %s\n", e->items[i]);
    }
}

void bp_errors_free(bp_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->items[i]);
    free(e->items);
    memset(e, 0, sizeof *e);
}

char *bp_expand_env(const char *in, char *why, size_t why_len)
{
    size_t cap = strlen(in) + 64, len = 0;
    char *out = malloc(cap);
    if (!out) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    for (const char *p = in; *p;) {
        const char *piece = p;
        size_t piece_len = 1;
        char name[128];
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                snprintf(why, why_len, "unterminated ${ in value (write ${NAME} or ${NAME:-default})");
                free(out);
                return NULL;
            }
            const char *dflt = strstr(p + 2, ":-");
            if (dflt && dflt > end)
                dflt = NULL;
            size_t nlen = (size_t)((dflt ? dflt : end) - (p + 2));
            if (nlen == 0 || nlen >= sizeof name) {
                snprintf(why, why_len, "bad variable reference in value");
                free(out);
                return NULL;
            }
            memcpy(name, p + 2, nlen);
            name[nlen] = '\0';
            const char *val = getenv(name);
            if (val && *val) {
                piece = val;
                piece_len = strlen(val);
            } else if (dflt) {
                piece = dflt + 2;
                piece_len = (size_t)(end - piece);
            } else {
                snprintf(why, why_len,
                         "environment variable %s is not set (set it, or write ${%s:-default})",
                         name, name);
                free(out);
                return NULL;
            }
            p = end + 1;
        } else {
            p++;
        }
        if (len + piece_len + 1 > cap) {
            cap = (len + piece_len + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                snprintf(why, why_len, "out of memory");
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, piece, piece_len);
        len += piece_len;
    }
    out[len] = '\0';
    return out;
}

static bool parse_section_name(const char *name, bp_section_kind *kind, const char **instance)
{
    static const struct {
        const char *prefix;
        bp_section_kind kind;
    } kinds[] = {{"source.", BP_SEC_SOURCE}, {"detector.", BP_SEC_DETECTOR}, {"sink.", BP_SEC_SINK}};
    if (strcmp(name, "pipeline") == 0 || strcmp(name, "alarms") == 0) {
        *kind = name[0] == 'p' ? BP_SEC_PIPELINE : BP_SEC_ALARMS;
        *instance = name + strlen(name);
        return true;
    }
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(name, kinds[i].prefix, n) != 0)
            continue;
        const char *inst = name + n;
        if (!*inst)
            return false;
        for (const char *c = inst; *c; c++)
            if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-'))
                return false;
        *kind = kinds[i].kind;
        *instance = inst;
        return true;
    }
    return false;
}

bp_section *bp_config_find(const bp_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_sections; i++)
        if (strcmp(cfg->sections[i].name, name) == 0)
            return &cfg->sections[i];
    return NULL;
}

static bp_section *add_section(bp_config *cfg, const char *name, const char *file, int line,
                               bp_errors *errs)
{
    bp_section_kind kind;
    const char *inst;
    if (!parse_section_name(name, &kind, &inst)) {
        char where[300];
        if (line > 0)
            snprintf(where, sizeof where, "%s:%d", file, line);
        else
            snprintf(where, sizeof where, "%s", file);
        bp_errors_add(errs,
                      "%s: unknown section [%s]: expected [pipeline], [alarms], [source.NAME], "
                      "[detector.NAME] or [sink.NAME] (NAME: letters, digits, '-', '_')",
                      where, name);
        return NULL;
    }
    if (cfg->n_sections == cfg->cap_sections) {
        size_t cap = cfg->cap_sections ? cfg->cap_sections * 2 : 8;
        bp_section *s = realloc(cfg->sections, cap * sizeof *s);
        if (!s)
            return NULL;
        cfg->sections = s;
        cfg->cap_sections = cap;
    }
    bp_section *s = &cfg->sections[cfg->n_sections];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    if (!s->name)
        return NULL;
    parse_section_name(s->name, &s->kind, &s->instance);
    s->file = file;
    s->line = line;
    cfg->n_sections++;
    return s;
}

bp_kv *bp_section_get(const bp_section *s, const char *key)
{
    for (size_t i = 0; s && i < s->n_kvs; i++)
        if (strcmp(s->kvs[i].key, key) == 0)
            return &s->kvs[i];
    return NULL;
}

const char *bp_section_value(const bp_section *s, const char *key)
{
    bp_kv *kv = bp_section_get(s, key);
    return kv ? kv->value : NULL;
}

/* Sets `key` to `value` (taken over), or, with `value` NULL, keeps it unresolved for the
 * reason `unresolved` (copied). A key set again loses what it was, its unresolved state too. */
static int set_kv(bp_section *s, const char *key, char *value, const char *unresolved,
                  const char *file, int line)
{
    char *why = NULL;
    if (!value && !(why = strdup(unresolved ? unresolved : "no value")))
        return -1;
    bp_kv *kv = bp_section_get(s, key);
    if (kv) {
        free(kv->value);
        free(kv->unresolved);
        kv->value = value;
        kv->unresolved = why;
        kv->file = file;
        kv->line = line;
        return 0;
    }
    if (s->n_kvs == s->cap_kvs) {
        size_t cap = s->cap_kvs ? s->cap_kvs * 2 : 8;
        bp_kv *kvs = realloc(s->kvs, cap * sizeof *kvs);
        if (!kvs) {
            free(why);
            return -1;
        }
        s->kvs = kvs;
        s->cap_kvs = cap;
    }
    kv = &s->kvs[s->n_kvs];
    memset(kv, 0, sizeof *kv);
    kv->key = strdup(key);
    if (!kv->key) {
        free(why);
        return -1;
    }
    kv->value = value;
    kv->unresolved = why;
    kv->file = file;
    kv->line = line;
    s->n_kvs++;
    return 0;
}

/* State shared by the line reader and the inih handler while one file is parsed. */
typedef struct parse_ctx {
    bp_config *cfg;
    bp_errors *errs;
    const char *file;
    const char *text; /* remaining input */
    int line;         /* number of the line inih is handling */
    bp_section *current;
    bool current_bad; /* the current section header was refused: skip its keys quietly */
} parse_ctx;

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Section headers are tracked here, line by line, because inih reports only keys: this way
 * empty sections, repeated sections and their line numbers are all known. */
static void see_line(parse_ctx *pc, const char *raw, size_t len)
{
    char line[MAX_LINE + 2];
    if (len > MAX_LINE) {
        bp_errors_add(pc->errs, "%s:%d: line is longer than %d characters; shorten the value",
                      pc->file, pc->line, MAX_LINE);
        len = MAX_LINE;
    }
    memcpy(line, raw, len);
    line[len] = '\0';
    char *t = trim(line);
    if (*t != '[')
        return;
    char *close = strchr(t, ']');
    if (!close)
        return; /* inih reports the syntax error */
    *close = '\0';
    char *name = trim(t + 1);
    bp_section *prev = bp_config_find(pc->cfg, name);
    if (prev) {
        bp_errors_add(pc->errs, "%s:%d: section [%s] appears twice (first at line %d)",
                      pc->file, pc->line, name, prev->line);
        pc->current = NULL;
        pc->current_bad = true;
        return;
    }
    pc->current = add_section(pc->cfg, name, pc->file, pc->line, pc->errs);
    pc->current_bad = pc->current == NULL;
}

static char *read_line(char *str, int num, void *stream)
{
    parse_ctx *pc = stream;
    if (!*pc->text)
        return NULL;
    const char *nl = strchr(pc->text, '\n');
    size_t len = nl ? (size_t)(nl - pc->text) + 1 : strlen(pc->text);
    pc->line++;
    see_line(pc, pc->text, len);
    size_t copy = len < (size_t)num - 1 ? len : (size_t)num - 1;
    memcpy(str, pc->text, copy);
    str[copy] = '\0';
    pc->text += len;
    return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *pc = user;
    if (pc->current_bad)
        return 1;
    if (!pc->current || strcmp(pc->current->name, section) != 0) {
        bp_errors_add(pc->errs, "%s:%d: key '%s' is outside any section; put it under [pipeline] "
                      "or a stage section", pc->file, pc->line, name);
        return 1;
    }
    bp_kv *prev = bp_section_get(pc->current, name);
    if (prev) {
        bp_errors_add(pc->errs, "%s:%d: [%s] key '%s' is given twice (first at line %d)",
                      pc->file, pc->line, section, name, prev->line);
        return 1;
    }
    /* A value that cannot be expanded is kept unresolved rather than refused here: -u or a
     * plugin swap may still take the key out of the pipeline, and then it is no error. */
    char why[256];
    char *expanded = bp_expand_env(value, why, sizeof why);
    if (set_kv(pc->current, name, expanded, expanded ? NULL : why, pc->file, pc->line) != 0) {
        free(expanded);
        bp_errors_add(pc->errs, "out of memory");
    }
    return 1;
}

int bp_config_load_string(bp_config *cfg, const char *name, const char *text, bp_errors *errs)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->path = strdup(name);
    if (!cfg->path)
        return -1;
    /* A UTF-8 byte-order mark, as some Windows editors save, is not part of the first line. */
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    parse_ctx pc = {.cfg = cfg, .errs = errs, .file = cfg->path, .text = text};
    int rc = ini_parse_stream(read_line, &pc, on_key, &pc);
    if (rc > 0)
        bp_errors_add(errs, "%s:%d: syntax error: expected 'key = value', '[section]' or a "
                      "comment", cfg->path, rc);
    else if (rc < 0)
        bp_errors_add(errs, "%s: could not be parsed (out of memory)", cfg->path);
    return 0;
}

/* Opens `path` for reading only if it is a regular file of at most BP_CONFIG_MAX_BYTES.
 * O_NONBLOCK keeps open() of a FIFO with no writer from waiting forever; it is cleared again
 * before the read. Returns the descriptor, or -1 with the reason in errs. */
static int open_pipeline_file(const char *path, bp_errors *errs)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        bp_errors_add(errs, "%s: cannot open pipeline file: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        bp_errors_add(errs, "%s: cannot open pipeline file: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        bp_errors_add(errs, "%s: not a regular file (a pipeline is an INI text file; devices, "
                      "pipes and folders are refused)", path);
        close(fd);
        return -1;
    }
    if (st.st_size > BP_CONFIG_MAX_BYTES) {
        bp_errors_add(errs, "%s: %lld bytes, over the 1 MiB limit of a pipeline file; is this "
                      "the right file?", path, (long long)st.st_size);
        close(fd);
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

/* The whole file as a NUL-terminated string in `*text`, `*len` bytes. A file that grows
 * past the limit while it is read is refused too. */
static int read_pipeline_file(const char *path, int fd, char **text, size_t *len,
                              bp_errors *errs)
{
    size_t cap = BP_CONFIG_MAX_BYTES + 2;
    char *buf = malloc(cap);
    if (!buf) {
        bp_errors_add(errs, "%s: out of memory", path);
        return -1;
    }
    /* One byte past the limit is enough to know the file is over it. */
    ssize_t got = bp_read_full(fd, buf, cap - 1);
    if (got < 0) {
        bp_errors_add(errs, "%s: cannot read pipeline file: %s", path, strerror(errno));
        free(buf);
        return -1;
    }
    size_t n = (size_t)got;
    if (n > BP_CONFIG_MAX_BYTES) {
        bp_errors_add(errs,
                      "%s: over the 1 MiB limit of a pipeline file; is this the "
                      "right file?",
                      path);
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

int bp_config_load(bp_config *cfg, const char *path, bp_errors *errs)
{
    memset(cfg, 0, sizeof *cfg);
    int fd = open_pipeline_file(path, errs);
    if (fd < 0)
        return -1;
    char *text;
    size_t len;
    int rc = read_pipeline_file(path, fd, &text, &len, errs);
    close(fd);
    if (rc != 0)
        return -1;
    if (strlen(text) != len)
        bp_errors_add(errs, "%s: contains a NUL byte; is this a text file?", path);
    rc = bp_config_load_string(cfg, path, text, errs);
    free(text);
    return rc;
}

/* "-o" or "-o (argument 4)": how an error names a command-line edit that has no SECTION.KEY
 * to show. */
static const char *arg_label(const char *flag, int position, char *buf, size_t len)
{
    if (position > 0)
        snprintf(buf, len, "%s (argument %d)", flag, position);
    else
        snprintf(buf, len, "%s", flag);
    return buf;
}

/* Splits "SECTION.KEY" in `lhs` (modified): the section is "pipeline", "alarms" or the first
 * two dot-separated words, the rest is the key, so dotted keys such as kafka.security.protocol
 * (and the alarms' CONDITION.KEY) work. `*key` is NULL when there is no key part. */
static void split_target(char *lhs, char **key)
{
    char *dot = strchr(lhs, '.');
    if (dot && strncmp(lhs, "pipeline.", 9) != 0 && strncmp(lhs, "alarms.", 7) != 0)
        dot = strchr(dot + 1, '.');
    *key = NULL;
    if (dot) {
        *dot = '\0';
        *key = dot + 1;
    }
}

/* The -o that sets `plugin` of a section from the file to another plugin remembers the file's
 * plugin: the keys that plugin took and the new one does not are dropped once the new one's
 * options are known (bp_section_drop_undeclared). */
static int note_swap(bp_section *s, const char *key, const char *value)
{
    const bp_kv *kv = bp_section_get(s, key);
    if (strcmp(key, "plugin") != 0 || s->file_plugin || !kv || kv->line <= 0)
        return 0;
    if (kv->value && strcmp(kv->value, value) == 0)
        return 0;
    s->file_plugin = strdup(kv->value ? kv->value : "");
    return s->file_plugin ? 0 : -1;
}

/* Errors about -o name at most SECTION.KEY, never the value: before the plugin is known no
 * option table says which keys are secret, and an api_key or password given on the command
 * line must not end up in a terminal log or a CI transcript. */
static int override_at(bp_config *cfg, const char *assignment, int position, bp_errors *errs)
{
    char label[64];
    arg_label("-o", position, label, sizeof label);
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        bp_errors_add(errs, "%s: an argument has no SECTION.KEY before '=' (not shown: it may "
                      "hold a secret); expected SECTION.KEY=VALUE, e.g. -o sink.out.path=/tmp/x",
                      label);
        return -1;
    }
    char lhs[256];
    size_t lhs_len = (size_t)(eq - assignment);
    if (lhs_len >= sizeof lhs) {
        bp_errors_add(errs, "%s: key too long", label);
        return -1;
    }
    memcpy(lhs, assignment, lhs_len);
    lhs[lhs_len] = '\0';
    char *key;
    split_target(lhs, &key);
    if (!key || !*key) {
        bp_errors_add(errs, "-o %s=...: expected SECTION.KEY=VALUE where SECTION is pipeline "
                      "or KIND.NAME (e.g. sink.anomalies.plugin=sink-file)", lhs);
        return -1;
    }
    const char *section = lhs;
    bp_section *s = bp_config_find(cfg, section);
    if (!s && !(s = add_section(cfg, section, "-o", 0, errs)))
        return -1;
    char why[256];
    char *value = bp_expand_env(eq + 1, why, sizeof why);
    if (!value) {
        bp_errors_add(errs, "-o %s.%s: %s", section, key, why);
        return -1;
    }
    if (note_swap(s, key, value) != 0 || set_kv(s, key, value, NULL, "-o", 0) != 0) {
        free(value);
        bp_errors_add(errs, "out of memory");
        return -1;
    }
    return 0;
}

int bp_config_override(bp_config *cfg, const char *assignment, bp_errors *errs)
{
    return override_at(cfg, assignment, 0, errs);
}

static void free_kv(bp_kv *kv)
{
    free(kv->key);
    free(kv->value);
    free(kv->unresolved);
}

static void remove_kv(bp_section *s, size_t i)
{
    free_kv(&s->kvs[i]);
    memmove(&s->kvs[i], &s->kvs[i + 1], (s->n_kvs - i - 1) * sizeof *s->kvs);
    s->n_kvs--;
}

static void free_section(bp_section *s)
{
    for (size_t k = 0; k < s->n_kvs; k++)
        free_kv(&s->kvs[k]);
    free(s->kvs);
    free(s->name);
    free(s->file_plugin);
}

/* The closest of `n` names to `want` when it is close enough to be a likely typo. */
static const char *closest(const char *want, const char *const *names, size_t n)
{
    bp_suggest s;
    bp_suggest_init(&s, want);
    for (size_t i = 0; i < n; i++)
        bp_suggest_offer(&s, names[i]);
    return bp_suggest_result(&s, bp_suggest_max_edits(want, true));
}

/* " (did you mean [sink.normal]?)" or " (sections: [pipeline], [source.kafka], ...)". */
static void section_hint(const bp_config *cfg, const char *want, char *buf, size_t len)
{
    const char *names[64] = {0};
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_sections && n < 64; i++)
        names[n++] = cfg->sections[i].name;
    const char *best = closest(want, names, n);
    if (best) {
        snprintf(buf, len, " (did you mean [%s]?)", best);
        return;
    }
    size_t used = (size_t)snprintf(buf, len, n ? " (sections:" : " (the pipeline has none)");
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, " [%s]", names[i]);
    if (n && used < len)
        snprintf(buf + used, len - used, ")");
}

/* " (did you mean 'path'?)" or " (its keys: plugin, route, path)": names only, no values. */
static void key_hint(const bp_section *s, const char *want, char *buf, size_t len)
{
    const char *names[64] = {0};
    size_t n = 0;
    for (size_t i = 0; i < s->n_kvs && n < 64; i++)
        names[n++] = s->kvs[i].key;
    const char *best = closest(want, names, n);
    if (best) {
        snprintf(buf, len, " (did you mean '%s'?)", best);
        return;
    }
    size_t used = (size_t)snprintf(buf, len, n ? " (its keys:" : " (it has none)");
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s %s", i ? "," : "", names[i]);
    if (n && used < len)
        snprintf(buf + used, len - used, ")");
}

static int unset_at(bp_config *cfg, const char *target, int position, bp_errors *errs)
{
    char label[64], hint[512];
    arg_label("-u", position, label, sizeof label);
    if (strchr(target, '=')) {
        bp_errors_add(errs, "%s: -u takes SECTION or SECTION.KEY, with no '=' and no value (the "
                      "argument is not shown: it may hold a secret)", label);
        return -1;
    }
    if (!*target) {
        bp_errors_add(errs, "%s: empty; expected SECTION or SECTION.KEY, e.g. -u sink.alerts",
                      label);
        return -1;
    }
    bp_section *whole = bp_config_find(cfg, target);
    if (whole) {
        size_t i = (size_t)(whole - cfg->sections);
        free_section(whole);
        memmove(&cfg->sections[i], &cfg->sections[i + 1],
                (cfg->n_sections - i - 1) * sizeof *cfg->sections);
        cfg->n_sections--;
        return 0;
    }
    char name[256];
    if (strlen(target) >= sizeof name) {
        bp_errors_add(errs, "%s: name too long", label);
        return -1;
    }
    snprintf(name, sizeof name, "%s", target);
    char *key;
    split_target(name, &key);
    bp_section *s = bp_config_find(cfg, name);
    if (!s) {
        section_hint(cfg, name, hint, sizeof hint);
        bp_errors_add(errs, "-u %s: there is no section [%s] to remove%s", target, name, hint);
        return -1;
    }
    bp_kv *kv = key && *key ? bp_section_get(s, key) : NULL;
    if (!kv) {
        key_hint(s, key ? key : "", hint, sizeof hint);
        bp_errors_add(errs, "-u %s: [%s] has no key '%s' to remove%s", target, name,
                      key ? key : "", hint);
        return -1;
    }
    /* Removing the file's plugin before -o names another is a swap too. */
    if (strcmp(kv->key, "plugin") == 0 && kv->line > 0 && !s->file_plugin &&
        !(s->file_plugin = strdup(kv->value ? kv->value : ""))) {
        bp_errors_add(errs, "out of memory");
        return -1;
    }
    remove_kv(s, (size_t)(kv - s->kvs));
    return 0;
}

int bp_config_unset(bp_config *cfg, const char *target, bp_errors *errs)
{
    return unset_at(cfg, target, 0, errs);
}

int bp_config_apply(bp_config *cfg, const bp_edit *edits, size_t n, bp_errors *errs)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const bp_edit *e = &edits[i];
        int one = e->kind == BP_EDIT_UNSET ? unset_at(cfg, e->arg, e->position, errs)
                                           : override_at(cfg, e->arg, e->position, errs);
        if (one != 0)
            rc = -1;
    }
    return rc;
}

const char *bp_section_swapped_from(const bp_section *s)
{
    if (!s || !s->file_plugin)
        return NULL;
    const char *now = bp_section_value(s, "plugin");
    return now && strcmp(now, s->file_plugin) == 0 ? NULL : s->file_plugin;
}

size_t bp_section_drop_undeclared(bp_section *s, bp_key_filter declared, void *user,
                                  char *names, size_t names_len)
{
    size_t dropped = 0, used = 0;
    if (names_len)
        names[0] = '\0';
    for (size_t i = 0; i < s->n_kvs;) {
        const bp_kv *kv = &s->kvs[i];
        if (kv->line <= 0 || declared(user, kv->key)) {
            i++;
            continue;
        }
        if (used < names_len)
            used += (size_t)snprintf(names + used, names_len - used, "%s%s",
                                     dropped ? ", " : "", kv->key);
        dropped++;
        remove_kv(s, i);
    }
    return dropped;
}

void bp_section_report_unresolved(bp_section *s, bp_errors *errs)
{
    for (size_t i = 0; i < s->n_kvs;) {
        const bp_kv *kv = &s->kvs[i];
        if (!kv->unresolved) {
            i++;
            continue;
        }
        if (errs)
            bp_errors_add(errs, "%s:%d: [%s] key '%s': %s", kv->file, kv->line, s->name,
                          kv->key, kv->unresolved);
        remove_kv(s, i);
    }
}

void bp_config_report_unresolved(bp_config *cfg, bp_errors *errs)
{
    for (size_t i = 0; i < cfg->n_sections; i++)
        bp_section_report_unresolved(&cfg->sections[i], errs);
}

void bp_config_free(bp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_sections; i++)
        free_section(&cfg->sections[i]);
    free(cfg->sections);
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}
