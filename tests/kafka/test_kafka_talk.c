/* lib/kafka's reading of what librdkafka says, on the very lines librdkafka 2.0 wrote when a
 * broker was killed, when a TLS broker's certificate named another host or came from an unknown
 * CA: each becomes one message naming the broker, at the level it deserves, and librdkafka's
 * guess "broker might require SASL" is kept only when the broker keeps dropping connections. */
#include "check.h"

#include "kafka/kafka_talk.h"

#include <string.h>

static char out[640];

static int explain(const char *text, int err, int verify, int sasl, const char *ca)
{
    return bp_kafka_explain(text, err, verify, sasl, "127.0.0.1:38307", ca, out, sizeof out);
}

static int has(const char *needle)
{
    return strstr(out, needle) != NULL;
}

int main(void)
{
    char b[160];
    /* the broker each line is about */
    bp_kafka_broker_of("127.0.0.1:38307/1: Connect to ipv4#127.0.0.1:38307 failed: Connection "
                       "refused (after 0ms in state CONNECT)",
                       b, sizeof b);
    CHECK_STR(b, "127.0.0.1:38307");
    bp_kafka_broker_of("[thrd:app]: rdkafka#consumer-4: GroupCoordinator: 10.0.0.5:9093: "
                       "Disconnected (after 989ms in state UP)",
                       b, sizeof b);
    CHECK_STR(b, "10.0.0.5:9093");
    bp_kafka_broker_of("ssl://kafka-1.ward.example:9093/bootstrap: SSL handshake failed: x", b,
                       sizeof b);
    CHECK_STR(b, "kafka-1.ward.example:9093");
    bp_kafka_broker_of("1/1 brokers are down", b, sizeof b);
    CHECK_STR(b, "");

    /* a broker that is down: refused, at warn, naming it, never the SASL guess */
    int l = explain("127.0.0.1:38307/1: Connect to ipv4#127.0.0.1:38307 failed: Connection "
                    "refused (after 0ms in state CONNECT, 1 identical error(s) suppressed)",
                    RD_KAFKA_RESP_ERR__TRANSPORT, 0, 0, NULL);
    CHECK(l == BP_LOG_WARN);
    CHECK_STR(out, "broker 127.0.0.1:38307 refuses connections (is it running?); still trying, "
                   "nothing is lost");
    /* the same line through a handle without an error callback (librdkafka's ERROR log) */
    l = explain("[thrd:app]: rdkafka#producer-3: 127.0.0.1:38307/1: Connect to "
                "ipv4#127.0.0.1:38307 failed: Connection refused (after 0ms in state CONNECT)",
                0, 0, 0, NULL);
    CHECK(l == BP_LOG_WARN && has("broker 127.0.0.1:38307 refuses connections"));

    /* the connection closed as the broker died: librdkafka guesses SASL; once is not a reason */
    l = explain("127.0.0.1:38307/1: Disconnected: verify that security.protocol is correctly "
                "configured, broker might require SASL authentication (after 990ms in state UP)",
                RD_KAFKA_RESP_ERR__TRANSPORT, 0, 0, NULL);
    CHECK(l == BP_LOG_INFO);
    CHECK(!has("SASL") && has("broker 127.0.0.1:38307 closed the connection"));
    /* ... but a listener that drops every connection at once, again and again, is one */
    l = explain("127.0.0.1:38307/bootstrap: Disconnected: verify that security.protocol is "
                "correctly configured, broker might require SASL authentication (after 36ms in "
                "state UP, 4 identical error(s) suppressed)",
                RD_KAFKA_RESP_ERR__TRANSPORT, 0, 0, NULL);
    CHECK(l == BP_LOG_ERROR && has("requires SASL") && has("kafka.security.protocol"));
    /* never when SASL is what the section already uses */
    l = explain("127.0.0.1:38307/bootstrap: Disconnected: verify that security.protocol is "
                "correctly configured, broker might require SASL authentication (after 36ms in "
                "state UP, 4 identical error(s) suppressed)",
                RD_KAFKA_RESP_ERR__TRANSPORT, 0, 1, NULL);
    CHECK(l == BP_LOG_INFO && !has("SASL"));
    l = explain("127.0.0.1:38307/bootstrap: Disconnected while requesting ApiVersion: might be "
                "caused by incorrect security.protocol configuration (connecting to a SSL "
                "listener?) or broker version is < 0.10 (see api.version.request) (after 2ms in "
                "state APIVERSION_QUERY, 3 identical error(s) suppressed)",
                0, 0, 0, NULL);
    CHECK(l == BP_LOG_ERROR && has("expects TLS"));

    /* all brokers down: the one line the tests grep for */
    l = explain("1/1 brokers are down", RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, 0, 0, NULL);
    CHECK(l == BP_LOG_WARN && has("cannot reach any Kafka broker of brokers = 127.0.0.1:38307"));

    /* TLS: librdkafka's sentence is the same for every certificate failure; the error OpenSSL
     * gave the certificate check tells them apart */
    static const char verify_failed[] =
        "ssl://kafka-1.ward.example:9093/bootstrap: SSL handshake failed: error:0A000086:SSL "
        "routines::certificate verify failed: broker certificate could not be verified, verify "
        "that ssl.ca.location is correctly configured or root CA certificates are installed "
        "(install ca-certificates package) (after 8ms in state SSL_HANDSHAKE)";
    l = explain(verify_failed, RD_KAFKA_RESP_ERR__SSL, 62, 0, "certs/ward-ca.pem");
    CHECK(l == BP_LOG_ERROR && has("kafka-1.ward.example:9093 is issued for another host name"));
    CHECK(!has("not signed by"));
    l = explain(verify_failed, RD_KAFKA_RESP_ERR__SSL, 20, 0, "certs/ward-ca.pem");
    CHECK(l == BP_LOG_ERROR && has("not signed by the CA in kafka.ssl.ca.location = "
                                   "certs/ward-ca.pem"));
    l = explain(verify_failed, RD_KAFKA_RESP_ERR__SSL, 18, 0, NULL);
    CHECK(l == BP_LOG_ERROR && has("no kafka.ssl.ca.location is given"));
    l = explain(verify_failed, RD_KAFKA_RESP_ERR__SSL, 10, 0, NULL);
    CHECK(l == BP_LOG_ERROR && has("has expired"));
    l = explain("ssl://127.0.0.1:54513/bootstrap: SSL handshake failed: Disconnected: connecting "
                "to a PLAINTEXT broker listener? (after 1ms in state SSL_HANDSHAKE)",
                RD_KAFKA_RESP_ERR__SSL, 0, 0, NULL);
    CHECK(l == BP_LOG_ERROR && has("does its listener speak TLS"));

    /* anything else is librdkafka's to say */
    CHECK(explain("Local: Fatal error", RD_KAFKA_RESP_ERR__FATAL, 0, 0, NULL) == -1);
    return CHECK_DONE();
}
