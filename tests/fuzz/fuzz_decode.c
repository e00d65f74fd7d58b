/* libFuzzer entry point for the FHIR decoder: any bytes in, never a crash, a leak, a hang, or
 * a payload without at least one emitted item. */
#include "fhir_decode.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int check_item(void *user, const bp_decoded *d)
{
    int *n = user;
    (*n)++;
    /* A reading has what the runner relies on; an invalid item has a reason. */
    if (!d->invalid_reason && (!d->stable_id || !d->patient_id ||
                               (isnan(d->systolic) && isnan(d->diastolic))))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int n = 0;
    bp_decode_opts opts = {1 << 20};
    bp_fhir_decode((const char *)data, size, &opts, check_item, &n);
    if (n == 0)
        abort(); /* every payload yields a reading or a reason */
    return 0;
}
