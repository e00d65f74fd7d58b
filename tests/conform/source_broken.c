/* A source that breaks the contract on purpose, for the conformance kit's tests: `mode` none (a
 * correct source of numbered readings with positions and commit()), overfill (one payload more
 * than the batch's capacity), slow (waits 3 s longer than the poll's timeout), backwards (offsets
 * that go down from one batch to the next), fatal_commit (commit() answers BP_FATAL). */
#include "bppipe/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct source {
    const bp_host *h;
    bp_ctx *ctx;
    char mode[16];
    int64_t next;
} source;

static const bp_option options[] = {
    BP_OPTION_ENUM("mode", "none", "none|overfill|slow|backwards|fatal_commit",
                   "which rule to break"),
};

static int src_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    source *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->h = h;
    s->ctx = ctx;
    s->next = 1000;
    const char *mode = h->opt_string(ctx, "mode");
    strncpy(s->mode, mode ? mode : "none", sizeof s->mode - 1);
    *state = s;
    return BP_OK;
}

static void src_close(void *state)
{
    free(state);
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    source *s = state;
    size_t n = s->h->batch_capacity(batch);
    if (strcmp(s->mode, "overfill") == 0)
        n++;
    if (strcmp(s->mode, "slow") == 0) {
        struct timespec ts = {(timeout_ms + 3000) / 1000, (long)((timeout_ms + 3000) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        char text[512];
        int64_t off = s->next++;
        snprintf(text, sizeof text, "{\"resourceType\":\"Observation\",\"id\":\"sb-%lld\","
                 "\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
                 "\"code\":\"85354-9\"}]},\"subject\":{\"reference\":\"Patient/sb\"},"
                 "\"effectiveDateTime\":\"2026-03-01T10:00:00Z\",\"component\":[]}",
                 (long long)off);
        bp_origin o = {sizeof o, "broken", 0, off, NULL, 0, -1};
        if (s->h->add_payload(batch, text, strlen(text), &o) != BP_OK)
            return BP_FATAL;
    }
    if (strcmp(s->mode, "backwards") == 0)
        s->next -= 2 * (int64_t)n; /* the next batch starts before this one */
    return BP_OK;
}

static int src_commit(void *state, const bp_batch *batch)
{
    source *s = state;
    (void)batch;
    return strcmp(s->mode, "fatal_commit") == 0 ? BP_FATAL : BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 3,
    .name = "source-broken",
    .version = "0.0.1",
    .kind = BP_KIND_SOURCE,
    .description = "breaks the source contract on purpose (conformance kit tests)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
    .commit = src_commit,
    .caps = BP_CAP_BATCH_COMMIT,
};

BP_PLUGIN(descriptor)
