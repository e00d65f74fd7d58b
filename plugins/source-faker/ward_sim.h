/* The simulated ward: patients whose blood pressure has a personal baseline, autocorrelated
 * noise and episodes of hypertension and hypotension, written as FHIR R4 vital-signs
 * Observations. Pure and deterministic: the same seed gives the same readings. */
#ifndef BPPIPE_WARD_SIM_H
#define BPPIPE_WARD_SIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct bp_rng {
    uint64_t s[4];
} bp_rng;

void bp_rng_seed(bp_rng *r, uint64_t seed);
uint64_t bp_rng_next(bp_rng *r);
double bp_rng_uniform(bp_rng *r); /* [0, 1) */
double bp_rng_normal(bp_rng *r);  /* mean 0, sd 1 */

typedef enum { BP_EP_NONE, BP_EP_HYPER, BP_EP_HYPO } bp_episode;

typedef struct bp_patient {
    double base_sys, base_dia; /* personal baseline */
    double sd_sys, sd_dia;     /* personal variability */
    double noise_sys, noise_dia; /* AR(1) state */
    bp_episode episode;
    double ep_sys, ep_dia;     /* offset of the current episode */
} bp_patient;

typedef struct bp_ward {
    bp_rng rng;
    uint64_t seed;
    int64_t start_ms;
    double interval_s; /* simulated seconds between two readings of one patient */
    size_t n_patients, n_practitioners;
    bp_patient *patients;
    uint64_t next; /* sequence number of the next reading */
    double invalid_rate;
} bp_ward;

/* Sets up `n_patients` patients. Returns 0 or -1 (out of memory). */
int bp_ward_init(bp_ward *w, uint64_t seed, size_t n_patients, size_t n_practitioners,
                 int64_t start_ms, double interval_s, double invalid_rate);
void bp_ward_free(bp_ward *w);

typedef struct bp_sim_reading {
    uint64_t seq;
    size_t patient, practitioner; /* 0-based */
    int64_t effective_ms;
    int systolic, diastolic;
    int broken; /* 0, or which deliberate defect the payload carries (1..4) */
} bp_sim_reading;

/* Advances the ward by one reading (patients take turns). */
void bp_ward_step(bp_ward *w, bp_sim_reading *out);

/* Writes the reading as a FHIR Observation (or its deliberately broken variant) into `buf`.
 * Returns the length, or 0 when it does not fit. */
size_t bp_ward_fhir(const bp_ward *w, const bp_sim_reading *r, char *buf, size_t len);

/* "PAT-001" / "PRAC-01" style ids. */
void bp_ward_patient_id(size_t i, char *out, size_t len);
void bp_ward_practitioner_id(size_t i, char *out, size_t len);

#endif
