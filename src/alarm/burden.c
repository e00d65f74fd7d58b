#include "alarm/burden.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Time-to-acknowledge histogram: bucket 0 holds [0, 1 s), bucket k >= 1 holds
 * [G^(k-1), G^k) seconds, the last one everything above. G = 1.02 reaches 30 days
 * (2 592 000 s) at k = 746. */
#define ACK_GROWTH 1.02
#define ACK_BUCKETS 748

#define ROW_PIPELINE 0
#define ROW_FIRST_CONDITION 4
#define NAME_MAX_LEN 64

static const char *const priority_names[3] = {"high", "medium", "low"};

typedef struct row {
    char name[NAME_MAX_LEN];
    char priority[16];
    uint64_t alarms, acknowledged, escalations, escalated_alarms, resolved, withdrawn;
    uint64_t delayed;
    uint64_t acks_timed;
    double ack_sum_s, ack_min_s, ack_max_s;
    uint32_t ack_hist[ACK_BUCKETS];
    /* derived, recomputed after a change (bp_burden_row) */
    double p50, p90, top10;
} row;

typedef struct patient {
    uint64_t hash;
    uint32_t alarms[BP_BURDEN_ROWS]; /* per row, indexed like bp_burden.rows */
} patient;

struct bp_burden {
    row rows[BP_BURDEN_ROWS];
    size_t n_rows; /* used: 4 + conditions */
    int other_row; /* the row of "other", or -1 before it is needed */
    patient *patients;
    size_t n_patients, cap_patients;
    uint32_t *slots; /* open addressing: patient index + 1, 0 empty */
    size_t n_slots;  /* a power of two, at least twice n_patients */
    bool capped;
    uint64_t readings, delayed_readings, events;
    int64_t first_ms, last_ms;
    bool dirty;        /* the derived figures are stale */
    uint32_t *scratch; /* the top 10 % selection's copy */
};

static uint64_t hash_id(const char *s)
{
    /* FNV-1a, then a final mix so that the low bits (the slot) depend on every byte */
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

static void row_reset(row *r, const char *name)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->p50 = r->p90 = r->top10 = NAN;
}

bp_burden *bp_burden_new(void)
{
    bp_burden *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    row_reset(&b->rows[ROW_PIPELINE], "");
    for (size_t i = 0; i < 3; i++) {
        row_reset(&b->rows[1 + i], priority_names[i]);
        snprintf(b->rows[1 + i].priority, sizeof b->rows[1 + i].priority, "%s", priority_names[i]);
    }
    b->n_rows = ROW_FIRST_CONDITION;
    b->other_row = -1;
    b->first_ms = b->last_ms = -1;
    b->dirty = true;
    return b;
}

void bp_burden_free(bp_burden *b)
{
    if (!b)
        return;
    free(b->patients);
    free(b->slots);
    free(b->scratch);
    free(b);
}

/* Doubles the slot table (rehashing every patient). False when out of memory. */
static bool grow_slots(bp_burden *b)
{
    size_t n = b->n_slots ? b->n_slots * 2 : 256;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < b->n_patients; i++) {
        size_t s = (size_t)b->patients[i].hash & (n - 1);
        while (slots[s])
            s = (s + 1) & (n - 1);
        slots[s] = (uint32_t)i + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->n_slots = n;
    return true;
}

/* The patient of `id`, added when new; NULL for no id, beyond the bound or out of memory. */
static patient *patient_of(bp_burden *b, const char *id)
{
    if (!id || !*id)
        return NULL;
    uint64_t h = hash_id(id);
    if (b->n_slots) {
        for (size_t s = (size_t)h & (b->n_slots - 1); b->slots[s]; s = (s + 1) & (b->n_slots - 1))
            if (b->patients[b->slots[s] - 1].hash == h)
                return &b->patients[b->slots[s] - 1];
    }
    if (b->n_patients >= BP_BURDEN_MAX_PATIENTS) {
        b->capped = true;
        return NULL;
    }
    if ((b->n_patients + 1) * 2 > b->n_slots && !grow_slots(b)) {
        b->capped = true;
        return NULL;
    }
    if (b->n_patients == b->cap_patients) {
        size_t cap = b->cap_patients ? b->cap_patients * 2 : 64;
        patient *p = realloc(b->patients, cap * sizeof *p);
        if (!p) {
            b->capped = true;
            return NULL;
        }
        b->patients = p;
        b->cap_patients = cap;
    }
    patient *p = &b->patients[b->n_patients];
    memset(p, 0, sizeof *p);
    p->hash = h;
    size_t s = (size_t)h & (b->n_slots - 1);
    while (b->slots[s])
        s = (s + 1) & (b->n_slots - 1);
    b->slots[s] = (uint32_t)++b->n_patients;
    return p;
}

