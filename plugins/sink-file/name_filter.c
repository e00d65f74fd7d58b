#include "name_filter.h"

#include "file_names.h"

#include <stdlib.h>
#include <string.h>

#define BITS_LOG2 23
#define HASHES 3

int bp_name_filter_init(bp_name_filter *f)
{
    f->count = 0;
    f->bits = calloc((size_t)1 << (BITS_LOG2 - 6), sizeof *f->bits);
    return f->bits ? 0 : -1;
}

void bp_name_filter_free(bp_name_filter *f)
{
    free(f->bits);
    f->bits = NULL;
}

/* Bit i of the name's HASHES bits: double hashing from one 64-bit hash (Kirsch and
 * Mitzenmacher), its two halves. */
static size_t bit(uint64_t h, unsigned i)
{
    uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32) | 1u; /* b odd: the HASHES bits differ */
    return (size_t)(a + i * b) & (((size_t)1 << BITS_LOG2) - 1);
}

/* FNV-1a, its bits mixed (MurmurHash3's finaliser) so that both halves depend on every byte. */
static uint64_t name_hash(const char *name)
{
    uint64_t h = bp_fnv1a64(name, strlen(name), 0);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

void bp_name_filter_add(bp_name_filter *f, const char *name)
{
    if (!f->bits)
        return;
    uint64_t h = name_hash(name);
    for (unsigned i = 0; i < HASHES; i++) {
        size_t b = bit(h, i);
        f->bits[b >> 6] |= (uint64_t)1 << (b & 63);
    }
    f->count++;
}

bool bp_name_filter_may_hold(const bp_name_filter *f, const char *name)
{
    if (!f->bits)
        return true;
    uint64_t h = name_hash(name);
    for (unsigned i = 0; i < HASHES; i++) {
        size_t b = bit(h, i);
        if (!(f->bits[b >> 6] & ((uint64_t)1 << (b & 63))))
            return false;
    }
    return true;
}
