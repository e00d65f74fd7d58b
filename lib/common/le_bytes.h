/* Little-endian fixed-width numbers in byte arrays: the stored forms of keyed state
 * (detector-trend, the history of detector-xgboost) are byte strings that another build, or
 * another machine, must read back the same, so they never depend on the host's byte order or
 * struct layout. */
#ifndef BP_LE_BYTES_H
#define BP_LE_BYTES_H

#include <stdint.h>
#include <string.h>

/* Writes `v` at `out` (8 bytes) and returns the byte after it. */
static inline uint8_t *bp_le_put_u64(uint8_t *out, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *out++ = (uint8_t)(v >> (8 * i));
    return out;
}

static inline uint64_t bp_le_get_u64(const uint8_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

/* A double as its IEEE 754 bits, so NaN (a value not known yet) is kept as NaN. */
static inline uint8_t *bp_le_put_f64(uint8_t *out, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return bp_le_put_u64(out, v);
}

static inline double bp_le_get_f64(const uint8_t *in)
{
    uint64_t v = bp_le_get_u64(in);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

#endif