static int priority_row(const char *priority)
{
    for (int i = 0; priority && i < 3; i++)
        if (strcmp(priority, priority_names[i]) == 0)
            return 1 + i;
    return -1;
}

/* The row of a condition, made when first seen; beyond the bound (or unnamed) "other". */
static int condition_row(bp_burden *b, const char *condition)
{
    bool named = condition && *condition && strcmp(condition, "other") != 0;
    if (named) {
        for (size_t i = ROW_FIRST_CONDITION; i < b->n_rows; i++)
            if ((int)i != b->other_row &&
                strncmp(b->rows[i].name, condition, NAME_MAX_LEN - 1) == 0)
                return (int)i;
        if (b->n_rows < ROW_FIRST_CONDITION + BP_BURDEN_MAX_CONDITIONS) {
            row_reset(&b->rows[b->n_rows], condition);
            return (int)b->n_rows++;
        }
    }
    if (b->other_row < 0) {
        row_reset(&b->rows[b->n_rows], "other");
        b->other_row = (int)b->n_rows++;
    }
    return b->other_row;
}

void bp_burden_add_reading(bp_burden *b, const char *patient_id, int64_t effective_ms, bool delayed)
{
    b->readings++;
    b->delayed_readings += delayed;
    b->rows[ROW_PIPELINE].delayed += delayed;
    if (effective_ms >= 0) {
        if (b->first_ms < 0 || effective_ms < b->first_ms)
            b->first_ms = effective_ms;
        if (effective_ms > b->last_ms)
            b->last_ms = effective_ms;
    }
    (void)patient_of(b, patient_id);
    b->dirty = true;
}

void bp_burden_add_delay(bp_burden *b, const char *condition, const char *priority)
{
    int c = condition_row(b, condition);
    b->rows[c].delayed++;
    if (!b->rows[c].priority[0] && priority)
        snprintf(b->rows[c].priority, sizeof b->rows[c].priority, "%s", priority);
    int p = priority_row(priority);
    if (p > 0)
        b->rows[p].delayed++;
    b->dirty = true;
}

static size_t ack_bucket(double s)
{
    if (!(s >= 1.0))
        return 0;
    double k = 1.0 + floor(log(s) / log(ACK_GROWTH));
    return k >= ACK_BUCKETS - 1 ? ACK_BUCKETS - 1 : (size_t)k;
}

/* The value a bucket stands for: the geometric middle of its bounds, so at most a factor
 * sqrt(G) from any time in it (about 1 %). */
static double ack_bucket_value(size_t k)
{
    if (k == 0)
        return 0.5;
    return pow(ACK_GROWTH, (double)k - 0.5);
}

static void count_event(row *r, const bp_burden_event *e, int kind, double ack_s)
{
    switch (kind) {
    case 0: r->alarms++; break;
    case 1:
        r->acknowledged++;
        if (ack_s >= 0) {
            if (r->acks_timed == 0 || ack_s < r->ack_min_s)
                r->ack_min_s = ack_s;
            if (r->acks_timed == 0 || ack_s > r->ack_max_s)
                r->ack_max_s = ack_s;
            r->acks_timed++;
            r->ack_sum_s += ack_s;
            r->ack_hist[ack_bucket(ack_s)]++;
        }
        break;
    case 2:
        r->escalations++;
        r->escalated_alarms += e->tier == 1;
        break;
    case 3: r->resolved++; break;
    case 4: r->withdrawn++; break;
    default: break;
    }
}

void bp_burden_add_event(bp_burden *b, const bp_burden_event *e)
{
    static const char *const kinds[] = {"raised", "acknowledged", "escalated", "resolved",
                                        "withdrawn"};
    int kind = -1;
    for (int i = 0; e->event && i < 5; i++)
        if (strcmp(e->event, kinds[i]) == 0)
            kind = i;
    b->events++;
    if (kind < 0)
        return;
    double ack_s = -1;
    if (kind == 1 && e->raised_ms >= 0 && e->event_ms >= 0)
        ack_s = e->event_ms >= e->raised_ms ? (double)(e->event_ms - e->raised_ms) / 1000.0 : 0;
    int rows[3] = {ROW_PIPELINE, priority_row(e->priority), condition_row(b, e->condition)};
    row *cond = &b->rows[rows[2]];
    if (!cond->priority[0] && e->priority)
        snprintf(cond->priority, sizeof cond->priority, "%s", e->priority);
    patient *p = kind == 0 ? patient_of(b, e->patient_id) : NULL;
    for (size_t i = 0; i < 3; i++) {
        if (rows[i] < 0)
            continue;
        count_event(&b->rows[rows[i]], e, kind, ack_s);
        if (p)
            p->alarms[rows[i]]++;
    }
    b->dirty = true;
}

size_t bp_burden_rows(const bp_burden *b)
{
    return b->n_rows;
}

