#include "mllp_frame.h"

#include <stdlib.h>
#include <string.h>

enum { OUTSIDE, INSIDE, AFTER_EB, OVERSIZED };

void bp_mllp_deframer_init(bp_mllp_deframer *d, size_t max_bytes, size_t keep_bytes)
{
    memset(d, 0, sizeof *d);
    d->state = OUTSIDE;
    d->max_bytes = max_bytes;
    d->keep_bytes = keep_bytes < max_bytes ? keep_bytes : max_bytes;
}

void bp_mllp_deframer_free(bp_mllp_deframer *d)
{
    free(d->buf);
    d->buf = NULL;
    d->len = d->cap = 0;
}

int bp_mllp_in_frame(const bp_mllp_deframer *d)
{
    return d->state != OUTSIDE;
}

/* Appends in[0..n) to the frame. The buffer grows by doubling, so a frame costs what it holds,
 * not max_bytes. */
static int keep(bp_mllp_deframer *d, const char *in, size_t n)
{
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap : 4096;
        while (cap < d->len + n)
            cap *= 2;
        char *grown = realloc(d->buf, cap);
        if (!grown)
            return -1;
        d->buf = grown;
        d->cap = cap;
    }
    memcpy(d->buf + d->len, in, n);
    d->len += n;
    return 0;
}

/* The frame's bytes in[0..n) (no 0x0B nor 0x1C among them): kept while the frame is within
 * max_bytes; past it only the first keep_bytes stay. */
static int take(bp_mllp_deframer *d, const char *in, size_t n)
{
    d->total += n;
    if (d->state == INSIDE && d->total > d->max_bytes) {
        d->state = OVERSIZED;
        if (d->len > d->keep_bytes)
            d->len = d->keep_bytes;
    }
    size_t room = d->state == INSIDE ? n : d->keep_bytes > d->len ? d->keep_bytes - d->len : 0;
    return keep(d, in, n < room ? n : room);
}

static void start(bp_mllp_deframer *d)
{
    d->state = INSIDE;
    d->len = 0;
    d->total = 0;
}

int bp_mllp_next(bp_mllp_deframer *d, const char *in, size_t n, size_t *used, const char **data,
                 size_t *len, uint64_t *total)
{
    size_t i = 0;
    if (d->reset) {
        d->len = 0;
        d->reset = 0;
    }
    *data = d->buf;
    *len = 0;
    *total = 0;
    while (i < n) {
        if (d->state == OUTSIDE) {
            const char *sb = memchr(in + i, BP_MLLP_SB, n - i);
            size_t end = sb ? (size_t)(sb - in) : n;
            for (; i < end; i++)
                d->garbage += in[i] != '\r' && in[i] != '\n';
            if (sb) {
                start(d);
                i++;
            }
            continue;
        }
        if (d->state == AFTER_EB) {
            /* 0x1C ends the frame; the 0x0D after it belongs to it when it is there (a sender
             * that leaves it out still gets its answer). */
            if (in[i] == BP_MLLP_CR)
                i++;
            d->state = OUTSIDE;
            *used = i;
            *data = d->buf;
            *len = d->len;
            *total = d->total;
            return d->total > d->max_bytes ? BP_MLLP_OVERSIZED : BP_MLLP_FRAME;
        }
        /* INSIDE or OVERSIZED: up to the next 0x0B or 0x1C. */
        size_t j = i;
        while (j < n && in[j] != BP_MLLP_SB && in[j] != BP_MLLP_EB)
            j++;
        if (take(d, in + i, j - i) != 0) {
            d->state = OUTSIDE;
            d->len = 0;
            *used = j;
            return -1;
        }
        i = j;
        if (i == n)
            break;
        if (in[i] == BP_MLLP_EB) {
            d->state = AFTER_EB;
            i++;
            continue;
        }
        /* A new start block inside a frame: the frame so far was cut short. */
        *used = i + 1;
        *data = d->buf;
        *len = d->len;
        *total = d->total;
        /* The cut frame's bytes stay for the caller until the next call, which empties the
         * buffer for the frame this 0x0B began. */
        d->state = INSIDE;
        d->total = 0;
        d->reset = 1;
        return BP_MLLP_CUT;
    }
    *used = n;
    return BP_MLLP_NONE;
}

int bp_mllp_take_partial(bp_mllp_deframer *d, const char **data, size_t *len, uint64_t *total)
{
    if (d->reset) {
        d->len = 0;
        d->reset = 0;
    }
    if (!bp_mllp_in_frame(d))
        return 0;
    *data = d->buf;
    *len = d->len;
    *total = d->total;
    int complete = d->state == AFTER_EB; /* its 0x1C came, only the 0x0D did not */
    d->state = OUTSIDE;
    d->reset = 1;
    return complete ? 2 : 1;
}
