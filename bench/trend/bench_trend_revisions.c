/* bench/trend: what revisions (issue 26) cost detector-trend per reading, as the plugin works:
 * the patient's stored history decoded, the reading judged, the history encoded again. Without
 * logical ids (the history is trend.1 as before), with one on every reading (the latest
 * `revisable` kept apart), and with one reading in 20 corrected two readings later.
 * Usage: build/bench/bench_trend_revisions [PATIENTS (10000)] [READINGS PER PATIENT (50)]
 *        [REVISABLE (8)] */
#include "trend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef enum mode { NO_IDS, IDS, CORRECTIONS } mode;

static void run(mode m, size_t patients, int rounds, int keep)
{
    bp_trend_config c = bp_trend_config_default();
    uint8_t *store = calloc(patients, BP_TREND_HISTORY_MAX);
    size_t *len = calloc(patients, sizeof *len);
    if (!store || !len) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uint64_t x = 88172645463325252ull, flagged = 0, revised = 0;
    double t0 = now();
    for (int r = 0; r < rounds; r++) {
        for (size_t p = 0; p < patients; p++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            bp_trend_history h;
            uint8_t *v = store + p * BP_TREND_HISTORY_MAX;
            if (len[p] == 0 || bp_trend_history_decode(&c, v, len[p], &h) != 0)
                bp_trend_history_init(&h);
            int64_t at = (int64_t)r * 300000;
            double s = 100 + (double)(x % 80), d = 60 + (double)((x >> 8) % 50);
            bp_trend_verdict out;
            uint64_t id = m == NO_IDS ? 0 : (uint64_t)p << 20 | (uint64_t)r | 1;
            if (m == CORRECTIONS && r >= 2 && (r + p) % 20 == 0) {
                revised += (unsigned)bp_trend_history_revise(&c, keep, &h, BP_TREND_REPLACE,
                                                             (uint64_t)p << 20 | (uint64_t)(r - 2) | 1,
                                                             at - 600000, s, d, &out);
            }
            bp_trend_history_judge(&c, keep, &h, id, at, s, d, &out);
            flagged += out.reasons != 0;
            len[p] = bp_trend_history_encode(&c, &h, v);
        }
    }
    double secs = now() - t0, bytes = 0;
    for (size_t p = 0; p < patients; p++)
        bytes += (double)len[p];
    static const char *const names[] = {"no logical ids", "a logical id on every reading",
                                        "ids, 1 in 20 corrected"};
    printf("%-32s %zu patients x %d readings: %9.0f readings/s (%.2f s), %5.0f bytes stored "
           "per patient, %llu flagged, %llu revisions applied\n",
           names[m], patients, rounds, (double)patients * rounds / secs, secs,
           bytes / (double)patients, (unsigned long long)flagged, (unsigned long long)revised);
    free(store);
    free(len);
}

int main(int argc, char **argv)
{
    size_t patients = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    int rounds = argc > 2 ? atoi(argv[2]) : 50;
    int keep = argc > 3 ? atoi(argv[3]) : 8;
    if (keep < 0 || keep > BP_TREND_MAX_REVISABLE || rounds < 1 || patients < 1) {
        fprintf(stderr, "usage: bench_trend_revisions [PATIENTS] [READINGS] [REVISABLE 0..%d]\n",
                BP_TREND_MAX_REVISABLE);
        return 2;
    }
    run(NO_IDS, patients, rounds, keep);
    run(IDS, patients, rounds, keep);
    run(CORRECTIONS, patients, rounds, keep);
    return 0;
}
