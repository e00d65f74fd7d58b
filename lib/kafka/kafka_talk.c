#include "kafka/kafka_talk.h"

#include "common/x509_codes.h"
#include "kafka/kafka_conf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void bp_kafka_talk_init(bp_kafka_talk *t, const bp_host *h, bp_ctx *ctx, const char *prefix)
{
    t->h = h;
    t->ctx = ctx;
    t->prefix = prefix ? prefix : "";
    t->brokers = h->opt_string(ctx, "brokers");
    t->ca_location = bp_kafka_user_value(h, ctx, "ssl.ca.location");
    const char *proto = bp_kafka_user_value(h, ctx, "security.protocol");
    t->sasl = proto && strncasecmp(proto, "sasl_", 5) == 0;
    atomic_store(&t->verify_error, 0);
}

int bp_kafka_talk_wants_verify(const bp_kafka_talk *t)
{
    const char *proto = bp_kafka_user_value(t->h, t->ctx, "security.protocol");
    if (!proto || (strcasecmp(proto, "ssl") != 0 && strcasecmp(proto, "sasl_ssl") != 0))
        return 0;
    /* With verification off OpenSSL's verdict is ignored; a callback would log refusals of a
     * certificate that is then used anyway. */
    const char *verify = bp_kafka_user_value(t->h, t->ctx, "enable.ssl.certificate.verification");
    return bp_kafka_bool(verify) != 0;
}

int bp_kafka_talk_verify(bp_kafka_talk *t, int x509_error, char *errstr, size_t errstr_size)
{
    if (x509_error == 0)
        return 1;
    atomic_store(&t->verify_error, x509_error);
    snprintf(errstr, errstr_size, "certificate refused (OpenSSL verify error %d)", x509_error);
    return 0; /* OpenSSL's verdict, unchanged */
}

/* Skips "[thrd:...]: " and "rdkafka#consumer-4: ", the prefixes of librdkafka's ERROR lines. */
static const char *skip_prefixes(const char *p)
{
    if (strncmp(p, "[thrd:", 6) == 0) {
        const char *end = strstr(p, "]: ");
        if (end)
            p = end + 3;
    }
    if (strncmp(p, "rdkafka#", 8) == 0) {
        const char *end = strstr(p, ": ");
        if (end)
            p = end + 2;
    }
    return p;
}

void bp_kafka_broker_of(const char *text, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    const char *p = strstr(text, "Connect to ipv4#");
    if (!p)
        p = strstr(text, "Connect to ipv6#");
    if (p) {
        p += strlen("Connect to ipv4#");
        size_t n = strcspn(p, " ");
        snprintf(out, cap, "%.*s", (int)n, p);
        return;
    }
    p = skip_prefixes(text);
    if (strncmp(p, "GroupCoordinator", 16) == 0) {
        const char *end = strstr(p, ": ");
        if (!end)
            return;
        p = end + 2;
    }
    size_t n = 0;
    const char *end = strstr(p, ": ");
    if (!end)
        return;
    n = (size_t)(end - p);
    const char *scheme = memchr(p, '/', n);
    if (scheme && scheme + 1 < end && scheme[1] == '/' && scheme > p && scheme[-1] == ':') {
        n -= (size_t)(scheme + 2 - p);
        p = scheme + 2;
    }
    const char *slash = memchr(p, '/', n);
    if (slash)
        n = (size_t)(slash - p);
    if (!memchr(p, ':', n) || memchr(p, ' ', n))
        return; /* not HOST:PORT */
    snprintf(out, cap, "%.*s", (int)n, p);
}

static int tls_refusal(const char *who, int verify_error, const char *ca, const char *detail,
                       char *out, size_t cap)
{
    switch (verify_error) {
    case X509_HOSTNAME_MISMATCH:
    case X509_IP_MISMATCH:
        /* the chain was trusted (OpenSSL checks the name last): the CA is not the trouble */
        snprintf(out, cap,
                 "TLS: the certificate of %s is issued for another host name (its CA "
                 "is trusted%s%s): connect by a name it was issued for (brokers, and the names "
                 "the brokers advertise), or have it issued for this one",
                 who, ca ? ", kafka.ssl.ca.location = " : "", ca ? ca : "");
        return BP_LOG_ERROR;
    case X509_ISSUER_UNKNOWN:
    case X509_SELF_SIGNED:
    case X509_SELF_SIGNED_CHAIN:
    case X509_ISSUER_NOT_LOCAL:
    case X509_LEAF_UNVERIFIABLE:
        if (ca)
            snprintf(out, cap,
                     "TLS: the certificate of %s is not signed by the CA in "
                     "kafka.ssl.ca.location = %s: give the CA that signed the brokers' "
                     "certificates",
                     who, ca);
        else
            snprintf(out, cap,
                     "TLS: the certificate of %s is signed by a CA this host does not "
                     "trust, and no kafka.ssl.ca.location is given: give the cluster's CA as "
                     "kafka.ssl.ca.location = FILE.pem",
                     who);
        return BP_LOG_ERROR;
    case X509_EXPIRED:
        snprintf(out, cap,
                 "TLS: the certificate of %s has expired: renew it (or check this "
                 "host's clock)",
                 who);
        return BP_LOG_ERROR;
    case X509_NOT_YET_VALID:
        snprintf(out, cap, "TLS: the certificate of %s is not valid yet: check this host's clock",
                 who);
        return BP_LOG_ERROR;
    default:
        snprintf(out, cap,
                 "TLS: the certificate of %s was refused (%s); kafka.ssl.ca.location "
                 "= %s",
                 who, detail, ca ? ca : "(not given: the system's CAs)");
        return BP_LOG_ERROR;
    }
}

