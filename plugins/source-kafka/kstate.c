#include "kstate.h"

#include "common/clock.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long the Kafka round trips of a restore and a checkpoint may take before they count as
 * failed: a restore that the cluster does not answer is tried again later (its partitions are
 * not read meanwhile), one that reads and does not finish in RESTORE_TIMEOUT_MS stops the
 * pipeline (judging without the state would be wrong), a checkpoint that cannot finish is
 * retried with the commit. A restore read that brings nothing for STALL_TIMEOUT_MS while
 * records are left counts as the cluster not answering. */
#define META_TIMEOUT_MS 10000
#define FLUSH_TIMEOUT_MS 30000
#define RESTORE_TIMEOUT_MS 300000
#define STALL_TIMEOUT_MS 10000

/* The settings a created changelog gets (docs/plugins/source-kafka.md says why). */
static const char *const topic_configs[][2] = {
    {"cleanup.policy", "compact"},
    {"min.compaction.lag.ms", "3600000"},
    {"segment.ms", "3600000"},
    {"segment.bytes", "104857600"},
};

/* Milliseconds on the monotonic clock, for the restore's deadline and its duration. */
static int64_t now_ms(void)
{
    return (int64_t)(bp_now_s() * 1000);
}

/* Whether trying again later may change the outcome of a Kafka call that failed with `e`. Not
 * for a topic or partition the cluster does not know, refused authorization or a bad argument;
 * yes for what an outage or a slow cluster answers (timeouts, transport errors, "All broker
 * connections are down", a leader or coordinator moving or loading). */
static bool retry_may_help(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
        return false;
    default:
        return true;
    }
}

/* A restore step failed with `e` (NO_ERROR: the cluster did not answer at all): when a retry
 * may help, says why in ks->later for the caller's rate-limited line and answers
 * BP_KSTATE_LATER; otherwise logs it as an error and answers BP_KSTATE_FAILED. */
static int restore_failed(bp_kstate *ks, rd_kafka_resp_err_t e, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || retry_may_help(e)) {
        snprintf(ks->later, sizeof ks->later, "%s%s%s", what, e ? ": " : "",
                 e ? rd_kafka_err2str(e) : "");
        return BP_KSTATE_LATER;
    }
    ks->h->log(ks->ctx, BP_LOG_ERROR, "state: %s: %s", what, rd_kafka_err2str(e));
    return BP_KSTATE_FAILED;
}

/* ---- configuration ----------------------------------------------------------------------- */

typedef struct pass_ctx {
    bp_kstate *ks;
    rd_kafka_conf_t *conf;
} pass_ctx;

/* The producer and the restore reader reach the same cluster as the member: they take the
 * connection's security keys (kafka.security.*, kafka.sasl.*, kafka.ssl.*), not the consumer's
 * own tuning. */
static int pass_security(void *user, const char *key, const char *value)
{
    pass_ctx *p = user;
    const char *name = key + strlen("kafka.");
    if (strncmp(name, "security.", 9) != 0 && strncmp(name, "sasl.", 5) != 0 &&
        strncmp(name, "ssl.", 4) != 0)
        return 0;
    char err[512];
    if (rd_kafka_conf_set(p->conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        p->ks->h->log(p->ks->ctx, BP_LOG_ERROR, "%s: librdkafka refused it: %s", key, err);
        return -1;
    }
    return 0;
}

/* Warnings and errors only (the member says the rest); a broker's trouble in lib/kafka's words,
 * merged with the member's own line by the host's rate limit. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    bp_kstate *ks = rd_kafka_opaque(rk);
    if (level <= 4)
        bp_kafka_talk_log(&ks->talk, level, fac, buf);
}

static int on_verify(rd_kafka_t *rk, const char *broker, int32_t id, int *x509_error, int depth,
                     const char *der, size_t size, char *errstr, size_t errstr_size, void *opaque)
{
    (void)rk, (void)broker, (void)id, (void)depth, (void)der, (void)size;
    bp_kstate *ks = opaque;
    return bp_kafka_talk_verify(&ks->talk, *x509_error, errstr, errstr_size);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    bp_kstate *ks = opaque;
    if (m->_private) { /* send_input's message (input_send.c), not the changelog's */
        bp_kstate_report *r = m->_private;
        r->done = true;
        r->err = m->err;
        return;
    }
    if (m->err) {
        ks->failed++;
        ks->h->log(ks->ctx, BP_LOG_WARN, "state: a changelog record to %s was not delivered: %s",
                   ks->topic, rd_kafka_err2str(m->err));
    }
}

