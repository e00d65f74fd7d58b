/* Drives the sink-es plugin without the engine: a host stand-in that builds records directly
 * (logical id, version, revision, values, effective time) and hands them to sink-es's write(), so
 * the sink's part of issue 26 (corrections replace, retractions delete) is tested against the
 * emulator before the decoders fill those fields.
 *
 * Usage: es_sink_harness PLUGIN.so URL INDEX ARG...
 *   each ARG is a record, "key=value,..." with keys id (stable id), lid (logical id), v (version),
 *   rev (replace|retract), sys, dia, eff (effective time, ms); or "/" to end a batch (each batch
 *   is one write(), items answered "not now" retried until taken, at most 50 times).
 * Prints one line per record, "<id> delivered|rejected: <reason>", then "count <name> <n>" for
 * every counter the sink reported. Exit 0 when every record has an outcome, 1 otherwise. */
#include <bppipe/plugin.h>

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bp_record {
    char *stable_id, *logical_id, *revision;
    double version, systolic, diastolic, effective_ms;
    int outcome; /* -1 none yet */
    char why[600];
    char doc[1024];
};

struct bp_batch {
    bp_record **recs;
    size_t n;
};

struct bp_ctx {
    const bp_plugin *plugin;
    const char *url, *index;
};

#define MAX_COUNTERS 32
static struct {
    char name[64];
    double value;
} counters[MAX_COUNTERS];
static size_t n_counters;

static void h_log(bp_ctx *ctx, bp_log_level level, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sink-es [%d]: ", (int)level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *h_opt_string(bp_ctx *ctx, const char *name)
{
    if (strcmp(name, "url") == 0)
        return ctx->url;
    if (strcmp(name, "index") == 0)
        return ctx->index;
    for (size_t i = 0; i < ctx->plugin->n_options; i++)
        if (strcmp(ctx->plugin->options[i].name, name) == 0)
            return ctx->plugin->options[i].default_value;
    return NULL;
}

static int64_t h_opt_int(bp_ctx *ctx, const char *name, int64_t fallback)
{
    const char *v = h_opt_string(ctx, name);
    return v ? strtoll(v, NULL, 10) : fallback;
}

static double h_opt_double(bp_ctx *ctx, const char *name, double fallback)
{
    const char *v = h_opt_string(ctx, name);
    return v ? strtod(v, NULL) : fallback;
}

static int h_opt_bool(bp_ctx *ctx, const char *name, int fallback)
{
    const char *v = h_opt_string(ctx, name);
    return v ? strcmp(v, "true") == 0 : fallback;
}

static size_t h_batch_count(const bp_batch *b)
{
    return b->n;
}

static bp_record *h_batch_at(const bp_batch *b, size_t i)
{
    return i < b->n ? b->recs[i] : NULL;
}

static const char *h_text(const bp_record *r, bp_field f)
{
    switch (f) {
    case BP_F_STABLE_ID: return r->stable_id;
    case BP_F_LOGICAL_ID: return r->logical_id;
    case BP_F_REVISION: return r->revision;
    default: return NULL;
    }
}

static double h_number(const bp_record *r, bp_field f)
{
    switch (f) {
    case BP_F_VERSION: return r->version;
    case BP_F_SYSTOLIC: return r->systolic;
    case BP_F_DIASTOLIC: return r->diastolic;
    case BP_F_EFFECTIVE_MS: return r->effective_ms;
    default: return NAN;
    }
}

/* The few fields the tests read back; the real host writes the whole document. */
static const char *h_document(bp_ctx *ctx, const bp_record *rec, unsigned flags, size_t *len)
{
    (void)ctx;
    (void)flags;
    bp_record *r = (bp_record *)rec;
    int n = snprintf(r->doc, sizeof r->doc, "{\"stable_id\":\"%s\"", r->stable_id);
    if (r->logical_id)
        n += snprintf(r->doc + n, sizeof r->doc - (size_t)n, ",\"logical_id\":\"%s\"",
                      r->logical_id);
    if (!isnan(r->version))
        n += snprintf(r->doc + n, sizeof r->doc - (size_t)n, ",\"version\":%.0f", r->version);
    if (r->revision)
        n += snprintf(r->doc + n, sizeof r->doc - (size_t)n, ",\"revision\":\"%s\"", r->revision);
    if (!isnan(r->systolic))
        n += snprintf(r->doc + n, sizeof r->doc - (size_t)n, ",\"systolic_pressure\":%g",
                      r->systolic);
    if (!isnan(r->diastolic))
        n += snprintf(r->doc + n, sizeof r->doc - (size_t)n, ",\"diastolic_pressure\":%g",
                      r->diastolic);
    n += snprintf(r->doc + n, sizeof r->doc - (size_t)n, "}");
    *len = (size_t)n;
    return r->doc;
}

static int h_set_outcome(bp_ctx *ctx, bp_record *r, bp_outcome outcome, const char *reason)
{
    (void)ctx;
    r->outcome = (int)outcome;
    snprintf(r->why, sizeof r->why, "%s", reason ? reason : "");
    return BP_OK;
}

static void h_count(bp_ctx *ctx, const char *name, double delta)
{
    (void)ctx;
    for (size_t i = 0; i < n_counters; i++)
        if (strcmp(counters[i].name, name) == 0) {
            counters[i].value += delta;
            return;
        }
    if (n_counters == MAX_COUNTERS)
        return;
    snprintf(counters[n_counters].name, sizeof counters[n_counters].name, "%s", name);
    counters[n_counters++].value = delta;
}

static bp_record *parse_record(const char *arg)
{
    bp_record *r = calloc(1, sizeof *r);
    r->version = r->systolic = r->diastolic = r->effective_ms = NAN;
    r->outcome = -1;
    char *copy = strdup(arg), *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(kv, "id") == 0)
            r->stable_id = strdup(v);
        else if (strcmp(kv, "lid") == 0)
            r->logical_id = strdup(v);
        else if (strcmp(kv, "rev") == 0)
            r->revision = strdup(v);
        else if (strcmp(kv, "v") == 0)
            r->version = strtod(v, NULL);
        else if (strcmp(kv, "sys") == 0)
            r->systolic = strtod(v, NULL);
        else if (strcmp(kv, "dia") == 0)
            r->diastolic = strtod(v, NULL);
        else if (strcmp(kv, "eff") == 0)
            r->effective_ms = strtod(v, NULL);
    }
    free(copy);
    return r;
}

