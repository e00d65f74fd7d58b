/* Collects what the decoder emits, copying strings (they live only during the callback). */
#ifndef BPPIPE_TEST_DECODE_HELPERS_H
#define BPPIPE_TEST_DECODE_HELPERS_H

#include "fhir/fhir_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 64

typedef struct item {
    /* room for the longest ids the decoder gives (2 * BP_FHIR_ID_MAX + 1 for a pair) */
    char reason[256], id[4096], obs_id[4096], patient[4096], practitioner[4096], device[4096];
    char status[256];
    char logical[4096]; /* bp_decoded.logical_id, "" when NULL */
    int64_t version;
    bp_revision revision;
    int64_t ms;
    double sys, dia, hr;
    unsigned flags;
    int index;
    int valid;
} item;

/* Skipped items (valid FHIR, not blood pressure) are kept apart from readings and dead letters,
 * so a Bundle's Conditions do not shift the positions of its readings. */
typedef struct skip_item {
    char reason[64], type[64], code[64], id[512];
    int index;
} skip_item;

typedef struct items {
    item v[MAX_ITEMS];
    int n;
    skip_item s[MAX_ITEMS];
    int n_skipped; /* all of them, also beyond MAX_ITEMS */
} items;

/* A copy that does not fit stops the test: a test must never shorten what it checks. */
static inline void copy_str(char *dst, size_t len, const char *src)
{
    if ((size_t)snprintf(dst, len, "%s", src ? src : "") >= len) {
        fprintf(stderr, "decode_helpers: a string of %zu bytes does not fit in %zu\n",
                strlen(src), len);
        exit(1);
    }
}

static inline int collect(void *user, const bp_decoded *d)
{
    items *it = user;
    if (d->skip_reason && !d->invalid_reason) {
        if (it->n_skipped < MAX_ITEMS) {
            skip_item *s = &it->s[it->n_skipped];
            copy_str(s->reason, sizeof s->reason, d->skip_reason);
            copy_str(s->type, sizeof s->type, d->resource_type);
            copy_str(s->code, sizeof s->code, d->resource_code);
            copy_str(s->id, sizeof s->id, d->stable_id);
            s->index = d->resource_index;
        }
        it->n_skipped++;
        return 0;
    }
    if (it->n == MAX_ITEMS) {
        fprintf(stderr, "decode_helpers: more than %d items\n", MAX_ITEMS);
        exit(1);
    }
    item *x = &it->v[it->n++];
    x->valid = d->invalid_reason == NULL;
    copy_str(x->reason, sizeof x->reason, d->invalid_reason);
    copy_str(x->id, sizeof x->id, d->stable_id);
    copy_str(x->obs_id, sizeof x->obs_id, d->observation_id);
    copy_str(x->patient, sizeof x->patient, d->patient_id);
    copy_str(x->practitioner, sizeof x->practitioner, d->practitioner_id);
    copy_str(x->device, sizeof x->device, d->device_id);
    copy_str(x->status, sizeof x->status, d->status);
    copy_str(x->logical, sizeof x->logical, d->logical_id);
    x->version = d->version;
    x->revision = d->revision;
    x->ms = d->effective_ms;
    x->sys = d->systolic;
    x->dia = d->diastolic;
    x->hr = d->heart_rate;
    x->flags = d->flags;
    x->index = d->resource_index;
    return 0;
}

static inline items *decode_text(const char *text, size_t limit)
{
    static items it;
    memset(&it, 0, sizeof it);
    bp_decode_opts o = {limit};
    bp_fhir_decode(text, strlen(text), &o, collect, &it);
    return &it;
}

#endif
