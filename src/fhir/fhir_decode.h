/* The one FHIR decoder of bppipe: payload bytes in, readings (or invalid reasons) out.
 *
 * Pure functions over plain data: no I/O, no logging, and no global state but cJSON's
 * allocation hooks (bp_fhir_decode_init) and a per-thread allocator kept warm between
 * payloads. The decoder parses a payload once (cJSON), walks the container (one resource, a
 * Bundle of any type, a JSON array or NDJSON), pairs single-value Observations of one patient
 * and time, and calls `emit` once per reading found or once per reason the payload (or one
 * resource of it) could not be used. Every string handed to `emit` is valid only during that
 * call; the caller copies what it keeps. Threads may decode at the same time. The rules, field
 * by field, are in docs/fhir.md. */
#ifndef BPPIPE_FHIR_DECODE_H
#define BPPIPE_FHIR_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* Flags on a decoded reading. */
#define BP_DEC_BY_TEXT 0x1u /* a component was identified by its code.text, not by a coding */

typedef struct bp_decoded {
    /* NULL when the item is a reading; otherwise why the payload or resource is unusable,
     * precise enough for an operator: "not JSON at byte 512", "no systolic or diastolic value",
     * "status entered-in-error is not a reading". */
    const char *invalid_reason;

    const char *stable_id;       /* Observation id (+ "/_history/<versionId>"), else fullUrl, else
                                    "sha256:<hex>"-style content hash; never NULL for readings */
    const char *observation_id;  /* Observation.id or NULL */
    const char *patient_id;      /* never NULL for readings */
    const char *practitioner_id; /* NULL when none */
    const char *device_id;       /* NULL when none */
    const char *status;          /* Observation.status as written, NULL when absent */
    int64_t effective_ms;        /* UTC milliseconds since the epoch */
    double systolic;             /* mmHg, NaN when absent */
    double diastolic;            /* mmHg, NaN when absent */
    double heart_rate;           /* /min, NaN when absent */
    unsigned flags;              /* BP_DEC_* */
    int resource_index;          /* position in the container (Bundle entry, array, NDJSON line);
                                    -1 for a single resource or a whole-payload failure */

    /* Skipped items: valid FHIR that is not a blood-pressure reading (a Condition, a heart-rate
     * Observation, ...). An item with skip_reason set and invalid_reason NULL is neither a
     * reading nor a dead letter. skip_reason is one of the BP_SKIP_* texts below, a small fixed
     * set (no ids, no values), so counting by reason stays bounded; what the resource was goes
     * in the two fields after it. stable_id then names the resource: "<resourceType>/<id>"
     * (+ "/_history/<versionId>"), else the entry's fullUrl, else a content hash. */
    const char *skip_reason;
    const char *resource_type; /* the skipped resource's resourceType, NULL for an entry
                                  without a resource */
    const char *resource_code; /* a skipped Observation's code (the LOINC coding's when there
                                  is one, else the first coding's), NULL when none */
} bp_decoded;

/* The reasons an item is skipped. */
#define BP_SKIP_NOT_OBSERVATION "resource is not an Observation"
#define BP_SKIP_NOT_BP "Observation is not blood pressure"
#define BP_SKIP_MEAN_ONLY "mean blood pressure only"
#define BP_SKIP_NO_RESOURCE "Bundle entry without a resource"
#define BP_SKIP_EMPTY_BUNDLE "Bundle with no entries"

typedef struct bp_decode_opts {
    size_t max_payload_bytes; /* 0 = no limit; larger payloads are invalid without parsing */
} bp_decode_opts;

/* Called for each item; return 0 to go on, non-zero to stop decoding (the value is returned
 * by bp_fhir_decode). */
typedef int (*bp_decode_emit)(void *user, const bp_decoded *item);

/* Decodes `len` bytes at `data` (need not be NUL-terminated). `opts` may be NULL for the
 * defaults. Calls `emit` at least once for every payload: a payload that yields no reading
 * produces an invalid item with the reason, or one skipped item per resource that is valid FHIR
 * but not blood pressure. Returns 0, the non-zero value of `emit`
 * that stopped it, or -1 when memory ran out (after emitting an invalid item saying so). */
int bp_fhir_decode(const char *data, size_t len, const bp_decode_opts *opts,
                   bp_decode_emit emit, void *user);

/* Installs the decoder's cJSON allocation hooks (a per-thread arena while a payload is decoded,
 * plain malloc and free otherwise). bp_fhir_decode calls it on first use; a program that runs
 * cJSON on other threads calls it first, before those threads start (cJSON's hooks are one
 * process-wide setting, and setting them races with any cJSON call). Idempotent. */
void bp_fhir_decode_init(void);

/* Gives back the calling thread's decoder memory (kept warm between payloads). A thread that
 * decoded calls it before it ends; decoding again afterwards is fine. */
void bp_fhir_decode_thread_done(void);

#endif