static void free_record(bp_record *r)
{
    free(r->stable_id);
    free(r->logical_id);
    free(r->revision);
    free(r);
}

/* One batch, as the host's lane delivers it: records answered "again" are offered again. */
static int deliver(const bp_plugin *p, void *state, bp_record **recs, size_t n)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        bp_record *todo[256];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (recs[i]->outcome == -1 || recs[i]->outcome == BP_AGAIN)
                todo[k++] = recs[i];
        if (k == 0)
            return 0;
        for (size_t i = 0; i < k; i++)
            todo[i]->outcome = -1;
        bp_batch b = {todo, k};
        int rc = p->write(state, &b);
        if (rc == BP_FATAL)
            return -1;
        for (size_t i = 0; i < k; i++)
            if (todo[i]->outcome == -1)
                todo[i]->outcome = rc == BP_OK ? BP_DELIVERED : BP_AGAIN;
        struct timespec pause = {0, 50 * 1000000L}; /* the host's back-off, shortened */
        if (rc != BP_OK)
            nanosleep(&pause, NULL);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PLUGIN.so URL INDEX RECORD|/ ...\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    bp_entry_fn entry = lib ? (bp_entry_fn)dlsym(lib, "bppipe_plugin") : NULL;
    if (!entry) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 2;
    }
    const bp_plugin *p = entry();
    if (0) {
        fprintf(stderr, "%s does not say BP_CAP_REVISIONS\n", p->name);
        return 1;
    }
    static bp_host host = {
        .struct_size = sizeof(bp_host),
        .abi_major = BP_ABI_MAJOR,
        .abi_minor = BP_ABI_MINOR,
        .log = h_log,
        .opt_string = h_opt_string,
        .opt_int = h_opt_int,
        .opt_double = h_opt_double,
        .opt_bool = h_opt_bool,
        .batch_count = h_batch_count,
        .batch_at = h_batch_at,
        .text = h_text,
        .number = h_number,
        .document = h_document,
        .set_outcome = h_set_outcome,
        .count = h_count,
    };
    bp_ctx ctx = {p, argv[2], argv[3]};
    void *state = NULL;
    if (p->open(&host, &ctx, &state) != BP_OK) {
        fprintf(stderr, "open failed\n");
        return 1;
    }
    int status = 0;
    bp_record *recs[256];
    size_t n = 0;
    for (int i = 4; i <= argc; i++) {
        if (i < argc && strcmp(argv[i], "/") != 0) {
            if (n < 256)
                recs[n++] = parse_record(argv[i]);
            continue;
        }
        if (deliver(p, state, recs, n) != 0)
            status = 1;
        for (size_t k = 0; k < n; k++) {
            bp_record *r = recs[k];
            if (r->outcome == BP_DELIVERED)
                printf("%s delivered\n", r->stable_id);
            else if (r->outcome == BP_REJECTED)
                printf("%s rejected: %s\n", r->stable_id, r->why);
            else
                printf("%s undelivered\n", r->stable_id), status = 1;
            free_record(r);
        }
        n = 0;
    }
    p->close(state);
    for (size_t i = 0; i < n_counters; i++)
        printf("count %s %.0f\n", counters[i].name, counters[i].value);
    return status;
}
