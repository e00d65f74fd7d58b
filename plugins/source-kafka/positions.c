#include "positions.h"

#include <stdlib.h>
#include <string.h>

static bp_kpos *find(const bp_kpositions *p, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].partition == partition && strcmp(p->items[i].topic, topic) == 0)
            return &p->items[i];
    return NULL;
}

int bp_kpos_raise(bp_kpositions *p, const char *topic, int32_t partition, int64_t next)
{
    if (!p || !topic || next < 0)
        return -1;
    bp_kpos *e = find(p, topic, partition);
    if (e) {
        if (next > e->next)
            e->next = next;
        return 0;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        bp_kpos *items = realloc(p->items, cap * sizeof *items);
        if (!items)
            return -1;
        p->items = items;
        p->cap = cap;
    }
    char *copy = strdup(topic);
    if (!copy)
        return -1;
    p->items[p->n++] = (bp_kpos){.topic = copy, .partition = partition, .next = next};
    return 0;
}

int bp_kpos_note(bp_kpositions *p, const char *topic, int32_t partition, int64_t offset)
{
    if (offset < 0 || offset == INT64_MAX)
        return -1;
    return bp_kpos_raise(p, topic, partition, offset + 1);
}

int bp_kpos_merge(bp_kpositions *dst, const bp_kpositions *src)
{
    if (!dst || !src)
        return -1;
    for (size_t i = 0; i < src->n; i++)
        if (bp_kpos_raise(dst, src->items[i].topic, src->items[i].partition,
                          src->items[i].next) != 0)
            return -1;
    return 0;
}

const bp_kpos *bp_kpos_find(const bp_kpositions *p, const char *topic, int32_t partition)
{
    return p && topic ? find(p, topic, partition) : NULL;
}

void bp_kpos_remove(bp_kpositions *p, const char *topic, int32_t partition)
{
    bp_kpos *e = p && topic ? find(p, topic, partition) : NULL;
    if (!e)
        return;
    free(e->topic);
    *e = p->items[--p->n]; /* order does not matter */
}

void bp_kpos_clear(bp_kpositions *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].topic);
    p->n = 0;
}

void bp_kpos_free(bp_kpositions *p)
{
    if (!p)
        return;
    bp_kpos_clear(p);
    free(p->items);
    memset(p, 0, sizeof *p);
}
