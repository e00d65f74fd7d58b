/* Collects what the decoder emits, copying strings (they live only during the callback). */
#ifndef BPPIPE_TEST_DECODE_HELPERS_H
#define BPPIPE_TEST_DECODE_HELPERS_H

#include "fhir_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 64

typedef struct item {
    char reason[256], id[256], patient[256], practitioner[256], device[256], status[64];
    int64_t ms;
    double sys, dia, hr;
    unsigned flags;
    int index;
    int valid;
} item;

typedef struct items {
    item v[MAX_ITEMS];
    int n;
} items;

static inline void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static inline int collect(void *user, const bp_decoded *d)
{
    items *it = user;
    if (it->n == MAX_ITEMS)
        return 0;
    item *x = &it->v[it->n++];
    x->valid = d->invalid_reason == NULL;
    copy_str(x->reason, sizeof x->reason, d->invalid_reason);
    copy_str(x->id, sizeof x->id, d->stable_id);
    copy_str(x->patient, sizeof x->patient, d->patient_id);
    copy_str(x->practitioner, sizeof x->practitioner, d->practitioner_id);
    copy_str(x->device, sizeof x->device, d->device_id);
    copy_str(x->status, sizeof x->status, d->status);
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
