/* source-faker: the simulated ward as a source plugin (replaces the original producer.py). */
#include "common/clock.h"
#include "wardsim/ward_pcd01.h"
#include "wardsim/ward_sim.h"

#include <bppipe/plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* With rate = 0 the ward runs as fast as possible but its clock still advances as if each
 * patient were read every 5 seconds, like the original producer, or every `interval` seconds:
 * a day of a ward whose cuffs read every 15 minutes takes a second, not a day (the alarm
 * replay's simulated ward, docs/alarms.md). */
#define FAST_INTERVAL_S 5.0
/* Real devices do not report on the dot: each reading moves by up to 20 % of the gap between
 * two patients, which keeps the readings in sequence order. */
#define JITTER_SHARE 0.2

typedef struct faker {
    const bp_host *host;
    bp_ctx *ctx;
    bp_ward ward;
    double rate;
    int64_t count;
    double started; /* monotonic seconds at the first poll; 0 before it */
    /* FHIR JSON, or HL7 v2 ORU^R01 as the ward's bedside monitors would send it (PCD-01) */
    size_t (*encode)(const bp_ward *w, const bp_sim_reading *r, char *buf, size_t len);
    char buf[4096];
} faker;

static const bp_option options[] = {
    BP_OPTION_INT("patients", "5", 1, 1000000, 0, "number of patients (PAT-001, ...)"),
    BP_OPTION_INT("practitioners", "2", 1, 1000, 0,
                  "number of practitioners (PRAC-01, ...), assigned in turn"),
    BP_OPTION_DOUBLE("rate", "1", 0, 1000, 0,
                     "readings per second per patient; 0 = as fast as possible"),
    BP_OPTION_INT("count", "0", 0, 9007199254740992.0, 0, "readings in total; 0 = forever"),
    BP_OPTION_INT("seed", "42", 0, 9007199254740992.0, 0, "random seed: same seed, same values"),
    BP_OPTION_STRING("start_time", NULL, 0,
                     "simulated clock start, e.g. 2026-01-01T00:00:00Z (default: now)"),
    BP_OPTION_DOUBLE("interval", NULL, 0.001, 31536000, 0,
                     "simulated seconds between two readings of a patient, with rate = 0 "
                     "(default 5); with rate > 0 it is 1/rate"),
    BP_OPTION_DOUBLE("invalid_rate", "0", 0, 1, 0,
                     "fraction of deliberately broken payloads (dead-letter drills)"),
    BP_OPTION_ENUM("format", "fhir", "fhir|pcd01",
                   "payloads: FHIR R4 Observations, or HL7 v2.6 ORU^R01 messages of the IHE "
                   "PCD-01 profile as bedside monitors send them"),
};

static int faker_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    faker *f = calloc(1, sizeof *f);
    if (!f) {
        host->log(ctx, BP_LOG_ERROR, "out of memory");
        return BP_FATAL;
    }
    f->host = host;
    f->ctx = ctx;
    f->rate = host->opt_double(ctx, "rate", 1);
    f->count = host->opt_int(ctx, "count", 0);
    const char *format = host->opt_string(ctx, "format");
    f->encode = format && strcmp(format, "pcd01") == 0 ? bp_ward_pcd01 : bp_ward_fhir;
    int64_t start_ms;
    const char *start = host->opt_string(ctx, "start_time");
    if (start) {
        if (bp_ward_parse_time(start, &start_ms) != 0) {
            host->log(ctx, BP_LOG_ERROR, "start_time '%s' is not an ISO 8601 UTC time from 1970 "
                      "on; write it like 2026-01-01T08:00:00Z", start);
            free(f);
            return BP_FATAL;
        }
    } else {
        start_ms = bp_wall_ms();
    }
    double interval = f->rate > 0 ? 1.0 / f->rate : FAST_INTERVAL_S;
    if (host->opt_string(ctx, "interval")) {
        if (f->rate > 0) {
            host->log(ctx, BP_LOG_ERROR,
                      "interval applies with rate = 0 only (with rate > 0 a patient is read "
                      "every 1/rate seconds): set rate = 0 or drop interval");
            free(f);
            return BP_FATAL;
        }
        interval = host->opt_double(ctx, "interval", FAST_INTERVAL_S);
    }
    if (bp_ward_init(&f->ward, (uint64_t)host->opt_int(ctx, "seed", 42),
                     (size_t)host->opt_int(ctx, "patients", 5),
                     (size_t)host->opt_int(ctx, "practitioners", 2), start_ms, interval,
                     host->opt_double(ctx, "invalid_rate", 0)) != 0) {
        host->log(ctx, BP_LOG_ERROR, "out of memory setting up the ward; lower `patients`");
        free(f);
        return BP_FATAL;
    }
    bp_ward_set_jitter(&f->ward, JITTER_SHARE);
    /* The start is logged so that a run on the wall clock can be replayed byte for byte. */
    time_t t = (time_t)(start_ms / 1000);
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    host->log(ctx, BP_LOG_INFO, "%zu patients, seed %llu, clock from %s.%03dZ, %s, %s",
              f->ward.n_patients, (unsigned long long)f->ward.seed, when,
              (int)(start_ms % 1000), f->rate > 0 ? "paced in real time" : "as fast as possible",
              f->encode == bp_ward_pcd01 ? "HL7 v2 PCD-01" : "FHIR");
    *state = f;
    return BP_OK;
}

