/* A sink written against a frozen ABI header (abi_version.h): it appends each record's host
 * document as one line to `path` (built against today's header it honours revisions, ABI 1.8:
 * a retraction is one more document), refuses the readings of patient `reject_patient` one by one
 * (BP_REJECTED with a reason, so the host dead-letters them), and counts what it wrote. */
#include "abi_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct snk {
    const bp_host *host;
    bp_ctx *ctx;
    FILE *f;
    const char *reject;
} snk;

static const bp_option options[] = {
    BP_OPTION_STRING("path", NULL, BP_OPT_REQUIRED, "file the documents are appended to"),
    BP_OPTION_STRING("reject_patient", "", 0, "refuse this patient's readings"),
};

static int snk_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    snk *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->reject = host->opt_string(ctx, "reject_patient");
    s->f = fopen(host->opt_string(ctx, "path"), "a");
    if (!s->f) {
        host->log(ctx, BP_LOG_ERROR, "cannot open %s", host->opt_string(ctx, "path"));
        free(s);
        return BP_FATAL;
    }
    *state = s;
    return BP_OK;
}

static void snk_close(void *state)
{
    snk *s = state;
    fclose(s->f);
    free(s);
}

static int snk_write(void *state, bp_batch *batch)
{
    snk *s = state;
    const bp_host *h = s->host;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        const char *patient = h->text(r, BP_F_PATIENT_ID);
        if (s->reject && *s->reject && patient && strcmp(patient, s->reject) == 0) {
            h->set_outcome(s->ctx, r, BP_REJECTED, "abi sink refuses this patient");
            continue;
        }
        size_t len = 0;
        const char *doc = h->document(s->ctx, r, 0, &len);
        if (!doc || fwrite(doc, 1, len, s->f) != len || fputc('\n', s->f) == EOF)
            return BP_FATAL;
        h->count(s->ctx, "written", 1);
    }
    return fflush(s->f) == 0 ? BP_OK : BP_FATAL;
}

static int snk_flush(void *state)
{
    snk *s = state;
    return fflush(s->f) == 0 ? BP_OK : BP_FATAL;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = ABI_NAME("sink"),
    .version = "1.0.0",
    .kind = BP_KIND_SINK,
    .description = "appends documents to a file; built against a frozen ABI header (tests)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = snk_open,
    .close = snk_close,
    .write = snk_write,
    .flush = snk_flush,
#if ABI_VERSION >= 18
    .caps = BP_CAP_REVISIONS, /* today's: it writes a retraction's document like any other */
#endif
};

BP_PLUGIN(descriptor)
