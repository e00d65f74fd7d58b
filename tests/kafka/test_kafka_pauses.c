/* source-kafka's pause keeping (plugins/source-kafka/pauses.h) against a real consumer of
 * librdkafka's in-process mock cluster: a partition is paused or resumed only when its state
 * changes; a pause made before an assignment holds through it (the assignment's fetch start is
 * queued after it, so it is never made stale), and a resume lets the partition go on from where
 * it stopped; a partition librdkafka does not know yet is reported, left running, and paused at
 * its first message. */
#include "check.h"

#include "pauses.h"

#include <librdkafka/rdkafka_mock.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define TOPIC "pauses"
#define FRESH "pauses-fresh"

static rd_kafka_t *producer;

static void produce(const char *topic, int32_t partition, int n)
{
    for (int i = 0; i < n; i++) {
        char value[32];
        int len = snprintf(value, sizeof value, "reading %d", i);
        CHECK(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE(value, (size_t)len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    CHECK(rd_kafka_flush(producer, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* What a read brought, per partition: how many, and the lowest and highest offset. */
typedef struct {
    int n[2];
    int64_t lo[2], hi[2];
} got;

static void take(got *g, const rd_kafka_message_t *m)
{
    int p = m->partition;
    if (p < 0 || p > 1)
        return;
    if (g->n[p] == 0 || m->offset < g->lo[p])
        g->lo[p] = m->offset;
    if (g->n[p] == 0 || m->offset > g->hi[p])
        g->hi[p] = m->offset;
    g->n[p]++;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Reads until partition 0 has brought `want0` and partition 1 `want1` (a condition, bounded by
 * 60 s), then for as long as messages keep coming within 300 ms, so that one that should not
 * come is seen. */
static got read_until(rd_kafka_t *rk, int want0, int want1)
{
    got g = {{0, 0}, {0, 0}, {0, 0}};
    double deadline = now_s() + 60;
    while ((g.n[0] < want0 || g.n[1] < want1) && now_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && !m->err)
            take(&g, m);
        if (m)
            rd_kafka_message_destroy(m);
    }
    CHECK(g.n[0] >= want0 && g.n[1] >= want1);
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(rk, 300)) != NULL) {
        if (!m->err)
            take(&g, m);
        rd_kafka_message_destroy(m);
    }
    return g;
}

static rd_kafka_topic_partition_list_t *parts_of(const char *topic, int n, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = offset;
    return l;
}

int main(void)
{
    char err[256];
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    CHECK(rd_kafka_conf_set(pc, "test.mock.num.brokers", "1", err, sizeof err) == RD_KAFKA_CONF_OK);
    producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    CHECK(producer != NULL);
    rd_kafka_mock_cluster_t *mock = rd_kafka_handle_mock_cluster(producer);
    CHECK(mock != NULL);
    CHECK(rd_kafka_mock_topic_create(mock, TOPIC, 2, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(rd_kafka_mock_topic_create(mock, FRESH, 2, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    CHECK(rd_kafka_conf_set(cc, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mock), err,
                            sizeof err) == RD_KAFKA_CONF_OK);
    CHECK(rd_kafka_conf_set(cc, "group.id", "pauses-test", err, sizeof err) == RD_KAFKA_CONF_OK);
    CHECK(rd_kafka_conf_set(cc, "enable.auto.commit", "false", err, sizeof err) ==
          RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    CHECK(rk != NULL);
    rd_kafka_poll_set_consumer(rk);
    bp_kpauses p;
    bp_kpauses_init(&p);

    /* Resuming partitions that are not paused changes nothing: no call reaches librdkafka
     * (a handle that is not there is never touched). */
    rd_kafka_topic_partition_list_t *both = parts_of(TOPIC, 2, RD_KAFKA_OFFSET_BEGINNING);
    CHECK(bp_kpauses_set(&p, NULL, both, false) == 0);
    CHECK(!bp_kpauses_has(&p, TOPIC, 0) && !bp_kpauses_has(&p, TOPIC, 1));
    produce(TOPIC, 0, 5);
    produce(TOPIC, 1, 5);
    CHECK(rd_kafka_assign(rk, both) == RD_KAFKA_RESP_ERR_NO_ERROR);
    got g = read_until(rk, 5, 5);
    CHECK(g.n[0] == 5 && g.n[1] == 5);

    /* Paused while fetching: partition 1 goes on, partition 0 waits; a second pause is no
     * change; the resume goes on where it stopped. */
    rd_kafka_topic_partition_list_t *first = parts_of(TOPIC, 1, RD_KAFKA_OFFSET_INVALID);
    CHECK(bp_kpauses_set(&p, rk, first, true) == 0);
    CHECK(bp_kpauses_has(&p, TOPIC, 0) && !bp_kpauses_has(&p, TOPIC, 1));
    CHECK(bp_kpauses_set(&p, NULL, first, true) == 0); /* no call reaches librdkafka */
    CHECK(!bp_kpauses_pause_one(&p, NULL, TOPIC, 0)); /* already paused */
    produce(TOPIC, 0, 5);
    produce(TOPIC, 1, 5);
    g = read_until(rk, 0, 5);
    CHECK(g.n[0] == 0 && g.n[1] == 5);
    CHECK(bp_kpauses_set(&p, rk, first, false) == 0);
    CHECK(!bp_kpauses_has(&p, TOPIC, 0));
    g = read_until(rk, 5, 0);
    CHECK(g.n[0] == 5 && g.lo[0] == 5 && g.hi[0] == 9 && g.n[1] == 0);

    /* An assignment as source-kafka's rebalance callback makes it: partition 0 paused before
     * rd_kafka_assign() (librdkafka knows it from the assignment before), and the pause holds
     * through the assignment; its resume later starts it where the assignment said. */
    CHECK(rd_kafka_assign(rk, NULL) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(bp_kpauses_set(&p, rk, first, true) == 0);
    CHECK(bp_kpauses_has(&p, TOPIC, 0));
    rd_kafka_topic_partition_list_t *from10 = parts_of(TOPIC, 2, 10);
    CHECK(rd_kafka_assign(rk, from10) == RD_KAFKA_RESP_ERR_NO_ERROR);
    produce(TOPIC, 0, 3);
    produce(TOPIC, 1, 3);
    g = read_until(rk, 0, 3);
    CHECK(g.n[0] == 0 && g.n[1] == 3 && g.lo[1] == 10);
    CHECK(bp_kpauses_set(&p, rk, both, false) == 0); /* only partition 0 changes */
    CHECK(!bp_kpauses_has(&p, TOPIC, 0) && !bp_kpauses_has(&p, TOPIC, 1));
    g = read_until(rk, 3, 0);
    CHECK(g.n[0] == 3 && g.lo[0] == 10 && g.hi[0] == 12 && g.n[1] == 0);

    /* Partitions librdkafka has never had assigned here: what it does not know is reported and
     * left running (pausing it after its assignment could make its fetch start stale), and
     * paused at its first message, its fetch having started. */
    produce(FRESH, 0, 2);
    produce(FRESH, 1, 2);
    rd_kafka_topic_partition_list_t *fresh = parts_of(FRESH, 2, RD_KAFKA_OFFSET_BEGINNING);
    int unknown = bp_kpauses_set(&p, rk, fresh, true);
    CHECK(unknown >= 0 && unknown <= 2);
    CHECK((int)!bp_kpauses_has(&p, FRESH, 0) + (int)!bp_kpauses_has(&p, FRESH, 1) == unknown);
    CHECK(rd_kafka_assign(rk, fresh) == RD_KAFKA_RESP_ERR_NO_ERROR);
    double deadline = now_s() + 60;
    while (!(bp_kpauses_has(&p, FRESH, 0) && bp_kpauses_has(&p, FRESH, 1)) &&
           now_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m && !m->err && strcmp(rd_kafka_topic_name(m->rkt), FRESH) == 0 &&
            !bp_kpauses_has(&p, FRESH, m->partition))
            CHECK(bp_kpauses_pause_one(&p, rk, FRESH, m->partition));
        if (m)
            rd_kafka_message_destroy(m);
    }
    CHECK(bp_kpauses_has(&p, FRESH, 0) && bp_kpauses_has(&p, FRESH, 1));
    printf("pauses: %d of 2 fresh partitions unknown before their assignment\n", unknown);

    rd_kafka_topic_partition_list_destroy(fresh);
    rd_kafka_topic_partition_list_destroy(from10);
    rd_kafka_topic_partition_list_destroy(first);
    rd_kafka_topic_partition_list_destroy(both);
    bp_kpauses_free(&p);
    CHECK(rd_kafka_consumer_close(rk) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    rd_kafka_destroy(producer);
    return CHECK_DONE();
}
