/* The revisable window shared by the per-patient histories (revisable.h). */
#include "common/revisable.h"

#include "common/le_bytes.h"
#include "common/sha256.h"

#include <math.h>
#include <string.h>

uint64_t bp_revisable_id(const char *logical_id)
{
    uint8_t d[32];
    bp_sha256(logical_id, strlen(logical_id), d);
    uint64_t id = bp_le_get_u64(d);
    return id ? id : 1;
}

int bp_revisable_find(const bp_revisable_entry *e, int n, uint64_t id)
{
    for (int i = 0; i < n; i++)
        if (e[i].id == id)
            return i;
    return -1;
}

void bp_revisable_trim(bp_revisable_entry *e, int *n, int keep, bp_revisable_fold_fn fold,
                       void *ctx, void *base)
{
    int k = 0;
    while (k < *n && (*n - k > keep || e[k].id == 0))
        fold(ctx, base, &e[k++]);
    if (k == 0)
        return;
    memmove(e, e + k, (size_t)(*n - k) * sizeof *e);
    *n -= k;
}

void bp_revisable_remove(bp_revisable_entry *e, int *n, int i)
{
    memmove(e + i, e + i + 1, (size_t)(*n - i - 1) * sizeof *e);
    (*n)--;
}

int bp_revisable_insert_at(bp_revisable_entry *e, int *n, int cap, int64_t at_ms,
                           bp_revisable_fold_fn fold, void *ctx, void *base)
{
    if (*n == cap) { /* room: the oldest goes into `base` first */
        fold(ctx, base, &e[0]);
        bp_revisable_remove(e, n, 0);
    }
    int i = *n;
    while (i > 0 && e[i - 1].at_ms > at_ms)
        i--;
    memmove(e + i + 1, e + i, (size_t)(*n - i) * sizeof *e);
    (*n)++;
    return i;
}

size_t bp_revisable_encode(uint8_t *out, const uint8_t *now, size_t now_len, const uint8_t *base,
                           size_t base_len, const bp_revisable_entry *e, int n)
{
    uint8_t *o = out;
    *o++ = BP_REVISABLE_LAYOUT;
    *o++ = (uint8_t)n;
    *o++ = (uint8_t)now_len;
    memmove(o, now, now_len);
    o += now_len;
    *o++ = (uint8_t)base_len;
    memmove(o, base, base_len);
    o += base_len;
    for (int i = 0; i < n; i++) {
        o = bp_le_put_u64(o, e[i].id);
        o = bp_le_put_u64(o, (uint64_t)e[i].at_ms);
        o = bp_le_put_f64(o, e[i].sys);
        o = bp_le_put_f64(o, e[i].dia);
    }
    return (size_t)(o - out);
}

int bp_revisable_decode(const uint8_t *in, size_t len, int cap, bp_revisable_parts *p,
                        bp_revisable_entry *e)
{
    if (!in || len < 3 || in[0] != BP_REVISABLE_LAYOUT || in[1] < 1 || in[1] > cap)
        return -1;
    p->n = in[1];
    size_t at = 2;
    p->now_len = in[at];
    p->now = in + at + 1;
    at += 1 + p->now_len;
    if (at + 1 > len)
        return -1;
    p->base_len = in[at];
    p->base = in + at + 1;
    at += 1 + p->base_len;
    if (at + (size_t)p->n * BP_REVISABLE_ENTRY_BYTES != len)
        return -1;
    for (int i = 0; i < p->n; i++, at += BP_REVISABLE_ENTRY_BYTES) {
        e[i].id = bp_le_get_u64(in + at);
        e[i].at_ms = (int64_t)bp_le_get_u64(in + at + 8);
        e[i].sys = bp_le_get_f64(in + at + 16);
        e[i].dia = bp_le_get_f64(in + at + 24);
        if (isinf(e[i].sys) || isinf(e[i].dia))
            return -1;
    }
    return 0;
}
