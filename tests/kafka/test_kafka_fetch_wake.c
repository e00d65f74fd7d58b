/* source-kafka's fetch waker against a real consumer of librdkafka's in-process mock cluster:
 * it sends its watermark query only in a backlog (a full batch before, or one of half the
 * queue's limit in bytes) and only while the consumer queue holds less than a batch. A quiet
 * consumer is never woken: each query sat between the broker's fetch answers and tripled the
 * ward's p99 latency at 5 000 readings/s. */
#include "check.h"

#include "fetch_wake.h"

#include <librdkafka/rdkafka_mock.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TOPIC "wake"
#define MESSAGES 50

static rd_kafka_conf_t *conf_with(const char *bootstrap, const char *group, const char *kbytes)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    CHECK(rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof err) ==
          RD_KAFKA_CONF_OK);
    if (group)
        CHECK(rd_kafka_conf_set(c, "group.id", group, err, sizeof err) == RD_KAFKA_CONF_OK);
    if (kbytes)
        CHECK(rd_kafka_conf_set(c, "queued.max.messages.kbytes", kbytes, err, sizeof err) ==
              RD_KAFKA_CONF_OK);
    return c;
}

static size_t queue_length(rd_kafka_t *rk)
{
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    size_t n = rd_kafka_queue_length(q);
    rd_kafka_queue_destroy(q);
    return n;
}

int main(void)
{
    if (rd_kafka_version() >= BP_FETCH_WAKES_ITSELF) {
        /* The waker stands aside there (fetch.queue.backoff.ms does its work). */
        bp_fetch_wake w;
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        bp_fetch_wake_init(&w, c);
        bp_fetch_wake_note_batch(&w, 10, 10, 0);
        CHECK(bp_fetch_wake_poke(&w, NULL, 1000, 1) == 0);
        rd_kafka_conf_destroy(c);
        printf("librdkafka %s wakes its fetcher itself: nothing sent\n", rd_kafka_version_str());
        return CHECK_DONE();
    }
    char err[256];
    /* A producer owns the mock cluster; the consumer is a client of it like any other. */
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    CHECK(rd_kafka_conf_set(pc, "test.mock.num.brokers", "1", err, sizeof err) == RD_KAFKA_CONF_OK);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    CHECK(producer != NULL);
    rd_kafka_mock_cluster_t *mock = rd_kafka_handle_mock_cluster(producer);
    CHECK(mock != NULL);
    CHECK(rd_kafka_mock_topic_create(mock, TOPIC, 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mock);

    /* The limit is read from the consumer's configuration: 2048 KiB, and librdkafka's
     * default when the section leaves it. */
    bp_fetch_wake w;
    rd_kafka_conf_t *cc = conf_with(bootstrap, "wake-test", "2048");
    bp_fetch_wake_init(&w, cc);
    CHECK(w.queue_bytes == 2048u * 1024u);
    rd_kafka_conf_t *defaults = conf_with(bootstrap, NULL, NULL);
    bp_fetch_wake dw;
    bp_fetch_wake_init(&dw, defaults);
    CHECK(dw.queue_bytes >= 1024u * 1024u); /* 64 MiB in the 2.x line */
    rd_kafka_conf_destroy(defaults);

    /* What a batch says: a full one or one of half the limit in bytes is a backlog. */
    bp_fetch_wake_note_batch(&w, 60, 1000, 70 * 1024);
    CHECK(!w.backlog);
    bp_fetch_wake_note_batch(&w, 1000, 1000, 1200 * 1024);
    CHECK(w.backlog);
    bp_fetch_wake_note_batch(&w, 900, 1000, 1024 * 1024);
    CHECK(w.backlog); /* not full, but half the 2 MiB queue: fetching may have stopped */
    bp_fetch_wake_note_batch(&w, 0, 0, 0);
    CHECK(!w.backlog); /* nothing asked (a batch already full when the poll came) */

    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    CHECK(consumer != NULL);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, TOPIC, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    CHECK(rd_kafka_assign(consumer, parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    /* Quiet: the last batch took what had come. Nothing is sent, empty queue or not. */
    bp_fetch_wake_note_batch(&w, 3, 1000, 3 * 1200);
    CHECK(bp_fetch_wake_poke(&w, consumer, 1000, 1) == 0);

    /* A backlog with the queue drained: the fetcher is woken, each partition in turn. */
    bp_fetch_wake_note_batch(&w, 1000, 1000, 1200 * 1024);
    CHECK(bp_fetch_wake_poke(&w, consumer, 1000, 1) == 1);

    /* A backlog whose queue still holds a batch is being read: nothing sent. */
    for (int i = 0; i < MESSAGES; i++) {
        char value[32];
        int len = snprintf(value, sizeof value, "reading %d", i);
        CHECK(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE(value, (size_t)len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    CHECK(rd_kafka_flush(producer, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    /* Wait for the consumer's fetcher to queue them (a condition, bounded by a deadline). */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (queue_length(consumer) >= MESSAGES)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 60) {
            CHECK(!"the consumer queued the produced messages within 60 s");
            break;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    CHECK(bp_fetch_wake_poke(&w, consumer, MESSAGES / 2, 1) == 0);
    CHECK(bp_fetch_wake_poke(&w, consumer, MESSAGES + 1000, 1) == 1);
    /* Quiet, with readings waiting that came after the last batch (the usual start of a quiet
     * ward's batch): its fetcher is running, nothing is sent. */
    bp_fetch_wake_note_batch(&w, MESSAGES, 1000, MESSAGES * 10);
    CHECK(bp_fetch_wake_poke(&w, consumer, MESSAGES + 1000, 1) == 0);

    CHECK(rd_kafka_consumer_close(consumer) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    printf("fetch waker: quiet never woken, backlog woken below a batch\n");
    return CHECK_DONE();
}
