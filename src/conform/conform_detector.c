/* The conformance checks of a detector: detect() on the kit's reading sets, through the watching
 * host table, with every reading's decoded values compared before and after. */
#include "conform/conform.h"

#include "pipeline/document.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -- detectors ---------------------------------------------------------------------------- */

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return s ? h : 0;
}

/* The reading as decoded: what a detector may read but never change. */
typedef struct reading_print {
    const char *ptrs[7];
    uint64_t hashes[8];
    double numbers[3];
    int64_t effective_ms;
} reading_print;

static void print_of(const bp_record *r, reading_print *p)
{
    const char *s[7] = {r->stable_id, r->observation_id, r->patient_id, r->practitioner_id,
                        r->device_id, r->status, r->payload};
    for (int i = 0; i < 7; i++) {
        p->ptrs[i] = s[i];
        p->hashes[i] = hash_text(s[i]);
    }
    p->hashes[7] = r->payload_len;
    memcpy(p->numbers, (double[]){r->systolic, r->diastolic, r->heart_rate}, sizeof p->numbers);
    p->effective_ms = r->effective_ms;
}

static bool same_print(const reading_print *a, const reading_print *b)
{
    return memcmp(a->ptrs, b->ptrs, sizeof a->ptrs) == 0 &&
           memcmp(a->hashes, b->hashes, sizeof a->hashes) == 0 &&
           memcmp(a->numbers, b->numbers, sizeof a->numbers) == 0 &&
           a->effective_ms == b->effective_ms;
}

/* Opens a detector, runs detect() on `set` (twice with `twice`: history matters to some),
 * checks what it answered, that every reading is as decoded but for the verdict, that every
 * verdict call was taken, that every document still serializes, then closes it. */
static cf_status detect_on(const cf_env *env, cf_set set, bool twice, cf_out *out)
{
    cf_batch cb;
    cf_batch_init(&cb, 0);
    char why[512] = "";
    cf_status st = CF_PASS;
    bp_ctx *ctx = NULL;
    if (cf_fill(&cb, set, why, sizeof why) != 0) {
        st = cf_say(out, CF_FAIL, "%s", why);
        goto done;
    }
    size_t n = cb.b.count;
    reading_print *before = calloc(n ? n : 1, sizeof *before);
    if (!before || !(ctx = cf_ctx_new(env))) {
        free(before);
        st = cf_say(out, CF_FAIL, "kit: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        print_of(cb.b.items[i], &before[i]);
    int rc = cf_open(ctx, true);
    if (rc != BP_OK) {
        free(before);
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
        goto done;
    }
    unsigned flagged = 0;
    for (int round = 0; round < (twice ? 2 : 1) && st == CF_PASS; round++) {
        cf_progress("detect() judged %zu reading%s (%s)", n, n == 1 ? "" : "s",
                    n ? cb.b.items[0]->observation_id : "an empty batch");
        cf_watch_stage(true);
        rc = ctx->plugin->desc->detect(ctx->state, &cb.b);
        cf_watch_stage(false);
        if (rc != BP_OK)
            st = cf_say(out, CF_FAIL, "detect() answered %d on %zu reading%s%s", rc, n,
                        n == 1 ? "" : "s", round ? " (the second time)" : "");
    }
    for (size_t i = 0; i < n && st == CF_PASS; i++) {
        bp_record *r = cb.b.items[i];
        reading_print now;
        print_of(r, &now);
        if (!same_print(&before[i], &now))
            st = cf_say(out, CF_FAIL, "reading %zu (%s) changed other than through the verdict "
                        "functions", i + 1, r->observation_id ? r->observation_id : "?");
        else if (!bp_document_get(r, false, NULL))
            st = cf_say(out, CF_FAIL, "the document of reading %zu does not serialize", i + 1);
        flagged += r->anomaly;
    }
    free(before);
    if (st == CF_PASS && *cf_watch_problems())
        st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    if (st == CF_PASS && n)
        cf_say(out, CF_PASS, "%zu reading%s, %u flagged", n, n == 1 ? "" : "s", flagged);
done:
    cf_close_free(ctx);
    cf_batch_free(&cb);
    return st;
}

cf_status cf_check_detect_empty(const cf_env *env, cf_out *out)
{
    return detect_on(env, SET_EMPTY, false, out);
}

cf_status cf_check_detect_single(const cf_env *env, cf_out *out)
{
    return detect_on(env, SET_SINGLE, false, out);
}

cf_status cf_check_detect_missing(const cf_env *env, cf_out *out)
{
    /* Each alone first (a crash names the reading by being the first to run), then together. */
    for (size_t i = 0; i < CF_N_MISSING; i++) {
        cf_batch cb;
        cf_batch_init(&cb, 0);
        char why[512] = "";
        bp_ctx *ctx = cf_ctx_new(env);
        int rc = !ctx ? BP_ENOMEM : cf_add_reading(&cb, &cf_missing[i], 0, why, sizeof why) != 0
                                        ? BP_EINVAL : cf_open(ctx, true);
        if (rc == BP_OK) {
            cf_progress("detect() judged %s (systolic %g, diastolic %g, heart rate %g)",
                        cf_missing[i].id, cf_missing[i].sys, cf_missing[i].dia, cf_missing[i].hr);
            cf_watch_stage(true);
            rc = ctx->plugin->desc->detect(ctx->state, &cb.b);
            cf_watch_stage(false);
        }
        cf_close_free(ctx);
        cf_batch_free(&cb);
        if (why[0])
            return cf_say(out, CF_FAIL, "%s", why);
        if (rc != BP_OK)
            return cf_say(out, CF_FAIL, "open() or detect() answered %d on %s", rc,
                          cf_missing[i].id);
    }
    return detect_on(env, SET_MISSING, false, out);
}

cf_status cf_check_detect_odd(const cf_env *env, cf_out *out)
{
    return detect_on(env, SET_ODD, true, out);
}

cf_status cf_check_detect_verdicts(const cf_env *env, cf_out *out)
{
    return detect_on(env, SET_WARD, true, out);
}

cf_status cf_check_detect_close(const cf_env *env, cf_out *out)
{
    cf_status st = detect_on(env, SET_WARD, false, out);
    return st == CF_PASS ? cf_say(out, CF_PASS, "closed after judging %d readings",
                                  CF_N_WARD)
                         : st;
}

