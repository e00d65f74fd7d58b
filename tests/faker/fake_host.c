#include "fake_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void fake_log(bp_ctx *ctx, bp_log_level level, const char *fmt, ...)
{
    size_t used = strlen(ctx->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->log + used, sizeof ctx->log - used, fmt, ap);
    va_end(ap);
    used = strlen(ctx->log);
    if (used + 1 < sizeof ctx->log)
        strcat(ctx->log, "\n");
    if (level == BP_LOG_ERROR)
        ctx->errors++;
}

static const char *fake_opt_string(bp_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_opts; i++)
        if (strcmp(ctx->opts[i].name, name) == 0)
            return ctx->opts[i].value;
    for (size_t i = 0; i < ctx->plugin->n_options; i++)
        if (strcmp(ctx->plugin->options[i].name, name) == 0)
            return ctx->plugin->options[i].default_value;
    return NULL;
}

static int64_t fake_opt_int(bp_ctx *ctx, const char *name, int64_t fallback)
{
    const char *v = fake_opt_string(ctx, name);
    return v ? strtoll(v, NULL, 10) : fallback;
}

static double fake_opt_double(bp_ctx *ctx, const char *name, double fallback)
{
    const char *v = fake_opt_string(ctx, name);
    return v ? strtod(v, NULL) : fallback;
}

static int fake_opt_bool(bp_ctx *ctx, const char *name, int fallback)
{
    const char *v = fake_opt_string(ctx, name);
    if (!v)
        return fallback;
    return strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
           strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0;
}

static size_t fake_batch_count(const bp_batch *b)
{
    return b->count;
}

static size_t fake_batch_capacity(const bp_batch *b)
{
    return b->capacity;
}

static char *copy(const void *data, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        if (len)
            memcpy(p, data, len);
        p[len] = '\0';
    }
    return p;
}

static int fake_add_payload(bp_batch *b, const void *data, size_t len, const bp_origin *o)
{
    if (!b || (!data && len))
        return BP_EINVAL;
    if (b->count == b->cap_items) {
        size_t cap = b->cap_items ? b->cap_items * 2 : 16;
        fake_payload *grown = realloc(b->items, cap * sizeof *grown);
        if (!grown)
            return BP_ENOMEM;
        b->items = grown;
        b->cap_items = cap;
    }
    fake_payload *p = &b->items[b->count++];
    memset(p, 0, sizeof *p);
    p->data = copy(data, len);
    p->len = len;
    p->partition = -1;
    p->offset = -1;
    p->timestamp_ms = -1;
    if (o) {
        p->topic = o->topic ? copy(o->topic, strlen(o->topic)) : NULL;
        p->partition = o->partition;
        p->offset = o->offset;
        p->key = o->key ? copy(o->key, o->key_len) : NULL;
        p->key_len = o->key_len;
        p->timestamp_ms = o->timestamp_ms;
    }
    return BP_OK;
}

const bp_host fake_host = {
    .struct_size = sizeof(bp_host),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .log = fake_log,
    .opt_string = fake_opt_string,
    .opt_int = fake_opt_int,
    .opt_double = fake_opt_double,
    .opt_bool = fake_opt_bool,
    .batch_count = fake_batch_count,
    .add_payload = fake_add_payload,
    .batch_capacity = fake_batch_capacity,
};

void fake_ctx_init(bp_ctx *ctx, const bp_plugin *plugin, const fake_opt *opts, size_t n)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->plugin = plugin;
    ctx->opts = opts;
    ctx->n_opts = n;
}

void fake_batch_init(bp_batch *b, size_t capacity)
{
    memset(b, 0, sizeof *b);
    b->capacity = capacity;
}

void fake_batch_clear(bp_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free(b->items[i].data);
        free(b->items[i].topic);
        free(b->items[i].key);
    }
    b->count = 0;
}

void fake_batch_free(bp_batch *b)
{
    fake_batch_clear(b);
    free(b->items);
    b->items = NULL;
    b->cap_items = 0;
}
