/* A source written against a frozen ABI header (abi_version.h): one payload per line of
 * `path`, the line number as its offset, BP_END at the end of the file. commit() counts the
 * batches committed and the lines up to the last one, so the test can check that today's host
 * commits every batch of a source that has commit() but no BP_CAP_BATCH_COMMIT. Built for ABI
 * 1.2 it sets BP_CAP_POLL_APPENDS, and a poll appends to what the batch already holds; for
 * 1.3 also BP_CAP_BATCH_COMMIT, as commit() reads the positions of the batch it is given.
 * Built for 1.6 (today's header) it hands a line that is not a JSON object to add_rejected
 * (tested with BP_HOST_HAS) with a reason of its own, and commit() counts the payloads whose
 * BP_F_INVALID_REASON is that reason (rejected_committed). */
#define _POSIX_C_SOURCE 200809L
#include "abi_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define REJECT_REASON "abi source: the line is not a JSON object"

typedef struct src {
    const bp_host *host;
    bp_ctx *ctx;
    FILE *f;
    char *line;
    size_t cap;
    int64_t next_offset, committed;
} src;

static const bp_option options[] = {
    BP_OPTION_STRING("path", NULL, BP_OPT_REQUIRED, "NDJSON file, one payload per line"),
};

static int src_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    src *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->committed = -1;
    s->f = fopen(host->opt_string(ctx, "path"), "r");
    if (!s->f) {
        host->log(ctx, BP_LOG_ERROR, "cannot open %s", host->opt_string(ctx, "path"));
        free(s);
        return BP_FATAL;
    }
    *state = s;
    return BP_OK;
}

static void src_close(void *state)
{
    src *s = state;
    fclose(s->f);
    free(s->line);
    free(s);
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    (void)timeout_ms;
    src *s = state;
    const bp_host *h = s->host;
    while (h->batch_count(batch) < h->batch_capacity(batch)) {
        ssize_t n = getline(&s->line, &s->cap, s->f);
        if (n < 0)
            return BP_END;
        while (n > 0 && (s->line[n - 1] == '\n' || s->line[n - 1] == '\r'))
            n--;
        bp_origin o = {sizeof o, "abi-topic", 0, s->next_offset++, NULL, 0, -1};
#if ABI_VERSION >= 16
        if (BP_HOST_HAS(h, add_rejected) && (n == 0 || s->line[0] != '{')) {
            if (h->add_rejected(batch, s->line, (size_t)n, &o, REJECT_REASON) != BP_OK)
                return BP_FATAL;
            continue;
        }
#endif
        if (h->add_payload(batch, s->line, (size_t)n, &o) != BP_OK)
            return BP_FATAL;
    }
    return BP_OK;
}

static int src_commit(void *state, const bp_batch *batch)
{
    src *s = state;
    const bp_host *h = s->host;
    size_t n = h->batch_count(batch);
    bp_record *last = n ? h->batch_at(batch, n - 1) : NULL;
    double off = last ? h->number(last, BP_F_SOURCE_OFFSET) : -1;
    /* In poll order: every batch starts where the last committed one ended. */
    bp_record *first = n ? h->batch_at(batch, 0) : NULL;
    if (first && h->number(first, BP_F_SOURCE_OFFSET) != (double)(s->committed + 1))
        h->count(s->ctx, "commits_out_of_order", 1);
#if ABI_VERSION >= 16
    for (size_t i = 0; i < n; i++) {
        const char *why = h->text(h->batch_at(batch, i), BP_F_INVALID_REASON);
        if (why && strcmp(why, REJECT_REASON) == 0)
            h->count(s->ctx, "rejected_committed", 1);
    }
#endif
    if (last) {
        h->count(s->ctx, "committed_lines", off - (double)s->committed);
        s->committed = (int64_t)off;
    }
    h->count(s->ctx, "commits", 1);
    return BP_OK;
}

#if ABI_VERSION >= 17
/* ABI 1.7: the member is there to be laid out and read; this source has no partitions of its
 * own to append to, so it answers as one that does not read the topic. */
static int src_send_input(void *state, const char *topic, int32_t partition, const void *key,
                          size_t key_len, const void *data, size_t len, int timeout_ms)
{
    (void)state, (void)topic, (void)partition, (void)key, (void)key_len, (void)data, (void)len;
    (void)timeout_ms;
    return BP_EINVAL;
}
#endif

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = ABI_NAME("source"),
    .version = "1.0.0",
    .kind = BP_KIND_SOURCE,
    .description = "one payload per line of a file; built against a frozen ABI header (tests)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
    .commit = src_commit,
#if ABI_VERSION >= 13
    .caps = BP_CAP_POLL_APPENDS | BP_CAP_BATCH_COMMIT, /* commit() reads the batch's own */
#elif ABI_VERSION >= 12
    .caps = BP_CAP_POLL_APPENDS,
#endif
#if ABI_VERSION >= 17
    .send_input = src_send_input,
#endif
};

BP_PLUGIN(descriptor)
