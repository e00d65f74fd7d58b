/* sink-kafka: produces readings to a Kafka topic, keyed by patient id. write() returns only
 * when every message of the batch has a delivery report from the brokers (acks = all, with
 * the idempotent producer), not when librdkafka queued it. */
#include "bppipe/plugin.h"

#include "kafka/kafka_conf.h"
#include "kafka/kafka_talk.h"

#include <librdkafka/rdkafka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One message in flight for write(): which records it stands for and how it ended. */
typedef struct slot {
    size_t first;    /* index of the first record the message carries */
    int done;        /* 1 once its delivery report arrived */
    rd_kafka_resp_err_t err;
} slot;

typedef struct sink {
    const bp_host *h;
    bp_ctx *ctx;
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    bool value_document;
    size_t outstanding; /* delivery reports still to come */
    slot *slots;
    size_t slots_cap;
    size_t *slot_of; /* per record of the batch: its slot */
    size_t slot_of_cap;
    bp_kafka_talk talk; /* what librdkafka says, in words (lib/kafka/kafka_talk.h) */
} sink;

static const bp_option options[] = {
    BP_OPTION_STRING("brokers", "127.0.0.1:9092", 0,
                     "bootstrap servers, host:port[,host:port...] (bootstrap.servers)"),
    BP_OPTION_STRING("topic", "blood-pressure", 0, "topic the readings are produced to"),
    BP_OPTION_ENUM("value", "payload", "payload|fhir|document",
                   "message value: the original payload as the source read it (FHIR JSON or an "
                   "HL7 v2 message; `fhir` is its older name), or the judged JSON document"),
    BP_OPTION_INT("delivery_timeout_ms", "30000", 1000, 3600000, 0,
                  "how long one attempt may wait for the brokers before the host retries "
                  "(message.timeout.ms)"),
    BP_OPTION_PREFIX("kafka.*", "any librdkafka producer property, e.g. kafka.compression.type "
                     "(enable.idempotence is always true)"),
};

/* Runs inside rd_kafka_poll/flush, i.e. inside write(), flush() or close(). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sink *s = opaque;
    slot *sl = m->_private;
    if (sl) {
        sl->done = 1;
        sl->err = m->err;
    }
    if (s->outstanding)
        s->outstanding--;
}

/* Served from the producer's queue (log.queue) where write() polls; lib/kafka says what they
 * mean. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    sink *s = rd_kafka_opaque(rk);
    bp_kafka_talk_log(&s->talk, level, fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    sink *s = opaque;
    bp_kafka_talk_error(&s->talk, err, reason);
}

/* librdkafka's threads, at each certificate of a broker's chain: remembers why one was refused */
static int on_verify(rd_kafka_t *rk, const char *broker, int32_t id, int *x509_error, int depth,
                     const char *der, size_t size, char *errstr, size_t errstr_size, void *opaque)
{
    (void)rk, (void)broker, (void)id, (void)depth, (void)der, (void)size;
    sink *s = opaque;
    return bp_kafka_talk_verify(&s->talk, *x509_error, errstr, errstr_size);
}

static int build_conf(sink *s, rd_kafka_conf_t *conf)
{
    const bp_host *h = s->h;
    bp_ctx *ctx = s->ctx;
    const char *timeout = h->opt_string(ctx, "delivery_timeout_ms");
    if (bp_kafka_set(h, ctx, conf, "brokers", "bootstrap.servers",
                     h->opt_string(ctx, "brokers")) ||
        bp_kafka_set(h, ctx, conf, "delivery_timeout_ms", "message.timeout.ms",
                     timeout ? timeout : "30000") ||
        bp_kafka_apply_passthrough(h, ctx, conf))
        return -1;
    const char *idem = bp_kafka_user_value(h, ctx, "enable.idempotence");
    if (idem && bp_kafka_bool(idem) != 1)
        h->log(ctx, BP_LOG_WARN, "kafka.enable.idempotence = %s ignored: the producer stays "
               "idempotent so that retries neither duplicate nor reorder a patient's readings",
               idem);
    if (bp_kafka_set(h, ctx, conf, "(forced)", "enable.idempotence", "true") ||
        bp_kafka_set(h, ctx, conf, "(forced)", "log.queue", "true"))
        return -1;
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    bp_kafka_talk_init(&s->talk, h, ctx, NULL);
    if (bp_kafka_talk_wants_verify(&s->talk))
        rd_kafka_conf_set_ssl_cert_verify_cb(conf, on_verify);
    return 0;
}