/* A producer (idempotent, acks=all) or the restore reader (no group). NULL after logging. */
static rd_kafka_t *client(bp_kstate *ks, rd_kafka_type_t type)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    const char *brokers = ks->h->opt_string(ks->ctx, "brokers");
    pass_ctx p = {ks, conf};
    bool ok = rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) == 0 &&
              rd_kafka_conf_set(conf, "log.queue", "true", err, sizeof err) == 0;
    if (ok && type == RD_KAFKA_PRODUCER)
        ok = rd_kafka_conf_set(conf, "acks", "all", err, sizeof err) == 0 &&
             rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err) == 0 &&
             rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err) == 0;
    if (ok && type == RD_KAFKA_CONSUMER)
        /* librdkafka's assign() wants a group id; this one never joins nor commits */
        ok = rd_kafka_conf_set(conf, "group.id", ks->topic, err, sizeof err) == 0 &&
             rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) == 0 &&
             rd_kafka_conf_set(conf, "enable.partition.eof", "false", err, sizeof err) == 0 &&
             rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err) == 0;
    if (!ok) {
        ks->h->log(ks->ctx, BP_LOG_ERROR, "state: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (ks->h->opt_each(ks->ctx, "kafka.", pass_security, &p) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, ks);
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (bp_kafka_talk_wants_verify(&ks->talk))
        rd_kafka_conf_set_ssl_cert_verify_cb(conf, on_verify);
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        ks->h->log(ks->ctx, BP_LOG_ERROR, "state: cannot create the changelog %s: %s",
                   type == RD_KAFKA_PRODUCER ? "producer" : "reader", err);
        return NULL;
    }
    /* its log lines are served where the plugin polls it, on the host's thread */
    rd_kafka_set_log_queue(rk, NULL);
    if (type == RD_KAFKA_CONSUMER)
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

rd_kafka_t *bp_kstate_producer_new(bp_kstate *ks)
{
    return client(ks, RD_KAFKA_PRODUCER);
}

int bp_kstate_init(bp_kstate *ks, const bp_host *h, bp_ctx *ctx, rd_kafka_t *member,
                   const rd_kafka_topic_partition_list_t *subscription)
{
    memset(ks, 0, sizeof *ks);
    ks->h = h;
    ks->ctx = ctx;
    ks->member = member;
    ks->subscription = subscription;
    bp_kafka_talk_init(&ks->talk, h, ctx, "state: ");
    ks->want_partitions = (int)h->opt_int(ctx, "state_partitions", 0);
    const char *topic = h->opt_string(ctx, "state_topic");
    const char *group = h->opt_string(ctx, "group");
    char name[BP_CLOG_MAX_TOPIC + 8];
    if (!topic || !*topic) {
        snprintf(name, sizeof name, "%s-state", group ? group : "bppipe");
        topic = name;
    }
    if (strlen(topic) > BP_CLOG_MAX_TOPIC) {
        h->log(ctx, BP_LOG_ERROR, "state_topic: '%.40s...' is longer than Kafka's %d characters "
               "(the default is GROUP-state)", topic, BP_CLOG_MAX_TOPIC);
        return -1;
    }
    ks->topic = strdup(topic);
    return ks->topic ? 0 : -1;
}

/* ---- the topic ----------------------------------------------------------------------------- */

/* Partitions of `topic` as the cluster reports them: >0, 0 when the topic does not exist, -1
 * when the cluster did not answer (*e: why, when the caller wants it). */
static int topic_partitions(rd_kafka_t *rk, const char *topic, rd_kafka_resp_err_t *e)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, META_TIMEOUT_MS)
                                  : rd_kafka_last_error();
    int n = -1;
    if (!err) {
        n = 0;
        for (int i = 0; i < md->topic_cnt; i++)
            if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
                n = md->topics[i].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (e)
        *e = err;
    return n;
}

