/* source-kafka's keyed state (BP_CAP_KEYED_STATE): the pipeline's per-key state written to a
 * compacted changelog topic before the offsets that it goes with are committed, and read back
 * when a partition is assigned. The record bytes and the maps are changelog.c's; this file does
 * the Kafka side: the topic, the producer, the restore consumer. docs/architecture.md ("Keyed
 * state and exactness") says why the scheme is exact. */
#ifndef BP_KAFKA_KSTATE_H
#define BP_KAFKA_KSTATE_H

#include "bppipe/plugin.h"
#include "changelog.h"
#include "kafka/kafka_talk.h"
#include "positions.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>

typedef struct bp_kstate {
    const bp_host *h;
    bp_ctx *ctx;
    rd_kafka_t *member;   /* the group member (not owned): committed offsets, metadata */
    const rd_kafka_topic_partition_list_t *subscription; /* not owned */
    char *topic;          /* the changelog topic */
    int want_partitions;  /* state_partitions; 0: as many as the input topics have */
    int partitions;       /* the changelog's partitions once known, else 0 */
    rd_kafka_t *producer; /* created at the first assignment */
    rd_kafka_t *reader;   /* the restore consumer (no group), created at the first restore */
    bp_clog_map pending;  /* changes not yet confirmed by an offset commit */
    bool dirty;           /* pending holds changes not yet written for the current positions */
    bp_kpositions epochs; /* per input partition: the epoch its records are written with */
    int failed;           /* delivery failures of the flush in progress */
    bool warned_rewound;
    char later[320];      /* why the last restore must be tried again (BP_KSTATE_LATER) */
    bp_kafka_talk talk;   /* what the producer's and the reader's librdkafka say, in words */
} bp_kstate;

/* Reads the options (state_topic, state_partitions, the kafka.* security keys); connects
 * nothing (`bppipe check` opens too). Returns 0, or -1 after logging. */
int bp_kstate_init(bp_kstate *ks, const bp_host *h, bp_ctx *ctx, rd_kafka_t *member,
                   const rd_kafka_topic_partition_list_t *subscription);

/* What a restore came to. */
enum {
    BP_KSTATE_FAILED = -1, /* logged; a retry cannot change it (an unknown topic or partition,
                              authorization, the host refusing a key, out of memory) */
    BP_KSTATE_RESTORED = 0,
    BP_KSTATE_LATER = 1 /* the cluster could not be reached or did not answer in time: nothing
                           was handed to the host; `later` says why, and the caller tries again */
};

/* Partitions `parts` are being assigned (inside the rebalance callback, before any of their
 * messages is polled) or were assigned and are still paused because an earlier call answered
 * BP_KSTATE_LATER: creates the changelog topic when missing and the producer (first time),
 * reads the group's committed offsets of `parts` into `committed`, and hands the host every
 * key's value as of them. Returns one of the above (judging the partitions without their state
 * would be wrong, so nothing of them may be polled until it answers BP_KSTATE_RESTORED). */
int bp_kstate_assign(bp_kstate *ks, const rd_kafka_topic_partition_list_t *parts,
                     bp_kpositions *committed);

/* In commit(batch): merges the batch's changes of partitions in `acked` (those still assigned)
 * into the pending map, `committed` giving the offset a new key's `before` is valid from.
 * Returns BP_OK, or BP_FATAL (out of memory). */
int bp_kstate_merge(bp_kstate *ks, const bp_batch *batch, const bp_kpositions *acked,
                    const bp_kpositions *committed);

/* Before the offsets of `acked` are committed: writes every pending record (tag = the offset
 * `acked` commits for its partition) and waits until the broker has them all. Returns BP_OK,
 * BP_RETRY (a delivery failed or timed out: nothing may be committed; the records stay
 * pending) or BP_FATAL. */
int bp_kstate_write(bp_kstate *ks, const bp_kpositions *acked);

/* The offsets of every pending record's partition were committed. */
void bp_kstate_confirmed(bp_kstate *ks);
/* The commit of (topic, partition) is known to have gone through (an ambiguous error resolved
 * with rd_kafka_committed): its pending records are confirmed. */
void bp_kstate_confirmed_partition(bp_kstate *ks, const char *topic, int32_t partition);

/* `parts` are revoked or lost: forgets their pending changes and, when `drop` (in poll; not
 * while closing), tells the host to drop their state. */
void bp_kstate_revoke(bp_kstate *ks, const rd_kafka_topic_partition_list_t *parts, bool drop);

/* Another producer like the changelog's (the member's brokers and security keys, acks=all,
 * idempotent), for send_input (input_send.c): a message produced with a bp_kstate_report as its
 * opaque gets its delivery report there, and is no changelog record. NULL after logging. */
typedef struct bp_kstate_report {
    bool done;               /* the report came */
    rd_kafka_resp_err_t err; /* its outcome */
} bp_kstate_report;
rd_kafka_t *bp_kstate_producer_new(bp_kstate *ks);

void bp_kstate_free(bp_kstate *ks);

#endif