/* The value of rank ceil(q n) in ascending order: the smallest or largest time seen when it is
 * that rank (exact), else its bucket's value kept within those two. */
static double ack_quantile(const row *r, double q)
{
    uint64_t n = r->acks_timed;
    if (n == 0)
        return NAN;
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    if (rank <= 1)
        return r->ack_min_s;
    if (rank >= n)
        return r->ack_max_s;
    uint64_t seen = 0;
    size_t k = 0;
    while (k < ACK_BUCKETS - 1 && (seen += r->ack_hist[k]) < rank)
        k++;
    return fmin(fmax(ack_bucket_value(k), r->ack_min_s), r->ack_max_s);
}

static void swap32(uint32_t *a, size_t i, size_t j)
{
    uint32_t t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Moves the k largest of a[0..n) to its front, 0 < k < n: quickselect with a three-way
 * partition, because counts repeat a lot (most patients have one alarm or none), and a
 * two-way one would then take quadratic time. */
static void select_largest(uint32_t *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1, want = k - 1; /* want: the index that must hold its value */
    while (lo < hi) {
        uint32_t pivot = a[lo + (hi - lo) / 2];
        size_t lt = lo, i = lo, gt = hi; /* [lo,lt) > pivot, [lt,i) == pivot, (gt,hi] < pivot */
        while (i <= gt) {
            if (a[i] > pivot)
                swap32(a, lt++, i++);
            else if (a[i] < pivot)
                swap32(a, i, gt--); /* an equal one lies in [lt, i) or ahead: gt stays >= lo */
            else
                i++;
        }
        if (want < lt)
            hi = lt - 1;
        else if (want > gt)
            lo = gt + 1;
        else
            return;
    }
}

static double top10_share(bp_burden *b, size_t ri)
{
    const row *r = &b->rows[ri];
    if (r->alarms == 0)
        return NAN;
    size_t k = (b->n_patients + 9) / 10;
    size_t n = 0;
    for (size_t i = 0; i < b->n_patients; i++)
        if (b->patients[i].alarms[ri])
            b->scratch[n++] = b->patients[i].alarms[ri];
    uint64_t top = 0;
    if (k >= n) {
        for (size_t i = 0; i < n; i++)
            top += b->scratch[i];
    } else {
        select_largest(b->scratch, n, k);
        for (size_t i = 0; i < k; i++)
            top += b->scratch[i];
    }
    return (double)top / (double)r->alarms;
}

static void refresh(bp_burden *b)
{
    if (!b->dirty)
        return;
    uint32_t *scratch = b->n_patients ? realloc(b->scratch, b->n_patients * sizeof *scratch) : NULL;
    if (scratch)
        b->scratch = scratch;
    for (size_t i = 0; i < b->n_rows; i++) {
        row *r = &b->rows[i];
        r->p50 = ack_quantile(r, 0.5);
        r->p90 = ack_quantile(r, 0.9);
        r->top10 = scratch || r->alarms == 0 ? top10_share(b, i) : NAN;
    }
    b->dirty = false;
}

static double patient_days(const bp_burden *b)
{
    if (b->first_ms < 0 || b->last_ms <= b->first_ms)
        return 0;
    return (double)b->n_patients * (double)(b->last_ms - b->first_ms) / 86400000.0;
}

void bp_burden_row(bp_burden *b, size_t i, bp_burden_figures *out)
{
    refresh(b);
    const row *r = &b->rows[i];
    double days = patient_days(b);
    *out = (bp_burden_figures){
        .kind = i == ROW_PIPELINE         ? BP_BURDEN_PIPELINE
                : i < ROW_FIRST_CONDITION ? BP_BURDEN_PRIORITY
                                          : BP_BURDEN_CONDITION,
        .name = r->name,
        .priority = r->priority,
        .alarms = r->alarms,
        .acknowledged = r->acknowledged,
        .escalations = r->escalations,
        .escalated_alarms = r->escalated_alarms,
        .resolved = r->resolved,
        .withdrawn = r->withdrawn,
        .delayed_readings = r->delayed,
        .per_patient_day = days > 0 ? (double)r->alarms / days : NAN,
        .share_acknowledged =
            r->alarms ? fmin(1.0, (double)r->acknowledged / (double)r->alarms) : NAN,
        .acks_timed = r->acks_timed,
        .ack_sum_s = r->ack_sum_s,
        .ack_p50_s = r->p50,
        .ack_p90_s = r->p90,
        .top10_share = r->top10,
    };
}

void bp_burden_totals_get(const bp_burden *b, bp_burden_totals *out)
{
    *out = (bp_burden_totals){.readings = b->readings,
                              .delayed_readings = b->delayed_readings,
                              .patients = b->n_patients,
                              .patients_capped = b->capped,
                              .first_ms = b->first_ms,
                              .last_ms = b->last_ms,
                              .patient_days = patient_days(b),
                              .events = b->events};
}
