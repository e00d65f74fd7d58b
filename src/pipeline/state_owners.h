/* Private to src/pipeline/state*.c.
 *
 * The owners of keyed state: which instance (bp_ctx) holds which of the BP_STATE_MAX_OWNERS
 * slots, under which namespace ("SECTION/FORMAT", what a source that keeps state persists with
 * each key), with its key limit and snapshot file. The instance remembers its slot in
 * bp_ctx.state_owner (slot + 1).
 *
 * Pure: no globals and no lock; the caller (state.c) holds the store's lock. */
#ifndef BPPIPE_STATE_OWNERS_H
#define BPPIPE_STATE_OWNERS_H

#include "bppipe/plugin.h"
#include "pipeline/instance.h"
#include "pipeline/state_table.h" /* BP_STATE_MAX_OWNERS */

#include <stdbool.h>
#include <stdint.h>

typedef struct bp_state_owner {
    const bp_ctx *ctx; /* NULL: a free slot */
    char *ns;          /* "SECTION/FORMAT" */
    uint64_t max_keys; /* per scope; 0: no limit */
    char *file;        /* snapshot file, NULL: none */
} bp_state_owner;

/* Every slot. Zero-initialized they are all free. */
typedef struct bp_state_owners {
    bp_state_owner slot[BP_STATE_MAX_OWNERS];
} bp_state_owners;

/* True for a format state_open accepts: 1 to BP_STATE_MAX_FORMAT of [a-z0-9_.-]. */
bool bp_state_format_ok(const char *format);
/* The slot `ctx` holds, or -1. */
int bp_state_owner_of(const bp_state_owners *ow, const bp_ctx *ctx);
/* The slot whose namespace is `ns`, or -1. */
int bp_state_owner_by_ns(const bp_state_owners *ow, const char *ns);
/* True when any slot is held. */
bool bp_state_owners_any(const bp_state_owners *ow);
/* Gives `ctx` a free slot for `format` (valid), with copies of its namespace and of `file`
 * (NULL: none) and sets ctx->state_owner. Returns the slot, or BP_EINVAL (`ctx` holds one
 * already, none is free, or another instance holds the same namespace) or BP_ENOMEM. */
int bp_state_owner_claim(bp_state_owners *ow, bp_ctx *ctx, const char *format, uint64_t max_keys,
                         const char *file);
/* Frees slot `o` (its keys are the caller's to purge first). */
void bp_state_owner_release(bp_state_owners *ow, int o);

#endif
