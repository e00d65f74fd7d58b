/* The simulated ward: patients whose blood pressure has a personal baseline, autocorrelated
 * noise and episodes of hypertension and hypotension, written as FHIR R4 vital-signs
 * Observations. Pure and deterministic: the same seed (and start time) gives the same readings
 * and the same bytes. No I/O, no global state, no clock: the plugin shell supplies the time. */
#ifndef BPPIPE_WARD_SIM_H
#define BPPIPE_WARD_SIM_H

#include <stddef.h>
#include <stdint.h>

/* xoshiro256** state, seeded through splitmix64. Plain data: copy it to fork a stream. */
typedef struct bp_rng {
    uint64_t s[4];
} bp_rng;

/* Seeds `r` from any 64-bit value (0 included). `r` must not be NULL. */
void bp_rng_seed(bp_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t bp_rng_next(bp_rng *r);
/* A uniform double in [0, 1) with 53 random bits. */
double bp_rng_uniform(bp_rng *r);
/* A standard normal deviate (mean 0, sd 1), Box-Muller; consumes two uniforms. */
double bp_rng_normal(bp_rng *r);

typedef enum { BP_EP_NONE, BP_EP_HYPER, BP_EP_HYPO } bp_episode;

/* One simulated patient: the state the Markov chain and the AR(1) noise carry over. */
typedef struct bp_patient {
    double base_sys, base_dia;   /* personal baseline, mmHg */
    double sd_sys, sd_dia;       /* personal variability, mmHg */
    double noise_sys, noise_dia; /* AR(1) state */
    bp_episode episode;
    double ep_sys, ep_dia; /* offset of the current episode, mmHg */
} bp_patient;

/* The whole ward. Members are read by the tests; change them only through the functions. */
typedef struct bp_ward {
    bp_rng rng;
    uint64_t seed;
    int64_t start_ms;  /* simulated clock at sequence 0, ms since the epoch (UTC) */
    double interval_s; /* simulated seconds between two readings of one patient */
    double jitter;     /* timing jitter as a share of the gap between two patients (0..0.45) */
    size_t n_patients, n_practitioners;
    bp_patient *patients; /* n_patients, owned */
    uint64_t next;        /* sequence number of the next reading */
    double invalid_rate;
} bp_ward;

/* Sets up `n_patients` (>= 1) patients served by `n_practitioners` (>= 1). The clock starts at
 * `start_ms`; each patient is read every `interval_s` (> 0) simulated seconds, the patients
 * spread evenly over the interval, without jitter until bp_ward_set_jitter() is called. A share
 * `invalid_rate` (0..1) of the payloads is deliberately broken. Returns 0, or -1 when an
 * argument is out of range or memory ran out (then nothing needs freeing). */
int bp_ward_init(bp_ward *w, uint64_t seed, size_t n_patients, size_t n_practitioners,
                 int64_t start_ms, double interval_s, double invalid_rate);
/* Releases the patients; `w` may then be initialised again. Safe on a zeroed ward. */
void bp_ward_free(bp_ward *w);
/* Moves each effective time by up to +/- `share` of the gap between two consecutive patients
 * (clamped to 0..0.45, so readings stay in sequence order). The first reading keeps its time,
 * so a run starts exactly at start_ms. The jitter is a hash of the seed and the sequence
 * number: it does not consume random numbers, so the values do not change with it. */
void bp_ward_set_jitter(bp_ward *w, double share);

typedef struct bp_sim_reading {
    uint64_t seq;
    size_t patient, practitioner; /* 0-based */
    int64_t effective_ms;
    int systolic, diastolic; /* mmHg, diastolic < systolic */
    int broken; /* 0, or which deliberate defect the payload carries (BP_BROKEN_*) */
} bp_sim_reading;

/* The deliberate defects of invalid_rate, each dead-lettered by the decoder for its own reason. */
enum {
    BP_BROKEN_TRUNCATED = 1,  /* JSON cut off halfway */
    BP_BROKEN_NOT_OBS = 2,    /* JSON that is not a FHIR resource (no resourceType) */
    BP_BROKEN_NO_SUBJECT = 3, /* an Observation without subject */
    BP_BROKEN_UNIT = 4        /* values in "cm", which is no pressure unit */
};

/* Advances the ward by one reading (patients take turns: sequence n belongs to patient
 * n mod P, practitioner n mod M) and describes it in *out. */
void bp_ward_step(bp_ward *w, bp_sim_reading *out);

/* Simulated seconds after the start at which reading `seq` is due, without jitter:
 * (seq / P + (seq mod P) / P) x interval. The plugin paces real time with it. */
double bp_ward_due_s(const bp_ward *w, uint64_t seq);

/* Writes reading `r` of ward `w` as one line of FHIR JSON (or its deliberately broken variant)
 * into `buf` of `len` bytes, NUL-terminated. Returns the payload length without the NUL, or 0
 * when it does not fit (about 1.3 KB is always enough). */
size_t bp_ward_fhir(const bp_ward *w, const bp_sim_reading *r, char *buf, size_t len);

/* "PAT-001" / "PRAC-01" style ids for 0-based index `i` (more digits past 999 / 99). */
void bp_ward_patient_id(size_t i, char *out, size_t len);
void bp_ward_practitioner_id(size_t i, char *out, size_t len);

/* Parses an ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SS[.fff]" followed by "Z" or "+00:00", from
 * 1970 on, into ms since the epoch. Returns 0, or -1 (and leaves *ms alone) when `text` is
 * anything else, including impossible dates like 2026-02-30. */
int bp_ward_parse_time(const char *text, int64_t *ms);

#endif
