/* source-kafka's send_input (ABI 1.7): one message appended to a partition of a topic the
 * member reads, durable (acks=all, idempotent producer) before it returns. The host uses it to
 * hand an alarm acknowledgement received by this process to the process that owns the alarm's
 * partition, which reads it in order with the readings (docs/alarms.md, docs/architecture.md).
 * The producer reaches the member's cluster as the changelog's does (kstate.c) and is made at
 * the first message. One message at a time, on the host's main thread. */
#ifndef BP_KAFKA_INPUT_SEND_H
#define BP_KAFKA_INPUT_SEND_H

#include "kstate.h"

#include <librdkafka/rdkafka.h>

#include <stdbool.h>

typedef struct bp_input_sender {
    rd_kafka_t *producer;    /* NULL until the first message */
    bp_kstate_report report; /* the delivery report of the message in flight */
} bp_input_sender;

/* Sends (topic, partition, key, data) with the member's producer settings. Returns BP_OK once
 * the broker acknowledged it on every in-sync replica, BP_EINVAL when `topic` is not one of
 * `subscription` or the partition does not exist, BP_RETRY when it was not acknowledged within
 * timeout_ms (the message is purged; it may still have been written), BP_FATAL when the
 * producer failed for good. */
int bp_input_send(bp_input_sender *s, bp_kstate *ks,
                  const rd_kafka_topic_partition_list_t *subscription, const char *topic,
                  int32_t partition, const void *key, size_t key_len, const void *data, size_t len,
                  int timeout_ms);

/* Waits for nothing more and destroys the producer (before `ks` is freed). */
void bp_input_send_free(bp_input_sender *s);

#endif
