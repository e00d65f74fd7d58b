/* What librdkafka says, in words an operator can act on (lib/kafka, source-kafka and sink-kafka).
 *
 * librdkafka reports a broker's trouble in its own words, once per broker, connection and handle:
 * "Connect to ipv4#HOST:PORT failed: Connection refused", and, when a connection closes within 2 s
 * of being set up, "verify that security.protocol is correctly configured, broker might require
 * SASL authentication" (a guess that is wrong when the broker simply went away). Its certificate
 * error is the same sentence whether the CA is unknown or the certificate names another host.
 * Here each situation becomes one message naming the broker, the file or the key to change, in
 * the same words every time so that the host's rate limit keeps a long outage to a line a while;
 * librdkafka's own text stays at debug. */
#ifndef BP_KAFKA_TALK_H
#define BP_KAFKA_TALK_H

#include "bppipe/plugin.h"

#include <librdkafka/rdkafka.h>

#include <stdatomic.h>
#include <stddef.h>

/* One librdkafka handle's speaker. Zeroed, then bp_kafka_talk_init. */
typedef struct bp_kafka_talk {
    const bp_host *h;
    bp_ctx *ctx;
    const char *prefix;      /* put before what librdkafka says that is not mapped ("state: ") */
    const char *brokers;     /* the brokers option, for messages */
    const char *ca_location; /* kafka.ssl.ca.location, or NULL */
    int sasl;                /* kafka.security.protocol is sasl_plaintext or sasl_ssl */
    atomic_int verify_error; /* the last certificate error OpenSSL found (X509_V_ERR_*), 0 none */
} bp_kafka_talk;

/* Reads the section's brokers and kafka.* keys. `prefix` may be NULL. */
void bp_kafka_talk_init(bp_kafka_talk *t, const bp_host *h, bp_ctx *ctx, const char *prefix);

/* Installs the certificate check that remembers why a certificate was refused, when the section
 * uses TLS with verification on (librdkafka's default). The conf's opaque must lead to `t`
 * through the plugin's own callback, which calls bp_kafka_talk_verify. */
int bp_kafka_talk_wants_verify(const bp_kafka_talk *t);

/* The body of an ssl.certificate.verify_cb: keeps OpenSSL's verdict (valid only when
 * *x509_error is 0) and remembers the error for the message. Any thread. */
int bp_kafka_talk_verify(bp_kafka_talk *t, int x509_error, char *errstr, size_t errstr_size);

/* The bodies of a log_cb and an error_cb (served from the handle's queue: log.queue). */
void bp_kafka_talk_log(bp_kafka_talk *t, int level, const char *fac, const char *buf);
void bp_kafka_talk_error(bp_kafka_talk *t, int err, const char *reason);

/* The mapping itself, pure (tests/kafka/test_kafka_talk.c): what librdkafka said (`text`, with
 * its error code `err`, 0 for a log line) becomes a message in `out` and the level to log it at,
 * or -1 when it is not one of the situations above (log librdkafka's words as they are). */
int bp_kafka_explain(const char *text, int err, int verify_error, int sasl, const char *brokers,
                     const char *ca_location, char *out, size_t cap);

/* The broker a librdkafka message is about, as HOST:PORT ("" when it names none). */
void bp_kafka_broker_of(const char *text, char *out, size_t cap);

#endif
