/* A stand-in for the bppipe host, just enough to drive a source plugin's open/poll/close from a
 * unit test: options from a table (falling back to the descriptor's defaults, as the real host
 * does after validation), batches that keep copies of every payload and origin, and a log
 * captured in memory so tests can read what the plugin told the user. */
#ifndef BPPIPE_TEST_FAKE_HOST_H
#define BPPIPE_TEST_FAKE_HOST_H

#include <bppipe/plugin.h>

#include <stddef.h>
#include <stdint.h>

/* One "key = value" of the instance's INI section. */
typedef struct fake_opt {
    const char *name, *value;
} fake_opt;

struct bp_ctx {
    const bp_plugin *plugin; /* for option defaults */
    const fake_opt *opts;    /* given options, n_opts of them; not owned */
    size_t n_opts;
    char log[16384]; /* every line logged, '\n'-separated, truncated when full */
    int errors;      /* lines logged at BP_LOG_ERROR */
};

/* A payload as the host copied it. */
typedef struct fake_payload {
    char *data;
    size_t len;
    char *topic; /* NULL when the origin had none */
    int32_t partition;
    int64_t offset;
    char *key; /* NUL-terminated copy, NULL when none */
    size_t key_len;
    int64_t timestamp_ms;
} fake_payload;

struct bp_batch {
    size_t capacity;
    size_t count, cap_items;
    fake_payload *items;
};

/* The host table; every member a source may call is filled in. */
extern const bp_host fake_host;

/* Prepares `ctx` for `plugin` with `n` options at `opts` (kept by pointer). */
void fake_ctx_init(bp_ctx *ctx, const bp_plugin *plugin, const fake_opt *opts, size_t n);
/* An empty batch that accepts `capacity` payloads per poll. */
void fake_batch_init(bp_batch *b, size_t capacity);
/* Drops the payloads, keeping the capacity. */
void fake_batch_clear(bp_batch *b);
void fake_batch_free(bp_batch *b);

#endif
