/* libFuzzer entry point for the payload decoder (FHIR and HL7 v2, as the host calls it): any
 * bytes in, never a crash, a leak, a hang, a
 * payload without at least one emitted item, an id over its limit or a marked NUL let out, a
 * retraction with values or without a logical id, a dead letter or skipped item that claims to be
 * a version of something. */
#include "decode/payload_decode.h"
#include "fhir/fhir_observation.h"
#include "hl7v2/hl7v2_decode.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A string the decoder hands out: never over `max` bytes, never holding the bytes that mark a
 * NUL character (fhir_observation.h), which are not UTF-8. */
static bool hl7; /* the item came from the HL7 v2 decoder: its texts may hold any byte but NUL
                    (a message in ISO 8859-1 is no error), its reasons only printable ASCII */

static void check_text(const char *s, size_t max)
{
    if (s &&
        (strlen(s) > max || (!hl7 && (strchr(s, BP_FHIR_NUL_MARK) || strchr(s, BP_FHIR_NUL_PAD)))))
        abort();
}

static void check_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; s && *p; p++)
        if (*p < 0x20 || *p >= 0x7F)
            abort();
}

static int check_item(void *user, const bp_decoded *d)
{
    int *n = user;
    (*n)++;
    hl7 = d->hl7_control_id != NULL;
    if (hl7)
        check_clean(d->invalid_reason);
    /* Only readings and retractions are versions (issue 26); a version is >= 1 or unknown. */
    if ((d->invalid_reason || d->skip_reason) &&
        (d->logical_id || d->version != BP_VERSION_NONE || d->revision != BP_REVISION_NONE))
        abort();
    if (d->version < BP_VERSION_NONE)
        abort();
    check_text(d->logical_id, 2 * BP_FHIR_ID_MAX + 1);
    if (d->revision == BP_REVISION_RETRACT) {
        /* A retraction names what it takes back and carries no values. */
        if (!d->logical_id || !d->stable_id || !isnan(d->systolic) || !isnan(d->diastolic) ||
            !isnan(d->heart_rate) || !isnan(d->mean_pressure))
            abort();
        return 0;
    }
    if (d->skip_reason && !d->invalid_reason) {
        /* A skipped item (valid FHIR, not blood pressure) is named and carries no reading. */
        if (!isnan(d->systolic) || !isnan(d->diastolic))
            abort();
        /* A FHIR resource is always named; an HL7 v2 skipped OBX is named by its position. */
        if (!d->stable_id && !d->hl7_control_id)
            abort();
        return 0;
    }
    /* A reading has what the runner relies on; an invalid item has a reason. */
    if (!d->invalid_reason &&
        (!d->stable_id || !d->patient_id || (isnan(d->systolic) && isnan(d->diastolic))))
        abort();
    check_text(d->invalid_reason, 255);
    check_text(d->stable_id, 2 * BP_FHIR_ID_MAX + 1);
    check_text(d->observation_id, BP_FHIR_ID_MAX);
    check_text(d->patient_id, BP_FHIR_ID_MAX);
    check_text(d->practitioner_id, BP_FHIR_ID_MAX);
    check_text(d->device_id, BP_FHIR_ID_MAX);
    check_text(d->status, (size_t)-1);
    check_text(d->hl7_control_id, BP_HL7V2_MAX_TEXT);
    check_text(d->hl7_sending_app, BP_HL7V2_MAX_TEXT);
    check_text(d->hl7_sending_facility, BP_HL7V2_MAX_TEXT);
    check_text(d->hl7_code, BP_HL7V2_MAX_TEXT);
    check_text(d->hl7_corrects, 2 * BP_FHIR_ID_MAX + 1);
    /* an HL7 v2 reading keeps cuff and arterial line apart and its mean beside them */
    if (!d->invalid_reason && !d->skip_reason && d->hl7_control_id && !d->status)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int n = 0;
    bp_decode_opts opts = {1 << 20};
    bp_payload_decode((const char *)data, size, &opts, check_item, &n);
    if (n == 0)
        abort(); /* every payload yields a reading or a reason */
    return 0;
}
