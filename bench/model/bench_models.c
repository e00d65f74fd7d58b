/* bench/model: readings scored per second on one core by detector-logreg's model and by tree
 * models through detector-xgboost's path (history features, then one in-place prediction per
 * batch of 500 rows), over the simulated ward's readings. Best of five passes.
 * Usage: build/bench/bench_models LOGREG.json TREES.json...   (each tree model: the rows are
 * built from its own feature names) */
#include "clinical/history.h"
#include "clinical/logreg.h"
#include "gbtree/gbtree.h"
#include "wardsim/ward_sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_READINGS 200000
#define N_PATIENTS 200
#define BATCH 500

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct reading {
    size_t patient;
    int64_t at_ms;
    double sys, dia;
} reading;

static double bench_logreg(const bp_lr_model *m, const reading *r, size_t n)
{
    double best = 1e300, sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (size_t i = 0; i < n; i++)
            sink += bp_lr_score(m, r[i].sys, r[i].dia);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    if (sink < 0)
        puts("");
    return (double)n / best;
}

/* Features (with the history fold a detector does) and one prediction per batch. */
static double bench_trees(bp_gbt *m, const reading *r, size_t n, double *feature_share)
{
    float *rows = malloc(BATCH * m->n_features * sizeof *rows), out[BATCH];
    bp_history *h = malloc(N_PATIENTS * sizeof *h);
    double best = 1e300, best_feat = 0;
    char why[256];
    for (int rep = 0; rep < 5 && rows && h; rep++) {
        for (size_t p = 0; p < N_PATIENTS; p++)
            bp_hist_init(&h[p]);
        double t0 = now(), feat = 0;
        for (size_t i = 0; i < n; i += BATCH) {
            size_t k = n - i < BATCH ? n - i : BATCH;
            double f0 = now();
            for (size_t j = 0; j < k; j++) {
                const reading *x = &r[i + j];
                double all[BP_FEAT_N];
                bp_hist_features(&h[x->patient], x->at_ms, x->sys, x->dia, NAN, all);
                bp_hist_fold(&h[x->patient], x->at_ms, x->sys, x->dia);
                bp_gbt_row(m, all, rows + j * m->n_features);
            }
            feat += now() - f0;
            if (bp_gbt_predict(m, rows, k, out, why, sizeof why) != 0) {
                fprintf(stderr, "%s\n", why);
                exit(1);
            }
        }
        double dt = now() - t0;
        if (dt < best) {
            best = dt;
            best_feat = feat / dt;
        }
    }
    free(rows);
    free(h);
    *feature_share = best_feat;
    return (double)n / best;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LOGREG.json TREES.json...\n", argv[0]);
        return 2;
    }
    reading *r = malloc(N_READINGS * sizeof *r);
    bp_ward w;
    if (!r || bp_ward_init(&w, 7, N_PATIENTS, 2, 1795305600000, 900, 0) != 0)
        return 1;
    for (size_t i = 0; i < N_READINGS; i++) {
        bp_sim_reading s;
        bp_ward_step(&w, &s);
        r[i] = (reading){s.patient, s.effective_ms, s.systolic, s.diastolic};
    }
    bp_ward_free(&w);
    char why[512];
    bp_lr_model lr;
    if (bp_lr_load(argv[1], &lr, why, sizeof why) != 0) {
        fprintf(stderr, "%s: %s\n", argv[1], why);
        return 1;
    }
    printf("%d ward readings, one core, best of 5:\n", N_READINGS);
    printf("  logreg (%s features)%*s %12.0f readings/s\n", bp_lr_feature_set_name(lr.features), 10,
           "", bench_logreg(&lr, r, N_READINGS));
    for (int a = 2; a < argc; a++) {
        bp_gbt m;
        if (bp_gbt_load(argv[a], NULL, &m, why, sizeof why) != 0) {
            fprintf(stderr, "%s: %s\n", argv[a], why);
            return 1;
        }
        double share;
        double rate = bench_trees(&m, r, N_READINGS, &share);
        printf("  %s: %d rounds x %d trees, %zu features%s: %10.0f readings/s (features and "
               "history %.0f%% of the time)\n",
               strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a], m.rounds,
               m.trees_per_round, m.n_features, m.uses_history ? " (history)" : "", rate,
               share * 100);
        bp_gbt_free(&m);
    }
    free(r);
    return 0;
}