static void sink_close(void *state);

static int sink_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->h = h;
    s->ctx = ctx;
    const char *value = h->opt_string(ctx, "value");
    s->value_document = value && strcmp(value, "document") == 0;
    const char *topic = h->opt_string(ctx, "topic");
    if (!topic || !*topic) {
        h->log(ctx, BP_LOG_ERROR, "topic: no topic given (e.g. topic = blood-pressure)");
        goto fail;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (build_conf(s, conf) != 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    char err[512];
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        h->log(ctx, BP_LOG_ERROR, "cannot create the Kafka producer: %s", err);
        goto fail;
    }
    rd_kafka_set_log_queue(s->rk, NULL);
    s->topic = rd_kafka_topic_new(s->rk, topic, NULL);
    if (!s->topic) {
        h->log(ctx, BP_LOG_ERROR, "topic '%s': %s", topic,
               rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    *state = s;
    return BP_OK;
fail:
    sink_close(s);
    return BP_FATAL;
}

/* Serves delivery reports until none is outstanding. Every queued message gets one within
 * message.timeout.ms, so this ends. */
static void wait_reports(sink *s)
{
    while (s->outstanding)
        rd_kafka_poll(s->rk, 100);
}

static void sink_close(void *state)
{
    sink *s = state;
    if (!s)
        return;
    if (s->rk) {
        rd_kafka_flush(s->rk, 10000);
        wait_reports(s);
    }
    if (s->topic)
        rd_kafka_topic_destroy(s->topic);
    if (s->rk)
        rd_kafka_destroy(s->rk);
    free(s->slots);
    free(s->slot_of);
    free(s);
}

static int reserve(sink *s, size_t n)
{
    if (n <= s->slots_cap)
        return 0;
    slot *sl = realloc(s->slots, n * sizeof *sl);
    if (!sl)
        return -1;
    s->slots = sl;
    size_t *of = realloc(s->slot_of, n * sizeof *of);
    if (!of)
        return -1;
    s->slot_of = of;
    s->slots_cap = n;
    return 0;
}

/* Errors that a later attempt cannot fix: the record is dead-lettered with the reason. */
static bool permanent(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || e == RD_KAFKA_RESP_ERR_INVALID_RECORD ||
           e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

/* Queues one message, waiting while librdkafka's local queue is full. */
static rd_kafka_resp_err_t produce(sink *s, const void *key, size_t key_len, const void *value,
                                   size_t len, slot *sl)
{
    for (;;) {
        int rc = rd_kafka_produce(s->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                  (void *)value, len, key, key_len, sl);
        if (rc == 0)
            return RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return e;
        rd_kafka_poll(s->rk, 50); /* deliveries make room */
    }
}

/* Whether record `r` goes as its document even with value = payload: a retraction whose
 * payload is not itself the retraction. The engine's companion of a correction routed elsewhere
 * (docs/revisions.md) carries the corrected reading's payload, which a consumer would decode as
 * the reading; a retraction decoded from an entered-in-error resource carries that resource, and
 * is forwarded as it came. */
static bool document_instead(const bp_host *h, const bp_record *r)
{
    const char *revision = h->text(r, BP_F_REVISION), *status = h->text(r, BP_F_STATUS);
    return revision && strcmp(revision, "retract") == 0 &&
           !(status && strcmp(status, "entered-in-error") == 0);
}

/* The message value for record i: the original payload or the judged document. A Bundle's
 * readings share one payload; with value = fhir it is sent once per batch, and every reading
 * it carries takes that message's outcome. Returns 1 when record i reuses an earlier slot. */
static int value_of(sink *s, bp_batch *batch, size_t i, const void **v, size_t *len)
{
    const bp_host *h = s->h;
    bp_record *r = h->batch_at(batch, i);
    if (s->value_document || document_instead(h, r)) {
        *v = h->document(s->ctx, r, 0, len);
        return 0;
    }
    *v = h->payload(r, len);
    /* Readings of one payload are adjacent in a batch (decoded in payload order). */
    if (i > 0) {
        size_t plen;
        const bp_record *prev = h->batch_at(batch, i - 1);
        if (h->payload(prev, &plen) == *v && *v && !document_instead(h, prev))
            return 1;
    }
    return 0;
}

static int sink_write(void *state, bp_batch *batch)
{
    sink *s = state;
    const bp_host *h = s->h;
    size_t n = h->batch_count(batch);
    if (reserve(s, n ? n : 1) != 0)
        return BP_RETRY;
    size_t n_slots = 0;
    int status = BP_OK;
    for (size_t i = 0; i < n; i++) {
        bp_record *r = h->batch_at(batch, i);
        const void *v;
        size_t len;
        if (value_of(s, batch, i, &v, &len)) {
            s->slot_of[i] = s->slot_of[i - 1];
            continue;
        }
        if (!v) {
            h->set_outcome(s->ctx, r, BP_AGAIN, NULL); /* out of memory: try again later */
            s->slot_of[i] = SIZE_MAX;
            continue;
        }
        /* Keyed by patient; without one (a dead letter, a skipped resource) by the source's
         * own key, all of it: a Kafka key is bytes and may hold NULs; without either (a
         * retraction of a resource with no subject) by its logical id, so that all its
         * versions share a partition. */
        const char *key = h->text(r, BP_F_PATIENT_ID);
        size_t key_len = key ? strlen(key) : 0;
        if (!key && (key = h->text(r, BP_F_SOURCE_KEY))) {
            double bytes = h->number(r, BP_F_SOURCE_KEY_LEN);
            key_len = isnan(bytes) ? strlen(key) : (size_t)bytes;
        }
        if (!key && (key = h->text(r, BP_F_LOGICAL_ID)))
            key_len = strlen(key);
        slot *sl = &s->slots[n_slots];
        *sl = (slot){.first = i};
        s->slot_of[i] = n_slots;
        rd_kafka_resp_err_t e = produce(s, key, key_len, v, len, sl);
        if (e) {
            sl->done = 1;
            sl->err = e;
        } else {
            s->outstanding++;
        }
        n_slots++;
        h->count(s->ctx, "bytes", (double)len);
    }
    wait_reports(s);
    size_t failed = 0;
    rd_kafka_resp_err_t first_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (s->slot_of[i] == SIZE_MAX)
            continue;
        slot *sl = &s->slots[s->slot_of[i]];
        if (!sl->err)
            continue;
        bp_record *r = h->batch_at(batch, i);
        if (permanent(sl->err))
            h->set_outcome(s->ctx, r, BP_REJECTED, rd_kafka_err2str(sl->err));
        else
            h->set_outcome(s->ctx, r, BP_AGAIN, NULL);
        if (!first_err)
            first_err = sl->err;
        failed++;
    }
    h->count(s->ctx, "messages", (double)n_slots);
    if (failed) {
        h->count(s->ctx, "delivery_failures", (double)failed);
        h->log(s->ctx, BP_LOG_WARN, "%zu of %zu reading(s) not delivered: %s", failed, n,
               rd_kafka_err2str(first_err));
    }
    char why[512];
    if (rd_kafka_fatal_error(s->rk, why, sizeof why)) {
        /* The idempotent producer can no longer guarantee order or uniqueness. */
        h->log(s->ctx, BP_LOG_ERROR, "producer failed permanently: %s", why);
        status = BP_FATAL;
    }
    return status;
}

static int sink_flush(void *state)
{
    sink *s = state;
    rd_kafka_resp_err_t e = rd_kafka_flush(s->rk, 10000);
    wait_reports(s);
    return e ? BP_RETRY : BP_OK;
}

/* `bppipe check`: the cluster answers, and the topic exists. */
static int sink_probe(void *state, int timeout_ms)
{
    sink *s = state;
    const char *topic = s->h->opt_string(s->ctx, "topic");
    return bp_kafka_probe(s->h, s->ctx, s->rk, s->h->opt_string(s->ctx, "brokers"), &topic, 1,
                          timeout_ms);
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "sink-kafka",
    .version = "1.0.0",
    .kind = BP_KIND_SINK,
    .description = "produces readings to a Kafka topic keyed by patient; a batch is acknowledged "
                   "only by delivery reports",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = sink_open,
    .close = sink_close,
    .write = sink_write,
    .flush = sink_flush,
    .probe = sink_probe,
    .caps = BP_CAP_REVISIONS,
};

BP_PLUGIN(descriptor)
