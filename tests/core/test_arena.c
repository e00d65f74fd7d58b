/* The arena's two measures (src/base/arena.h): bp_arena_used, what a lane counts for a batch
 * (the bytes handed out, not the chunks), and bp_arena_bytes, the chunks behind them; a growing
 * arena from a small first chunk keeps the second within about twice the first, and a reset
 * keeps its chunks for the next batch. */
#include "base/arena.h"
#include "check.h"

#include <stdint.h>

int main(void)
{
    bp_arena a;
    bp_arena_init_growing(&a, 4096);
    CHECK(bp_arena_used(&a) == 0 && bp_arena_bytes(&a) == 0);

    /* One small batch: a few hundred bytes counted, one first chunk behind them. */
    CHECK(bp_arena_alloc(&a, 300) != NULL);
    CHECK(bp_arena_strdup(&a, "PAT-001") != NULL); /* 8 bytes with its NUL */
    CHECK(bp_arena_alloc_raw(&a, 5) != NULL);      /* rounded up to 8 */
    CHECK(bp_arena_used(&a) == 304 + 8 + 8);
    CHECK(bp_arena_bytes(&a) == 4096);

    /* A large batch: the chunks double, so what is behind stays within twice the count plus
     * the first chunk and the ends left in each chunk when an allocation did not fit (under
     * one allocation each, in fewer than 20 chunks to reach 4 MiB from 4 KiB). */
    size_t asked = bp_arena_used(&a);
    for (size_t i = 0; i < 5000; i++) {
        size_t n = 40 + (i * 7919) % 1500;
        CHECK(bp_arena_alloc_raw(&a, n) != NULL);
        asked += (n + 7) & ~(size_t)7;
    }
    CHECK(bp_arena_used(&a) == asked);
    CHECK(bp_arena_bytes(&a) <= 2 * bp_arena_used(&a) + 4096 + 2 * 20 * 1544);
    CHECK(bp_arena_bytes(&a) > 2 * 1024 * 1024); /* it did grow to the batch */
    CHECK(bp_arena_bytes(&a) >= bp_arena_used(&a));

    /* A reset forgets the count and keeps the chunks: the next batch allocates nothing anew
     * until it outgrows them. */
    void *first = a.free;
    bp_arena_reset(&a);
    CHECK(bp_arena_used(&a) == 0 && bp_arena_bytes(&a) == 0);
    CHECK(a.free != NULL && first == NULL);
    void *p = bp_arena_alloc(&a, 100);
    CHECK(p != NULL && bp_arena_owns(&a, p));
    CHECK(bp_arena_used(&a) == 104 && bp_arena_bytes(&a) == 4096); /* the first chunk again */
    bp_arena_free(&a);

    /* A fixed-size arena counts the same way. */
    bp_arena_init(&a, 256 * 1024);
    CHECK(bp_arena_alloc(&a, 1) != NULL);
    CHECK(bp_arena_used(&a) == 8 && bp_arena_bytes(&a) == 256 * 1024);
    bp_arena_free(&a);
    return CHECK_DONE();
}
