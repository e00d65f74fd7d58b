/* The feature vocabulary of the tree models (detector-xgboost, `bppipe train --model gbtree`)
 * and the small per-patient history its history features come from. A model names its inputs
 * (XGBoost saves feature names); each name is looked up here, so a model trained in Python on
 * "systolic" and "diastolic" runs with no other file. Pure functions over plain data: the
 * plugin keeps a patient's history in the host's keyed state as the bytes bp_hist_encode
 * writes, the ward simulation of bench/model feeds it directly.
 *
 * A feature the history cannot give yet (no previous reading, no time between two readings)
 * is NaN: XGBoost treats it as missing and takes each tree's learned default branch. It is
 * never 0, which would claim "no change" where nothing is known. */
#ifndef BPPIPE_HISTORY_H
#define BPPIPE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The vocabulary, in this order (names as a model spells them). */
typedef enum bp_feat {
    BP_FEAT_SYSTOLIC,           /* mmHg */
    BP_FEAT_DIASTOLIC,          /* mmHg */
    BP_FEAT_PULSE,              /* heart rate, beats/min (NaN when the reading has none) */
    BP_FEAT_PULSE_PRESSURE,     /* systolic - diastolic */
    BP_FEAT_MAP,                /* mean arterial pressure, diastolic + (systolic - diastolic)/3 */
    BP_FEAT_COUNT,              /* the patient's earlier readings (0 for the first: known) */
    BP_FEAT_SECONDS_SINCE_LAST, /* since the patient's previous reading */
    BP_FEAT_PREV_SYSTOLIC,      /* the previous reading's values */
    BP_FEAT_PREV_DIASTOLIC,
    BP_FEAT_DELTA_SYSTOLIC, /* this reading - the previous one */
    BP_FEAT_DELTA_DIASTOLIC,
    BP_FEAT_BASELINE_SYSTOLIC, /* the patient's baseline before this reading (see below) */
    BP_FEAT_BASELINE_DIASTOLIC,
    BP_FEAT_BASELINE_DELTA_SYSTOLIC, /* this reading - the baseline */
    BP_FEAT_BASELINE_DELTA_DIASTOLIC,
    BP_FEAT_SLOPE_SYSTOLIC,  /* least-squares slope, mmHg per hour, over this reading and up */
    BP_FEAT_SLOPE_DIASTOLIC, /* to BP_HIST_KEEP - 1 earlier ones */
    BP_FEAT_N
} bp_feat;

/* Readings a history keeps for the slope. */
#define BP_HIST_KEEP 5
/* The baseline is the running mean of the first 1/BP_HIST_ALPHA readings, then an exponentially
 * weighted mean with weight BP_HIST_ALPHA for the newest: it follows a patient's slow drift and
 * is not pulled far by one episode. */
#define BP_HIST_ALPHA 0.1

/* "systolic" ... → the feature; -1 when the name is not in the vocabulary. */
int bp_feat_parse(const char *name);
const char *bp_feat_name(bp_feat f);
/* Whether a feature needs the patient's history (every one after BP_FEAT_MAP). */
bool bp_feat_is_history(bp_feat f);

/* One patient's history: the readings folded in so far. */
typedef struct bp_history {
    uint32_t n;                  /* readings folded in */
    double base_sys, base_dia;   /* baseline (valid when n > 0) */
    uint8_t kept;                /* entries of the arrays below, newest first */
    int64_t at_ms[BP_HIST_KEEP]; /* effective times */
    double sys[BP_HIST_KEEP], dia[BP_HIST_KEEP];
} bp_history;

void bp_hist_init(bp_history *h);

/* Every feature of the vocabulary for a reading at `at_ms` (NaN values are absent) judged
 * against history `h`, into out[BP_FEAT_N]. Does not change `h`. */
void bp_hist_features(const bp_history *h, int64_t at_ms, double systolic, double diastolic,
                      double pulse, double *out);

/* Folds the reading into `h` when it has both values and is newer than the newest kept one
 * (a late reading is judged against the history but does not rewrite it). Returns whether it
 * was folded in. */
bool bp_hist_fold(bp_history *h, int64_t at_ms, double systolic, double diastolic);

/* ---- the stored form (the plugin's keyed state) ------------------------------------------
 * Format "xgbhist.1", little-endian, doubles as their IEEE 754 bits:
 *   u8 kept (0..BP_HIST_KEEP), u32 n, f64 base_sys, f64 base_dia,
 *   kept x (i64 at_ms, f64 sys, f64 dia), newest first.
 * 21 bytes for one reading's worth of nothing, at most 141. Rename the format when it changes. */
#define BP_HIST_FORMAT "xgbhist.1"
#define BP_HIST_STATE_MAX (1 + 4 + 16 + BP_HIST_KEEP * 24)

size_t bp_hist_encode(const bp_history *h, uint8_t *out);
/* Returns 0, or -1 (and `h` initialised) when the bytes are not a whole value of this layout. */
int bp_hist_decode(const uint8_t *in, size_t len, bp_history *h);

/* The key of a patient: the id's bytes when 1 to BP_HIST_KEY_MAX of them, else a NUL byte and
 * the id's SHA-256 (no id holds a NUL, so the two never meet). Returns the length. */
#define BP_HIST_KEY_MAX 1024
size_t bp_hist_key(const char *patient, uint8_t *out);

#endif
