/* The one entry the host decodes payloads through: an HL7 v2 message (optional whitespace or
 * an MLLP start byte 0x0B, then "MSH" and a field separator) goes to the PCD-01 decoder
 * (src/hl7v2), anything else to the FHIR decoder (src/fhir). So any source may carry HL7 v2:
 * source-mllp, a file, a Kafka topic of ORU^R01. Same contract as bp_fhir_decode. */
#ifndef BPPIPE_PAYLOAD_DECODE_H
#define BPPIPE_PAYLOAD_DECODE_H

#include "fhir/fhir_decode.h"

#include <stddef.h>

int bp_payload_decode(const char *data, size_t len, const bp_decode_opts *opts, bp_decode_emit emit,
                      void *user);

#endif
