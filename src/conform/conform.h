/* `bppipe conform`: the conformance kit's parts. src/cli/cmd_conform.c runs the checks, each in a
 * child process; src/conform/conform_checks.c holds the checks every kind gets; conform_detector.c,
 * conform_sink.c and conform_source.c the ones of each kind; conform_readings.c the readings
 * they feed; conform_watch.c the instances and the host table that watches what a plugin
 * calls. */
#ifndef BPPIPE_CONFORM_H
#define BPPIPE_CONFORM_H

#include "config/config.h"
#include "pipeline/instance.h"
#include "pipeline/loader.h"
#include "pipeline/record.h"

#include <stdbool.h>
#include <stddef.h>

/* Sanitizer builds: memory figures tell the sanitizer's own bookkeeping (ASan's quarantine,
 * TSan's shadow), and TSan runs a thread of its own once a program starts one. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CF_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CF_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CF_ASAN)
#define CF_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CF_TSAN)
#define CF_TSAN 1
#endif

/* What every check gets: the plugin (loaded by the parent before any fork) and its section. */
typedef struct cf_env {
    const bp_loaded *plugin;
    bp_section *section;      /* "<kind>.conform": plugin = NAME and every -o KEY=VALUE */
    char missing[512];        /* required options that were not given, ", "-separated */
    unsigned cycles;          /* open/close cycles of the `cycles` check */
} cf_env;

typedef enum cf_status { CF_PASS, CF_FAIL, CF_SKIP } cf_status;

/* What a check says: its status and one line (a reason, or a note on a pass). */
typedef struct cf_out {
    char msg[1024];
} cf_out;

typedef cf_status (*cf_check_fn)(const cf_env *env, cf_out *out);

typedef struct cf_check {
    const char *name;
    cf_check_fn fn;
    bool needs_open; /* skipped when open_close failed */
    unsigned timeout_factor; /* times --timeout; 1 for most */
} cf_check;

/* Sets the line of `out` and returns `status`. */
cf_status cf_say(cf_out *out, cf_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The checks of `kind`, in the order they run; *n receives how many. */
const cf_check *cf_checks_for(bp_kind kind, size_t *n);

/* Checks of every kind (conform_checks.c). */
cf_status cf_check_descriptor(const cf_env *env, cf_out *out);
cf_status cf_check_options(const cf_env *env, cf_out *out);
cf_status cf_check_open_close(const cf_env *env, cf_out *out);
cf_status cf_check_check_mode(const cf_env *env, cf_out *out);
cf_status cf_check_reload(const cf_env *env, cf_out *out);
cf_status cf_check_cycles(const cf_env *env, cf_out *out);

/* Checks of one kind (conform_detector.c, conform_sink.c, conform_source.c). */
cf_status cf_check_detect_empty(const cf_env *env, cf_out *out);
cf_status cf_check_detect_single(const cf_env *env, cf_out *out);
cf_status cf_check_detect_missing(const cf_env *env, cf_out *out);
cf_status cf_check_detect_odd(const cf_env *env, cf_out *out);
cf_status cf_check_detect_verdicts(const cf_env *env, cf_out *out);
cf_status cf_check_detect_close(const cf_env *env, cf_out *out);
cf_status cf_check_write_empty(const cf_env *env, cf_out *out);
cf_status cf_check_write_single(const cf_env *env, cf_out *out);
cf_status cf_check_write_missing(const cf_env *env, cf_out *out);
cf_status cf_check_write_odd(const cf_env *env, cf_out *out);
cf_status cf_check_write_dead_letters(const cf_env *env, cf_out *out);
cf_status cf_check_write_outcomes(const cf_env *env, cf_out *out);
cf_status cf_check_write_flush_close(const cf_env *env, cf_out *out);
cf_status cf_check_poll_capacity(const cf_env *env, cf_out *out);
cf_status cf_check_poll_timeout(const cf_env *env, cf_out *out);
cf_status cf_check_poll_commit(const cf_env *env, cf_out *out);
cf_status cf_check_poll_close(const cf_env *env, cf_out *out);

/* -- readings (conform_readings.c) -- */

typedef struct spec {
    const char *id, *patient;
    double sys, dia, hr; /* NaN: the Observation has no such component */
    int minute;
    bool critical; /* judged as a detector would: flagged critical, so route critical sinks see it */
} spec;

/* A batch with its own arena. */
typedef struct cf_batch {
    bp_arena arena;
    bp_batch b;
} cf_batch;

void cf_batch_init(cf_batch *cb, size_t capacity);
void cf_batch_free(cf_batch *cb);

/* The reading sets a check feeds. */
typedef enum cf_set { SET_EMPTY, SET_SINGLE, SET_MISSING, SET_ODD, SET_WARD } cf_set;
#define CF_N_MISSING 5
#define CF_N_WARD 10
extern const spec cf_missing[CF_N_MISSING]; /* each with one value or more missing */
extern const spec cf_ward[CF_N_WARD];

/* Appends `set` to `cb`. Returns 0, or -1 with the reason (the kit's own failure). */
int cf_fill(cf_batch *cb, cf_set set, char *why, size_t why_len);
/* Appends the reading of `s` at source offset `offset`. */
int cf_add_reading(cf_batch *cb, const spec *s, int64_t offset, char *why, size_t why_len);
/* Appends what the decoder makes of `text`: readings, or with `want_invalid` dead letters. */
int cf_add_payload_text(cf_batch *cb, const char *text, int64_t offset, bool want_invalid,
                        char *why, size_t why_len);

/* -- instances (conform_watch.c) -- */

/* A fresh instance of the plugin over env's section, not opened. NULL when out of memory. */
bp_ctx *cf_ctx_new(const cf_env *env);
/* Calls open() through the watching host table (cf_watch_host) or the host's own table; the
 * stage is marked as running for the watch. Returns the plugin's status. */
int cf_open(bp_ctx *ctx, bool watched);
/* close() if opened, then frees the instance. */
void cf_close_free(bp_ctx *ctx);

/* The host table that forwards every call to the host's own and notes what the contract does
 * not allow: a host call with another instance's context, from another thread or outside a
 * stage call, a verdict or outcome call the host refused (BP_EINVAL), a sink calling verdict
 * functions. */
const bp_host *cf_watch_host(void);
/* The first violations noted since the last reset ("" when none). */
const char *cf_watch_problems(void);
void cf_watch_reset(bp_ctx *ctx);
void cf_watch_stage(bool inside);

/* Tells the kit what the check is about to do, so a crash or a hang can be said to have
 * happened there ("while detect() judged ..."). Only in a check's process; nothing before
 * cf_report_to gave it a descriptor. */
void cf_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A check's process: the write end of its pipe to the kit, where cf_progress writes (-1: none,
 * once the check has reported). */
void cf_report_to(int fd);

/* Sleeps `ms` milliseconds (durations are measured with bp_now_s, common/clock.h). */
void cf_sleep_ms(int ms);

#endif
