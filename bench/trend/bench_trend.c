/* bench/trend: detector-trend's history with 1 000 000 distinct patients: readings per second
 * and memory per patient (computed from the structures, and the process's peak RSS).
 * Usage: build/bench/bench_trend [PATIENTS (1000000)] [READINGS PER PATIENT (5)] */
#include "trend.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t patients = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    bp_trend_config c = bp_trend_config_default();
    c.max_patients = patients;
    bp_trend t;
    if (bp_trend_init(&t, &c) != 0) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    char id[32];
    uint64_t flagged = 0, x = 88172645463325252ull;
    double t0 = now();
    for (int r = 0; r < rounds; r++) {
        for (size_t p = 0; p < patients; p++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            snprintf(id, sizeof id, "PAT-%07zu", p);
            bp_trend_verdict v;
            bp_trend_observe(&t, id, (int64_t)r * 300000, 100 + (double)(x % 80),
                             60 + (double)((x >> 8) % 50), &v);
            flagged += v.reasons != 0;
        }
    }
    double secs = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double n = (double)patients * rounds;
    printf("%zu patients x %d readings: %.0f readings/s (%.2f s), %llu flagged\n", patients,
           rounds, n / secs, secs, (unsigned long long)flagged);
    printf("memory: %zu bytes per patient by structure (record %zu + index), peak RSS %.0f MB "
           "(%.0f bytes per patient)\n", bp_trend_bytes_per_patient(&t), sizeof(bp_trend_slot),
           ru.ru_maxrss / 1024.0, ru.ru_maxrss * 1024.0 / (double)patients);
    bp_trend_free(&t);
    return 0;
}