int bp_kafka_explain(const char *text, int err, int verify_error, int sasl, const char *brokers,
                     const char *ca_location, char *out, size_t cap)
{
    char broker[160], who[200];
    brokers = brokers && *brokers ? brokers : "(unset)";
    bp_kafka_broker_of(text, broker, sizeof broker);
    if (broker[0])
        snprintf(who, sizeof who, "broker %s", broker);
    else
        snprintf(who, sizeof who, "a broker of brokers = %s", brokers);
    /* librdkafka says how often it held an identical error back: the same thing again and
     * again, which is what tells a listener that drops every client from one that went away. */
    int repeated = strstr(text, "identical error(s) suppressed") != NULL;

    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || strstr(text, "brokers are down")) {
        snprintf(out, cap,
                 "cannot reach any Kafka broker of brokers = %s: check the addresses, "
                 "that the brokers run and listen there, and that this host may reach them "
                 "(TLS/SASL: kafka.* keys); still trying, nothing is lost",
                 brokers);
        return BP_LOG_WARN;
    }
    if (strstr(text, "Connection refused")) {
        snprintf(out, cap,
                 "%s refuses connections (is it running?); still trying, nothing is "
                 "lost",
                 who);
        return BP_LOG_WARN;
    }
    if (strstr(text, "Failed to resolve")) {
        snprintf(out, cap, "%s: its host name does not resolve; check brokers = %s", who, brokers);
        return BP_LOG_WARN;
    }
    if (strstr(text, "SSL handshake failed")) {
        if (strstr(text, "certificate verify failed"))
            return tls_refusal(who, verify_error, ca_location, "certificate verify failed", out,
                               cap);
        if (strstr(text, "PLAINTEXT broker listener")) {
            snprintf(out, cap,
                     "%s closed the connection during the TLS handshake: does its "
                     "listener speak TLS? kafka.security.protocol asks for it",
                     who);
            return BP_LOG_ERROR;
        }
        snprintf(out, cap, "TLS handshake with %s failed; check the kafka.ssl.* keys", who);
        return BP_LOG_ERROR;
    }
    if (strstr(text, "broker might require SASL")) {
        if (repeated && !sasl) {
            snprintf(out, cap,
                     "%s accepts connections and closes them again at once, again and "
                     "again: its listener probably requires SASL; set kafka.security.protocol "
                     "(sasl_plaintext or sasl_ssl) and the kafka.sasl.* keys",
                     who);
            return BP_LOG_ERROR;
        }
        snprintf(out, cap, "%s closed the connection; reconnecting", who);
        return BP_LOG_INFO;
    }
    if (strstr(text, "Disconnected while requesting ApiVersion")) {
        if (repeated) {
            snprintf(out, cap,
                     "%s closes every connection at its first request: its listener "
                     "probably expects TLS (kafka.security.protocol = ssl), or the broker is "
                     "older than Kafka 0.10",
                     who);
            return BP_LOG_ERROR;
        }
        snprintf(out, cap, "%s closed the connection; reconnecting", who);
        return BP_LOG_INFO;
    }
    if (strstr(text, "Disconnected")) {
        snprintf(out, cap, "%s closed the connection; reconnecting", who);
        return BP_LOG_INFO;
    }
    if (strstr(text, "timed out")) {
        snprintf(out, cap, "%s does not answer in time; still trying", who);
        return BP_LOG_WARN;
    }
    return -1;
}

/* Log lines: a broker connection's failure (FAIL, and ERROR when the handle has no error
 * callback) is said by bp_kafka_talk_error in the words above; librdkafka's own line, and the
 * certificate callback's, are for debugging. */
void bp_kafka_talk_log(bp_kafka_talk *t, int level, const char *fac, const char *buf)
{
    bp_log_level l = level <= 3   ? BP_LOG_ERROR
                     : level <= 4 ? BP_LOG_WARN
                     : level <= 6 ? BP_LOG_INFO
                                  : BP_LOG_DEBUG;
    if (strcmp(fac, "FAIL") == 0 || strcmp(fac, "SSLCERTVRFY") == 0)
        l = BP_LOG_DEBUG;
    if (strcmp(fac, "ERROR") == 0 && l != BP_LOG_DEBUG) {
        bp_kafka_talk_error(t, 0, buf);
        return;
    }
    t->h->log(t->ctx, l, "%slibrdkafka %s: %s", t->prefix, fac, buf);
}

void bp_kafka_talk_error(bp_kafka_talk *t, int err, const char *reason)
{
    char said[640];
    int level = bp_kafka_explain(reason, err, atomic_load(&t->verify_error), t->sasl, t->brokers,
                                 t->ca_location, said, sizeof said);
    if (level < 0) {
        t->h->log(t->ctx, BP_LOG_WARN, "%skafka: %s: %s", t->prefix,
                  err ? rd_kafka_err2name((rd_kafka_resp_err_t)err) : "error", reason);
        return;
    }
    /* librdkafka's words, which hold the details (timings, the handle), at debug */
    t->h->log(t->ctx, BP_LOG_DEBUG, "%skafka: %s: %s", t->prefix,
              err ? rd_kafka_err2name((rd_kafka_resp_err_t)err) : "error", reason);
    /* The broker's trouble is the same for every handle of the instance: no prefix, so that the
     * host's rate limit merges them into one line. */
    t->h->log(t->ctx, (bp_log_level)level, "%s", said);
}
