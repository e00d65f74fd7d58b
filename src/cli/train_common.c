/* What both trainers of `bppipe train` use, compiled into the executable (the logistic model)
 * and into the tree trainer's module bppipe-gbtree.so (train_gbtree.c): the original data set,
 * the date stamp and the metrics report. */
#include "cli/train.h"

#include "clinical/bp_rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The original training set: independent normals, labelled by the clinical rules. */
int bp_train_generate(bp_lr_data *d, int64_t samples, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    bp_thresholds t = bp_thresholds_default();
    for (int64_t i = 0; i < samples; i++) {
        double g[2];
        for (int k = 0; k < 2; k++) { /* Box-Muller from a splitmix64 stream */
            double u[2];
            for (int j = 0; j < 2; j++) {
                uint64_t z = (s += 0x9E3779B97F4A7C15ull);
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
                u[j] = (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
            }
            g[k] = sqrt(-2.0 * log(1.0 - u[0])) * cos(2.0 * M_PI * u[1]);
        }
        double sys = 120 + 20 * g[0], dia = 80 + 15 * g[1];
        if (bp_lr_data_push(d, sys, dia, bp_rules_is_anomaly(&t, sys, dia)) != 0)
            return -1;
    }
    return 0;
}

void bp_train_today(char *out, size_t len)
{
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    time_t t = epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%d", &tm);
}

void bp_train_print_metrics(const bp_lr_metrics *r)
{
    printf("metrics on %s:\n",
           r->on_training_data ? "the TRAINING data (--test-size 0)" : "the held-out test set");
    printf("  %-14s %9s %9s %9s %9s\n", "", "precision", "recall", "f1-score", "support");
    static const char *const names[] = {"normal", "anomaly"};
    for (int c = 0; c < 2; c++)
        printf("  %-14s %9.4f %9.4f %9.4f %9zu\n", names[c], r->precision[c], r->recall[c],
               r->f1[c], r->support[c]);
    size_t n = r->support[0] + r->support[1];
    printf("  %-14s %9s %9s %9.4f %9zu\n", "accuracy", "", "", r->accuracy, n);
    printf("  %-14s %9.4f %9.4f %9.4f %9zu\n", "macro avg", r->macro_precision, r->macro_recall,
           r->macro_f1, n);
    printf("  %-14s %9.4f %9.4f %9.4f %9zu\n", "weighted avg", r->weighted_precision,
           r->weighted_recall, r->weighted_f1, n);
    printf("  ROC AUC        %.6f\n", r->roc_auc);
    printf("  confusion matrix (rows: true normal, anomaly; columns: predicted)\n");
    printf("    %7zu %7zu\n    %7zu %7zu\n", r->confusion[0][0], r->confusion[0][1],
           r->confusion[1][0], r->confusion[1][1]);
}
