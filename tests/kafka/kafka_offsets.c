/* kafka_offsets BROKERS GROUP TOPIC: prints, one line per partition of TOPIC,
 * "PARTITION COMMITTED LOW HIGH": the offset GROUP committed (-1: none) and the partition's
 * watermarks. kcat lists no committed offsets; the Kafka tests use this to learn what a group
 * had committed when its member was killed. It asks the group coordinator (OffsetFetch) without
 * joining the group, so it changes nothing. Exits 1 (with the reason on stderr) on any error. */
#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 10000

static rd_kafka_t *consumer(const char *brokers, const char *group)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err)) {
        fprintf(stderr, "kafka_offsets: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_offsets: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* The partitions of `topic`, from the cluster's metadata. */
static rd_kafka_topic_partition_list_t *partitions(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (!e && (md->topic_cnt != 1 || md->topics[0].err))
        e = md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (e) {
        fprintf(stderr, "kafka_offsets: no metadata for %s: %s\n", topic, rd_kafka_err2str(e));
        if (md)
            rd_kafka_metadata_destroy(md);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(0);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_sort(l, NULL, NULL);
    return l;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: kafka_offsets BROKERS GROUP TOPIC\n");
        return 2;
    }
    rd_kafka_t *rk = consumer(argv[1], argv[2]);
    if (!rk)
        return 1;
    int rc = 1;
    rd_kafka_topic_partition_list_t *l = partitions(rk, argv[3]);
    rd_kafka_resp_err_t e = l ? rd_kafka_committed(rk, l, TIMEOUT_MS) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (l && e)
        fprintf(stderr, "kafka_offsets: committed offsets of %s: %s\n", argv[2],
                rd_kafka_err2str(e));
    for (int i = 0; l && !e && i < l->cnt; i++) {
        int64_t lo, hi;
        e = rd_kafka_query_watermark_offsets(rk, argv[3], l->elems[i].partition, &lo, &hi,
                                             TIMEOUT_MS);
        if (e) {
            fprintf(stderr, "kafka_offsets: watermarks of %s [%d]: %s\n", argv[3],
                    (int)l->elems[i].partition, rd_kafka_err2str(e));
            break;
        }
        printf("%d %lld %lld %lld\n", (int)l->elems[i].partition,
               (long long)(l->elems[i].offset >= 0 ? l->elems[i].offset : -1), (long long)lo,
               (long long)hi);
    }
    if (l && !e)
        rc = 0;
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return rc;
}
