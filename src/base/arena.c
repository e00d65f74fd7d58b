#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void bp_arena_init(bp_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->free = NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->grows = false;
}

void bp_arena_init_growing(bp_arena *a, size_t chunk_size)
{
    bp_arena_init(a, chunk_size);
    a->grows = true;
}

static bp_arena_chunk *new_chunk(bp_arena *a, size_t need)
{
    /* Reuse a kept chunk when it is big enough; big one-off requests get their own chunk. */
    for (bp_arena_chunk **p = &a->free; *p; p = &(*p)->next) {
        if ((*p)->size >= need) {
            bp_arena_chunk *c = *p;
            *p = c->next;
            c->used = 0;
            return c;
        }
    }
    size_t size = need > a->chunk_size ? need : a->chunk_size;
    if (a->grows) {
        size_t held = bp_arena_bytes(a);
        if (held > size)
            size = held;
    }
    bp_arena_chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *bp__arena_alloc_in_new_chunk(bp_arena *a, size_t rounded)
{
    bp_arena_chunk *c = new_chunk(a, rounded);
    if (!c)
        return NULL;
    c->next = a->head;
    a->head = c;
    c->used = rounded;
    return c->data;
}

void *bp_arena_alloc(bp_arena *a, size_t size)
{
    void *p = bp_arena_alloc_raw(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

char *bp_arena_strndup(bp_arena *a, const char *s, size_t len)
{
    if (!s)
        return NULL;
    char *d = bp_arena_alloc_raw(a, len + 1); /* every byte is written: no zeroing first */
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *bp_arena_strdup(bp_arena *a, const char *s)
{
    return s ? bp_arena_strndup(a, s, strlen(s)) : NULL;
}

bool bp_arena_owns(const bp_arena *a, const void *p)
{
    uintptr_t at = (uintptr_t)p;
    for (const bp_arena_chunk *c = a->head; c; c = c->next)
        if (at >= (uintptr_t)c->data && at < (uintptr_t)c->data + c->size)
            return true;
    return false;
}

size_t bp_arena_bytes(const bp_arena *a)
{
    size_t n = 0;
    for (const bp_arena_chunk *c = a->head; c; c = c->next)
        n += c->size;
    return n;
}

size_t bp_arena_used(const bp_arena *a)
{
    size_t n = 0;
    for (const bp_arena_chunk *c = a->head; c; c = c->next)
        n += c->used;
    return n;
}

void bp_arena_reset(bp_arena *a)
{
    while (a->head) {
        bp_arena_chunk *c = a->head;
        a->head = c->next;
        c->next = a->free;
        a->free = c;
    }
}

void bp_arena_free(bp_arena *a)
{
    bp_arena_reset(a);
    while (a->free) {
        bp_arena_chunk *c = a->free;
        a->free = c->next;
        free(c);
    }
}
