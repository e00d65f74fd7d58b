/* The conformance checks of a source: poll() against the batch capacity and the timeout, commit()
 * in poll order, close() after use. */
#include "conform/conform.h"

#include "common/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -- sources ------------------------------------------------------------------------------- */

#define POLL_CAPACITY 3
#define POLL_TIMEOUT_MS 300
#define POLL_SLACK_MS 2000

typedef struct polled {
    cf_batch cb;
    int rc;
    double ms;
} polled;

static int poll_once(bp_ctx *ctx, polled *p, size_t capacity, int timeout_ms)
{
    cf_batch_init(&p->cb, capacity);
    double t0 = bp_now_s() * 1e3;
    cf_progress("poll() with capacity %zu and timeout_ms %d ran", capacity, timeout_ms);
    cf_watch_stage(true);
    p->rc = ctx->plugin->desc->poll(ctx->state, &p->cb.b, timeout_ms);
    cf_watch_stage(false);
    p->ms = bp_now_s() * 1e3 - t0;
    return p->rc;
}

/* Opens the source and polls up to `max_polls` batches (stopping at BP_END), checking each
 * against the capacity, the timeout and the status poll() may answer; `keep` receives the
 * batches (commit_order commits them). */
static cf_status poll_run(const cf_env *env, bp_ctx **pctx, polled *keep, size_t max_polls,
                          size_t *n_polled, size_t *payloads, cf_out *out)
{
    bp_ctx *ctx = cf_ctx_new(env);
    *pctx = ctx;
    *n_polled = *payloads = 0;
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    if (rc != BP_OK)
        return cf_say(out, CF_FAIL, "open() answered %d", rc);
    for (size_t i = 0; i < max_polls; i++) {
        polled *p = &keep[i];
        poll_once(ctx, p, POLL_CAPACITY, POLL_TIMEOUT_MS);
        (*n_polled)++;
        size_t got = p->cb.b.count;
        *payloads += got;
        if (p->rc != BP_OK && p->rc != BP_END && p->rc != BP_RETRY)
            return cf_say(out, CF_FAIL, "poll() %zu answered %d", i + 1, p->rc);
        if (got > POLL_CAPACITY)
            return cf_say(out, CF_FAIL, "poll() %zu added %zu payloads to a batch of capacity "
                          "%d", i + 1, got, POLL_CAPACITY);
        if (p->ms > POLL_TIMEOUT_MS + POLL_SLACK_MS)
            return cf_say(out, CF_FAIL, "poll() %zu with timeout_ms %d took %.0f ms", i + 1,
                          POLL_TIMEOUT_MS, p->ms);
        if (*cf_watch_problems())
            return cf_say(out, CF_FAIL, "%s", cf_watch_problems());
        if (p->rc == BP_END)
            break;
        if (p->rc == BP_RETRY)
            cf_sleep_ms(100);
    }
    return CF_PASS;
}

static void free_polled(polled *keep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_batch_free(&keep[i].cb);
}

#define MAX_POLLS 12

cf_status cf_check_poll_capacity(const cf_env *env, cf_out *out)
{
    polled keep[MAX_POLLS];
    size_t n = 0, payloads = 0;
    bp_ctx *ctx = NULL;
    cf_status st = poll_run(env, &ctx, keep, MAX_POLLS, &n, &payloads, out);
    bool ended = n && keep[n - 1].rc == BP_END;
    cf_close_free(ctx);
    free_polled(keep, n);
    if (st == CF_PASS)
        cf_say(out, CF_PASS, "%zu payloads in %zu polls of capacity %d%s", payloads, n,
               POLL_CAPACITY, ended ? ", then BP_END" : "");
    return st;
}

/* A poll waits at most timeout_ms for its first payload: with 0 it returns at once, with a
 * timeout it returns within it (plus a slack for a busy machine). */
cf_status cf_check_poll_timeout(const cf_env *env, cf_out *out)
{
    bp_ctx *ctx = cf_ctx_new(env);
    if (!ctx)
        return cf_say(out, CF_FAIL, "kit: out of memory");
    int rc = cf_open(ctx, true);
    cf_status st = CF_PASS;
    double worst0 = 0, worst = 0;
    if (rc != BP_OK)
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
    static const int timeouts[] = {0, 0, 50, POLL_TIMEOUT_MS, 0, POLL_TIMEOUT_MS};
    for (size_t i = 0; st == CF_PASS && i < sizeof timeouts / sizeof timeouts[0]; i++) {
        polled p;
        poll_once(ctx, &p, POLL_CAPACITY, timeouts[i]);
        cf_batch_free(&p.cb);
        if (timeouts[i] == 0 && p.ms > worst0)
            worst0 = p.ms;
        if (p.ms > worst)
            worst = p.ms;
        if (p.rc != BP_OK && p.rc != BP_END && p.rc != BP_RETRY)
            st = cf_say(out, CF_FAIL, "poll() with timeout_ms %d answered %d", timeouts[i], p.rc);
        else if (p.ms > timeouts[i] + POLL_SLACK_MS)
            st = cf_say(out, CF_FAIL, "poll() with timeout_ms %d took %.0f ms", timeouts[i], p.ms);
        else if (p.rc == BP_END)
            break;
    }
    if (st == CF_PASS && *cf_watch_problems())
        st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    if (st == CF_PASS)
        cf_say(out, CF_PASS, "slowest poll %.0f ms, with timeout 0 %.0f ms", worst, worst0);
    cf_close_free(ctx);
    return st;
}

/* Commits in poll order, as the host does: after each poll without BP_CAP_BATCH_COMMIT, three
 * batches behind with it. Each commit answers BP_OK (BP_RETRY is tried again). Positions a
 * source reports must move forward per topic and partition across the batches in poll order. */
