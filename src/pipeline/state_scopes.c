/* The scopes of keyed state, one per input partition held (see state_scopes.h). Pure: no
 * globals. */
#include "pipeline/state_scopes.h"

#include <stdlib.h>
#include <string.h>

/* A source without partitions keeps one scope, whatever it names its topics (source-file names
 * files there): a patient's history does not depend on the file the reading came from. */
static bool partitioned(int32_t partition)
{
    return partition >= 0;
}

static bool same_scope(const bp_state_scope *s, const char *topic, int32_t partition)
{
    if (!partitioned(partition))
        return !partitioned(s->partition);
    return s->partition == partition &&
           (s->topic && topic ? strcmp(s->topic, topic) == 0 : s->topic == topic);
}

static void free_scope(bp_state_scope *s)
{
    bp_state_table_free(&s->table);
    free(s->topic);
    free(s);
}

bp_state_scope *bp_state_scopes_live(bp_state_scopes *ss, const char *topic, int32_t partition)
{
    if (ss->last_hit && !ss->last_hit->dropped && same_scope(ss->last_hit, topic, partition))
        return ss->last_hit;
    for (bp_state_scope *s = ss->list; s; s = s->next)
        if (!s->dropped && same_scope(s, topic, partition))
            return ss->last_hit = s;
    bp_state_scope *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->partition = partitioned(partition) ? partition : -1;
    s->id = ++ss->next_id;
    if (bp_state_table_init(&s->table) != 0 ||
        (partitioned(partition) && topic && !(s->topic = strdup(topic)))) {
        free(s->table.buckets);
        free(s);
        return NULL;
    }
    s->next = ss->list;
    ss->list = s;
    ss->by_id[s->id % BP_STATE_SCOPES_BY_ID] = s;
    return ss->last_hit = s;
}

bp_state_scope *bp_state_scopes_by_id(const bp_state_scopes *ss, uint64_t id)
{
    if (ss->last_hit && ss->last_hit->id == id)
        return ss->last_hit;
    bp_state_scope *slot = ss->by_id[id % BP_STATE_SCOPES_BY_ID];
    if (slot && slot->id == id)
        return slot;
    for (bp_state_scope *s = ss->list; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

void bp_state_scopes_drop(bp_state_scopes *ss, const char *topic, int32_t partition, uint64_t seq)
{
    for (bp_state_scope *s = ss->list; s; s = s->next)
        if (!s->dropped && same_scope(s, topic, partition)) {
            s->dropped = true;
            s->drop_seq = seq;
            if (ss->last_hit == s)
                ss->last_hit = NULL;
        }
}

void bp_state_scopes_free_dropped(bp_state_scopes *ss, uint64_t committed_seq,
                                  void (*forget)(void *user, const bp_state_scope *s), void *user)
{
    for (bp_state_scope **sp = &ss->list; *sp;) {
        bp_state_scope *s = *sp;
        if (s->dropped && s->drop_seq <= committed_seq) {
            *sp = s->next;
            if (ss->last_hit == s)
                ss->last_hit = NULL;
            if (ss->by_id[s->id % BP_STATE_SCOPES_BY_ID] == s)
                ss->by_id[s->id % BP_STATE_SCOPES_BY_ID] = NULL;
            forget(user, s);
            free_scope(s);
        } else {
            sp = &s->next;
        }
    }
}

void bp_state_scopes_purge_owner(bp_state_scopes *ss, uint32_t owner)
{
    for (bp_state_scope *s = ss->list; s; s = s->next)
        bp_state_table_purge_owner(&s->table, owner);
}

size_t bp_state_scopes_keys(const bp_state_scopes *ss)
{
    size_t n = 0;
    for (const bp_state_scope *s = ss->list; s; s = s->next)
        if (!s->dropped)
            n += s->table.n_entries;
    return n;
}

void bp_state_scopes_free(bp_state_scopes *ss)
{
    for (bp_state_scope *s = ss->list, *next; s; s = next) {
        next = s->next;
        free_scope(s);
    }
    ss->list = ss->last_hit = NULL;
    memset(ss->by_id, 0, sizeof ss->by_id);
}
