/* Little-endian fixed-width numbers in byte arrays: the stored forms of keyed state
 * (detector-trend, the history of detector-xgboost) are byte strings that another build, or
 * another machine, must read back the same, so they never depend on the host's byte order or
 * struct layout. */
#ifndef BP_LE_BYTES_H
#define BP_LE_BYTES_H

#include <stdint.h>
#include <string.h>

/* On a little-endian host the bytes are the number's own, copied in one move: these run for
 * every field of every history read and written, per reading, and GCC does not merge the
 * byte-at-a-time loop into one load or store. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BP_LE_HOST 1
#else
#define BP_LE_HOST 0
#endif

/* Writes `v` at `out` (8 bytes) and returns the byte after it. */
static inline uint8_t *bp_le_put_u64(uint8_t *out, uint64_t v)
{
    if (BP_LE_HOST) {
        memcpy(out, &v, sizeof v);
        return out + sizeof v;
    }
    for (int i = 0; i < 8; i++)
        *out++ = (uint8_t)(v >> (8 * i));
    return out;
}

static inline uint64_t bp_le_get_u64(const uint8_t *in)
{
    uint64_t v = 0;
    if (BP_LE_HOST) {
        memcpy(&v, in, sizeof v);
        return v;
    }
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

static inline uint8_t *bp_le_put_u32(uint8_t *out, uint32_t v)
{
    if (BP_LE_HOST) {
        memcpy(out, &v, sizeof v);
        return out + sizeof v;
    }
    for (int i = 0; i < 4; i++)
        *out++ = (uint8_t)(v >> (8 * i));
    return out;
}

static inline uint32_t bp_le_get_u32(const uint8_t *in)
{
    return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
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
