/* Building a librdkafka configuration from a plugin's section: one copy of the rules, linked
 * by source-kafka and sink-kafka (lib/kafka). */
#ifndef BP_KAFKA_CONF_H
#define BP_KAFKA_CONF_H

#include "bppipe/plugin.h"

#include <librdkafka/rdkafka.h>

/* Sets one librdkafka property. On failure logs librdkafka's own message with the INI key
 * (`ini_key`, e.g. "kafka.fetch.max.bytes" or "brokers") at ERROR and returns -1. */
int bp_kafka_set(const bp_host *h, bp_ctx *ctx, rd_kafka_conf_t *conf, const char *ini_key,
                 const char *name, const char *value);

/* Hands every `kafka.*` key of the section to librdkafka without the prefix, in file order.
 * Returns 0, or -1 after logging the first key librdkafka refused. */
int bp_kafka_apply_passthrough(const bp_host *h, bp_ctx *ctx, rd_kafka_conf_t *conf);

/* The value the user gave for `kafka.NAME` (NAME without the prefix), or NULL. The string
 * lives until close(). */
const char *bp_kafka_user_value(const bp_host *h, bp_ctx *ctx, const char *name);

/* bp_plugin.probe for both Kafka plugins: asks the cluster of `rk` for its metadata within
 * `timeout_ms`. BP_OK (logged at info: brokers, and the partitions of each of `topics` that
 * exists; a missing one is a warning, a broker may create it) or BP_RETRY after one error line
 * naming `brokers` and what to check. `topics` may be NULL. */
int bp_kafka_probe(const bp_host *h, bp_ctx *ctx, rd_kafka_t *rk, const char *brokers,
                   const char *const *topics, size_t n_topics, int timeout_ms);

/* Turns `text` into a boolean the way librdkafka reads one: 1 true, 0 false, -1 neither. */
int bp_kafka_bool(const char *text);

#endif
