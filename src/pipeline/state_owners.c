/* The registry of which instance owns which slot of keyed state (see state_owners.h). Pure: no
 * globals. */
#include "pipeline/state_owners.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool bp_state_format_ok(const char *f)
{
    size_t n = f ? strlen(f) : 0;
    if (n < 1 || n > BP_STATE_MAX_FORMAT)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || f[i] == '_' ||
              f[i] == '.' || f[i] == '-'))
            return false;
    return true;
}

int bp_state_owner_of(const bp_state_owners *ow, const bp_ctx *ctx)
{
    if (!ctx || ctx->state_owner <= 0 || ctx->state_owner > BP_STATE_MAX_OWNERS ||
        ow->slot[ctx->state_owner - 1].ctx != ctx)
        return -1;
    return ctx->state_owner - 1;
}

int bp_state_owner_by_ns(const bp_state_owners *ow, const char *ns)
{
    for (int i = 0; i < BP_STATE_MAX_OWNERS; i++)
        if (ow->slot[i].ctx && strcmp(ow->slot[i].ns, ns) == 0)
            return i;
    return -1;
}

bool bp_state_owners_any(const bp_state_owners *ow)
{
    for (int i = 0; i < BP_STATE_MAX_OWNERS; i++)
        if (ow->slot[i].ctx)
            return true;
    return false;
}

int bp_state_owner_claim(bp_state_owners *ow, bp_ctx *ctx, const char *format, uint64_t max_keys,
                         const char *file)
{
    int o = bp_state_owner_of(ow, ctx);
    if (o >= 0)
        return BP_EINVAL; /* once per instance */
    for (int i = 0; i < BP_STATE_MAX_OWNERS && o < 0; i++)
        if (!ow->slot[i].ctx)
            o = i;
    size_t n = strlen(ctx->name) + strlen(format) + 2;
    char *ns = o >= 0 ? malloc(n) : NULL;
    char *path = file ? strdup(file) : NULL;
    if (!ns || (file && !path)) {
        free(ns);
        free(path);
        return o < 0 ? BP_EINVAL : BP_ENOMEM;
    }
    snprintf(ns, n, "%s/%s", ctx->name, format);
    if (bp_state_owner_by_ns(ow, ns) >= 0) { /* the same section opened twice in one process */
        free(ns);
        free(path);
        return BP_EINVAL;
    }
    ow->slot[o] = (bp_state_owner){.ctx = ctx, .ns = ns, .max_keys = max_keys, .file = path};
    ctx->state_owner = o + 1;
    return o;
}

void bp_state_owner_release(bp_state_owners *ow, int o)
{
    free(ow->slot[o].ns);
    free(ow->slot[o].file);
    memset(&ow->slot[o], 0, sizeof ow->slot[o]);
}