static int commit_one(bp_ctx *ctx, const polled *p, size_t i, cf_out *out)
{
    for (unsigned attempt = 0; attempt < 8; attempt++) {
        cf_progress("commit() of batch %zu ran", i + 1);
        cf_watch_stage(true);
        int rc = ctx->plugin->desc->commit(ctx->state, &p->cb.b);
        cf_watch_stage(false);
        if (rc == BP_OK)
            return 0;
        if (rc != BP_RETRY) {
            cf_say(out, CF_FAIL, "commit() of batch %zu answered %d", i + 1, rc);
            return -1;
        }
        cf_sleep_ms(100 * (int)(attempt + 1));
    }
    cf_say(out, CF_FAIL, "commit() of batch %zu kept answering BP_RETRY", i + 1);
    return -1;
}

static int positions_forward(const polled *keep, size_t n, cf_out *out)
{
    enum { MAXP = 64 };
    struct position {
        const char *topic;
        double partition, offset;
    } last[MAXP];
    size_t nl = 0;
    for (size_t b = 0; b < n; b++)
        for (size_t i = 0; i < keep[b].cb.b.count; i++) {
            const bp_record *r = keep[b].cb.b.items[i];
            double part = bp_record_number(r, BP_F_SOURCE_PARTITION);
            double off = bp_record_number(r, BP_F_SOURCE_OFFSET);
            const char *topic = r->topic ? r->topic : "";
            if (isnan(off))
                continue;
            size_t k = 0;
            while (k < nl && !(strcmp(last[k].topic, topic) == 0 &&
                               (last[k].partition == part ||
                                (isnan(part) && isnan(last[k].partition)))))
                k++;
            if (k == nl && nl < MAXP) {
                last[nl++] = (struct position){topic, part, off};
                continue;
            }
            if (k < nl && off <= last[k].offset) {
                cf_say(out, CF_FAIL, "batch %zu: offset %.0f of %s partition %.0f does not come "
                       "after %.0f, polled before it", b + 1, off, topic, part, last[k].offset);
                return -1;
            }
            if (k < nl)
                last[k].offset = off;
        }
    return 0;
}

#define COMMIT_POLLS 400
#define COMMIT_BATCHES 4   /* batches with payloads to commit before the check is satisfied */
#define COMMIT_BUDGET_MS 15000

cf_status cf_check_poll_commit(const cf_env *env, cf_out *out)
{
    const bp_plugin *d = env->plugin->desc;
    bool ahead = bp_desc_caps(d) & BP_CAP_BATCH_COMMIT;
    polled *keep = calloc(COMMIT_POLLS, sizeof *keep);
    size_t n = 0, payloads = 0, committed = 0, full = 0;
    bp_ctx *ctx = keep ? cf_ctx_new(env) : NULL;
    cf_status st = CF_PASS;
    if (!ctx) {
        free(keep);
        return cf_say(out, CF_FAIL, "kit: out of memory");
    }
    int rc = cf_open(ctx, true);
    if (rc != BP_OK)
        st = cf_say(out, CF_FAIL, "open() answered %d", rc);
    /* A source that is still joining its group polls empty batches for a while: poll until
     * enough batches with payloads were committed, the source ends, or the budget is spent. */
    double t0 = bp_now_s() * 1e3;
    while (st == CF_PASS && n < COMMIT_POLLS) {
        polled *p = &keep[n];
        poll_once(ctx, p, POLL_CAPACITY, POLL_TIMEOUT_MS);
        n++;
        payloads += p->cb.b.count;
        full += p->cb.b.count > 0;
        if (p->rc != BP_OK && p->rc != BP_END && p->rc != BP_RETRY) {
            st = cf_say(out, CF_FAIL, "poll() %zu answered %d", n, p->rc);
            break;
        }
        bool last = p->rc == BP_END || n == COMMIT_POLLS || full >= COMMIT_BATCHES ||
                    bp_now_s() * 1e3 - t0 > COMMIT_BUDGET_MS;
        /* Without the bit one batch is in flight; with it, up to three. */
        size_t behind = ahead ? 3 : 0;
        while (d->commit && committed < n && (last || n - committed > behind)) {
            if (commit_one(ctx, &keep[committed], committed, out) != 0) {
                st = CF_FAIL;
                break;
            }
            committed++;
        }
        if (last)
            break;
        if (p->rc == BP_RETRY)
            cf_sleep_ms(100);
    }
    if (st == CF_PASS && positions_forward(keep, n, out) != 0)
        st = CF_FAIL;
    if (st == CF_PASS && *cf_watch_problems())
        st = cf_say(out, CF_FAIL, "%s", cf_watch_problems());
    if (st == CF_PASS && payloads == 0)
        st = cf_say(out, CF_SKIP,
                    "no payload in %zu polls over %.0f s: nothing to commit in "
                    "order (give the source data to read)",
                    n, (bp_now_s() * 1e3 - t0) / 1e3);
    else if (st == CF_PASS)
        cf_say(out, CF_PASS, "%zu payloads in %zu polls%s", payloads, n,
               !d->commit ? "; no commit()" : ahead ? "; committed in poll order, up to 3 "
               "batches behind (BP_CAP_BATCH_COMMIT)" : "; each committed after its poll");
    cf_close_free(ctx);
    free_polled(keep, n);
    free(keep);
    return st;
}

cf_status cf_check_poll_close(const cf_env *env, cf_out *out)
{
    polled keep[3];
    size_t n = 0, payloads = 0;
    bp_ctx *ctx = NULL;
    cf_status st = poll_run(env, &ctx, keep, 3, &n, &payloads, out);
    cf_close_free(ctx);
    free_polled(keep, n);
    if (st == CF_PASS)
        cf_say(out, CF_PASS, "closed after %zu polls", n);
    return st;
}
