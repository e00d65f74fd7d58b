/* bench/score: nanoseconds per detector-logreg score (feature computation, standardisation,
 * dot product, logistic), for both feature sets, over a spread of readings.
 * Usage: build/bench/bench_score [MODEL.json]   (default models/bp_logreg.json) */
#include "clinical/logreg.h"

#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "models/bp_logreg.json";
    bp_lr_model m;
    char why[256];
    if (bp_lr_load(path, &m, why, sizeof why) != 0) {
        fprintf(stderr, "%s: %s\n", path, why);
        return 1;
    }
    for (int set = 0; set < 2; set++) {
        m.features = (bp_feature_set)set;
        m.n_features = bp_lr_feature_count(m.features);
        const long n = 20000000;
        double sink = 0, best = 1e300;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now(), acc = 0;
            for (long i = 0; i < n; i++)
                acc += bp_lr_score(&m, 80 + (double)(i % 120), 50 + (double)(i % 70));
            double t = now() - t0;
            sink += acc;
            if (t < best)
                best = t;
        }
        /* the sum is printed so that the compiler cannot drop the scoring loop */
        printf("%-9s features: %6.1f ns per score (best of 5 x %ld; checksum %.6g)\n",
               bp_lr_feature_set_name(m.features), best / (double)n * 1e9, n, sink);
    }
    return 0;
}
