/* What the FHIR decoder hands out for each item of a payload: a reading, a reason the payload
 * (or one resource of it) is unusable, or a resource skipped as not blood pressure. The container
 * walk (fhir_decode.h) and the extraction of one Observation (fhir_observation.h) both fill it;
 * it lives here so that neither header needs the other. */
#ifndef BPPIPE_FHIR_TYPES_H
#define BPPIPE_FHIR_TYPES_H

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

#endif
