/* The tree models' feature vocabulary and the per-patient history behind it (history.h). */
#include "clinical/history.h"

#include "common/le_bytes.h"
#include "common/revisable.h"
#include "common/sha256.h"

#include <math.h>
#include <string.h>

static const char *const names[BP_FEAT_N] = {
    "systolic",
    "diastolic",
    "pulse",
    "pulse_pressure",
    "map",
    "count",
    "seconds_since_last",
    "prev_systolic",
    "prev_diastolic",
    "delta_systolic",
    "delta_diastolic",
    "baseline_systolic",
    "baseline_diastolic",
    "baseline_delta_systolic",
    "baseline_delta_diastolic",
    "slope_systolic",
    "slope_diastolic",
};

int bp_feat_parse(const char *name)
{
    for (int i = 0; name && i < BP_FEAT_N; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *bp_feat_name(bp_feat f)
{
    return (unsigned)f < BP_FEAT_N ? names[f] : NULL;
}

bool bp_feat_is_history(bp_feat f)
{
    return f > BP_FEAT_MAP && f < BP_FEAT_N;
}

void bp_hist_init(bp_history *h)
{
    memset(h, 0, sizeof *h);
}

/* Least-squares slope per hour of (t, v) over the reading and the kept ones; NaN with fewer
 * than two distinct times or an absent value. */
static double slope(const bp_history *h, int64_t at_ms, double v, const double *kept_v)
{
    size_t n = (size_t)h->kept + 1;
    if (isnan(v) || h->kept == 0)
        return NAN;
    double mt = 0, mv = 0;
    for (size_t i = 0; i < n; i++) {
        double t = i == 0 ? 0 : (double)(h->at_ms[i - 1] - at_ms) / 3.6e6;
        mt += t;
        mv += i == 0 ? v : kept_v[i - 1];
    }
    mt /= (double)n;
    mv /= (double)n;
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        double t = i == 0 ? 0 : (double)(h->at_ms[i - 1] - at_ms) / 3.6e6;
        double y = i == 0 ? v : kept_v[i - 1];
        sxy += (t - mt) * (y - mv);
        sxx += (t - mt) * (t - mt);
    }
    return sxx > 0 ? sxy / sxx : NAN;
}

void bp_hist_features(const bp_history *h, int64_t at_ms, double s, double d, double pulse,
                      double *out)
{
    for (int i = 0; i < BP_FEAT_N; i++)
        out[i] = NAN;
    out[BP_FEAT_SYSTOLIC] = s;
    out[BP_FEAT_DIASTOLIC] = d;
    out[BP_FEAT_PULSE] = pulse;
    out[BP_FEAT_PULSE_PRESSURE] = s - d; /* NaN when either is */
    out[BP_FEAT_MAP] = d + (s - d) / 3.0;
    out[BP_FEAT_COUNT] = h->n;
    if (h->kept > 0) {
        out[BP_FEAT_SECONDS_SINCE_LAST] = (double)(at_ms - h->at_ms[0]) / 1000.0;
        out[BP_FEAT_PREV_SYSTOLIC] = h->sys[0];
        out[BP_FEAT_PREV_DIASTOLIC] = h->dia[0];
        out[BP_FEAT_DELTA_SYSTOLIC] = s - h->sys[0];
        out[BP_FEAT_DELTA_DIASTOLIC] = d - h->dia[0];
    }
    if (h->n > 0) {
        out[BP_FEAT_BASELINE_SYSTOLIC] = h->base_sys;
        out[BP_FEAT_BASELINE_DIASTOLIC] = h->base_dia;
        out[BP_FEAT_BASELINE_DELTA_SYSTOLIC] = s - h->base_sys;
        out[BP_FEAT_BASELINE_DELTA_DIASTOLIC] = d - h->base_dia;
    }
    out[BP_FEAT_SLOPE_SYSTOLIC] = slope(h, at_ms, s, h->sys);
    out[BP_FEAT_SLOPE_DIASTOLIC] = slope(h, at_ms, d, h->dia);
}

bool bp_hist_fold(bp_history *h, int64_t at_ms, double s, double d)
{
    if (isnan(s) || isnan(d) || (h->kept > 0 && at_ms <= h->at_ms[0]))
        return false;
    double w = h->n < (uint32_t)(1.0 / BP_HIST_ALPHA) ? 1.0 / (h->n + 1.0) : BP_HIST_ALPHA;
    h->base_sys = h->n ? h->base_sys + w * (s - h->base_sys) : s;
    h->base_dia = h->n ? h->base_dia + w * (d - h->base_dia) : d;
    if (h->n < UINT32_MAX)
        h->n++;
    size_t keep = h->kept < BP_HIST_KEEP ? h->kept + 1u : BP_HIST_KEEP;
    memmove(h->at_ms + 1, h->at_ms, (keep - 1) * sizeof h->at_ms[0]);
    memmove(h->sys + 1, h->sys, (keep - 1) * sizeof h->sys[0]);
    memmove(h->dia + 1, h->dia, (keep - 1) * sizeof h->dia[0]);
    h->at_ms[0] = at_ms;
    h->sys[0] = s;
    h->dia[0] = d;
    h->kept = (uint8_t)keep;
    return true;
}

size_t bp_hist_encode(const bp_history *h, uint8_t *out)
{
    uint8_t *p = out;
    *p++ = h->kept;
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(h->n >> (8 * i));
    p = bp_le_put_f64(p, h->base_sys);
    p = bp_le_put_f64(p, h->base_dia);
    for (size_t i = 0; i < h->kept; i++) {
        p = bp_le_put_u64(p, (uint64_t)h->at_ms[i]);
        p = bp_le_put_f64(p, h->sys[i]);
        p = bp_le_put_f64(p, h->dia[i]);
    }
    return (size_t)(p - out);
}

int bp_hist_decode(const uint8_t *in, size_t len, bp_history *h)
{
    bp_hist_init(h);
    if (len < 21 || in[0] > BP_HIST_KEEP || len != 21 + (size_t)in[0] * 24)
        return -1;
    bp_history v = {.kept = in[0]};
    for (int i = 0; i < 4; i++)
        v.n |= (uint32_t)in[1 + i] << (8 * i);
    v.base_sys = bp_le_get_f64(in + 5);
    v.base_dia = bp_le_get_f64(in + 13);
    const uint8_t *p = in + 21;
    for (size_t i = 0; i < v.kept; i++, p += 24) {
        v.at_ms[i] = (int64_t)bp_le_get_u64(p);
        v.sys[i] = bp_le_get_f64(p + 8);
        v.dia[i] = bp_le_get_f64(p + 16);
        if (!isfinite(v.sys[i]) || !isfinite(v.dia[i]) || (i && v.at_ms[i] >= v.at_ms[i - 1]))
            return -1;
    }
    if (v.kept > v.n || (v.n && (!isfinite(v.base_sys) || !isfinite(v.base_dia))))
        return -1;
    *h = v;
    return 0;
}

size_t bp_hist_key(const char *patient, uint8_t *out)
{
    size_t len = strlen(patient);
    if (len >= 1 && len <= BP_HIST_KEY_MAX) {
        memcpy(out, patient, len);
        return len;
    }
    out[0] = 0;
    bp_sha256(patient, len, out + 1);
    return 33;
}

/* ---- revisions (issue 26) ------------------------------------------------------------------- */

uint64_t bp_hist_reading_id(const char *logical_id)
{
    return bp_revisable_id(logical_id);
}

void bp_hist_log_init(bp_hist_log *h)
{
    memset(h, 0, sizeof *h);
}

/* The window's fold (common/revisable.h). */
static void fold_into(void *ctx, void *base, const bp_revisable_entry *e)
{
    (void)ctx;
    bp_hist_fold(base, e->at_ms, e->sys, e->dia);
}

void bp_hist_log_add(bp_hist_log *h, int keep, uint64_t id, int64_t at, double s, double d)
{
    bp_hist_fold(&h->now, at, s, d);
    if (h->n == 0 && (id == 0 || keep == 0)) {
        h->base = h->now; /* the same fold: nothing to keep apart */
        return;
    }
    h->entries[h->n++] = (bp_hist_entry){id, at, s, d};
    bp_revisable_trim(h->entries, &h->n, keep, fold_into, NULL, &h->base);
}

int bp_hist_log_revise(bp_hist_log *h, int keep, bool retract, uint64_t id, int64_t at, double s,
                       double d, bp_history *before)
{
    int i = bp_revisable_find(h->entries, h->n, id);
    bool found = i >= 0;
    if (!found && (retract || keep == 0 || h->n == 0)) {
        if (!retract) {
            if (before)
                *before = h->now;
            bp_hist_log_add(h, keep, id, at, s, d);
        }
        return 0;
    }
    if (retract)
        bp_revisable_remove(h->entries, &h->n, i);
    else if (!found)
        i = bp_revisable_insert_at(h->entries, &h->n, BP_HIST_MAX_REVISABLE, at, fold_into, NULL,
                                   &h->base);
    if (!retract)
        h->entries[i] = (bp_hist_entry){id, at, s, d};
    h->now = h->base;
    for (int k = 0; k < h->n; k++) {
        if (k == i && before && !retract)
            *before = h->now;
        bp_hist_fold(&h->now, h->entries[k].at_ms, h->entries[k].sys, h->entries[k].dia);
    }
    bp_revisable_trim(h->entries, &h->n, keep, fold_into, NULL, &h->base);
    return found;
}

size_t bp_hist_log_encode(const bp_hist_log *h, uint8_t *out)
{
    if (h->n == 0)
        return bp_hist_encode(&h->now, out);
    uint8_t now[BP_HIST_STATE_MAX], base[BP_HIST_STATE_MAX];
    size_t now_len = bp_hist_encode(&h->now, now);
    size_t base_len = bp_hist_encode(&h->base, base);
    return bp_revisable_encode(out, now, now_len, base, base_len, h->entries, h->n);
}

int bp_hist_log_decode(const uint8_t *in, size_t len, bp_hist_log *h)
{
    bp_hist_log_init(h);
    if (len >= 1 && in[0] != BP_HIST_LAYOUT_REVISABLE) {
        if (bp_hist_decode(in, len, &h->now) != 0)
            return -1;
        h->base = h->now;
        return 0;
    }
    bp_hist_log v;
    bp_hist_log_init(&v);
    bp_revisable_parts parts;
    if (bp_revisable_decode(in, len, BP_HIST_MAX_REVISABLE, &parts, v.entries) != 0 ||
        bp_hist_decode(parts.now, parts.now_len, &v.now) != 0 ||
        bp_hist_decode(parts.base, parts.base_len, &v.base) != 0)
        return -1;
    v.n = parts.n;
    *h = v;
    return 0;
}
