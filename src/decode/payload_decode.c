#include "decode/payload_decode.h"

#include "decode/alarm_ack.h"
#include "hl7v2/hl7v2.h"
#include "hl7v2/hl7v2_decode.h"

int bp_payload_decode(const char *data, size_t len, const bp_decode_opts *opts, bp_decode_emit emit,
                      void *user)
{
    /* Looking at five bytes is enough: a FHIR payload starts with '{', '[' or whitespace and
     * never with "MSH" followed by a delimiter. */
    if (bp_hl7_sniff(data, len))
        return bp_hl7v2_decode(data, len, opts, emit, user);
    /* {"bppipe": ...}: a command of bppipe's own (an alarm acknowledgement), not FHIR */
    if (bp_alarm_ack_sniff(data, len))
        return bp_alarm_ack_decode(data, len, emit, user);
    return bp_fhir_decode(data, len, opts, emit, user);
}
