/* A detector whose descriptor and option table are malformed on purpose (the loader takes
 * them; the conformance kit must not): a default outside its own bounds, and flush(), a sink's
 * function, set on a detector. */
#include "bppipe/plugin.h"

#include <stdlib.h>

static const bp_option options[] = {
    BP_OPTION_INT("window", "5", 10, 20, 0, "a default below its own lower bound"),
};

static int bad_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    (void)h;
    (void)ctx;
    *state = NULL;
    return BP_OK;
}

static void bad_close(void *state)
{
    (void)state;
}

static int bad_detect(void *state, bp_batch *batch)
{
    (void)state;
    (void)batch;
    return BP_OK;
}

static int bad_flush(void *state)
{
    (void)state;
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 0,
    .name = "detector-bad-table",
    .version = "0.0.1",
    .kind = BP_KIND_DETECTOR,
    .description = "a malformed option table and descriptor (conformance kit tests)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = bad_open,
    .close = bad_close,
    .detect = bad_detect,
    .flush = bad_flush,
};

BP_PLUGIN(descriptor)
