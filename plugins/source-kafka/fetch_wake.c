/* Wakes librdkafka's fetcher (fetch_wake.h says why). */
#include "fetch_wake.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

void bp_fetch_wake_init(bp_fetch_wake *w, const rd_kafka_conf_t *conf)
{
    w->next = 0;
    w->backlog = false;
    w->queue_bytes = 0;
    char kbytes[32];
    size_t len = sizeof kbytes;
    if (rd_kafka_conf_get(conf, "queued.max.messages.kbytes", kbytes, &len) == RD_KAFKA_CONF_OK)
        w->queue_bytes = (size_t)strtoull(kbytes, NULL, 10) * 1024;
}

/* Whether fewer than `below` messages (or other events) wait in the consumer queue. */
static bool queued_below(rd_kafka_t *rk, size_t below)
{
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    if (!q)
        return false;
    size_t n = rd_kafka_queue_length(q);
    rd_kafka_queue_destroy(q);
    return n < below;
}

int bp_fetch_wake_poke(bp_fetch_wake *w, rd_kafka_t *rk, size_t below, int timeout_ms)
{
    if (rd_kafka_version() >= BP_FETCH_WAKES_ITSELF || !w->backlog || !queued_below(rk, below))
        return 0;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int sent = 0;
    if (rd_kafka_assignment(rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0) {
        const rd_kafka_topic_partition_t *p = &parts->elems[w->next % parts->cnt];
        w->next = (w->next + 1) % parts->cnt;
        int64_t low, high;
        /* Its answer does not matter: the request reaching the broker's thread is the point. */
        (void)rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &low, &high, timeout_ms);
        sent = 1;
    }
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    return sent;
}

void bp_fetch_wake_note_batch(bp_fetch_wake *w, size_t taken, size_t asked, size_t bytes)
{
    w->backlog = (asked > 0 && taken >= asked) || (w->queue_bytes && bytes >= w->queue_bytes / 2);
}
