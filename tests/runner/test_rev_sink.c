/* test-revsink: a sink that honours revisions (BP_CAP_REVISIONS, docs/revisions.md) for the
 * revision tests. It appends each record's compact document to `path`, one line each, a
 * "replace" or "retract" as it comes, and counts them, so a test sees exactly what the host
 * routed to a capable sink. */
#include "bppipe/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sink {
    const bp_host *h;
    bp_ctx *ctx;
    FILE *out;
} sink;

static const bp_option options[] = {
    BP_OPTION_STRING("path", NULL, BP_OPT_REQUIRED, "file the documents are appended to"),
};

static int sink_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->h = h;
    s->ctx = ctx;
    s->out = fopen(h->opt_string(ctx, "path"), "a");
    if (!s->out) {
        h->log(ctx, BP_LOG_ERROR, "cannot open %s", h->opt_string(ctx, "path"));
        free(s);
        return BP_FATAL;
    }
    *state = s;
    return BP_OK;
}

static void sink_close(void *state)
{
    sink *s = state;
    fclose(s->out);
    free(s);
}

static int sink_write(void *state, bp_batch *b)
{
    sink *s = state;
    for (size_t i = 0; i < s->h->batch_count(b); i++) {
        bp_record *r = s->h->batch_at(b, i);
        const char *rev = s->h->text(r, BP_F_REVISION);
        size_t len;
        const char *doc = s->h->document(s->ctx, r, 0, &len);
        if (!doc || fwrite(doc, 1, len, s->out) != len || fputc('\n', s->out) == EOF)
            return BP_FATAL;
        s->h->count(s->ctx, rev ? rev : "first", 1);
    }
    return fflush(s->out) == 0 ? BP_OK : BP_FATAL;
}

static int sink_flush(void *state)
{
    sink *s = state;
    return fflush(s->out) == 0 ? BP_OK : BP_FATAL;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "test-revsink",
    .version = "1.0.0",
    .kind = BP_KIND_SINK,
    .description = "appends documents to a file and honours revisions (tests)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = sink_open,
    .close = sink_close,
    .write = sink_write,
    .flush = sink_flush,
    .caps = BP_CAP_REVISIONS,
};

BP_PLUGIN(descriptor)
