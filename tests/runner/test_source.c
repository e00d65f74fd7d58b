/* test-source: a source for the runner tests. Without `count` it never has anything and always
 * asks to be retried, so the tests can see what the runner does while a source is failing. With
 * `count` = N it hands out N blood-pressure Observations (offsets 0 to N-1, patient P-<i mod 7>,
 * every third one high), a batch per poll, and commits batch by batch (BP_CAP_BATCH_COMMIT):
 * each commit() appends "FIRST-LAST" of the batch's offsets to `commit_path`, so a test sees
 * which batches were committed, and in which order. With `timestamp_ms` = T, the payload of
 * offset k carries the source timestamp T + k * `timestamp_step_ms` (else none). With
 * `stop_at_poll` = K, its K-th poll() raises SIGTERM once it has added its payloads, as an
 * operator's stop arriving during that poll: a test sees what the runner does with a batch
 * polled when the stop came (a poll ahead, [pipeline] decode_ahead, included). */
#include "bppipe/plugin.h"

#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct source {
    const bp_host *host;
    long long count, next;
    long long timestamp, step; /* the source timestamp of offset 0 and its step; 0: none */
    long long polls, stop_at_poll;
    FILE *commits;
} source;

static const bp_option options[] = {
    BP_OPTION_INT("count", "0", 0, 10000000, 0,
                  "readings to hand out, then the end (0: none, every poll asks for a retry)"),
    BP_OPTION_STRING("commit_path", NULL, 0, "file each commit() appends its offsets to"),
    BP_OPTION_INT("timestamp_ms", "0", 0, 9e15, 0,
                  "source timestamp of offset 0, ms since the epoch (0: payloads carry none)"),
    BP_OPTION_INT("timestamp_step_ms", "0", -1e9, 1e9, 0, "added for each later offset"),
    BP_OPTION_INT("stop_at_poll", "0", 0, 10000000, 0,
                  "raise SIGTERM in this poll, after adding its payloads (0: never)"),
};

static int src_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    source *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->count = host->opt_int(ctx, "count", 0);
    s->timestamp = host->opt_int(ctx, "timestamp_ms", 0);
    s->step = host->opt_int(ctx, "timestamp_step_ms", 0);
    s->stop_at_poll = host->opt_int(ctx, "stop_at_poll", 0);
    const char *path = host->opt_string(ctx, "commit_path");
    if (path && !(s->commits = fopen(path, "a"))) {
        host->log(ctx, BP_LOG_ERROR, "cannot open %s", path);
        free(s);
        return BP_FATAL;
    }
    *state = s;
    return BP_OK;
}

static void src_close(void *state)
{
    source *s = state;
    if (s->commits)
        fclose(s->commits);
    free(s);
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    source *s = state;
    (void)timeout_ms;
    if (!s->count)
        return BP_RETRY;
    size_t cap = s->host->batch_capacity(batch);
    for (size_t k = 0; k < cap && s->next < s->count; k++, s->next++) {
        char obs[1024];
        bool high = s->next % 3 == 0;
        int len = snprintf(
            obs, sizeof obs,
            "{\"resourceType\":\"Observation\",\"id\":\"t%lld\",\"status\":\"final\",\"code\":{"
            "\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]},\"subject\":{"
            "\"reference\":\"Patient/P-%lld\"},\"effectiveDateTime\":\"2026-01-02T03:04:05Z\","
            "\"component\":[{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":"
            "\"8480-6\"}]},\"valueQuantity\":{\"value\":%d,\"unit\":\"mmHg\"}},{\"code\":{"
            "\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8462-4\"}]},"
            "\"valueQuantity\":{\"value\":%d,\"unit\":\"mmHg\"}}]}",
            s->next, s->next % 7, high ? 170 : 120, high ? 95 : 80);
        bp_origin o = {.struct_size = sizeof o,
                       .partition = 0,
                       .offset = s->next,
                       .timestamp_ms = s->timestamp ? s->timestamp + s->next * s->step : -1};
        if (s->host->add_payload(batch, obs, (size_t)len, &o) != BP_OK)
            return BP_FATAL;
    }
    if (++s->polls == s->stop_at_poll)
        raise(SIGTERM);
    return s->next < s->count ? BP_OK : BP_END;
}

static int src_commit(void *state, const bp_batch *batch)
{
    source *s = state;
    double first = NAN, last = NAN;
    for (size_t i = 0; i < s->host->batch_count(batch); i++) {
        double off = s->host->number(s->host->batch_at(batch, i), BP_F_SOURCE_OFFSET);
        if (isnan(first) || off < first)
            first = off;
        if (isnan(last) || off > last)
            last = off;
    }
    if (s->commits) {
        fprintf(s->commits, "%.0f-%.0f\n", first, last);
        fflush(s->commits);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "test-source",
    .version = "1.0.0",
    .kind = BP_KIND_SOURCE,
    .description = "asks to be retried, or hands out N readings and logs its commits",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
    .commit = src_commit,
    .caps = BP_CAP_BATCH_COMMIT,
};

BP_PLUGIN(descriptor)
