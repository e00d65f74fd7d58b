/* A bump allocator for everything that lives as long as one batch: records, their strings,
 * annotations and documents. One reset frees it all, so the hot path makes no per-reading
 * malloc/free pairs once the arena has grown to its working size. */
#ifndef BPPIPE_ARENA_H
#define BPPIPE_ARENA_H

#include <stddef.h>

typedef struct bp_arena_chunk bp_arena_chunk;

typedef struct bp_arena {
    bp_arena_chunk *head; /* chunk being filled */
    bp_arena_chunk *free; /* chunks kept for reuse after a reset */
    size_t chunk_size;    /* default size of new chunks */
} bp_arena;

void bp_arena_init(bp_arena *a, size_t chunk_size);
/* Returns 8-byte aligned memory, or NULL when out of memory. Zero-filled. */
void *bp_arena_alloc(bp_arena *a, size_t size);
/* Copies `len` bytes and adds a NUL; NULL in gives NULL out. */
char *bp_arena_strndup(bp_arena *a, const char *s, size_t len);
char *bp_arena_strdup(bp_arena *a, const char *s);
/* Bytes of memory the arena holds for its current allocations (whole chunks). */
size_t bp_arena_bytes(const bp_arena *a);
/* Forgets every allocation but keeps the memory for the next batch. */
void bp_arena_reset(bp_arena *a);
void bp_arena_free(bp_arena *a);

#endif
