/* test-sink: a sink for the runner tests. It appends each record's compact document to `path`
 * (one line each) and can misbehave on purpose: ask for retries, fail some records (every k-th,
 * all but every k-th, one patient's for ever, everything for a while), reject one patient's
 * readings, or fail permanently. Record failures are reported per record (BP_AGAIN). It can also
 * be slow (delay_ms per write) or stall (inside write() while block_file exists), to show what
 * a slow sink holds back and what it does not. While down_file exists, it is down: every write
 * answers BP_RETRY and takes nothing. With writes_path, each write() appends how many records it
 * was offered, one line per call, so a test sees how the lane grouped them. */
#include "bppipe/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sink {
    const bp_host *host;
    bp_ctx *ctx;
    FILE *out;
    long long retry_first, calls, fatal_after;
    long long again_every, deliver_every, again_first, offered;
    const char *reject_patient, *again_patient;
    long long delay_ms;
    const char *block_file, *down_file;
    FILE *writes; /* writes_path: one line per write(), the records offered */
} sink;

static const bp_option options[] = {
    BP_OPTION_STRING("path", NULL, BP_OPT_REQUIRED, "file the documents are appended to"),
    BP_OPTION_INT("retry_first", "0", 0, 1000, 0, "answer BP_RETRY to the first N writes"),
    BP_OPTION_INT("fatal_after", "0", 0, 1000000, 0, "answer BP_FATAL from write N+1 (0: never)"),
    BP_OPTION_STRING("reject_patient", NULL, 0, "reject the readings of this patient id"),
    BP_OPTION_INT("again_every", "0", 0, 1000, 0,
                  "fail (BP_AGAIN) every k-th record offered, counted over writes (0: none)"),
    BP_OPTION_INT("deliver_every", "0", 0, 1000, 0,
                  "deliver only every k-th record offered and fail the others (0: all)"),
    BP_OPTION_STRING("again_patient", NULL, 0, "fail the readings of this patient id for ever"),
    BP_OPTION_INT("again_first", "0", 0, 1000, 0,
                  "fail every record, one by one, in the first N writes (an outage)"),
    BP_OPTION_INT("delay_ms", "0", 0, 60000, 0, "sleep this long in every write (a slow sink)"),
    BP_OPTION_STRING("block_file", NULL, 0,
                     "while this file exists, write() waits inside (a stalled sink)"),
    BP_OPTION_STRING("down_file", NULL, 0,
                     "while this file exists, every write takes nothing (a sink that is down)"),
    BP_OPTION_STRING("writes_path", NULL, 0,
                     "file each write() appends the number of records it was offered to"),
};

static void sleep_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int sink_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->retry_first = host->opt_int(ctx, "retry_first", 0);
    s->fatal_after = host->opt_int(ctx, "fatal_after", 0);
    s->reject_patient = host->opt_string(ctx, "reject_patient");
    s->again_every = host->opt_int(ctx, "again_every", 0);
    s->deliver_every = host->opt_int(ctx, "deliver_every", 0);
    s->again_first = host->opt_int(ctx, "again_first", 0);
    s->again_patient = host->opt_string(ctx, "again_patient");
    s->delay_ms = host->opt_int(ctx, "delay_ms", 0);
    s->block_file = host->opt_string(ctx, "block_file");
    s->down_file = host->opt_string(ctx, "down_file");
    const char *path = host->opt_string(ctx, "path");
    s->out = fopen(path, "a");
    const char *writes = host->opt_string(ctx, "writes_path");
    if (s->out && writes && !(s->writes = fopen(writes, "a"))) {
        fclose(s->out);
        s->out = NULL;
        path = writes;
    }
    if (!s->out) {
        host->log(ctx, BP_LOG_ERROR, "cannot open %s", path);
        free(s);
        return BP_FATAL;
    }
    *state = s;
    return BP_OK;
}

static void sink_close(void *state)
{
    sink *s = state;
    fclose(s->out);
    if (s->writes)
        fclose(s->writes);
    free(s);
}

static int sink_write(void *state, bp_batch *batch)
{
    sink *s = state;
    const bp_host *h = s->host;
    s->calls++;
    if (s->writes) {
        fprintf(s->writes, "%zu\n", h->batch_count(batch));
        fflush(s->writes);
    }
    while (s->block_file && access(s->block_file, F_OK) == 0)
        sleep_ms(20);
    if (s->delay_ms)
        sleep_ms(s->delay_ms);
    if (s->fatal_after && s->calls > s->fatal_after) {
        h->log(s->ctx, BP_LOG_ERROR, "failing on purpose");
        return BP_FATAL;
    }
    if (s->calls <= s->retry_first || (s->down_file && access(s->down_file, F_OK) == 0))
        return BP_RETRY;
    int rc = BP_OK;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        const char *patient = h->text(r, BP_F_PATIENT_ID);
        if (s->calls <= s->retry_first + s->again_first) {
            h->set_outcome(s->ctx, r, BP_AGAIN, "test-sink outage");
            rc = BP_RETRY;
            continue;
        }
        s->offered++;
        if ((s->again_every && s->offered % s->again_every == 0) ||
            (s->deliver_every && s->offered % s->deliver_every != 0)) {
            h->set_outcome(s->ctx, r, BP_AGAIN, "not taken now by test-sink");
            rc = BP_RETRY;
            continue;
        }
        if (s->again_patient && patient && strcmp(patient, s->again_patient) == 0) {
            h->set_outcome(s->ctx, r, BP_AGAIN, "patient held back by test-sink");
            rc = BP_RETRY;
            continue;
        }
        if (s->reject_patient && patient && strcmp(patient, s->reject_patient) == 0) {
            h->set_outcome(s->ctx, r, BP_REJECTED, "patient refused by test-sink");
            continue;
        }
        size_t len;
        const char *doc = h->document(s->ctx, r, 0, &len);
        fwrite(doc, 1, len, s->out);
        fputc('\n', s->out);
        h->set_outcome(s->ctx, r, BP_DELIVERED, NULL);
    }
    return fflush(s->out) == 0 ? rc : BP_RETRY;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "test-sink",
    .version = "1.0.0",
    .kind = BP_KIND_SINK,
    .description = "appends documents to a file; can retry, reject and fail on purpose",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = sink_open,
    .close = sink_close,
    .write = sink_write,
};

BP_PLUGIN(descriptor)
