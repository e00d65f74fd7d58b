/* A bump allocator for memory that lives as long as one unit of work and goes at once: a
 * batch's records, their strings, annotations and documents (the runner), and the cJSON trees
 * and composed strings of one payload (the FHIR decoder). One reset frees it all, so the hot
 * path makes no per-item malloc/free pairs once the arena has grown to its working size. */
#ifndef BPPIPE_ARENA_H
#define BPPIPE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bp_arena_chunk bp_arena_chunk;

/* This header's part is private to arena.c and bp_arena_alloc_raw below: one chunk of memory. */
struct bp_arena_chunk {
    bp_arena_chunk *next;
    size_t size, used;
    max_align_t data[]; /* the bytes handed out */
};

typedef struct bp_arena {
    bp_arena_chunk *head; /* chunk being filled, then the older ones in use */
    bp_arena_chunk *free; /* chunks kept for reuse after a reset */
    size_t chunk_size;    /* default size of new chunks */
    bool grows;           /* new chunks at least as large as all in use (bp_arena_init_growing) */
} bp_arena;

void bp_arena_init(bp_arena *a, size_t chunk_size);
/* Like bp_arena_init, but each new chunk is at least as large as the chunks in use together, so
 * a unit of any size takes few chunks (and bp_arena_owns stays quick). */
void bp_arena_init_growing(bp_arena *a, size_t chunk_size);
/* Returns 8-byte aligned memory, or NULL when out of memory. Zero-filled. */
void *bp_arena_alloc(bp_arena *a, size_t size);
/* The same, not zero-filled: for a caller that writes every byte itself. Inline: the decoder's
 * cJSON nodes, a hundred and more per payload, come through it one by one. */
static inline void *bp_arena_alloc_raw(bp_arena *a, size_t size);
/* Copies `len` bytes and adds a NUL; NULL in gives NULL out. */
char *bp_arena_strndup(bp_arena *a, const char *s, size_t len);
char *bp_arena_strdup(bp_arena *a, const char *s);
/* Whether `p` points into a chunk the arena has handed memory out of since its last reset. */
bool bp_arena_owns(const bp_arena *a, const void *p);
/* Bytes of memory the arena holds for its current allocations (whole chunks). */
size_t bp_arena_bytes(const bp_arena *a);
/* Bytes handed out since the last reset, each allocation rounded up to 8: what the allocations
 * use, not the chunks behind them. A growing arena's chunks in use are at most about twice
 * this plus its first chunk (each new chunk is as large as all before it). Summed over the
 * chunks in use when asked, so that allocating stays as cheap as it was. */
size_t bp_arena_used(const bp_arena *a);
/* Forgets every allocation but keeps the memory for the next batch. */
void bp_arena_reset(bp_arena *a);
void bp_arena_free(bp_arena *a);

/* bp_arena_alloc_raw's way when the chunk being filled has no room (private to this header). */
void *bp__arena_alloc_in_new_chunk(bp_arena *a, size_t rounded);

static inline void *bp_arena_alloc_raw(bp_arena *a, size_t size)
{
    size_t rounded = (size + 7u) & ~(size_t)7u;
    if (rounded < size)
        return NULL;
    bp_arena_chunk *c = a->head;
    if (!c || c->size - c->used < rounded)
        return bp__arena_alloc_in_new_chunk(a, rounded);
    void *p = (char *)c->data + c->used;
    c->used += rounded;
    return p;
}

#endif
