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

#include "common/revisable.h"

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

/* ---- revisions (issue 26): a history that corrections and retractions can rewrite ---------
 * bp_history folds readings in the order they came and cannot forget one (the baseline is a
 * running mean). So the latest readings with a logical id (and those after them) are kept apart
 * as they came: `base` holds every reading before entries[] folded in, `now` is `base` with
 * entries[] folded in again (what the next reading is judged against). A correction rewrites
 * its entry in place, a retraction removes it, and `now` is folded again: exactly the history of
 * a run that got the corrected reading, or never the retracted one. A reading without an id
 * goes straight into `base` while no kept reading is before it, so without logical ids the log
 * is a bp_history as before (and stored as "xgbhist.1"). */
#define BP_HIST_MAX_REVISABLE 16

/* A kept reading: id (bp_hist_reading_id of the logical id; 0: none), time, values. */
typedef bp_revisable_entry bp_hist_entry;

typedef struct bp_hist_log {
    bp_history base, now;
    int n; /* entries in use, oldest first */
    bp_hist_entry entries[BP_HIST_MAX_REVISABLE];
} bp_hist_log;

/* A 64-bit digest of a logical id, never 0. */
uint64_t bp_hist_reading_id(const char *logical_id);
void bp_hist_log_init(bp_hist_log *h);
/* bp_hist_fold of a new reading into h->now; kept apart when it has an id (`id` 0: none) or
 * follows a kept one, at most `keep` (0 to BP_HIST_MAX_REVISABLE) of them. */
void bp_hist_log_add(bp_hist_log *h, int keep, uint64_t id, int64_t at_ms, double systolic,
                     double diastolic);
/* A correction (`retract` false: the entry of `id` takes the new time and values; an id not kept
 * is put after the last kept reading not later than it) or a retraction (the entry goes), then
 * h->now folded again. `before` (may be NULL) gets the history just before the corrected
 * reading's place: what its features are computed against. Returns 1 when the entry was kept
 * (the history is now exactly the other run's), else 0: a retraction then changes nothing, a
 * correction is added as a new reading (and `before` is h->now before it). */
int bp_hist_log_revise(bp_hist_log *h, int keep, bool retract, uint64_t id, int64_t at_ms,
                       double systolic, double diastolic, bp_history *before);
/* Stored: with no entry, exactly "xgbhist.1" (bp_hist_encode of `now`); with entries, a first
 * byte 0x80 (never a kept count), u8 n, u8 length + xgbhist.1 of `now`, u8 length + xgbhist.1 of
 * `base`, n x (u64 id, i64 at_ms, f64 sys, f64 dia). Kept under the keyed-state format
 * BP_HIST_FORMAT: a value stored before revisions is read as a log without entries. */
#define BP_HIST_LAYOUT_REVISABLE BP_REVISABLE_LAYOUT
#define BP_HIST_LOG_MAX (4 + 2 * BP_HIST_STATE_MAX + BP_HIST_MAX_REVISABLE * 32)
size_t bp_hist_log_encode(const bp_hist_log *h, uint8_t *out);
/* 0, or -1 (and `h` initialised) when the bytes are neither layout. */
int bp_hist_log_decode(const uint8_t *in, size_t len, bp_hist_log *h);

/* The key of a patient: the id's bytes when 1 to BP_HIST_KEY_MAX of them, else a NUL byte and
 * the id's SHA-256 (no id holds a NUL, so the two never meet). Returns the length. */
#define BP_HIST_KEY_MAX 1024
size_t bp_hist_key(const char *patient, uint8_t *out);

#endif
