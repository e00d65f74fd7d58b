#include "kafka_conf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PREFIX "kafka."

int bp_kafka_set(const bp_host *h, bp_ctx *ctx, rd_kafka_conf_t *conf, const char *ini_key,
                 const char *name, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) == RD_KAFKA_CONF_OK)
        return 0;
    h->log(ctx, BP_LOG_ERROR, "%s: librdkafka refused it: %s", ini_key, err);
    return -1;
}

typedef struct apply_ctx {
    const bp_host *h;
    bp_ctx *ctx;
    rd_kafka_conf_t *conf;
} apply_ctx;

static int apply_one(void *user, const char *key, const char *value)
{
    apply_ctx *a = user;
    return bp_kafka_set(a->h, a->ctx, a->conf, key, key + strlen(PREFIX), value) ? -1 : 0;
}

int bp_kafka_apply_passthrough(const bp_host *h, bp_ctx *ctx, rd_kafka_conf_t *conf)
{
    apply_ctx a = {h, ctx, conf};
    return h->opt_each(ctx, PREFIX, apply_one, &a) ? -1 : 0;
}

typedef struct find_ctx {
    const char *name;
    const char *value;
} find_ctx;

static int find_one(void *user, const char *key, const char *value)
{
    find_ctx *f = user;
    if (strcmp(key + strlen(PREFIX), f->name) == 0)
        f->value = value; /* the last one given wins, as in librdkafka */
    return 0;
}

const char *bp_kafka_user_value(const bp_host *h, bp_ctx *ctx, const char *name)
{
    find_ctx f = {name, NULL};
    h->opt_each(ctx, PREFIX, find_one, &f);
    return f.value;
}

int bp_kafka_bool(const char *text)
{
    static const char *yes[] = {"true", "t", "1", "yes", "on"};
    static const char *no[] = {"false", "f", "0", "no", "off"};
    if (!text)
        return -1;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(text, yes[i]) == 0)
            return 1;
        if (strcasecmp(text, no[i]) == 0)
            return 0;
    }
    return -1;
}
