/* Wakes librdkafka's fetcher (fetch_wake.h says why). */
#include "fetch_wake.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether fewer than `below` messages (or other events) wait in the consumer queue, and some
 * unless `empty_too`. */
static bool queued(rd_kafka_t *rk, size_t below, bool empty_too)
{
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    if (!q)
        return false;
    size_t n = rd_kafka_queue_length(q);
    rd_kafka_queue_destroy(q);
    return (n > 0 || empty_too) && n < below;
}

int bp_fetch_wake_poke(bp_fetch_wake *w, rd_kafka_t *rk, size_t below, int timeout_ms)
{
    if (rd_kafka_version() >= BP_FETCH_WAKES_ITSELF || !queued(rk, below, w->backlog))
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

void bp_fetch_wake_note_batch(bp_fetch_wake *w, size_t taken, size_t asked)
{
    w->backlog = asked > 0 && taken >= asked;
}