/* Asks the cluster to create the changelog with `n` partitions and the compaction settings.
 * Returns 0 when it exists afterwards (created or already there), -1 otherwise (logged). */
static int create_topic(bp_kstate *ks, int n)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(ks->topic, n, -1, err, sizeof err);
    if (!nt) {
        ks->h->log(ks->ctx, BP_LOG_ERROR, "state: cannot describe topic %s: %s", ks->topic, err);
        return -1;
    }
    for (size_t i = 0; i < sizeof topic_configs / sizeof topic_configs[0]; i++)
        rd_kafka_NewTopic_set_config(nt, topic_configs[i][0], topic_configs[i][1]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(ks->member);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(ks->member, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(o, META_TIMEOUT_MS, err, sizeof err);
    rd_kafka_CreateTopics(ks->member, &nt, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, META_TIMEOUT_MS + 1000);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    const char *why = "no answer";
    if (ev) {
        e = rd_kafka_event_error(ev);
        why = rd_kafka_event_error_string(ev);
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &cnt)
                                                 : NULL;
        if (!e && cnt == 1) {
            e = rd_kafka_topic_result_error(tr[0]);
            why = rd_kafka_topic_result_error_string(tr[0]);
        }
    }
    int rc = 0;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        ks->h->log(ks->ctx, BP_LOG_INFO, "state: created the changelog topic %s (%d partitions, "
                   "cleanup.policy=compact)", ks->topic, n);
    else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        ks->h->log(ks->ctx, BP_LOG_WARN, "state: cannot create the changelog topic %s: %s; "
                   "relying on the cluster creating it on first use (then with its default "
                   "partitions and cleanup policy: create it compacted by hand)", ks->topic,
                   why && *why ? why : rd_kafka_err2str(e));
        rc = -1;
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* The changelog exists and its partition count is known, and the producer is up. Returns a
 * BP_KSTATE_* result. */
static int ensure_ready(bp_kstate *ks)
{
    if (ks->partitions > 0 && ks->producer)
        return BP_KSTATE_RESTORED;
    if (!ks->producer && !(ks->producer = client(ks, RD_KAFKA_PRODUCER)))
        return BP_KSTATE_FAILED;
    /* A cluster that creates topics on a metadata request (librdkafka's mock cluster does,
     * with its defaults; Kafka does not for a consumer) answers with what it created. */
    rd_kafka_resp_err_t e;
    int n = topic_partitions(ks->member, ks->topic, &e);
    if (n < 0)
        return restore_failed(ks, e, "no metadata for the changelog topic %s", ks->topic);
    if (n == 0) {
        int want = ks->want_partitions;
        for (int i = 0; want == 0 && i < ks->subscription->cnt; i++) {
            int p = topic_partitions(ks->member, ks->subscription->elems[i].topic, NULL);
            if (p > want)
                want = p;
        }
        if (create_topic(ks, want > 0 ? want : 1) != 0)
            n = topic_partitions(ks->producer, ks->topic, NULL); /* the cluster's own creation */
        for (int i = 0; n <= 0 && i < 50; i++) {
            n = topic_partitions(ks->member, ks->topic, &e);
            if (n <= 0)
                rd_kafka_poll(ks->producer, 100);
        }
    }
    if (n < 0)
        return restore_failed(ks, e, "no metadata for the changelog topic %s", ks->topic);
    if (n == 0) {
        ks->h->log(ks->ctx, BP_LOG_ERROR, "state: the changelog topic %s cannot be found or "
                   "created; check that this member may create topics (or create it compacted "
                   "by hand)", ks->topic);
        return BP_KSTATE_FAILED;
    }
    ks->partitions = n;
    return BP_KSTATE_RESTORED;
}

/* ---- restoring ----------------------------------------------------------------------------- */

static bool in_parts(const rd_kafka_topic_partition_list_t *parts, const char *topic,
                     size_t topic_len, int32_t partition)
{
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition == partition &&
            strlen(parts->elems[i].topic) == topic_len &&
            memcmp(parts->elems[i].topic, topic, topic_len) == 0)
            return true;
    return false;
}

