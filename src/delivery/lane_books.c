#include "delivery/lane_books.h"

#include <stdlib.h>
#include <string.h>

void bp_lane_publish_books(bp_sink_seen *seen, const bp_ctx *sink, pthread_mutex_t *mu)
{
    pthread_mutex_lock(mu);
    seen->delivered = sink->delivered;
    seen->rejected = sink->rejected;
    seen->retries = sink->retries;
    seen->spooled = sink->spooled;
    /* count() only appends names, so the copy grows at its end. */
    if (sink->n_counters > seen->cap) {
        bp_counter *grown = realloc(seen->counters, sink->n_counters * sizeof *grown);
        if (grown) {
            seen->counters = grown;
            seen->cap = sink->n_counters;
        }
    }
    while (seen->n_counters < sink->n_counters && seen->n_counters < seen->cap) {
        char *name = strdup(sink->counters[seen->n_counters].name);
        if (!name)
            break;
        seen->counters[seen->n_counters].name = name;
        seen->counters[seen->n_counters++].value = 0;
    }
    for (size_t i = 0; i < seen->n_counters; i++)
        seen->counters[i].value = sink->counters[i].value;
    pthread_mutex_unlock(mu);
}

void bp_lane_books_free(bp_sink_seen *seen)
{
    for (size_t k = 0; k < seen->n_counters; k++)
        free(seen->counters[k].name);
    free(seen->counters);
    memset(seen, 0, sizeof *seen);
}
