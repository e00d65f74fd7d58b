/* Alarm ids: deterministic (a replay of the same readings gives the same ids), and telling which
 * input partition owns the alarm, so an acknowledgement can be sent to the owner's partition. */
#include "alarm/alarm.h"

#include "common/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bp_alarm_id_make(char *out, size_t out_len, const char *topic, int32_t partition,
                      const char *patient, const char *condition, const char *reading_stable_id)
{
    /* NUL bytes between the parts: no two different triples hash the same text. */
    size_t np = strlen(patient), nc = strlen(condition),
           nr = reading_stable_id ? strlen(reading_stable_id) : 0;
    char *text = malloc(np + nc + nr + 3);
    uint8_t h[32];
    if (text) {
        memcpy(text, patient, np + 1);
        memcpy(text + np + 1, condition, nc + 1);
        memcpy(text + np + nc + 2, reading_stable_id ? reading_stable_id : "", nr + 1);
        bp_sha256(text, np + nc + nr + 3, h);
        free(text);
    } else {
        memset(h, 0, sizeof h);
    }
    char hex[17];
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    /* Kafka topic names never hold '~': the first two of the id end the topic and partition. */
    /* An id that would not fit whole (a topic name longer than Kafka allows) is the hash alone:
     * it names no partition then, but it is never cut. */
    int n = -1;
    if (topic && *topic && partition >= 0 && !strchr(topic, '~'))
        n = snprintf(out, out_len, "%s~%d~%s", topic, (int)partition, hex);
    if (n < 0 || (size_t)n >= out_len)
        snprintf(out, out_len, "%s", hex);
}

int bp_alarm_id_location(const char *id, char *topic, size_t topic_len, int32_t *partition)
{
    if (topic_len)
        topic[0] = '\0';
    *partition = -1;
    const char *t1 = id ? strchr(id, '~') : NULL;
    const char *t2 = t1 ? strchr(t1 + 1, '~') : NULL;
    if (!t1 || !t2 || t1 == id || t2 == t1 + 1 || (size_t)(t1 - id) >= topic_len)
        return -1;
    long p = 0;
    for (const char *c = t1 + 1; c < t2; c++) {
        if (*c < '0' || *c > '9' || p > 2147483647L / 10)
            return -1;
        p = p * 10 + (*c - '0');
    }
    if (p > 2147483647L)
        return -1;
    memcpy(topic, id, (size_t)(t1 - id));
    topic[t1 - id] = '\0';
    *partition = (int32_t)p;
    return 0;
}
