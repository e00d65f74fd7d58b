/* The conformance checks of a sink: write() as the host's delivery lane calls it (outcomes,
 * retries of what was not delivered), flush() and close(). */
#include "conform/conform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -- sinks --------------------------------------------------------------------------------- */

typedef struct tally {
    size_t delivered, rejected, again_reported, writes;
    char first_reason[200];
} tally;

/* Writes `records` as the host's delivery lane does: outcomes the sink reports, the rest take
 * the batch's status; records answered BP_AGAIN (or a batch BP_RETRY) are written again, alone,
 * up to 8 times with a growing pause. Returns 0 when every record ended delivered or rejected. */
static int deliver(bp_ctx *ctx, const bp_batch *records, tally *t, cf_out *out)
{
    bp_batch pending = {0}, again = {0};
    int result = 0;
    for (size_t i = 0; i < records->count; i++)
        if (bp_batch_push(&pending, records->items[i]) != BP_OK)
            result = -1;
    for (unsigned attempt = 0; result == 0; attempt++) {
        if (attempt == 8) {
            cf_say(out, CF_FAIL, "%zu of %zu records still undelivered after %u writes "
                   "(BP_RETRY or BP_AGAIN each time: is the service it writes to running? give "
                   "it with -o)", pending.count, records->count, attempt);
            result = -1;
            break;
        }
        if (bp_ctx_begin_write(ctx, &pending) != 0) {
            result = -1;
            break;
        }
        cf_progress("write() of %zu record%s (attempt %u)", pending.count,
                    pending.count == 1 ? "" : "s", attempt + 1);
        cf_watch_stage(true);
        int rc = ctx->plugin->desc->write(ctx->state, &pending);
        cf_watch_stage(false);
        t->writes++;
        if (rc != BP_OK && rc != BP_RETRY) {
            bp_ctx_end_write(ctx);
            cf_say(out, CF_FAIL, "write() of %zu record%s answered %d%s", pending.count,
                   pending.count == 1 ? "" : "s", rc,
                   rc == BP_FATAL ? " (BP_FATAL: the pipeline would stop)" : "");
            result = -1;
            break;
        }
        bp_batch_clear(&again);
        for (size_t i = 0; i < pending.count; i++) {
            int o = ctx->outcomes[i] >= 0 ? ctx->outcomes[i] : rc == BP_OK ? BP_DELIVERED : BP_AGAIN;
            if (o == BP_REJECTED && !t->first_reason[0])
                snprintf(t->first_reason, sizeof t->first_reason, "%s",
                         ctx->outcome_reasons[i] ? ctx->outcome_reasons[i] : "?");
            t->delivered += o == BP_DELIVERED;
            t->rejected += o == BP_REJECTED;
            t->again_reported += ctx->outcomes[i] == BP_AGAIN;
            if (o == BP_AGAIN && bp_batch_push(&again, pending.items[i]) != BP_OK)
                result = -1;
        }
        bp_ctx_end_write(ctx);
        if (again.count == 0)
            break;
        bp_batch swap = pending;
        pending = again;
        again = swap;
        cf_sleep_ms(100 * (int)(attempt + 1));
    }
    bp_batch_free(&pending);
    bp_batch_free(&again);
    if (result == 0 && *cf_watch_problems()) {
        cf_say(out, CF_FAIL, "%s", cf_watch_problems());
        result = -1;
    }
    return result;
}

static int flush_sink(bp_ctx *ctx, cf_out *out)
{
    if (!ctx->plugin->desc->flush)
        return 0;
    for (unsigned attempt = 0; attempt < 8; attempt++) {
        cf_progress("flush() ran");
        cf_watch_stage(true);
        int rc = ctx->plugin->desc->flush(ctx->state);
        cf_watch_stage(false);
        if (rc == BP_OK)
            return 0;
        if (rc != BP_RETRY) {
            cf_say(out, CF_FAIL, "flush() answered %d", rc);
            return -1;
        }
        cf_sleep_ms(100 * (int)(attempt + 1));
    }
    cf_say(out, CF_FAIL, "flush() kept answering BP_RETRY");
    return -1;
}

static void say_tally(cf_out *out, const tally *t, size_t n)
{
    char rejected[300] = "";
    if (t->rejected)
        snprintf(rejected, sizeof rejected, ", %zu rejected with a reason (%s)", t->rejected,
                 t->first_reason);
    cf_say(out, CF_PASS, "%zu record%s: %zu delivered%s in %zu write%s", n, n == 1 ? "" : "s",
           t->delivered, rejected, t->writes, t->writes == 1 ? "" : "s");
}

