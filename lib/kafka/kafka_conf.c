#include "kafka/kafka_conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

/* librdkafka reads its TLS files when the handle is made and then says only "ssl.ca.location
 * failed: ... system lib": the file and why are named here, before. */
static int check_file(const bp_host *h, bp_ctx *ctx, const char *key, const char *name,
                      const char *value)
{
    static const char *const files[] = {"ssl.ca.location", "ssl.certificate.location",
                                        "ssl.key.location", "ssl.keystore.location",
                                        "ssl.crl.location"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (strcmp(name, files[i]) != 0 || !*value || strcmp(value, "probe") == 0)
            continue;
        if (access(value, R_OK) == 0)
            return 0;
        h->log(ctx, BP_LOG_ERROR,
               "%s = %s cannot be read: %s (relative paths start at the "
               "working directory)",
               key, value, strerror(errno));
        return -1;
    }
    return 0;
}

static int apply_one(void *user, const char *key, const char *value)
{
    apply_ctx *a = user;
    if (check_file(a->h, a->ctx, key, key + strlen(PREFIX), value) != 0)
        return -1;
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

int bp_kafka_probe(const bp_host *h, bp_ctx *ctx, rd_kafka_t *rk, const char *brokers,
                   const char *const *topics, size_t n_topics, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        h->log(ctx, BP_LOG_ERROR, "no Kafka broker of brokers = %s answered within %d ms (%s): "
               "check the addresses, that the brokers listen there and that this host may "
               "reach them (TLS and SASL settings: kafka.* keys); 'bppipe check --offline' "
               "checks the file alone", brokers ? brokers : "(unset)", timeout_ms,
               rd_kafka_err2str(e));
        return BP_RETRY;
    }
    h->log(ctx, BP_LOG_INFO, "Kafka answers: %d broker(s) from brokers = %s", md->broker_cnt,
           brokers ? brokers : "(unset)");
    for (size_t i = 0; i < n_topics; i++) {
        if (topics[i][0] == '^')
            continue; /* a pattern: matched later, by the group */
        const struct rd_kafka_metadata_topic *found = NULL;
        for (int k = 0; k < md->topic_cnt && !found; k++)
            if (strcmp(md->topics[k].topic, topics[i]) == 0)
                found = &md->topics[k];
        if (found && found->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            h->log(ctx, BP_LOG_INFO, "topic %s: %d partition(s)", topics[i],
                   found->partition_cnt);
        else
            h->log(ctx, BP_LOG_WARN, "topic %s does not exist yet (%s): it is used once a "
                   "producer or the broker creates it", topics[i],
                   found ? rd_kafka_err2str(found->err) : "not in the cluster's metadata");
    }
    rd_kafka_metadata_destroy(md);
    return BP_OK;
}
