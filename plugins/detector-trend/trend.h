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

#include "common/revisable.h"

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
 * patient never seen, 47 with a baseline and no recent episode, at most 175. The host never
 * hands back a value of another format, so the keyed-state format keeps this name and a later
 * layout must tell itself apart by its first byte (trend.2 below: 0x80). */
#define BP_TREND_STATE_FORMAT "trend.1"
#define BP_TREND_STATE_MAX (3 + 8 + 36 + 2 * BP_TREND_MAX_SUSTAINED * 8)

/* Writes `p` into `out` (at least BP_TREND_STATE_MAX bytes); returns the length. */
size_t bp_trend_encode(const bp_trend_config *cfg, const bp_patient_state *p, uint8_t *out);
/* Reads a stored value into `p`. Returns 0, or -1 (and `p` as bp_patient_state_init leaves it)
 * when the bytes are not a whole value of this layout: short, long, unknown flags, counts
 * beyond the bound, a time that is no time, a baseline that is not finite. Keeps the newest
 * sustained_count times of each kind when the value was written with a larger count. */
int bp_trend_decode(const bp_trend_config *cfg, const uint8_t *in, size_t len, bp_patient_state *p);

/* ---- revisions (issue 26): a history that corrections and retractions can rewrite ---------
 *
 * A patient's state is folded from its readings in the order they came, so it cannot forget
 * one. To take a reading back exactly, the latest readings stay unfolded: `base` holds every
 * reading before entries[] folded in, entries[] the latest ones as they came (a correction
 * rewrites its entry in place, a retraction removes it), and `now` is `base` with entries[]
 * folded in again, the state the next reading is judged against. Folding is deterministic, so
 * after a correction or retraction `now` is exactly the state of a run that got the corrected
 * reading (or never got the retracted one) in the first place, and so are the verdicts that
 * follow. A reading without a logical id can never be revised: while no revisable reading is
 * before it, it goes straight into `base`, so a history without logical ids is a
 * bp_patient_state as before (and stored as layout trend.1). A revision of a reading that has
 * left entries[] (more than `keep` readings ago) cannot be undone: the correction is then
 * judged as a late reading and the retraction changes nothing (the caller counts both). */
#define BP_TREND_MAX_REVISABLE 32

/* A kept reading: id (bp_trend_reading_id of the logical id; 0: none), time, values. */
typedef bp_revisable_entry bp_trend_entry;

typedef struct bp_trend_history {
    bp_patient_state base, now;
    int n; /* entries in use, oldest first */
    bp_trend_entry entries[BP_TREND_MAX_REVISABLE];
} bp_trend_history;

typedef enum bp_trend_revision {
    BP_TREND_REPLACE = 1, /* the reading of this logical id, corrected */
    BP_TREND_RETRACT = 2  /* the reading of this logical id never existed */
} bp_trend_revision;

/* A 64-bit digest of a logical id (SHA-256's first bytes), never 0. */
uint64_t bp_trend_reading_id(const char *logical_id);
void bp_trend_history_init(bp_trend_history *h);
/* bp_trend_judge() of a new reading against h->now, which it is folded into; kept in entries[]
 * when it has an id (`id` 0: none) or follows one, at most `keep` of them (the oldest are folded
 * into `base`; 0 <= keep <= BP_TREND_MAX_REVISABLE). */
void bp_trend_history_judge(const bp_trend_config *cfg, int keep, bp_trend_history *h, uint64_t id,
                            int64_t effective_ms, double systolic, double diastolic,
                            bp_trend_verdict *out);
/* A revision of reading `id`. REPLACE: its entry takes the new time and values (an id not in
 * entries[] is inserted after the last entry not later than it), the history is folded again,
 * and *out is the verdict the corrected reading gets at its place. RETRACT: its entry is removed
 * and the history folded again (*out untouched). Returns 1 when the entry was in entries[] (the
 * history is now exactly a run that never saw the old version), 0 otherwise. */
int bp_trend_history_revise(const bp_trend_config *cfg, int keep, bp_trend_history *h,
                            bp_trend_revision rev, uint64_t id, int64_t effective_ms,
                            double systolic, double diastolic, bp_trend_verdict *out);

/* The stored form of a history: with no entries, exactly layout trend.1 (bp_trend_encode of
 * `now`); with entries, layout trend.2:
 *   u8 0x80 (a first byte trend.1 never has), u8 n (1 to BP_TREND_MAX_REVISABLE),
 *   u8 length, then trend.1 of `now`; u8 length, then trend.1 of `base`;
 *   n x (u64 id, i64 at_ms, f64 sys, f64 dia), oldest first (values may be NaN).
 * Both layouts are kept under the keyed-state format BP_TREND_STATE_FORMAT: a value written
 * before revisions (trend.1) is read as a history without entries. */
#define BP_TREND_LAYOUT_REVISABLE BP_REVISABLE_LAYOUT
#define BP_TREND_HISTORY_MAX (3 + 2 * BP_TREND_STATE_MAX + 1 + BP_TREND_MAX_REVISABLE * 32)
size_t bp_trend_history_encode(const bp_trend_config *cfg, const bp_trend_history *h, uint8_t *out);
/* 0, or -1 (and `h` as bp_trend_history_init leaves it) when the bytes are neither layout.
 * Entries past h->n are left as they were. */
int bp_trend_history_decode(const bp_trend_config *cfg, const uint8_t *in, size_t len,
                            bp_trend_history *h);

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
