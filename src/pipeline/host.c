/* The bp_host function table: every service a plugin gets, implemented over the host's
 * records, options and logging. Each function validates its arguments first so that a buggy
 * plugin gets BP_EINVAL rather than crashing the pipeline. */
#include "base/log.h"
#include "config/options.h"
#include "pipeline/document.h"
#include "pipeline/instance.h"
#include "pipeline/state.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void host_log(bp_ctx *ctx, bp_log_level level, const char *fmt, ...)
{
    if (!fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    bp_logv(ctx ? ctx->name : NULL, level, fmt, ap);
    va_end(ap);
}

static const char *host_opt_string(bp_ctx *ctx, const char *name)
{
    if (!ctx || !name)
        return NULL;
    const char *v = bp_section_value(ctx->section, name);
    if (v)
        return v;
    const bp_plugin *d = ctx->plugin->desc;
    const bp_option *o = bp_options_find(d->options, d->n_options, name);
    return o && o->type != BP_OPT_PREFIX ? o->default_value : NULL;
}

static int64_t host_opt_int(bp_ctx *ctx, const char *name, int64_t fallback)
{
    int64_t v;
    return bp_parse_int(host_opt_string(ctx, name), &v) == 0 ? v : fallback;
}

static double host_opt_double(bp_ctx *ctx, const char *name, double fallback)
{
    double v;
    return bp_parse_double(host_opt_string(ctx, name), &v) == 0 ? v : fallback;
}

static int host_opt_bool(bp_ctx *ctx, const char *name, int fallback)
{
    bool v;
    return bp_parse_bool(host_opt_string(ctx, name), &v) == 0 ? v : fallback;
}

static int host_opt_each(bp_ctx *ctx, const char *prefix, bp_opt_visit visit, void *user)
{
    if (!ctx || !prefix || !visit)
        return BP_EINVAL;
    size_t n = strlen(prefix);
    for (size_t i = 0; i < ctx->section->n_kvs; i++) {
        const bp_kv *kv = &ctx->section->kvs[i];
        if (strncmp(kv->key, prefix, n) == 0) {
            int rc = visit(user, kv->key, kv->value);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static size_t host_batch_count(const bp_batch *b)
{
    return b ? b->count : 0;
}

static bp_record *host_batch_at(const bp_batch *b, size_t i)
{
    return b && i < b->count ? b->items[i] : NULL;
}

static size_t host_batch_capacity(const bp_batch *b)
{
    return b ? b->capacity : 0;
}

static const void *host_payload(const bp_record *r, size_t *len)
{
    if (len)
        *len = r ? r->payload_len : 0;
    return r ? r->payload : NULL;
}

static const char *host_document(bp_ctx *ctx, const bp_record *r, unsigned flags, size_t *len)
{
    if (!r)
        return NULL;
    bool pretty = (flags & BP_DOC_PRETTY) != 0;
    /* In a sink's write(), a document only this sink gets is made in the instance's arena and
     * forgotten after the write: in the batch's arena it stayed until the batch was committed
     * (docs/kafka.md, "The ward's memory"). */
    if (ctx && ctx->writing && bp_document_unshared(r))
        return bp_document_get_in((bp_record *)r, pretty, &ctx->docs, len);
    /* The cache lives in the record; documents are a derived view, not a change of verdict. */
    return bp_document_get((bp_record *)r, pretty, len);
}

/* Verdicts are the detectors' (on the main thread, before the batch is shared): a sink, whose
 * write() runs on its own lane thread while other lanes read the same record, gets BP_EINVAL. */
static bool judges(const bp_ctx *ctx)
{
    return !ctx || ctx->plugin->desc->kind != BP_KIND_SINK;
}

static int host_flag(bp_ctx *ctx, bp_record *r, const char *reason, bp_severity sev)
{
    if (!judges(ctx))
        return BP_EINVAL;
    return bp_record_flag(r, reason, sev);
}

static int host_raise(bp_ctx *ctx, bp_record *r, bp_severity sev)
{
    if (!judges(ctx))
        return BP_EINVAL;
    return bp_record_raise_severity(r, sev);
}

static int host_set_text(bp_ctx *ctx, bp_record *r, bp_field f, const char *value)
{
    if (!judges(ctx))
        return BP_EINVAL;
    return bp_record_set_text(r, f, value);
}

static int host_annotate_number(bp_ctx *ctx, bp_record *r, const char *key, double v)
{
    if (!judges(ctx))
        return BP_EINVAL;
    return bp_record_annotate(r, key, BP_VAL_NUMBER, v, NULL);
}

static int host_annotate_text(bp_ctx *ctx, bp_record *r, const char *key, const char *v)
{
    if (!judges(ctx))
        return BP_EINVAL;
    return bp_record_annotate(r, key, BP_VAL_TEXT, 0, v);
}

static int host_annotate_bool(bp_ctx *ctx, bp_record *r, const char *key, int v)
{
    if (!judges(ctx))
        return BP_EINVAL;
    return bp_record_annotate(r, key, BP_VAL_BOOL, v ? 1 : 0, NULL);
}

int bp_ctx_begin_write(bp_ctx *ctx, bp_batch *batch)
{
    if (batch->count > ctx->outcomes_cap) {
        size_t cap = batch->count;
        signed char *o = realloc(ctx->outcomes, cap);
        if (!o)
            return -1;
        ctx->outcomes = o;
        const char **r = realloc(ctx->outcome_reasons, cap * sizeof *r);
        if (!r)
            return -1;
        ctx->outcome_reasons = r;
        ctx->outcomes_cap = cap;
    }
    if (batch->count) {
        memset(ctx->outcomes, -1, batch->count);
        memset(ctx->outcome_reasons, 0, batch->count * sizeof *ctx->outcome_reasons);
    }
    if (!ctx->scratch.chunk_size)
        bp_arena_init(&ctx->scratch, 16 * 1024);
    bp_arena_reset(&ctx->scratch);
    if (!ctx->docs.chunk_size)
        bp_arena_init_growing(&ctx->docs, 16 * 1024);
    ctx->writing = batch;
    return 0;
}

void bp_ctx_end_write(bp_ctx *ctx)
{
    if (ctx->docs.head && ctx->writing)
        for (size_t i = 0; i < ctx->writing->count; i++)
            bp_document_forget_in(ctx->writing->items[i], &ctx->docs);
    ctx->writing = NULL;
    if (bp_arena_bytes(&ctx->docs) > BP_CTX_DOCS_KEEP)
        bp_arena_free(&ctx->docs);
    else
        bp_arena_reset(&ctx->docs);
}

static int host_set_outcome(bp_ctx *ctx, bp_record *r, bp_outcome outcome, const char *reason)
{
    if (!ctx || !r || !ctx->writing || outcome < BP_DELIVERED || outcome > BP_REJECTED)
        return BP_EINVAL;
    if (outcome == BP_REJECTED && !reason)
        return BP_EINVAL;
    /* Sink batches are small (one batch), so a linear search keeps records free of
     * per-sink bookkeeping. */
    for (size_t i = 0; i < ctx->writing->count; i++) {
        if (ctx->writing->items[i] != r)
            continue;
        ctx->outcomes[i] = (signed char)outcome;
        /* In the instance's own scratch, not the record's arena: the record's batch may be in
         * other lanes' hands at the same time. */
        ctx->outcome_reasons[i] = reason ? bp_arena_strdup(&ctx->scratch, reason) : NULL;
        return BP_OK;
    }
    return BP_EINVAL;
}

static void host_count(bp_ctx *ctx, const char *name, double delta)
{
    if (!ctx || !name || !isfinite(delta))
        return;
    for (size_t i = 0; i < ctx->n_counters; i++) {
        if (strcmp(ctx->counters[i].name, name) == 0) {
            ctx->counters[i].value += delta;
            return;
        }
    }
    bp_counter *c = realloc(ctx->counters, (ctx->n_counters + 1) * sizeof *c);
    if (!c)
        return;
    ctx->counters = c;
    if (!(c[ctx->n_counters].name = strdup(name)))
        return;
    c[ctx->n_counters].value = delta;
    ctx->n_counters++;
}

/* A source's payload, stamped with the state of its partition as of now (keyed state). The
 * stamp is the host table's business, not the record's: records know nothing of the state. */
static int host_add_payload(bp_batch *b, const void *data, size_t len, const bp_origin *origin)
{
    int rc = bp_batch_add_payload(b, data, len, origin);
    if (rc == BP_OK)
        bp_state_stamp(b->items[b->count - 1], b->seq);
    return rc;
}

/* A payload the source rejected, stamped as any payload is: it belongs to its partition's
 * batch like the others, and commit() sees it. */
static int host_add_rejected(bp_batch *b, const void *data, size_t len, const bp_origin *origin,
                             const char *reason)
{
    int rc = bp_batch_add_rejected(b, data, len, origin, reason);
    if (rc == BP_OK)
        bp_state_stamp(b->items[b->count - 1], b->seq);
    return rc;
}

static int host_state_put(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len,
                          const void *value, size_t len)
{
    return bp_state_put(ctx, rec, key, key_len, value, len, true);
}

static int host_state_delete(bp_ctx *ctx, const bp_record *rec, const void *key, size_t key_len)
{
    return bp_state_put(ctx, rec, key, key_len, NULL, 0, false);
}

/* The state's restore, counted here when its owner is gone (the books are the host table's). */
static int host_state_restore(bp_ctx *ctx, const char *topic, int32_t partition, const char *ns,
                              const void *key, size_t key_len, const void *value, size_t len)
{
    bool ignored = false;
    int rc = bp_state_restore(ctx, topic, partition, ns, key, key_len, value, len, &ignored);
    if (ignored)
        host_count(ctx, "state_restore_ignored", 1);
    return rc;
}

static const bp_host host_table = {
    .struct_size = sizeof(bp_host),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .log = host_log,
    .opt_string = host_opt_string,
    .opt_int = host_opt_int,
    .opt_double = host_opt_double,
    .opt_bool = host_opt_bool,
    .opt_each = host_opt_each,
    .batch_count = host_batch_count,
    .batch_at = host_batch_at,
    .add_payload = host_add_payload,
    .batch_capacity = host_batch_capacity,
    .text = bp_record_text,
    .number = bp_record_number,
    .payload = host_payload,
    .document = host_document,
    .flag = host_flag,
    .raise_severity = host_raise,
    .set_text = host_set_text,
    .annotate_number = host_annotate_number,
    .annotate_text = host_annotate_text,
    .annotate_bool = host_annotate_bool,
    .set_outcome = host_set_outcome,
    .count = host_count,
    .state_open = bp_state_open,
    .state_get = bp_state_get,
    .state_put = host_state_put,
    .state_delete = host_state_delete,
    .state_changes = bp_state_changes,
    .state_restore = host_state_restore,
    .state_drop = bp_state_drop,
    .add_rejected = host_add_rejected,
};

const bp_host *bp_host_table(void)
{
    return &host_table;
}

void bp_ctx_free(bp_ctx *ctx)
{
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->n_counters; i++)
        free(ctx->counters[i].name);
    free(ctx->counters);
    bp_state_forget_owner(ctx);
    free(ctx->outcomes);
    free(ctx->outcome_reasons);
    bp_arena_free(&ctx->scratch);
    bp_arena_free(&ctx->docs);
    free(ctx->name);
    free(ctx);
}
