/* The tree models' feature vocabulary and the per-patient history behind it (history.h). */
#include "clinical/history.h"

#include "common/le_bytes.h"
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
