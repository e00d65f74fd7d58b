/* What the FHIR decoder hands out for each item of a payload: a reading, a reason the payload
 * (or one resource of it) is unusable, or a resource skipped as not blood pressure. The container
 * walk (fhir_decode.h) and the extraction of one Observation (fhir_observation.h) both fill it;
 * it lives here so that neither header needs the other. */
#ifndef BPPIPE_FHIR_TYPES_H
#define BPPIPE_FHIR_TYPES_H

#include <stdint.h>

/* Flags on a decoded reading. */
#define BP_DEC_BY_TEXT 0x1u    /* a component was identified by its code.text, not by a coding */
#define BP_DEC_INVASIVE 0x2u   /* HL7 v2: an arterial line, not a cuff (never mixed with one) */
#define BP_DEC_CORRECTION 0x4u /* HL7 v2: OBX-11 C, a correction of an earlier reading */

/* What a decoded item does to the earlier versions of its logical id (issue 26,
 * docs/revisions.md; bp_host's BP_F_REVISION). */
typedef enum bp_revision {
    BP_REVISION_NONE = 0,    /* a first version, or nothing says otherwise */
    BP_REVISION_REPLACE = 1, /* amended, corrected: replaces every earlier version */
    BP_REVISION_RETRACT = 2  /* entered-in-error (HL7 v2: OBX-11 W, D): no values, never judged */
} bp_revision;

/* bp_decoded.version and bp_record.version when nothing gives the order of a version. Versions
 * the decoders hand out are >= 1 (a versionId of 0 or less is not used as one). */
#define BP_VERSION_NONE 0

typedef struct bp_decoded {
    /* NULL when the item is a reading; otherwise why the payload or resource is unusable,
     * precise enough for an operator: "not JSON at byte 512", "no systolic or diastolic value",
     * "status cancelled is not a reading". */
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

    /* Appended for HL7 v2 (issue 24; src/hl7v2, docs/hl7v2.md). The FHIR decoder leaves the
     * texts NULL and the mean NaN. */
    double mean_pressure;             /* mmHg (MAP), NaN when absent */
    const char *hl7_control_id;       /* MSH-10 of the message; NULL for FHIR */
    const char *hl7_sending_app;      /* MSH-3, first component, unescaped */
    const char *hl7_sending_facility; /* MSH-4, first component, unescaped */
    const char *hl7_code;             /* the code that named the value: "MDC 150021",
                                         "LOINC 8480-6" (a skipped OBX: its own code) */
    const char *hl7_corrects;         /* BP_DEC_CORRECTION: the stable id of the reading the
                                         correction replaces (the one its F/R/P gave) */

    /* Appended for alarm acknowledgements (issue 25; src/decode/alarm_ack.c): a payload
     * {"bppipe":"alarm-ack",...} is one item that is a command, not a reading: ack_alarm_id is
     * set (and invalid_reason NULL). The other decoders leave them NULL. */
    const char *ack_alarm_id, *ack_by, *ack_from;
    int64_t ack_at_ms; /* the "at" time, INT64_MIN when absent or unreadable */

    /* Appended for revisions (issue 26, docs/revisions.md): what the item is a version of, the
     * version's order, and what it does to earlier versions. A retraction is an item with
     * revision BP_REVISION_RETRACT, a logical id, NULL invalid_reason and skip_reason, and NaN
     * values. The decoders set them on readings and retractions only (docs/fhir.md "Versions",
     * docs/hl7v2.md); dead letters and skipped items leave them NULL, NONE and NONE. */
    const char *logical_id; /* NULL when nothing names the logical resource */
    int64_t version;        /* BP_VERSION_NONE when unknown */
    bp_revision revision;
} bp_decoded;

/* The reasons an item is skipped. */
#define BP_SKIP_NOT_OBSERVATION "resource is not an Observation"
#define BP_SKIP_NOT_BP "Observation is not blood pressure"
#define BP_SKIP_MEAN_ONLY "mean blood pressure only"
#define BP_SKIP_NO_RESOURCE "Bundle entry without a resource"
#define BP_SKIP_EMPTY_BUNDLE "Bundle with no entries"
/* HL7 v2 (src/hl7v2) */
#define BP_SKIP_OBX_NOT_BP "OBX is not blood pressure"
#define BP_SKIP_OBX_STATUS_X "OBX-11 X: result cannot be obtained"
#define BP_SKIP_OBX_STATUS_OTHER "OBX-11 status is not a result (I, N, O)"
#define BP_SKIP_PULSE_ONLY "pulse rate without a blood pressure"
#define BP_SKIP_NO_OBSERVATION "ORU^R01 without observation values"
/* the revision ledger (src/pipeline/revisions.c, docs/revisions.md): a version that must not be
 * delivered because of what was applied before it */
#define BP_SKIP_RETRACTED "retracted: the Observation was entered in error"
#define BP_SKIP_SUPERSEDED "superseded: a newer version was already applied"

#endif
