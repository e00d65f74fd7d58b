/* Wakes librdkafka's fetcher while a backlog is read through a small prefetch queue. */
#ifndef BP_KAFKA_FETCH_WAKE_H
#define BP_KAFKA_FETCH_WAKE_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

/* The first librdkafka that backs off a full queue by fetch.queue.backoff.ms (2.2.0): it is
 * not woken, source-kafka sets that wait short instead (BP_FETCH_QUEUE_BACKOFF_MS, unless the
 * section sets kafka.fetch.queue.backoff.ms). */
#define BP_FETCH_WAKES_ITSELF 0x020200ff
#define BP_FETCH_QUEUE_BACKOFF_MS "10"

typedef struct bp_fetch_wake {
    int next;     /* the assigned partition whose leader is woken next (round robin) */
    bool backlog; /* the last batch took all it asked for: more is waiting at the broker */
} bp_fetch_wake;

/* Called as a batch starts. librdkafka before 2.2.0 stops fetching a partition while the
 * consumer queue is over queued.max.messages.kbytes (or queued.min.messages) and decides again
 * only when its broker thread wakes: on a response, on a request handed to it, or after 1 s
 * (librdkafka issue 2879; 2.2.0 made that wait fetch.queue.backoff.ms). A consumer faster than
 * the queue's size per second then waits most of each second. While the queue holds fewer
 * messages than `below` (a batch's worth: a queue with more is being fetched, and a query per
 * batch then slowed a 64 MiB queue to a seventh), this hands the broker leading one assigned
 * partition (the next, round robin) a watermark query, whose arrival wakes that broker's
 * thread, which finds the queue drained and fetches. An empty queue is woken only in a backlog
 * (the batch before took all it asked for): there it means the consumer drained the queue
 * before the fetcher woke, which left the ward waiting up to a second in the middle of a
 * backlog (bench/rsyslog_side_by_side.sh saw it in 1 run of 6); a quiet ward's empty queue has
 * its fetch waiting at the broker already. It costs one round trip to that broker (at most
 * `timeout_ms`) per batch of a backlog and nothing while a quiet ward waits, or with
 * librdkafka 2.2.0 or later (above). Returns whether a query was sent. */
int bp_fetch_wake_poke(bp_fetch_wake *w, rd_kafka_t *rk, size_t below, int timeout_ms);

/* Tells the waker whether the batch just polled took all `asked` it could (a backlog). */
void bp_fetch_wake_note_batch(bp_fetch_wake *w, size_t taken, size_t asked);

#endif