typedef struct restore_ctx {
    bp_kstate *ks;
    const rd_kafka_topic_partition_list_t *committed; /* offsets read from the group */
    uint64_t restored, rewound, failed;
} restore_ctx;

static int64_t committed_of(const rd_kafka_topic_partition_list_t *l, const char *topic,
                            int32_t partition)
{
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].partition == partition && strcmp(l->elems[i].topic, topic) == 0)
            return l->elems[i].offset >= 0 ? l->elems[i].offset : -1;
    return -1;
}

static int restore_one(void *user, const bp_clog_entry *e)
{
    restore_ctx *r = user;
    bp_clog_value v = {.epoch = e->epoch, .before_from = e->before_from, .tag = e->tag,
                       .has_before = e->has_before, .before = e->before,
                       .before_len = e->before_len, .has_after = e->has_after, .after = e->after,
                       .after_len = e->after_len};
    const void *value;
    size_t len;
    bp_clog_choice c = bp_clog_pick(&v, committed_of(r->committed, e->topic, e->partition), &value,
                                    &len);
    r->rewound += c == BP_CLOG_REWOUND;
    if (!value)
        return 0;
    int rc = r->ks->h->state_restore(r->ks->ctx, e->topic, e->partition, e->ns, e->key, e->key_len,
                                     value, len);
    if (rc == BP_OK)
        r->restored++;
    else
        r->failed++;
    return 0;
}

/* The extent of changelog partitions `cparts`: each one's low watermark into its offset, its
 * high watermark into end[i]. Asked with rd_kafka_offsets_for_times (the earliest, then the
 * latest, of all of them at once), which keeps to its timeout: rd_kafka_query_watermark_offsets
 * waits forever while a partition's leader is down before librdkafka 2.3.0 (its issue 2588).
 * Returns a BP_KSTATE_* result. */
