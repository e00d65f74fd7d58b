/* detector-streak: an example third-party detector that keeps state per patient through the
 * host's keyed state (ABI 1.5), built only against the installed header <bppipe/plugin.h>. It
 * counts each patient's consecutive readings with systolic at or above `above`, annotates the
 * count (streak_count) and flags `streak_high` once it reaches `streak`.
 *
 * The count is not kept in the plugin: it is a value in the host, read with state_get and
 * written back with state_put for every reading. So it is kept per input partition, follows a
 * partition to the process that gets it (source-kafka), and survives a crash as of the
 * committed position (state_file with other sources): a replayed reading is judged as before.
 *
 * Build:  cmake -S . -B build && cmake --build build   (find_package(bppipe): CMakeLists.txt)
 *    or:  make PREFIX=/usr/local
 * Use:    BPPIPE_PLUGIN_PATH=. bppipe run pipeline.ini   with
 *         [detector.streak]
 *         plugin = detector-streak
 *         streak = 3
 *         state_file = streak.state   ; optional: kept across restarts without source-kafka
 */
#include <bppipe/plugin.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The value's layout: the count as 4 bytes, little-endian. Another layout gets another format
 * name ("streak.2"), and the host then never hands an old value to the new code. */
#define FORMAT "streak.1"

typedef struct state {
    const bp_host *host;
    bp_ctx *ctx;
    double above;
    uint32_t streak;
} state;

static const bp_option options[] = {
    BP_OPTION_DOUBLE("above", "140", 60, 250, 0, "systolic, mmHg, that continues a streak"),
    BP_OPTION_INT("streak", "3", 2, 1000, 0, "consecutive readings that flag streak_high"),
    BP_OPTION_STRING("state_file", NULL, 0,
                     "snapshot of the counts, written by the host (sources other than Kafka)"),
};

static int streak_open(const bp_host *host, bp_ctx *ctx, void **out)
{
    state *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->above = host->opt_double(ctx, "above", 140);
    s->streak = (uint32_t)host->opt_int(ctx, "streak", 3);
    /* abi_minor 5 below makes an older host refuse the plugin, so state_open is there. */
    if (host->state_open(ctx, FORMAT, 0, host->opt_string(ctx, "state_file")) != BP_OK) {
        host->log(ctx, BP_LOG_ERROR, "cannot keep per-patient state");
        free(s);
        return BP_FATAL;
    }
    *out = s;
    return BP_OK;
}

static void streak_close(void *st)
{
    free(st); /* nothing else: the counts live in the host */
}

static int streak_detect(void *st, bp_batch *batch)
{
    state *s = st;
    const bp_host *h = s->host;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        const char *patient = h->text(r, BP_F_PATIENT_ID);
        double sys = h->number(r, BP_F_SYSTOLIC);
        size_t key_len = patient ? strlen(patient) : 0;
        if (isnan(sys) || key_len < 1 || key_len > BP_STATE_MAX_KEY)
            continue; /* a key is 1 to BP_STATE_MAX_KEY bytes; hash longer ones in your plugin */
        uint8_t v[4];
        size_t len = 0;
        uint32_t count = 0;
        if (h->state_get(s->ctx, r, patient, key_len, v, sizeof v, &len) == BP_OK && len == 4)
            count =
                (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
        count = sys >= s->above ? count + 1 : 0;
        for (int b = 0; b < 4; b++)
            v[b] = (uint8_t)(count >> (8 * b));
        /* Store before the call returns; a failure (out of memory) only forgets this step. */
        h->state_put(s->ctx, r, patient, key_len, v, sizeof v);
        h->annotate_number(s->ctx, r, "streak_count", count);
        if (count >= s->streak)
            h->flag(s->ctx, r, "streak_high", BP_SEV_WARNING);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 5, /* keyed state */
    .name = "detector-streak",
    .version = "1.0.0",
    .kind = BP_KIND_DETECTOR,
    .description = "consecutive high systolic readings per patient, in the host's keyed state "
                   "(example)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = streak_open,
    .close = streak_close,
    .detect = streak_detect,
};

BP_PLUGIN(descriptor)
