/* One source, many small plugins for the loader tests: VARIANT selects what is wrong with it.
 * Each variant builds into its own .so under the test's plugin folders. */
#include "bppipe/plugin.h"

#include <stddef.h>

static int fake_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    (void)host;
    (void)ctx;
    *state = NULL;
    return BP_OK;
}

static void fake_close(void *state)
{
    (void)state;
}

#ifndef NO_DETECT
static int fake_detect(void *state, bp_batch *batch)
{
    (void)state;
    (void)batch;
    return BP_OK;
}
#endif

static const bp_option fake_options[] = {
    BP_OPTION_DOUBLE("limit", "1.5", 0, 10, 0, "a bounded number"),
};

#ifndef PLUGIN_NAME
#error PLUGIN_NAME must be defined
#endif
#ifndef ABI_MAJOR
#define ABI_MAJOR BP_ABI_MAJOR
#endif
#ifndef ABI_MINOR
#define ABI_MINOR BP_ABI_MINOR
#endif

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = ABI_MAJOR,
    .abi_minor = ABI_MINOR,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .kind = BP_KIND_DETECTOR,
    .description = "loader test plugin",
    .options = fake_options,
    .n_options = 1,
    .open = fake_open,
    .close = fake_close,
#ifndef NO_DETECT
    .detect = fake_detect,
#endif
};

#ifdef NO_ENTRY
/* Exports something, just not the entry symbol. */
BP_EXPORT const bp_plugin *not_the_entry(void);
BP_EXPORT const bp_plugin *not_the_entry(void)
{
    return &descriptor;
}
#else
BP_PLUGIN(descriptor)
#endif
