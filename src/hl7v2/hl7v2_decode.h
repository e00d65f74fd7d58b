/* HL7 v2 ORU^R01 (IHE PCD-01) to readings: the bytes of one message in, one bp_decoded item per
 * blood-pressure group, skipped OBX or reason out, as the FHIR decoder hands them out
 * (src/fhir/fhir_types.h). Pure: no I/O, no logging, no global state; threads may decode at
 * once. What is read from where: docs/hl7v2.md. */
#ifndef BPPIPE_HL7V2_DECODE_H
#define BPPIPE_HL7V2_DECODE_H

#include "fhir/fhir_decode.h"

#include <stddef.h>

/* The longest text a reading carries from a message (an id, a code, a facility); a longer one
 * makes its item invalid, never cut. */
#define BP_HL7V2_MAX_TEXT 256

/* Decodes `len` bytes at `data` (need not be NUL-terminated). Calls `emit` at least once: an
 * invalid item for a message that cannot be read ("not HL7 v2: no MSH segment", "message type
 * ADT^A01 is not ORU^R01"), else one item per reading (the OBX of one channel and time: see
 * docs/hl7v2.md, "Grouping"), per group that is not a reading (a reason), per OBX that is not
 * blood pressure or not a result (skipped). Returns 0, the non-zero value of `emit` that
 * stopped it, or -1 when memory ran out (after emitting an invalid item saying so). */
int bp_hl7v2_decode(const char *data, size_t len, const bp_decode_opts *opts, bp_decode_emit emit,
                    void *user);

#endif
