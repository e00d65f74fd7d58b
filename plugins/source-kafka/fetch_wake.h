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
    int next;           /* the assigned partition whose leader is woken next (round robin) */
    bool backlog;       /* the last batch says the queue may have been full: fetching stopped */
    size_t queue_bytes; /* queued.max.messages.kbytes in bytes: where fetching stops */
} bp_fetch_wake;

/* Sets up the waker of a consumer built from `conf` (its queued.max.messages.kbytes). */
void bp_fetch_wake_init(bp_fetch_wake *w, const rd_kafka_conf_t *conf);

/* Called as a batch starts. librdkafka before 2.2.0 stops fetching a partition while the
 * consumer queue is over queued.max.messages.kbytes (or queued.min.messages) and decides again
 * only when its broker thread wakes: on a response, on a request handed to it, or after 1 s
 * (librdkafka issue 2879; 2.2.0 made that wait fetch.queue.backoff.ms). A consumer faster than
 * the queue's size per second then waits most of each second. So in a backlog (the batch before
 * took all it asked for, or at least half the queue's limit in bytes: the queue may have been
 * full and fetching stopped), while the queue holds fewer messages than `below` (a batch's
 * worth: a queue with more is being read, and a query per batch then slowed a 64 MiB queue to a
 * seventh), including none, this hands the broker leading one assigned partition (the next,
 * round robin) a watermark query, whose arrival wakes that broker's thread, which finds the
 * queue drained and fetches. A quiet ward's batches take what has come, never fill and never
 * come near the limit: its fetcher never stopped, and it is not woken. Waking it anyway, one
 * query a batch, put each query between the broker's fetch answers and tripled a 5 000/s
 * ward's p99 latency (docs/kafka.md, "The fetcher woken only in a backlog"). It costs one round
 * trip to that broker (at most `timeout_ms`) per batch of a backlog, nothing otherwise, and
 * nothing with librdkafka 2.2.0 or later (above). Returns whether a query was sent. */
int bp_fetch_wake_poke(bp_fetch_wake *w, rd_kafka_t *rk, size_t below, int timeout_ms);

/* Tells the waker what the batch just polled took: `taken` messages of the `asked` it could,
 * `bytes` of payload. */
void bp_fetch_wake_note_batch(bp_fetch_wake *w, size_t taken, size_t asked, size_t bytes);

#endif
