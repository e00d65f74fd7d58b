/* A sink that breaks the contract on purpose, for the conformance kit's tests. `mode` picks how:
 * none (a correct sink that counts what it gets), fatal_on_missing (BP_FATAL for a batch with a
 * reading without a systolic value), no_reason (rejects with no reason, which the host refuses),
 * verdict (calls flag() on what it writes), retry (BP_RETRY forever, as a sink whose service is
 * down), socket (opens a socket in open() and never closes it), thread (starts a thread in
 * open() that close() leaves running). */
#include "bppipe/plugin.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct sink {
    const bp_host *h;
    bp_ctx *ctx;
    char mode[24];
    int fd;
} sink;

static const bp_option options[] = {
    BP_OPTION_ENUM("mode", "none", "none|fatal_on_missing|no_reason|verdict|retry|socket|thread",
                   "which rule to break"),
};

static void *forever(void *arg)
{
    for (;;)
        pause();
    return arg;
}

static int sink_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->h = h;
    s->ctx = ctx;
    s->fd = -1;
    const char *mode = h->opt_string(ctx, "mode");
    strncpy(s->mode, mode ? mode : "none", sizeof s->mode - 1);
    if (strcmp(s->mode, "socket") == 0)
        s->fd = socket(AF_INET, SOCK_DGRAM, 0); /* never closed */
    if (strcmp(s->mode, "thread") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, forever, NULL) == 0)
            pthread_detach(t);
    }
    *state = s;
    return BP_OK;
}

static void sink_close(void *state)
{
    free(state);
}

static int sink_write(void *state, bp_batch *batch)
{
    sink *s = state;
    const bp_host *h = s->h;
    if (strcmp(s->mode, "retry") == 0)
        return BP_RETRY;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        size_t len = 0;
        if (!h->document(s->ctx, r, 0, &len) || len == 0)
            return BP_FATAL;
        if (strcmp(s->mode, "fatal_on_missing") == 0 && isnan(h->number(r, BP_F_SYSTOLIC)) &&
            !h->text(r, BP_F_INVALID_REASON))
            return BP_FATAL;
        if (strcmp(s->mode, "no_reason") == 0 && i == 0)
            h->set_outcome(s->ctx, r, BP_REJECTED, NULL);
        if (strcmp(s->mode, "verdict") == 0)
            h->flag(s->ctx, r, "seen_by_sink", BP_SEV_WARNING);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 0,
    .name = "sink-broken",
    .version = "0.0.1",
    .kind = BP_KIND_SINK,
    .description = "breaks the sink contract on purpose (conformance kit tests)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = sink_open,
    .close = sink_close,
    .write = sink_write,
};

BP_PLUGIN(descriptor)
