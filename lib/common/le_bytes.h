/* Little-endian fixed-width numbers in byte arrays: the stored forms of keyed state
 * (detector-trend, the history of detector-xgboost) are byte strings that another build, or
 * another machine, must read back the same, so they never depend on the host's byte order or
 * struct layout. */
#ifndef BP_LE_BYTES_H
#define BP_LE_BYTES_H

#include <stddef.h>
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

/* Writes the low `n` bytes of `v` at `out`, least significant first, and returns the byte
 * after them (on a little-endian host those are the number's first bytes in memory). */
static inline uint8_t *bp_le_put_n(uint8_t *out, uint64_t v, size_t n)
{
    if (BP_LE_HOST) {
        memcpy(out, &v, n);
        return out + n;
    }
    for (size_t i = 0; i < n; i++)
        *out++ = (uint8_t)(v >> (8 * i));
    return out;
}

/* Writes `v` at `out` (8 bytes) and returns the byte after it. */
static inline uint8_t *bp_le_put_u64(uint8_t *out, uint64_t v)
{
    return bp_le_put_n(out, v, 8);
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
    return bp_le_put_n(out, v, 4);
}

static inline uint32_t bp_le_get_u32(const uint8_t *in)
{
    return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

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