/* Opens a sink, delivers `set` (or, with `dead`, dead letters), flushes, closes. */
static cf_status write_set(const cf_env *env, cf_set set, bool dead, cf_out *out)
{
    cf_batch cb;
    cf_batch_init(&cb, 0);
    char why[512] = "";
    cf_status st = CF_FAIL;
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx) {
        cf_say(out, CF_FAIL, "kit: out of memory");
        goto done;
    }
    if (dead) {
        /* Not JSON, cut short, a blood-pressure Observation without a value, one cancelled:
         * what the decoder sends to route = invalid with a reason. (entered-in-error is a
         * retraction since issue 26, not a dead letter.) */
        static const char *const junk[] = {
            "not json at all \x01\xff",
            "[{\"resourceType\":\"Observation\",",
            "{\"resourceType\":\"Observation\",\"id\":\"cf-dead-1\",\"status\":\"final\","
            "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]},"
            "\"subject\":{\"reference\":\"Patient/cf-patient-1\"},"
            "\"effectiveDateTime\":\"2026-03-01T10:00:00Z\",\"component\":[]}",
            "{\"resourceType\":\"Observation\",\"id\":\"cf-dead-2\",\"status\":"
            "\"cancelled\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\","
            "\"code\":\"85354-9\"}]},\"subject\":{\"reference\":\"Patient/cf-patient-1\"},"
            "\"effectiveDateTime\":\"2026-03-01T10:00:00Z\",\"component\":[{\"code\":"
            "{\"coding\":[{\"code\":\"8480-6\"}]},\"valueQuantity\":{\"value\":120}}]}",
        };
        for (size_t i = 0; i < 4; i++)
            if (cf_add_payload_text(&cb, junk[i], (int64_t)i, true, why, sizeof why) != 0)
                break;
    } else {
        cf_fill(&cb, set, why, sizeof why);
    }
    if (why[0]) {
        cf_say(out, CF_FAIL, "%s", why);
        goto done;
    }
    if (dead)
        ctx->routes = BP_ROUTE_BIT(BP_ROUTE_INVALID), ctx->route_name = "invalid";
    int rc = cf_open(ctx, true);
    if (rc != BP_OK) {
        cf_say(out, CF_FAIL, "open() answered %d", rc);
        goto done;
    }
    tally t = {0};
    if (deliver(ctx, &cb.b, &t, out) != 0 || flush_sink(ctx, out) != 0)
        goto done;
    if (t.delivered + t.rejected != cb.b.count) {
        cf_say(out, CF_FAIL, "kit: %zu outcomes for %zu records", t.delivered + t.rejected,
               cb.b.count);
        goto done;
    }
    say_tally(out, &t, cb.b.count);
    st = CF_PASS;
done:
    cf_close_free(ctx);
    cf_batch_free(&cb);
    return st;
}

cf_status cf_check_write_empty(const cf_env *env, cf_out *out)
{
    bp_batch empty = {0};
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    cf_status st = CF_PASS;
    if (rc != BP_OK) {
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
    } else if (bp_ctx_begin_write(ctx, &empty) != 0) {
        st = cf_say(out, CF_FAIL, "kit: out of memory");
    } else {
        cf_watch_stage(true);
        rc = ctx->plugin->desc->write(ctx->state, &empty);
        cf_watch_stage(false);
        bp_ctx_end_write(ctx);
        if (rc != BP_OK)
            st = cf_say(out, CF_FAIL, "write() of an empty batch answered %d, not BP_OK%s", rc,
                        rc == BP_RETRY ? " (BP_RETRY: is the service it writes to running? give "
                        "it with -o)" : "");
        else if (flush_sink(ctx, out) != 0)
            st = CF_FAIL;
        else if (*cf_watch_problems())
            st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    }
    cf_close_free(ctx);
    return st;
}

cf_status cf_check_write_single(const cf_env *env, cf_out *out)
{
    return write_set(env, SET_SINGLE, false, out);
}

cf_status cf_check_write_missing(const cf_env *env, cf_out *out)
{
    return write_set(env, SET_MISSING, false, out);
}

cf_status cf_check_write_odd(const cf_env *env, cf_out *out)
{
    return write_set(env, SET_ODD, false, out);
}

cf_status cf_check_write_dead_letters(const cf_env *env, cf_out *out)
{
    return write_set(env, SET_EMPTY, true, out);
}

/* Per-record outcomes and the host's retry: the ward's readings are written, then (as the host
 * does after a BP_RETRY that delivered the first half) only the second half again, then the
 * whole batch once more (a replay after a restart). Every write must end with each record
 * delivered or rejected, through outcomes the host took. */
cf_status cf_check_write_outcomes(const cf_env *env, cf_out *out)
{
    cf_batch cb;
    cf_batch_init(&cb, 0);
    char why[512] = "";
    cf_status st = CF_FAIL;
    bp_batch rest = {0};
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx || cf_fill(&cb, SET_WARD, why, sizeof why) != 0) {
        cf_say(out, CF_FAIL, "%s", why[0] ? why : "kit: out of memory");
        goto done;
    }
    int rc = cf_open(ctx, true);
    if (rc != BP_OK) {
        cf_say(out, CF_FAIL, "open() answered %d", rc);
        goto done;
    }
    for (size_t i = cb.b.count / 2; i < cb.b.count; i++)
        bp_batch_push(&rest, cb.b.items[i]);
    tally first = {0}, retry = {0}, replay = {0};
    if (deliver(ctx, &cb.b, &first, out) != 0)
        goto done;
    if (deliver(ctx, &rest, &retry, out) != 0) {
        char again[sizeof out->msg];
        snprintf(again, sizeof again, "the retry of the last %zu records: %s", rest.count,
                 out->msg);
        cf_say(out, CF_FAIL, "%s", again);
        goto done;
    }
    if (deliver(ctx, &cb.b, &replay, out) != 0 || flush_sink(ctx, out) != 0)
        goto done;
    cf_say(out, CF_PASS, "%zu records: %zu delivered, %zu rejected, %zu answered BP_AGAIN and "
           "written again; the retry of the last %zu and a replay of all delivered too",
           cb.b.count, first.delivered, first.rejected, first.again_reported, rest.count);
    st = CF_PASS;
done:
    bp_batch_free(&rest);
    cf_close_free(ctx);
    cf_batch_free(&cb);
    return st;
}

cf_status cf_check_write_flush_close(const cf_env *env, cf_out *out)
{
    cf_status st = write_set(env, SET_WARD, false, out);
    if (st != CF_PASS)
        return st;
    /* Flush on an idle sink, twice, then close: what shutdown does. */
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    if (rc != BP_OK)
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
    else if (flush_sink(ctx, out) != 0 || flush_sink(ctx, out) != 0)
        st = CF_FAIL;
    else if (*cf_watch_problems())
        st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    cf_close_free(ctx);
    return st;
}

