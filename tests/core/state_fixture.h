/* What the keyed-state tests share (test_state.c, test_state_host.c): a source that keeps
 * state, a detector that does not, and instances of them made by hand (no plugin is loaded). */
#ifndef BPPIPE_TESTS_STATE_FIXTURE_H
#define BPPIPE_TESTS_STATE_FIXTURE_H

#include "pipeline/instance.h"

#include <stdlib.h>
#include <string.h>

static const bp_plugin keeping_source = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "test-source",
    .kind = BP_KIND_SOURCE,
    .caps = BP_CAP_KEYED_STATE,
};
static const bp_plugin plain_detector = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "test-detector",
    .kind = BP_KIND_DETECTOR,
};
static const bp_loaded src_loaded = {.desc = &keeping_source};
static const bp_loaded det_loaded = {.desc = &plain_detector};

static bp_ctx *ctx_new(const char *name, const bp_loaded *l)
{
    bp_ctx *c = calloc(1, sizeof *c);
    c->name = strdup(name);
    c->plugin = l;
    return c;
}

#endif