static void faker_close(void *state)
{
    faker *f = state;
    bp_ward_free(&f->ward);
    free(f);
}

/* Real seconds after open at which reading `seq` is due (paced mode): its slot on the
 * simulated clock, which runs at the speed of the real one when rate > 0. */
static double due_at(const faker *f, uint64_t seq)
{
    return bp_ward_due_s(&f->ward, seq);
}

static int faker_poll(void *state, bp_batch *batch, int timeout_ms)
{
    faker *f = state;
    const bp_host *h = f->host;
    size_t want = h->batch_capacity(batch);
    if (f->rate > 0) {
        /* The real clock starts at the first poll, not at open: other stages may take a while
         * to open, and `bppipe check` opens without ever polling. */
        if (f->started == 0)
            f->started = bp_now_s();
        /* Wait for the next due reading, but never longer than the host allows. */
        double wait = due_at(f, f->ward.next) - (bp_now_s() - f->started);
        double limit = timeout_ms > 0 ? timeout_ms / 1000.0 : 0;
        if (wait > 0) {
            double s = wait < limit ? wait : limit;
            struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    while (h->batch_count(batch) < want) {
        if (f->count && (int64_t)f->ward.next >= f->count)
            return BP_END;
        if (f->rate > 0 && due_at(f, f->ward.next) > bp_now_s() - f->started)
            break;
        bp_sim_reading r;
        bp_ward_step(&f->ward, &r);
        size_t len = f->encode(&f->ward, &r, f->buf, sizeof f->buf);
        char key[24];
        bp_ward_patient_id(r.patient, key, sizeof key);
        bp_origin o = {sizeof o, NULL, -1, (int64_t)r.seq, key, strlen(key), r.effective_ms};
        if (len == 0 || h->add_payload(batch, f->buf, len, &o) != BP_OK) {
            h->log(f->ctx, BP_LOG_ERROR, "could not hand reading %llu to the host (out of memory)",
                   (unsigned long long)r.seq);
            return BP_FATAL; /* stepping again would skip this reading */
        }
    }
    return f->count && (int64_t)f->ward.next >= f->count ? BP_END : BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "source-faker",
    .version = "1.0.0",
    .kind = BP_KIND_SOURCE,
    .description = "a simulated ward: FHIR R4 blood-pressure Observations (or HL7 v2 PCD-01 "
                   "messages) with realistic episodes",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = faker_open,
    .close = faker_close,
    .poll = faker_poll,
    .caps = BP_CAP_POLL_APPENDS, /* linger_ms may gather a batch over several polls */
};

BP_PLUGIN(descriptor)
