/* ops-source: a source for the operations tests. It hands out the lines of `path` once, then
 * stays connected with nothing more (it never ends), so a test can read /metrics of a run whose
 * books no longer move and compare them with --summary-json after it stops the run. With
 * unassigned_file it counts partitions_assigned as source-kafka does: 0 while that file
 * exists (a consumer without partitions, which /readyz reports), 1 otherwise. */
#define _POSIX_C_SOURCE 200809L /* getline */

#include "bppipe/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct src {
    const bp_host *h;
    bp_ctx *ctx;
    FILE *in;
    char *line;
    size_t cap;
    const char *unassigned_file;
    int assigned; /* partitions_assigned as last counted; -1: not counted yet */
} src;

static const bp_option options[] = {
    BP_OPTION_STRING("path", NULL, BP_OPT_REQUIRED, "file of payloads, one a line"),
    BP_OPTION_STRING("unassigned_file", NULL, 0,
                     "while this file exists, partitions_assigned counts 0 (else 1)"),
};

static int src_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    src *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->h = h;
    s->ctx = ctx;
    s->unassigned_file = h->opt_string(ctx, "unassigned_file");
    s->assigned = -1;
    const char *path = h->opt_string(ctx, "path");
    if (!(s->in = fopen(path, "r"))) {
        h->log(ctx, BP_LOG_ERROR, "cannot open %s", path);
        free(s);
        return BP_FATAL;
    }
    *state = s;
    return BP_OK;
}

static void src_close(void *state)
{
    src *s = state;
    fclose(s->in);
    free(s->line);
    free(s);
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    src *s = state;
    size_t want = s->h->batch_capacity(batch);
    if (s->unassigned_file) {
        int now = access(s->unassigned_file, F_OK) != 0;
        if (now != s->assigned)
            s->h->count(s->ctx, "partitions_assigned", now - (s->assigned < 0 ? 0 : s->assigned));
        s->assigned = now;
    }
    while (s->h->batch_count(batch) < want) {
        ssize_t n = getline(&s->line, &s->cap, s->in);
        if (n < 0)
            break;
        while (n > 0 && (s->line[n - 1] == '\n' || s->line[n - 1] == '\r'))
            n--;
        if (n && s->h->add_payload(batch, s->line, (size_t)n, NULL) != BP_OK)
            return BP_FATAL;
    }
    if (s->h->batch_count(batch) == 0) {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "ops-source",
    .version = "1.0.0",
    .kind = BP_KIND_SOURCE,
    .description = "hands out a file's lines once, then waits for ever",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
};

BP_PLUGIN(descriptor)
