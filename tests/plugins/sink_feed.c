/* sink_feed: hands a sink plugin records that carry revisions, the way the host's delivery lane
 * does (write(), per-record outcomes, the rest retried), before the engine and the decoders
 * fill BP_F_LOGICAL_ID, BP_F_VERSION and BP_F_REVISION themselves (issue 26). Each record is a
 * FHIR Observation decoded by the host's own decoder (conform_readings.c), so its document is
 * the host's; the revision fields are then set on it, and a retraction loses its values and its
 * verdict, as the design's retraction item has none.
 *
 *   sink_feed PLUGIN.so [-o KEY=VALUE]... < FEED
 *   sink_feed PLUGIN.so --caps      prints "revisions" when it sets BP_CAP_REVISIONS, else "none"
 *
 * FEED, one record a line: ID PATIENT SYS DIA MINUTE CRITICAL LOGICAL_ID VERSION REVISION
 * ("-" for a value, a logical id or a revision that is absent, VERSION 0 for unknown;
 * REVISION replace, retract (status entered-in-error) or companion (a retract whose status is
 * "corrected", as the engine's companion of a correction routed elsewhere);
 * CRITICAL 1 flags it critical as a detector would). A line "write" hands the records read
 * since the last one to one write(); the end of the input does too. Prints one line per record:
 * "ID delivered" or "ID rejected REASON". Exits 0 when every record ended delivered or
 * rejected, 1 when a record was still not delivered after 8 writes, 2 on a usage error. */
#include "config/config.h"
#include "conform/conform.h"
#include "pipeline/instance.h"
#include "pipeline/loader.h"
#include "pipeline/record.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double value(const char *s)
{
    return strcmp(s, "-") == 0 ? NAN : strtod(s, NULL);
}

/* One write() of `records` and the retries of what it did not deliver. 0, or -1. */
static int deliver(bp_ctx *ctx, bp_batch *records)
{
    bp_batch pending = {0}, again = {0};
    for (size_t i = 0; i < records->count; i++)
        bp_batch_push(&pending, records->items[i]);
    int result = -1;
    for (int attempt = 0; attempt < 8; attempt++) {
        if (bp_ctx_begin_write(ctx, &pending) != 0)
            break;
        int rc = ctx->plugin->desc->write(ctx->state, &pending);
        bp_batch_clear(&again);
        for (size_t i = 0; i < pending.count; i++) {
            int o = ctx->outcomes[i] >= 0 ? ctx->outcomes[i]
                    : rc == BP_OK         ? BP_DELIVERED
                                          : BP_AGAIN;
            const char *id = pending.items[i]->observation_id;
            if (o == BP_DELIVERED)
                printf("%s delivered\n", id);
            else if (o == BP_REJECTED)
                printf("%s rejected %s\n", id, ctx->outcome_reasons[i]);
            else
                bp_batch_push(&again, pending.items[i]);
        }
        bp_ctx_end_write(ctx);
        if (again.count == 0) {
            result = 0;
            break;
        }
        bp_batch swap = pending;
        pending = again;
        again = swap;
        usleep(50000u * (unsigned)(attempt + 1));
    }
    fflush(stdout);
    bp_batch_free(&pending);
    bp_batch_free(&again);
    return result;
}

