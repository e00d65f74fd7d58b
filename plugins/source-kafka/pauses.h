/* The partitions this consumer has paused, and librdkafka's pause flags changed only when they
 * must change. */
#ifndef BP_KAFKA_PAUSES_H
#define BP_KAFKA_PAUSES_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Why not simply pause and resume whole lists: every pause or resume takes a new version of the
 * partition's operations in librdkafka, and an operation of an older version is dropped when it
 * is served after a newer one. The fetch start that librdkafka's group thread queues for a
 * partition just assigned is such an operation. A pause or resume queued by this thread between
 * that start's version and its queueing makes it stale: the start is dropped and the partition
 * is never fetched, with no error (librdkafka issue 5591 describes the same). librdkafka before
 * 2.4.0 takes a version even to resume a partition that is not paused (issue 4637), which is what
 * source-kafka did for every partition of every assignment. So:
 * - a partition is paused or resumed only when its state changes, which is rare (a commit
 *   refused by a rebalance, a keyed state that cannot be restored yet);
 * - at an assignment the change is made before rd_kafka_assign(), which queues the start after
 *   it (librdkafka keeps a partition's pause across assignments);
 * - a partition librdkafka does not know yet (never assigned here) cannot be paused before its
 *   assignment, and pausing it after could drop its start: bp_kpauses_set() leaves it running,
 *   and the caller pauses it at its first message (a message means its fetch has started). */
typedef struct bp_kpauses {
    rd_kafka_topic_partition_list_t *paused; /* as librdkafka has them */
} bp_kpauses;

void bp_kpauses_init(bp_kpauses *p);
void bp_kpauses_free(bp_kpauses *p);

bool bp_kpauses_has(const bp_kpauses *p, const char *topic, int32_t partition);

/* Pauses (`pause`) or resumes those of `parts` whose state changes; `rk` is not touched when
 * none does. Returns how many of `parts` librdkafka does not know yet, left as they were; -1
 * when librdkafka refused the call. */
int bp_kpauses_set(bp_kpauses *p, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                   bool pause);

/* Pauses one partition whose fetch has started (a message of it was polled). Returns whether it
 * was paused now (false: it already was, or librdkafka refused). */
bool bp_kpauses_pause_one(bp_kpauses *p, rd_kafka_t *rk, const char *topic, int32_t partition);

#endif