static int extent(bp_kstate *ks, rd_kafka_topic_partition_list_t *cparts, int64_t *end)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(cparts);
    int rc = BP_KSTATE_RESTORED;
    for (int pass = 0; rc == BP_KSTATE_RESTORED && pass < 2; pass++) {
        for (int i = 0; i < l->cnt; i++)
            l->elems[i].offset = pass == 0 ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(ks->reader, l, META_TIMEOUT_MS);
        for (int i = 0; !e && i < l->cnt; i++)
            if ((e = l->elems[i].err) == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[i].offset < 0)
                e = RD_KAFKA_RESP_ERR__BAD_MSG; /* a partition without an answer: ask again */
        if (e) {
            rc = restore_failed(ks, e, "cannot read the extent of %s", ks->topic);
            break;
        }
        for (int i = 0; i < l->cnt; i++) {
            int32_t part = l->elems[i].partition;
            for (int j = 0; j < cparts->cnt; j++)
                if (cparts->elems[j].partition == part) {
                    if (pass == 0)
                        cparts->elems[j].offset = l->elems[i].offset;
                    else
                        end[j] = l->elems[i].offset;
                }
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* Reads changelog partitions `cparts` from the beginning to their high watermarks, offering
 * every record of an input partition of `parts` to `latest` and noting the highest epoch per
 * input partition in `epochs`. Returns a BP_KSTATE_* result. */
static int read_changelog(bp_kstate *ks, const rd_kafka_topic_partition_list_t *parts,
                          rd_kafka_topic_partition_list_t *cparts, bp_clog_map *latest,
                          bp_kpositions *epochs, uint64_t *skipped, uint64_t *records)
{
    if (!ks->reader && !(ks->reader = client(ks, RD_KAFKA_CONSUMER)))
        return BP_KSTATE_FAILED;
    int64_t *end = calloc((size_t)cparts->cnt + 1, sizeof *end);
    if (!end)
        return BP_KSTATE_FAILED;
    int open = 0;
    int rc = extent(ks, cparts, end);
    if (rc != BP_KSTATE_RESTORED) {
        free(end);
        return rc;
    }
    for (int i = 0; i < cparts->cnt; i++)
        open += end[i] > cparts->elems[i].offset;
    bool assigned = false;
    if (open) {
        rd_kafka_resp_err_t e = rd_kafka_assign(ks->reader, cparts);
        if (e)
            rc = restore_failed(ks, e, "cannot read %s", ks->topic);
        assigned = !e;
    }
    int64_t deadline = now_ms() + RESTORE_TIMEOUT_MS, stalled = now_ms() + STALL_TIMEOUT_MS;
    while (rc == BP_KSTATE_RESTORED && open > 0) {
        if (now_ms() > deadline) {
            ks->h->log(ks->ctx, BP_LOG_ERROR, "state: reading %s took longer than %d s",
                       ks->topic, RESTORE_TIMEOUT_MS / 1000);
            rc = BP_KSTATE_FAILED;
            break;
        }
        if (now_ms() > stalled) {
            rc = restore_failed(ks, RD_KAFKA_RESP_ERR_NO_ERROR, "reading %s brought nothing "
                                "for %d s before its end", ks->topic, STALL_TIMEOUT_MS / 1000);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(ks->reader, 500);
        if (!m)
            continue;
        if (m->err) {
            /* the reader's librdkafka retries on its own; a lasting outage ends as a stall */
            ks->h->log(ks->ctx, BP_LOG_DEBUG, "state: reading %s: %s", ks->topic,
                       rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        stalled = now_ms() + STALL_TIMEOUT_MS;
        int i = 0;
        while (i < cparts->cnt && cparts->elems[i].partition != m->partition)
            i++;
        (*records)++;
        bp_clog_key k;
        if (!m->key || bp_clog_key_decode(m->key, m->key_len, &k) != 0 || !m->payload) {
            (*skipped)++;
        } else if (in_parts(parts, k.topic, k.topic_len, k.partition)) {
            bp_clog_value v;
            if (bp_clog_value_decode(m->payload, m->len, &v) != 0) {
                (*skipped)++;
            } else {
                char topic[BP_CLOG_MAX_TOPIC + 1];
                memcpy(topic, k.topic, k.topic_len);
                topic[k.topic_len] = '\0';
                if (bp_clog_latest_offer(latest, m->key, m->key_len, m->payload, m->len) < 0 ||
                    bp_kpos_raise(epochs, topic, k.partition, (int64_t)v.epoch) != 0)
                    rc = BP_KSTATE_FAILED; /* it parsed, so out of memory */
            }
        }
        if (i < cparts->cnt && end[i] > 0 && m->offset >= end[i] - 1) {
            end[i] = 0; /* reached */
            open--;
        }
        rd_kafka_message_destroy(m);
    }
    if (assigned)
        rd_kafka_assign(ks->reader, NULL);
    free(end);
    return rc;
}

int bp_kstate_assign(bp_kstate *ks, const rd_kafka_topic_partition_list_t *parts,
                     bp_kpositions *committed)
{
    if (parts->cnt == 0)
        return BP_KSTATE_RESTORED;
    int64_t t0 = now_ms();
    int rc = ensure_ready(ks);
    if (rc != BP_KSTATE_RESTORED)
        return rc;
    /* C: where the group resumes each partition, which the state must be as of */
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t e = rd_kafka_committed(ks->member, c, META_TIMEOUT_MS);
    if (!e) /* a partition's own error (the coordinator loading, say) is the whole answer's */
        for (int i = 0; !e && i < c->cnt; i++)
            e = c->elems[i].err;
    if (e) {
        rd_kafka_topic_partition_list_destroy(c);
        return restore_failed(ks, e, "cannot read the group's committed offsets");
    }
    for (int i = 0; i < c->cnt; i++)
        if (c->elems[i].offset >= 0)
            bp_kpos_raise(committed, c->elems[i].topic, c->elems[i].partition, c->elems[i].offset);
    rd_kafka_topic_partition_list_t *cparts = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t cp = parts->elems[i].partition % ks->partitions;
        if (!rd_kafka_topic_partition_list_find(cparts, ks->topic, cp))
            rd_kafka_topic_partition_list_add(cparts, ks->topic, cp);
    }
    bp_clog_map latest = {0};
    bp_kpositions epochs = {0};
    uint64_t skipped = 0, records = 0;
    rc = read_changelog(ks, parts, cparts, &latest, &epochs, &skipped, &records);
    restore_ctx r = {ks, c, 0, 0, 0};
    if (rc == BP_KSTATE_RESTORED)
        bp_clog_map_each(&latest, restore_one, &r);
    /* this owner writes with an epoch above every record it read of these partitions */
    for (int i = 0; rc == BP_KSTATE_RESTORED && i < parts->cnt; i++) {
        const bp_kpos *seen = bp_kpos_find(&epochs, parts->elems[i].topic, parts->elems[i].partition);
        bp_kpos_remove(&ks->epochs, parts->elems[i].topic, parts->elems[i].partition);
        if (bp_kpos_raise(&ks->epochs, parts->elems[i].topic, parts->elems[i].partition,
                          (seen ? seen->next : 0) + 1) != 0)
            rc = BP_KSTATE_FAILED;
    }
    if (skipped && rc != BP_KSTATE_LATER) {
        ks->h->count(ks->ctx, "state_records_skipped", (double)skipped);
        ks->h->log(ks->ctx, BP_LOG_WARN, "state: skipped %" PRIu64 " changelog record(s) of %s "
                   "that do not parse (another writer, another version, or damage)", skipped,
                   ks->topic);
    }
    if (r.rewound) {
        ks->h->count(ks->ctx, "state_restore_rewound", (double)r.rewound);
        if (!ks->warned_rewound)
            ks->h->log(ks->ctx, BP_LOG_WARN, "state: %" PRIu64 " key(s) were saved at offsets "
                       "beyond the group's committed ones (the offsets were moved back, or "
                       "expired): restored as the oldest value kept, so the replayed readings "
                       "may be judged differently than the first time", r.rewound);
        ks->warned_rewound = true;
    }
    if (r.failed) {
        ks->h->log(ks->ctx, BP_LOG_ERROR, "state: the host refused %" PRIu64 " restored key(s)",
                   r.failed);
        rc = BP_KSTATE_FAILED;
    }
    ks->h->count(ks->ctx, "state_restored_keys", (double)r.restored);
    if (rc == BP_KSTATE_RESTORED)
        ks->h->log(ks->ctx, BP_LOG_INFO, "restored %" PRIu64 " keys of %d partition(s) in %"
                   PRId64 " ms (%" PRIu64 " changelog records read from %s)", r.restored,
                   parts->cnt, now_ms() - t0, records, ks->topic);
    bp_clog_map_free(&latest);
    bp_kpos_free(&epochs);
    rd_kafka_topic_partition_list_destroy(cparts);
    rd_kafka_topic_partition_list_destroy(c);
    return rc;
}

/* ---- checkpoints --------------------------------------------------------------------------- */

/* What a merge needs of one partition: whether it was acknowledged, and its committed position.
 * Looked up in the two lists once per partition and merge: a batch's changes come in the order
 * of their keys, which mixes the partitions. The host's topic pointer names the topic: it stays
 * the same string through one state_changes call, and neither list changes meanwhile. */
typedef struct merge_part {
    const char *topic; /* NULL: the slot is empty */
    int32_t partition;
    bool acked;
    int64_t from;
} merge_part;

#define PART_SLOTS 64 /* by partition number; a partition sharing a slot looks up again */

typedef struct merge_ctx {
    bp_kstate *ks;
    const bp_kpositions *acked, *committed;
    int rc;
    merge_part parts[PART_SLOTS];
} merge_ctx;

static const merge_part *part_of(merge_ctx *m, const char *topic, int32_t partition)
{
    merge_part *p = &m->parts[(uint32_t)partition % PART_SLOTS];
    if (p->topic != topic || p->partition != partition) {
        const bp_kpos *c = bp_kpos_find(m->committed, topic, partition);
        *p = (merge_part){.topic = topic, .partition = partition,
                          .acked = bp_kpos_find(m->acked, topic, partition) != NULL,
                          .from = c ? c->next : -1};
    }
    return p;
}

static int merge_one(void *user, const bp_state_change *ch)
{
    merge_ctx *m = user;
    if (!ch->topic || ch->partition < 0)
        return 0;
    const merge_part *p = part_of(m, ch->topic, ch->partition);
    if (!p->acked)
        return 0; /* a partition given up: its next owner restores it as of the commit */
    if (bp_clog_pending_merge(&m->ks->pending, ch->topic, ch->partition, ch->ns, ch->key,
                              ch->key_len, ch->had_before, ch->before, ch->before_len, p->from,
                              ch->has_after, ch->after, ch->after_len) != 0) {
        m->rc = BP_FATAL;
        return 1;
    }
    m->ks->dirty = true;
    return 0;
}

int bp_kstate_merge(bp_kstate *ks, const bp_batch *batch, const bp_kpositions *acked,
                    const bp_kpositions *committed)
{
    merge_ctx m = {.ks = ks, .acked = acked, .committed = committed, .rc = BP_OK};
    int rc = ks->h->state_changes(ks->ctx, batch, merge_one, &m);
    if (m.rc != BP_OK || (rc != BP_OK && rc != 1)) {
        ks->h->log(ks->ctx, BP_LOG_ERROR, "state: cannot keep the batch's state changes "
                   "(status %d)", m.rc != BP_OK ? m.rc : rc);
        return BP_FATAL;
    }
    return BP_OK;
}

/* One partition's acknowledged position and epoch, looked up once per write: the pending map's
 * order mixes the partitions. The pointers live through the write (neither list changes). */
typedef struct write_part {
    const char *topic; /* the topic of the entry it was looked up for; NULL: the slot is empty */
    int32_t partition;
    const bp_kpos *acked, *epoch;
} write_part;

typedef struct write_ctx {
    bp_kstate *ks;
    const bp_kpositions *acked;
    int rc;
    size_t n;
    write_part parts[PART_SLOTS];
} write_ctx;

static const write_part *write_part_of(write_ctx *w, const char *topic, int32_t partition)
{
    write_part *p = &w->parts[(uint32_t)partition % PART_SLOTS];
    if (!p->topic || p->partition != partition || strcmp(p->topic, topic) != 0)
        *p = (write_part){.topic = topic, .partition = partition,
                          .acked = bp_kpos_find(w->acked, topic, partition),
                          .epoch = bp_kpos_find(&w->ks->epochs, topic, partition)};
    return p;
}

static int write_one(void *user, const bp_clog_entry *e)
{
    write_ctx *w = user;
    bp_kstate *ks = w->ks;
    const write_part *part = write_part_of(w, e->topic, e->partition);
    const bp_kpos *a = part->acked;
    if (!a)
        return 0;
    const bp_kpos *ep = part->epoch;
    bp_clog_value v = {.epoch = ep ? (uint64_t)ep->next : 1, .before_from = e->before_from,
                       .tag = a->next, .has_before = e->has_before, .before = e->before,
                       .before_len = e->before_len, .has_after = e->has_after, .after = e->after,
                       .after_len = e->after_len};
    uint8_t *bytes;
    size_t len;
    if (bp_clog_value_encode(&v, &bytes, &len) != 0) {
        w->rc = BP_FATAL;
        return 1;
    }
    rd_kafka_resp_err_t err;
    for (int tries = 0;; tries++) {
        err = rd_kafka_producev(ks->producer, RD_KAFKA_V_TOPIC(ks->topic),
                                RD_KAFKA_V_PARTITION(e->partition % ks->partitions),
                                RD_KAFKA_V_KEY(e->ekey, e->ekey_len), RD_KAFKA_V_VALUE(bytes, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 600)
            break;
        rd_kafka_poll(ks->producer, 50); /* the local queue drains as the broker takes them */
    }
    free(bytes);
    if (err) {
        ks->h->log(ks->ctx, BP_LOG_WARN, "state: cannot queue a changelog record for %s: %s",
                   ks->topic, rd_kafka_err2str(err));
        w->rc = BP_RETRY;
        return 1;
    }
    w->n++;
    return 0;
}

int bp_kstate_write(bp_kstate *ks, const bp_kpositions *acked)
{
    if (!ks->dirty || ks->pending.n == 0) {
        ks->dirty = false;
        return BP_OK;
    }
    if (!ks->producer || ks->partitions <= 0)
        return BP_RETRY; /* cannot happen: changes come only from assigned partitions */
    ks->failed = 0;
    write_ctx w = {.ks = ks, .acked = acked, .rc = BP_OK};
    bp_clog_map_each(&ks->pending, write_one, &w);
    rd_kafka_resp_err_t e = rd_kafka_flush(ks->producer, FLUSH_TIMEOUT_MS);
    if (rd_kafka_fatal_error(ks->producer, NULL, 0)) {
        ks->h->log(ks->ctx, BP_LOG_ERROR, "state: the changelog producer failed for good");
        return BP_FATAL;
    }
    if (w.rc == BP_FATAL)
        return BP_FATAL;
    if (w.rc != BP_OK || e || ks->failed) {
        ks->h->count(ks->ctx, "state_write_failures", 1);
        ks->h->log(ks->ctx, BP_LOG_WARN, "state: the changelog %s did not take this checkpoint "
                   "(%s); the offsets wait, and it is written again", ks->topic,
                   e ? rd_kafka_err2str(e) : "a record was not delivered");
        return BP_RETRY;
    }
    ks->h->count(ks->ctx, "state_records_written", (double)w.n);
    ks->dirty = false;
    return BP_OK;
}

void bp_kstate_confirmed(bp_kstate *ks)
{
    if (!ks->dirty)
        bp_clog_map_clear(&ks->pending);
}

void bp_kstate_confirmed_partition(bp_kstate *ks, const char *topic, int32_t partition)
{
    if (!ks->dirty)
        bp_clog_map_drop_partition(&ks->pending, topic, partition);
}

void bp_kstate_revoke(bp_kstate *ks, const rd_kafka_topic_partition_list_t *parts, bool drop)
{
    for (int i = 0; i < parts->cnt; i++) {
        const char *t = parts->elems[i].topic;
        int32_t p = parts->elems[i].partition;
        bp_clog_map_drop_partition(&ks->pending, t, p);
        bp_kpos_remove(&ks->epochs, t, p);
        if (drop)
            ks->h->state_drop(ks->ctx, t, p);
    }
}

void bp_kstate_free(bp_kstate *ks)
{
    if (!ks)
        return;
    if (ks->producer) {
        rd_kafka_flush(ks->producer, 5000);
        rd_kafka_destroy(ks->producer);
    }
    if (ks->reader) {
        rd_kafka_consumer_close(ks->reader);
        rd_kafka_destroy(ks->reader);
    }
    bp_clog_map_free(&ks->pending);
    bp_kpos_free(&ks->epochs);
    free(ks->topic);
    memset(ks, 0, sizeof *ks);
}
