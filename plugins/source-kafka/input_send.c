#include "input_send.h"

#include <string.h>

/* After a purge, how long the reports of the purged message may take to come back. */
#define PURGE_WAIT_MS 5000

static bool subscribed(const rd_kafka_topic_partition_list_t *subscription, const char *topic)
{
    for (int i = 0; subscription && i < subscription->cnt; i++)
        if (strcmp(subscription->elems[i].topic, topic) == 0)
            return true;
    return false;
}

int bp_input_send(bp_input_sender *s, bp_kstate *ks,
                  const rd_kafka_topic_partition_list_t *subscription, const char *topic,
                  int32_t partition, const void *key, size_t key_len, const void *data, size_t len,
                  int timeout_ms)
{
    if (!topic || partition < 0 || !subscribed(subscription, topic))
        return BP_EINVAL;
    if (!s->producer && !(s->producer = bp_kstate_producer_new(ks)))
        return BP_RETRY; /* logged */
    s->report.done = false;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        s->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key, key ? key_len : 0), RD_KAFKA_V_VALUE((void *)data, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&s->report), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        return BP_EINVAL;
    if (err) {
        ks->h->log(ks->ctx, BP_LOG_WARN, "send_input: cannot queue a message for %s [%d]: %s",
                   topic, (int)partition, rd_kafka_err2str(err));
        return BP_RETRY;
    }
    /* The delivery report is the broker's acknowledgement (acks=all): only then is the message
     * durable, and only then may the host answer that the owner will read it. */
    rd_kafka_flush(s->producer, timeout_ms);
    if (!s->report.done) {
        /* Not acknowledged in time: purged, so no report of it can come after this call. */
        rd_kafka_purge(s->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(s->producer, PURGE_WAIT_MS);
        if (rd_kafka_outq_len(s->producer) > 0) {
            rd_kafka_destroy(s->producer); /* the next message gets a new one */
            s->producer = NULL;
        }
        ks->h->log(ks->ctx, BP_LOG_WARN,
                   "send_input: %s [%d] did not acknowledge the message within %d ms", topic,
                   (int)partition, timeout_ms);
        return BP_RETRY;
    }
    if (rd_kafka_fatal_error(s->producer, NULL, 0)) {
        ks->h->log(ks->ctx, BP_LOG_ERROR, "send_input: the producer failed for good");
        return BP_FATAL;
    }
    if (s->report.err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
        s->report.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        s->report.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        return BP_EINVAL;
    if (s->report.err) {
        ks->h->log(ks->ctx, BP_LOG_WARN, "send_input: %s [%d] refused the message: %s", topic,
                   (int)partition, rd_kafka_err2str(s->report.err));
        return BP_RETRY;
    }
    ks->h->count(ks->ctx, "input_sent", 1);
    return BP_OK;
}

void bp_input_send_free(bp_input_sender *s)
{
    if (s->producer)
        rd_kafka_destroy(s->producer);
    s->producer = NULL;
}
