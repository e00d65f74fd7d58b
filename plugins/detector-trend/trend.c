#include "trend.h"

#include "common/le_bytes.h"
#include "common/revisable.h"
#include "common/sha256.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

bp_trend_config bp_trend_config_default(void)
{
    bp_trend_config c = {
        .sustained_count = 3,
        .window_ms = 30 * 60 * 1000,
        .rapid_delta = 30,
        .rapid_window_ms = 15 * 60 * 1000,
        .baseline_min = 10,
        .z_threshold = 3,
        .alpha = 0.1,
        .max_patients = 100000,
    };
    return c;
}

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

/* The stored form of an id: as is when short, else HASHED_KEY and 39 hex digits (156 bits) of
 * the whole id's SHA-256. A short id that starts with HASHED_KEY is hashed too, so no id kept as
 * is can ever equal another's hashed form: distinct patients never share a history. (The form
 * before, a 23-byte prefix and a 64-bit FNV hash, was another 40-byte id that could be sent.) */
#define HASHED_KEY '\x01'
static void key_of(const char *id, char *out)
{
    size_t n = strlen(id);
    if (n <= BP_TREND_ID_LEN && id[0] != HASHED_KEY) {
        memcpy(out, id, n + 1);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    uint8_t digest[32];
    bp_sha256(id, n, digest);
    out[0] = HASHED_KEY;
    for (int i = 0; i < BP_TREND_ID_LEN - 1; i++)
        out[1 + i] = hex[(digest[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[BP_TREND_ID_LEN] = '\0';
}

int bp_trend_init(bp_trend *t, const bp_trend_config *cfg)
{
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    if (cfg->max_patients == 0 || cfg->max_patients >= NONE / 2 || cfg->sustained_count < 1 ||
        cfg->sustained_count > BP_TREND_MAX_SUSTAINED)
        return -1;
    t->index_cap = 16;
    while (t->index_cap < cfg->max_patients * 2) /* load factor at most one half */
        t->index_cap *= 2;
    t->pool = malloc(cfg->max_patients * sizeof *t->pool);
    t->index = malloc(t->index_cap * sizeof *t->index);
    if (!t->pool || !t->index) {
        bp_trend_free(t);
        return -1;
    }
    memset(t->index, 0xFF, t->index_cap * sizeof *t->index);
    t->lru_head = t->lru_tail = NONE;
    return 0;
}

void bp_trend_free(bp_trend *t)
{
    free(t->pool);
    free(t->index);
    t->pool = NULL;
    t->index = NULL;
}

size_t bp_trend_bytes_per_patient(const bp_trend *t)
{
    return sizeof(bp_trend_slot) + t->index_cap * sizeof(uint32_t) / t->cfg.max_patients;
}

static void lru_unlink(bp_trend *t, uint32_t i)
{
    bp_trend_slot *p = &t->pool[i];
    if (p->lru_prev != NONE)
        t->pool[p->lru_prev].lru_next = p->lru_next;
    else
        t->lru_head = p->lru_next;
    if (p->lru_next != NONE)
        t->pool[p->lru_next].lru_prev = p->lru_prev;
    else
        t->lru_tail = p->lru_prev;
}

static void lru_push_front(bp_trend *t, uint32_t i)
{
    bp_trend_slot *p = &t->pool[i];
    p->lru_prev = NONE;
    p->lru_next = t->lru_head;
    if (t->lru_head != NONE)
        t->pool[t->lru_head].lru_prev = i;
    t->lru_head = i;
    if (t->lru_tail == NONE)
        t->lru_tail = i;
}

/* Slot of `key` in the index, or of the empty slot where it would go. */
static size_t probe(const bp_trend *t, const char *key, uint64_t h)
{
    size_t mask = t->index_cap - 1, s = (size_t)h & mask;
    while (t->index[s] != NONE) {
        const bp_trend_slot *p = &t->pool[t->index[s]];
        if (p->hash == h && strcmp(p->id, key) == 0)
            break;
        s = (s + 1) & mask;
    }
    return s;
}

/* Removes the index entry at slot `s` by shifting its probe-chain successors back. */
static void index_remove(bp_trend *t, size_t s)
{
    size_t mask = t->index_cap - 1;
    t->index[s] = NONE;
    for (size_t j = (s + 1) & mask; t->index[j] != NONE; j = (j + 1) & mask) {
        uint32_t e = t->index[j];
        size_t home = (size_t)t->pool[e].hash & mask;
        /* e may move to s when s lies cyclically in [home, j) */
        bool movable = s <= j ? (home <= s || home > j) : (home <= s && home > j);
        if (movable) {
            t->index[s] = e;
            t->index[j] = NONE;
            s = j;
        }
    }
}

/* The record of `key` (stored form, hash `h`), created when missing. */
static uint32_t find_or_add_key(bp_trend *t, const char *key, uint64_t h)
{
    size_t s = probe(t, key, h);
    if (t->index[s] != NONE) {
        uint32_t i = t->index[s];
        lru_unlink(t, i);
        lru_push_front(t, i);
        return i;
    }
    uint32_t i;
    if (t->used < t->cfg.max_patients) {
        i = (uint32_t)t->used++;
    } else { /* full: the least recently seen patient makes room */
        i = t->lru_tail;
        lru_unlink(t, i);
        index_remove(t, probe(t, t->pool[i].id, t->pool[i].hash));
        t->evicted++;
        s = probe(t, key, h);
    }
    bp_trend_slot *p = &t->pool[i];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", key);
    p->hash = h;
    bp_patient_state_init(&p->state);
    t->index[s] = i;
    lru_push_front(t, i);
    return i;
}

static uint32_t find_or_add(bp_trend *t, const char *id)
{
    char key[BP_TREND_ID_LEN + 1];
    key_of(id, key);
    return find_or_add_key(t, key, hash_id(key));
}

/* Keeps the `n` latest times in `ring` (unordered) and returns how many lie in
 * (now - window, now]. */
static int note_and_count(int64_t *ring, int n, int64_t at, int64_t now, int64_t window)
{
    int oldest = 0;
    for (int k = 1; k < n; k++)
        if (ring[k] < ring[oldest])
            oldest = k;
    if (at > ring[oldest])
        ring[oldest] = at;
    int count = 0;
    for (int k = 0; k < n; k++)
        count += ring[k] != INT64_MIN && ring[k] <= now && ring[k] > now - window;
    return count;
}

void bp_patient_state_init(bp_patient_state *p)
{
    memset(p, 0, sizeof *p);
    p->latest_ms = p->prev_ms = INT64_MIN;
    for (int k = 0; k < BP_TREND_MAX_SUSTAINED; k++)
        p->high_ms[k] = p->low_ms[k] = INT64_MIN;
}

void bp_trend_judge(const bp_trend_config *c, bp_patient_state *p, int64_t at, double s, double d,
                    bp_trend_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->z = out->baseline = NAN;
    int n = c->sustained_count;
    bool high = (!isnan(s) && s >= 140) || (!isnan(d) && d >= 90); /* ACC/AHA stage 2+ */
    bool low = (!isnan(s) && s < 90) || (!isnan(d) && d < 60);
    out->late = p->latest_ms != INT64_MIN && at < p->latest_ms;
    /* A late reading is counted in the window that ends at the patient's latest reading: it
     * may complete an episode that is still going on. */
    int64_t now = out->late ? p->latest_ms : at;
    if (high && note_and_count(p->high_ms, n, at, now, c->window_ms) >= n)
        out->reasons |= BP_TREND_SUSTAINED_HYPER;
    if (low && note_and_count(p->low_ms, n, at, now, c->window_ms) >= n)
        out->reasons |= BP_TREND_SUSTAINED_HYPO;
    if (!out->late)
        p->latest_ms = at;
    if (isnan(s))
        return; /* rapid change and baseline follow systolic */
    if (p->n >= (uint32_t)c->baseline_min && p->var > 0) {
        out->baseline = p->mean;
        out->z = (s - p->mean) / sqrt(p->var);
        if (fabs(out->z) >= c->z_threshold)
            out->reasons |= BP_TREND_BASELINE;
    }
    out->readings = p->n;
    if (out->late)
        return; /* a late reading is judged against the history, not learned from */
    if (p->prev_ms != INT64_MIN && at - p->prev_ms <= c->rapid_window_ms &&
        fabs(s - p->prev_sys) >= c->rapid_delta)
        out->reasons |= s > p->prev_sys ? BP_TREND_RAPID_UP : BP_TREND_RAPID_DOWN;
    /* Exponentially weighted mean and variance (West's incremental form). */
    if (p->n == 0) {
        p->mean = s;
        p->var = 0;
    } else {
        double diff = s - p->mean, incr = c->alpha * diff;
        p->mean += incr;
        p->var = (1 - c->alpha) * (p->var + diff * incr);
    }
    p->n++;
    p->prev_ms = at;
    p->prev_sys = s;
}

int bp_trend_observe(bp_trend *t, const char *patient, int64_t at, double s, double d,
                     bp_trend_verdict *out)
{
    if (!patient) {
        memset(out, 0, sizeof *out);
        out->z = out->baseline = NAN;
        return -1;
    }
    bp_trend_judge(&t->cfg, &t->pool[find_or_add(t, patient)].state, at, s, d, out);
    return 0;
}

/* ---- the stored form ----------------------------------------------------------------------- */

/* The times of `ring` (its first `n` slots) that a later reading can still count, newest
 * first, into `out`; returns how many. At most BP_TREND_MAX_SUSTAINED of them, sorted as they
 * are taken (qsort's call per comparison cost more than the sort, twice per state written). */
static int live_times(const int64_t *ring, int n, int64_t latest, int64_t window, int64_t *out)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        int64_t t = ring[i];
        if (t == INT64_MIN || (latest != INT64_MIN && t <= latest - window))
            continue;
        int j = k++;
        for (; j > 0 && out[j - 1] < t; j--)
            out[j] = out[j - 1];
        out[j] = t;
    }
    return k;
}

size_t bp_trend_encode(const bp_trend_config *cfg, const bp_patient_state *p, uint8_t *out)
{
    int n = cfg->sustained_count;
    if (n < 1 || n > BP_TREND_MAX_SUSTAINED)
        n = BP_TREND_MAX_SUSTAINED;
    int64_t high[BP_TREND_MAX_SUSTAINED], low[BP_TREND_MAX_SUSTAINED];
    int n_high = live_times(p->high_ms, n, p->latest_ms, cfg->window_ms, high);
    int n_low = live_times(p->low_ms, n, p->latest_ms, cfg->window_ms, low);
    uint8_t *o = out;
    *o++ = (uint8_t)((p->latest_ms != INT64_MIN ? 1 : 0) | (p->n > 0 ? 2 : 0));
    *o++ = (uint8_t)n_high;
    *o++ = (uint8_t)n_low;
    if (p->latest_ms != INT64_MIN)
        o = bp_le_put_u64(o, (uint64_t)p->latest_ms);
    if (p->n > 0) {
        o = bp_le_put_u32(o, p->n);
        o = bp_le_put_u64(o, (uint64_t)p->prev_ms);
        o = bp_le_put_f64(o, p->prev_sys);
        o = bp_le_put_f64(o, p->mean);
        o = bp_le_put_f64(o, p->var);
    }
    for (int i = 0; i < n_high; i++)
        o = bp_le_put_u64(o, (uint64_t)high[i]);
    for (int i = 0; i < n_low; i++)
        o = bp_le_put_u64(o, (uint64_t)low[i]);
    return (size_t)(o - out);
}

/* Reads `count` times into `ring` (newest first, as written), keeping at most `n`. */
static bool read_times(const uint8_t **in, int count, int n, int64_t *ring)
{
    int64_t prev = INT64_MAX;
    for (int i = 0; i < count; i++, *in += 8) {
        int64_t t = (int64_t)bp_le_get_u64(*in);
        if (t == INT64_MIN || t > prev)
            return false; /* no time, or not in the order written */
        prev = t;
        if (i < n)
            ring[i] = t;
    }
    return true;
}

/* bp_trend_decode's reading of a value into `s`: 0, or -1 when it is not one (`s` then holds
 * part of it). */
static int decode_state(const bp_trend_config *cfg, const uint8_t *in, size_t len,
                        bp_patient_state *s)
{
    bp_patient_state_init(s);
    int n = cfg->sustained_count;
    if (n < 1 || n > BP_TREND_MAX_SUSTAINED)
        n = BP_TREND_MAX_SUSTAINED;
    if (!in || len < 3)
        return -1;
    unsigned flags = in[0], n_high = in[1], n_low = in[2];
    if ((flags & ~3u) || n_high > BP_TREND_MAX_SUSTAINED || n_low > BP_TREND_MAX_SUSTAINED ||
        (!(flags & 1) && (flags & 2 || n_high || n_low)))
        return -1; /* a reading was seen whenever anything else is there */
    size_t want = 3 + (flags & 1 ? 8 : 0) + (flags & 2 ? 36 : 0) + 8 * (size_t)(n_high + n_low);
    if (len != want)
        return -1;
    const uint8_t *at = in + 3;
    if (flags & 1) {
        s->latest_ms = (int64_t)bp_le_get_u64(at);
        at += 8;
        if (s->latest_ms == INT64_MIN)
            return -1;
    }
    if (flags & 2) {
        s->n = bp_le_get_u32(at);
        s->prev_ms = (int64_t)bp_le_get_u64(at + 4);
        s->prev_sys = bp_le_get_f64(at + 12);
        s->mean = bp_le_get_f64(at + 20);
        s->var = bp_le_get_f64(at + 28);
        at += 36;
        if (s->n == 0 || s->prev_ms == INT64_MIN || !isfinite(s->prev_sys) || !isfinite(s->mean) ||
            !isfinite(s->var) || s->var < 0)
            return -1;
    }
    if (!read_times(&at, (int)n_high, n, s->high_ms) || !read_times(&at, (int)n_low, n, s->low_ms))
        return -1;
    return 0;
}

int bp_trend_decode(const bp_trend_config *cfg, const uint8_t *in, size_t len, bp_patient_state *p)
{
    /* straight into `p` (read per reading, twice), put back as initialized when not a value */
    if (decode_state(cfg, in, len, p) == 0)
        return 0;
    bp_patient_state_init(p);
    return -1;
}

size_t bp_trend_key(const char *patient, uint8_t *out)
{
    size_t n = patient ? strlen(patient) : 0;
    if (n >= 1 && n <= BP_TREND_KEY_MAX) {
        memcpy(out, patient, n);
        return n;
    }
    out[0] = '\0';
    bp_sha256(patient ? patient : "", n, out + 1);
    return 33;
}

/* ---- revisions (issue 26) ------------------------------------------------------------------- */

uint64_t bp_trend_reading_id(const char *logical_id)
{
    return bp_revisable_id(logical_id);
}

void bp_trend_history_init(bp_trend_history *h)
{
    memset(h, 0, sizeof *h);
    bp_patient_state_init(&h->base);
    bp_patient_state_init(&h->now);
}

/* The window's fold (revisable.h): a reading judged into `base`, its verdict not needed. */
static void fold_into(void *cfg, void *base, const bp_revisable_entry *e)
{
    bp_trend_verdict ignored;
    bp_trend_judge(cfg, base, e->at_ms, e->sys, e->dia, &ignored);
}

static void fold_old(const bp_trend_config *c, int keep, bp_trend_history *h)
{
    bp_revisable_trim(h->entries, &h->n, keep, fold_into, (void *)c, &h->base);
}

void bp_trend_history_judge(const bp_trend_config *c, int keep, bp_trend_history *h, uint64_t id,
                            int64_t at, double s, double d, bp_trend_verdict *out)
{
    bp_trend_judge(c, &h->now, at, s, d, out);
    if (h->n == 0 && (id == 0 || keep == 0)) {
        h->base = h->now; /* the same fold: nothing to keep apart */
        return;
    }
    h->entries[h->n++] = (bp_trend_entry){id, at, s, d};
    fold_old(c, keep, h);
}

/* `now` = `base` with every entry folded in; *out gets entry `want`'s verdict (-1: none). */
static void refold(const bp_trend_config *c, bp_trend_history *h, int want, bp_trend_verdict *out)
{
    h->now = h->base;
    for (int i = 0; i < h->n; i++) {
        bp_trend_verdict v;
        const bp_trend_entry *e = &h->entries[i];
        bp_trend_judge(c, &h->now, e->at_ms, e->sys, e->dia, &v);
        if (i == want)
            *out = v;
    }
}

int bp_trend_history_revise(const bp_trend_config *c, int keep, bp_trend_history *h,
                            bp_trend_revision rev, uint64_t id, int64_t at, double s, double d,
                            bp_trend_verdict *out)
{
    int i = bp_revisable_find(h->entries, h->n, id);
    bool found = i >= 0;
    if (rev == BP_TREND_RETRACT) {
        if (!found)
            return 0;
        bp_revisable_remove(h->entries, &h->n, i);
        refold(c, h, -1, out);
        fold_old(c, keep, h);
        return 1;
    }
    if (!found) {
        if (keep == 0 || h->n == 0) { /* nothing kept to place it among: a reading like any */
            bp_trend_history_judge(c, keep, h, id, at, s, d, out);
            return 0;
        }
        i = bp_revisable_insert_at(h->entries, &h->n, BP_TREND_MAX_REVISABLE, at, fold_into,
                                   (void *)c, &h->base);
    }
    h->entries[i] = (bp_trend_entry){id, at, s, d};
    refold(c, h, i, out);
    fold_old(c, keep, h);
    return found;
}

size_t bp_trend_history_encode(const bp_trend_config *c, const bp_trend_history *h, uint8_t *out)
{
    if (h->n == 0)
        return bp_trend_encode(c, &h->now, out);
    uint8_t now[BP_TREND_STATE_MAX], base[BP_TREND_STATE_MAX];
    size_t now_len = bp_trend_encode(c, &h->now, now);
    size_t base_len = bp_trend_encode(c, &h->base, base);
    return bp_revisable_encode(out, now, now_len, base, base_len, h->entries, h->n);
}

int bp_trend_history_decode(const bp_trend_config *c, const uint8_t *in, size_t len,
                            bp_trend_history *h)
{
    /* straight into `h` (no second history copied over it, no entry cleared that is written
     * next: this runs for every reading), put back as bp_trend_history_init leaves it when any
     * part is not right */
    bool ok = in && len >= 1;
    if (ok && in[0] != BP_TREND_LAYOUT_REVISABLE) { /* trend.1: a history without entries */
        ok = decode_state(c, in, len, &h->now) == 0;
        h->base = h->now;
        h->n = 0;
    } else if (ok) {
        bp_revisable_parts parts;
        ok = bp_revisable_decode(in, len, BP_TREND_MAX_REVISABLE, &parts, h->entries) == 0 &&
             decode_state(c, parts.now, parts.now_len, &h->now) == 0 &&
             decode_state(c, parts.base, parts.base_len, &h->base) == 0;
        for (int i = 0; ok && i < parts.n; i++)
            ok = h->entries[i].at_ms != INT64_MIN; /* the "no time" mark: never a kept reading's */
        h->n = ok ? parts.n : 0;
    }
    if (!ok) {
        bp_trend_history_init(h);
        return -1;
    }
    return 0;
}