/* Sets the revision fields of the records [from, end) of `cb` from one feed line. */
static void revise(cf_batch *cb, size_t from, const char *logical, long long version,
                   const char *revision)
{
    for (size_t i = from; i < cb->b.count; i++) {
        bp_record *r = cb->b.items[i];
        r->logical_id = strcmp(logical, "-") ? bp_arena_strdup(&cb->arena, logical) : NULL;
        r->version = version > 0 ? version : BP_VERSION_NONE;
        /* "companion": the engine's retraction of a correction routed elsewhere, which keeps
         * the corrected reading's payload and status */
        bool companion = strcmp(revision, "companion") == 0;
        r->revision = strcmp(revision, "replace") == 0                ? BP_REVISION_REPLACE
                      : strcmp(revision, "retract") == 0 || companion ? BP_REVISION_RETRACT
                                                                      : BP_REVISION_NONE;
        if (r->revision == BP_REVISION_REPLACE || companion)
            r->status = "corrected";
        else if (r->revision == BP_REVISION_RETRACT)
            r->status = "entered-in-error";
        if (r->revision == BP_REVISION_RETRACT) {
            r->systolic = r->diastolic = r->heart_rate = NAN;
            r->anomaly = false;
            r->severity = BP_SEV_NORMAL;
            r->category = r->anomaly_type = NULL;
            r->reasons = r->reasons_tail = NULL;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sink_feed PLUGIN.so [-o KEY=VALUE]... < FEED\n");
        return 2;
    }
    bp_loader ld;
    bp_config cfg = {0};
    cf_env env = {0};
    char err[2048];
    if (bp_loader_init(&ld, NULL, NULL) != 0 ||
        bp_loader_open_file(&ld, argv[1], &env.plugin, err, sizeof err) != 0) {
        fprintf(stderr, "sink_feed: %s\n", err);
        return 2;
    }
    if (argc == 3 && strcmp(argv[2], "--caps") == 0) {
        /* What `bppipe check` reads of the descriptor: does it honour revisions? */
        printf("%s\n", env.plugin->desc->caps & BP_CAP_REVISIONS ? "revisions" : "none");
        bp_loader_free(&ld);
        return 0;
    }
    size_t cap = 64;
    for (int i = 2; i < argc; i++)
        cap += strlen(argv[i]) + 1;
    char *text = malloc(cap);
    bp_errors errs = {0};
    size_t used = (size_t)snprintf(text, cap, "[sink.feed]\nplugin = %s\n", env.plugin->desc->name);
    for (int i = 2; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "-o") == 0)
            used += (size_t)snprintf(text + used, cap - used, "%s\n", argv[i + 1]);
    if (bp_config_load_string(&cfg, "feed", text, &errs) != 0 ||
        !(env.section = bp_config_find(&cfg, "sink.feed"))) {
        bp_errors_print(&errs);
        return 2;
    }
    free(text);
    bp_ctx *ctx = cf_ctx_new(&env);
    if (!ctx || cf_open(ctx, false) != BP_OK) {
        fprintf(stderr, "sink_feed: open() failed\n");
        return 2;
    }
    cf_batch cb;
    cf_batch_init(&cb, 0);
    char line[1024];
    int status = 0;
    int64_t offset = 0;
    while (status == 0) {
        bool end = !fgets(line, sizeof line, stdin);
        if (end || strncmp(line, "write", 5) == 0) {
            if (cb.b.count && deliver(ctx, &cb.b) != 0)
                status = 1;
            cf_batch_free(&cb);
            cf_batch_init(&cb, 0);
            if (end)
                break;
            continue;
        }
        char id[256], patient[256], sys[32], dia[32], logical[256], revision[32];
        int minute, critical;
        long long version;
        if (sscanf(line, "%255s %255s %31s %31s %d %d %255s %lld %31s", id, patient, sys, dia,
                   &minute, &critical, logical, &version, revision) != 9) {
            fprintf(stderr, "sink_feed: a feed line needs 9 fields: %s", line);
            status = 2;
            break;
        }
        spec sp = {id, patient, value(sys), value(dia), NAN, minute, critical != 0};
        if (strcmp(revision, "retract") == 0 || strcmp(revision, "companion") == 0)
            sp.sys = 100, sp.dia = 60; /* decoded as a reading, then its values are taken */
        size_t from = cb.b.count;
        if (cf_add_reading(&cb, &sp, offset++, err, sizeof err) != 0) {
            fprintf(stderr, "sink_feed: %s\n", err);
            status = 2;
            break;
        }
        revise(&cb, from, logical, version, revision);
    }
    cf_batch_free(&cb);
    cf_close_free(ctx);
    bp_config_free(&cfg);
    bp_loader_free(&ld);
    return status;
}
