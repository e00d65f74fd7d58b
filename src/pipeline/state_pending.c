/* The uncommitted batches of keyed state and their commit (see state_pending.h). Pure: no
 * globals. */
#include "pipeline/state_pending.h"

#include <stdlib.h>
#include <string.h>

bp_state_batch *bp_state_pending_add(bp_state_pending *pd, uint64_t seq)
{
    size_t at = pd->n;
    while (at > 0 && pd->batches[at - 1].seq >= seq)
        at--;
    if (at < pd->n && pd->batches[at].seq == seq)
        return &pd->batches[at];
    if (pd->n == pd->cap) {
        size_t cap = pd->cap ? pd->cap * 2 : 8;
        bp_state_batch *b = realloc(pd->batches, cap * sizeof *b);
        if (!b)
            return NULL;
        pd->batches = b;
        pd->cap = cap;
    }
    /* Ascending seq: a sink's lane may change a key for an older batch than a detector did. */
    if (at < pd->n)
        memmove(pd->batches + at + 1, pd->batches + at, (pd->n - at) * sizeof *pd->batches);
    pd->n++;
    bp_state_batch *b = &pd->batches[at];
    memset(b, 0, sizeof *b);
    b->seq = seq;
    return b;
}

bp_state_batch *bp_state_pending_find(const bp_state_pending *pd, uint64_t seq)
{
    for (size_t i = 0; i < pd->n; i++)
        if (pd->batches[i].seq == seq)
            return &pd->batches[i];
    return NULL;
}

int bp_state_batch_note(bp_state_batch *b, bp_state_scope *s, bp_state_entry *e)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        bp_state_touch *t = realloc(b->items, cap * sizeof *t);
        if (!t)
            return -1;
        b->items = t;
        b->cap = cap;
    }
    b->items[b->n++] = (bp_state_touch){s, e};
    return 0;
}

bool bp_state_pending_commit(bp_state_pending *pd, uint64_t seq)
{
    bool changed = false;
    size_t done = 0;
    for (; done < pd->n && pd->batches[done].seq <= seq; done++) {
        bp_state_batch *b = &pd->batches[done];
        for (size_t j = 0; j < b->n; j++) {
            bp_state_scope *s = b->items[j].scope;
            bp_state_entry *e = b->items[j].e;
            if (!bp_state_entry_fold(e))
                continue;
            if (!s->dropped)
                changed = true;
            if (bp_state_entry_empty(e))
                bp_state_table_remove(&s->table, e);
        }
        free(b->items);
    }
    if (done)
        memmove(pd->batches, pd->batches + done, (pd->n - done) * sizeof *pd->batches);
    pd->n -= done;
    return changed;
}

/* Keeps the changes `keep` says yes to, in their order. */
static void filter(bp_state_pending *pd, bool (*keep)(const bp_state_touch *t, const void *arg),
                   const void *arg)
{
    for (size_t i = 0; i < pd->n; i++) {
        bp_state_batch *b = &pd->batches[i];
        size_t k = 0;
        for (size_t j = 0; j < b->n; j++)
            if (keep(&b->items[j], arg))
                b->items[k++] = b->items[j];
        b->n = k;
    }
}

static bool not_in_scope(const bp_state_touch *t, const void *scope)
{
    return t->scope != scope;
}

static bool not_of_owner(const bp_state_touch *t, const void *owner)
{
    return t->e->owner != *(const uint32_t *)owner;
}

void bp_state_pending_forget_scope(bp_state_pending *pd, const bp_state_scope *s)
{
    filter(pd, not_in_scope, s);
}

void bp_state_pending_forget_owner(bp_state_pending *pd, uint32_t owner)
{
    filter(pd, not_of_owner, &owner);
}

void bp_state_pending_free(bp_state_pending *pd)
{
    for (size_t i = 0; i < pd->n; i++)
        free(pd->batches[i].items);
    free(pd->batches);
    pd->batches = NULL;
    pd->n = pd->cap = 0;
}
