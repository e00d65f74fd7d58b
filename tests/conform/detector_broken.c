/* A detector that breaks the contract on purpose, for the conformance kit's own tests: on a
 * reading without a systolic value it crashes (a NULL dereference by default, or abort(), or a
 * hang), and options make it break other rules: write a file in open() (check mode must touch
 * nothing), leak 1 MiB on every open (cycles), pass the host a reason code it refuses
 * (verdicts). Every other reading it judges like a simple threshold rule. */
#include "bppipe/plugin.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct broken {
    const bp_host *h;
    bp_ctx *ctx;
    char crash[8];
    int bad_reason;
    void *leaked;
} broken;

static const bp_option options[] = {
    BP_OPTION_ENUM("crash", "segv", "none|segv|abort|hang",
                   "what a reading without a systolic value does"),
    BP_OPTION_BOOL("write_in_open", "false", "write conform-broken.txt in the working directory "
                   "in open()"),
    BP_OPTION_BOOL("leak", "false", "leak 1 MiB on every open"),
    BP_OPTION_BOOL("bad_reason", "false", "flag readings with a reason code the host refuses"),
};

static int broken_open(const bp_host *h, bp_ctx *ctx, void **state)
{
    broken *b = calloc(1, sizeof *b);
    if (!b)
        return BP_FATAL;
    b->h = h;
    b->ctx = ctx;
    const char *crash = h->opt_string(ctx, "crash");
    strncpy(b->crash, crash ? crash : "segv", sizeof b->crash - 1);
    b->bad_reason = h->opt_bool(ctx, "bad_reason", 0);
    if (h->opt_bool(ctx, "write_in_open", 0)) {
        int fd = open("conform-broken.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            if (write(fd, "written in check mode\n", 22) != 22)
                h->log(ctx, BP_LOG_WARN, "short write");
            close(fd);
        }
    }
    if (h->opt_bool(ctx, "leak", 0)) {
        b->leaked = malloc(1024 * 1024);
        if (b->leaked)
            memset(b->leaked, 1, 1024 * 1024);
    }
    *state = b;
    return BP_OK;
}

static void broken_close(void *state)
{
    broken *b = state;
    /* With leak = true the 1 MiB block is forgotten, not freed. */
    free(b);
}

static void crash_now(const broken *b)
{
    if (strcmp(b->crash, "abort") == 0)
        abort();
    if (strcmp(b->crash, "hang") == 0)
        for (;;)
            pause();
    if (strcmp(b->crash, "segv") == 0) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
}

static int broken_detect(void *state, bp_batch *batch)
{
    broken *b = state;
    const bp_host *h = b->h;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        double sys = h->number(r, BP_F_SYSTOLIC);
        if (isnan(sys))
            crash_now(b);
        if (sys > 140) {
            h->flag(b->ctx, r, b->bad_reason ? "Bad Reason!" : "broken_high", BP_SEV_WARNING);
            h->set_text(b->ctx, r, BP_F_ANOMALY_TYPE, "hypertension");
        }
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 0,
    .name = "detector-broken",
    .version = "0.0.1",
    .kind = BP_KIND_DETECTOR,
    .description = "breaks the plugin contract on purpose (conformance kit tests)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = broken_open,
    .close = broken_close,
    .detect = broken_detect,
};

BP_PLUGIN(descriptor)
