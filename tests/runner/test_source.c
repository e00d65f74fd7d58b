/* test-source: a source for the runner tests that never has anything and always asks to be
 * retried, so the tests can see what the runner does while a source is failing. */
#include "bppipe/plugin.h"

#include <stdlib.h>

static int src_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    (void)host;
    (void)ctx;
    *state = NULL;
    return BP_OK;
}

static void src_close(void *state)
{
    (void)state;
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    (void)state;
    (void)batch;
    (void)timeout_ms;
    return BP_RETRY;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "test-source",
    .version = "1.0.0",
    .kind = BP_KIND_SOURCE,
    .description = "always asks to be retried",
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
};

BP_PLUGIN(descriptor)
