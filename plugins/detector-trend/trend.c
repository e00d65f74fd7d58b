#include "trend.h"

#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NONE UINT32_MAX
#define SNAPSHOT_MAGIC "BPTREND2" /* 1: long ids kept as a prefix and a 64-bit FNV hash */

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
    return sizeof(bp_patient_state) + t->index_cap * sizeof(uint32_t) / t->cfg.max_patients;
}

static void lru_unlink(bp_trend *t, uint32_t i)
{
    bp_patient_state *p = &t->pool[i];
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
    bp_patient_state *p = &t->pool[i];
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
        const bp_patient_state *p = &t->pool[t->index[s]];
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
    bp_patient_state *p = &t->pool[i];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", key);
    p->hash = h;
    p->latest_ms = p->prev_ms = INT64_MIN;
    for (int k = 0; k < BP_TREND_MAX_SUSTAINED; k++)
        p->high_ms[k] = p->low_ms[k] = INT64_MIN;
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

/* Forgets every patient. */
static void clear(bp_trend *t)
{
    memset(t->index, 0xFF, t->index_cap * sizeof *t->index);
    t->used = 0;
    t->lru_head = t->lru_tail = NONE;
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

int bp_trend_observe(bp_trend *t, const char *patient, int64_t at, double s, double d,
                     bp_trend_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->z = out->baseline = NAN;
    if (!patient)
        return -1;
    bp_patient_state *p = &t->pool[find_or_add(t, patient)];
    const bp_trend_config *c = &t->cfg;
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
        return 0; /* rapid change and baseline follow systolic */
    if (p->n >= (uint32_t)c->baseline_min && p->var > 0) {
        out->baseline = p->mean;
        out->z = (s - p->mean) / sqrt(p->var);
        if (fabs(out->z) >= c->z_threshold)
            out->reasons |= BP_TREND_BASELINE;
    }
    out->readings = p->n;
    if (out->late)
        return 0; /* a late reading is judged against the history, not learned from */
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
    return 0;
}

typedef struct snapshot_head {
    char magic[8];
    uint32_t record_size, sustained;
    uint64_t count;
} snapshot_head;

int bp_trend_save(const bp_trend *t, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    snapshot_head h = {SNAPSHOT_MAGIC, sizeof(bp_patient_state), BP_TREND_MAX_SUSTAINED, t->used};
    memcpy(h.magic, SNAPSHOT_MAGIC, 8);
    bool ok = fwrite(&h, sizeof h, 1, f) == 1;
    /* Least recent first, so a reload rebuilds the same recency order. */
    for (uint32_t i = t->lru_tail; ok && i != NONE; i = t->pool[i].lru_prev)
        ok = fwrite(&t->pool[i], sizeof t->pool[i], 1, f) == 1;
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}

int bp_trend_load(bp_trend *t, const char *path, char *why, size_t why_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "cannot read: %s", strerror(errno));
        return -1;
    }
    snapshot_head h;
    int rc = -1;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, "BPTREND", 7) != 0) {
        snprintf(why, why_len, "not a detector-trend snapshot");
        goto done;
    }
    if (memcmp(h.magic, SNAPSHOT_MAGIC, 8) != 0) {
        snprintf(why, why_len, "snapshot written by another version (format %.1s)", h.magic + 7);
        goto done;
    }
    if (h.record_size != sizeof(bp_patient_state) || h.sustained != BP_TREND_MAX_SUSTAINED) {
        snprintf(why, why_len, "snapshot written by another version (record of %u bytes)",
                 h.record_size);
        goto done;
    }
    for (uint64_t k = 0; k < h.count; k++) {
        bp_patient_state rec;
        if (fread(&rec, sizeof rec, 1, f) != 1) {
            snprintf(why, why_len, "snapshot is truncated after %llu patients",
                     (unsigned long long)k);
            clear(t); /* all or nothing: a half-restored history would mislead */
            goto done;
        }
        rec.id[BP_TREND_ID_LEN] = '\0';
        uint32_t i = find_or_add_key(t, rec.id, rec.hash); /* evicts if max_patients shrank */
        uint32_t prev = t->pool[i].lru_prev, next = t->pool[i].lru_next;
        t->pool[i] = rec;
        t->pool[i].lru_prev = prev;
        t->pool[i].lru_next = next;
    }
    rc = 0;
done:
    fclose(f);
    return rc;
}
