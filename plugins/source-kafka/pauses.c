/* The partitions this consumer has paused (pauses.h says why the changes are kept few). */
#include "pauses.h"

void bp_kpauses_init(bp_kpauses *p)
{
    p->paused = rd_kafka_topic_partition_list_new(4);
}

void bp_kpauses_free(bp_kpauses *p)
{
    if (p->paused)
        rd_kafka_topic_partition_list_destroy(p->paused);
    p->paused = NULL;
}

bool bp_kpauses_has(const bp_kpauses *p, const char *topic, int32_t partition)
{
    return rd_kafka_topic_partition_list_find(p->paused, topic, partition) != NULL;
}

int bp_kpauses_set(bp_kpauses *p, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                   bool pause)
{
    rd_kafka_topic_partition_list_t *change = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &parts->elems[i];
        if (bp_kpauses_has(p, e->topic, e->partition) != pause)
            rd_kafka_topic_partition_list_add(change, e->topic, e->partition);
    }
    int unknown = 0;
    if (change->cnt) {
        rd_kafka_resp_err_t err = (pause ? rd_kafka_pause_partitions
                                         : rd_kafka_resume_partitions)(rk, change);
        if (err) {
            rd_kafka_topic_partition_list_destroy(change);
            return -1;
        }
    }
    for (int i = 0; i < change->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &change->elems[i];
        if (e->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && pause) {
            unknown++;
            continue;
        }
        /* A resume librdkafka cannot apply finds no partition, and so no pause, left. */
        if (pause && !e->err)
            rd_kafka_topic_partition_list_add(p->paused, e->topic, e->partition);
        else if (!pause)
            rd_kafka_topic_partition_list_del(p->paused, e->topic, e->partition);
    }
    rd_kafka_topic_partition_list_destroy(change);
    return unknown;
}

bool bp_kpauses_pause_one(bp_kpauses *p, rd_kafka_t *rk, const char *topic, int32_t partition)
{
    if (bp_kpauses_has(p, topic, partition))
        return false;
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, topic, partition);
    int unknown = bp_kpauses_set(p, rk, one, true);
    bool paused = unknown == 0 && bp_kpauses_has(p, topic, partition);
    rd_kafka_topic_partition_list_destroy(one);
    return paused;
}
