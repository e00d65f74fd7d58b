/* Per-patient blood-pressure history: sustained hypertension or hypotension, rapid change and
 * deviation from a personal baseline. Pure logic over plain data:
 *   - bp_trend_judge() judges one reading against one patient's state and folds it in;
 *   - bp_trend_encode() / bp_trend_decode() turn that state into the portable bytes the plugin
 *     keeps in the host's keyed state (format BP_TREND_STATE_FORMAT) and back;
 *   - bp_trend (a bounded in-memory pool of patients) strings readings of many patients
 *     together for the unit tests and bench/trend/bench_trend.
 * The plugin shell (detector_trend.c) reads options, keeps the state through the host and
 * applies the verdicts. */
#ifndef BPPIPE_TREND_H
#define BPPIPE_TREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_TREND_MAX_SUSTAINED 8 /* sustained_count bound: it sizes every patient's record */
#define BP_TREND_ID_LEN 40       /* pool only: ids longer than this are kept as their SHA-256 */

typedef struct bp_trend_config {
    int sustained_count;     /* readings at stage 2+ (or hypotensive) within window */
    int64_t window_ms;       /* default 30 min */
    double rapid_delta;      /* systolic change, mmHg (default 30) */
    int64_t rapid_window_ms; /* default 15 min */
    int baseline_min;        /* readings before the baseline is trusted (default 10) */
    double z_threshold;      /* default 3 */
    double alpha;            /* EWMA weight of a new reading (0.1) */
    size_t max_patients;     /* pool: default 100 000; the plugin: keys per input partition */
} bp_trend_config;

/* One patient's history. INT64_MIN marks a time not yet seen. */
typedef struct bp_patient_state {
    int64_t latest_ms; /* latest effective time seen */
    int64_t prev_ms;   /* time and systolic of the latest in-order reading */
    double prev_sys;
    double mean, var;                        /* exponentially weighted systolic mean and variance */
    uint32_t n;                              /* in-order readings folded into the baseline */
    int64_t high_ms[BP_TREND_MAX_SUSTAINED]; /* times of the latest stage-2+ readings */
    int64_t low_ms[BP_TREND_MAX_SUSTAINED];  /* times of the latest hypotensive readings */
} bp_patient_state;

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

/* A patient with no history. */
void bp_patient_state_init(bp_patient_state *p);

/* Judges one reading at `effective_ms` against `p` (one patient's history, as `cfg` is set)
 * and folds it in. NaN values are absent. A reading older than the patient's latest counts
 * towards the sustained windows but moves neither the baseline nor the "previous reading".
 * Deterministic: the same state and reading give the same verdict and the same new state. */
void bp_trend_judge(const bp_trend_config *cfg, bp_patient_state *p, int64_t effective_ms,
                    double systolic, double diastolic, bp_trend_verdict *out);

/* ---- the stored form (the plugin's keyed state) ------------------------------------------
 *
 * Layout of format "trend.1", every integer little-endian, doubles as their IEEE 754 bits:
 *   u8 flags    bit 0: latest_ms follows; bit 1: the baseline follows (n > 0); others 0
 *   u8 n_high   stage-2+ times that follow (0 to BP_TREND_MAX_SUSTAINED)
 *   u8 n_low    hypotensive times that follow (likewise)
 *   [i64 latest_ms]                                        when bit 0
 *   [u32 n, i64 prev_ms, f64 prev_sys, f64 mean, f64 var]  when bit 1
 *   n_high x i64, then n_low x i64, newest first
 * Only the times that can still count are written: at most sustained_count of each, none at or
 * before latest_ms - window (the window of a later reading never reaches them). 3 bytes for a
 * patient never seen, 47 with a baseline and no recent episode, at most 175. Change the format
 * name whenever this layout changes: the host never hands back a value of another format. */
#define BP_TREND_STATE_FORMAT "trend.1"
#define BP_TREND_STATE_MAX (3 + 8 + 36 + 2 * BP_TREND_MAX_SUSTAINED * 8)

/* Writes `p` into `out` (at least BP_TREND_STATE_MAX bytes); returns the length. */
size_t bp_trend_encode(const bp_trend_config *cfg, const bp_patient_state *p, uint8_t *out);
/* Reads a stored value into `p`. Returns 0, or -1 (and `p` as bp_patient_state_init leaves it)
 * when the bytes are not a whole value of this layout: short, long, unknown flags, counts
 * beyond the bound, a time that is no time, a baseline that is not finite. Keeps the newest
 * sustained_count times of each kind when the value was written with a larger count. */
int bp_trend_decode(const bp_trend_config *cfg, const uint8_t *in, size_t len, bp_patient_state *p);

/* The key a patient's state is kept under: the id's bytes, whole, when it has 1 to
 * BP_TREND_KEY_MAX bytes; otherwise a NUL byte and the id's SHA-256 (no id holds a NUL, so no
 * id kept whole is ever another's hashed form). `out` holds BP_TREND_KEY_MAX bytes; returns
 * the key's length. */
#define BP_TREND_KEY_MAX 1024
size_t bp_trend_key(const char *patient, uint8_t *out);

/* ---- the pool (tests and bench) --------------------------------------------------------- */

typedef struct bp_trend_slot {
    char id[BP_TREND_ID_LEN + 1];
    uint64_t hash;
    bp_patient_state state;
    uint32_t lru_prev, lru_next; /* recency list (indices; UINT32_MAX = none) */
} bp_trend_slot;

typedef struct bp_trend {
    bp_trend_config cfg;
    bp_trend_slot *pool; /* max_patients records */
    uint32_t *index;     /* open addressing, linear probing; UINT32_MAX = empty */
    size_t index_cap, used;
    uint32_t lru_head, lru_tail; /* most and least recently seen */
    uint64_t evicted;
} bp_trend;

int bp_trend_init(bp_trend *t, const bp_trend_config *cfg);
void bp_trend_free(bp_trend *t);

/* bp_trend_judge() on the history of `patient` (created when new; the least recently seen
 * patient is forgotten when max_patients are kept). Returns -1 when `patient` is NULL. */
int bp_trend_observe(bp_trend *t, const char *patient, int64_t effective_ms, double systolic,
                     double diastolic, bp_trend_verdict *out);

/* Bytes of memory per tracked patient in the pool (record plus its share of the index). */
size_t bp_trend_bytes_per_patient(const bp_trend *t);

#endif
