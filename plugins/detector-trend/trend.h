/* Per-patient blood-pressure history in bounded memory: sustained hypertension or hypotension,
 * rapid change and deviation from a personal baseline. Pure logic over plain data; the plugin
 * shell (detector_trend.c) reads options and applies the verdicts through the host. */
#ifndef BPPIPE_TREND_H
#define BPPIPE_TREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_TREND_MAX_SUSTAINED 8 /* sustained_count bound: it sizes every patient's record */
#define BP_TREND_ID_LEN 40       /* ids longer than this are kept as their SHA-256 (156 bits) */

typedef struct bp_trend_config {
    int sustained_count;    /* readings at stage 2+ (or hypotensive) within window */
    int64_t window_ms;      /* default 30 min */
    double rapid_delta;     /* systolic change, mmHg (default 30) */
    int64_t rapid_window_ms; /* default 15 min */
    int baseline_min;       /* readings before the baseline is trusted (default 10) */
    double z_threshold;     /* default 3 */
    double alpha;           /* EWMA weight of a new reading (0.1) */
    size_t max_patients;    /* default 100 000; least recently seen evicted */
} bp_trend_config;

/* One patient's history; a fixed size, so memory is max_patients * sizeof + the index. */
typedef struct bp_patient_state {
    char id[BP_TREND_ID_LEN + 1];
    uint64_t hash;
    int64_t latest_ms;               /* latest effective time seen */
    int64_t prev_ms;                 /* time and systolic of the latest in-order reading */
    double prev_sys;
    double mean, var;                /* exponentially weighted systolic mean and variance */
    uint32_t n;                      /* in-order readings folded into the baseline */
    int64_t high_ms[BP_TREND_MAX_SUSTAINED]; /* times of the latest stage-2+ readings */
    int64_t low_ms[BP_TREND_MAX_SUSTAINED];  /* times of the latest hypotensive readings */
    uint32_t lru_prev, lru_next;     /* recency list (indices; UINT32_MAX = none) */
} bp_patient_state;

typedef struct bp_trend {
    bp_trend_config cfg;
    bp_patient_state *pool; /* max_patients records */
    uint32_t *index;        /* open addressing, linear probing; UINT32_MAX = empty */
    size_t index_cap, used;
    uint32_t lru_head, lru_tail; /* most and least recently seen */
    uint64_t evicted;
} bp_trend;

/* Reasons found for one reading. */
enum {
    BP_TREND_SUSTAINED_HYPER = 1 << 0,
    BP_TREND_SUSTAINED_HYPO = 1 << 1,
    BP_TREND_RAPID_UP = 1 << 2,
    BP_TREND_RAPID_DOWN = 1 << 3,
    BP_TREND_BASELINE = 1 << 4
};

typedef struct bp_trend_verdict {
    unsigned reasons;
    double z;          /* NaN until the baseline is trusted */
    double baseline;   /* NaN until then */
    uint32_t readings; /* readings in the baseline */
    bool late;         /* older than the patient's latest reading: judged, not learned from */
} bp_trend_verdict;

bp_trend_config bp_trend_config_default(void);
int bp_trend_init(bp_trend *t, const bp_trend_config *cfg);
void bp_trend_free(bp_trend *t);

/* Judges one reading of `patient` at `effective_ms` and folds it into the history. NaN values
 * are absent. A reading older than the patient's latest counts towards the sustained windows
 * but moves neither the baseline nor the "previous reading". Returns -1 when `patient` is
 * NULL. */
int bp_trend_observe(bp_trend *t, const char *patient, int64_t effective_ms, double systolic,
                     double diastolic, bp_trend_verdict *out);

/* Bytes of memory per tracked patient (record plus its share of the index). */
size_t bp_trend_bytes_per_patient(const bp_trend *t);

/* Snapshot of every patient (most recent last), to restore after a restart. Save writes
 * atomically. Load refuses a file of another format, version or record size with a reason. */
int bp_trend_save(const bp_trend *t, const char *path);
int bp_trend_load(bp_trend *t, const char *path, char *why, size_t why_len);

#endif
