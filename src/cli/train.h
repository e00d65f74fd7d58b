/* What the two trainers of `bppipe train` share: the arguments, the original data set, the
 * date stamp and the metrics report (train_common.c). cmd_train.c parses and fits the logistic
 * model; train_gbtree.c fits gradient-boosted trees through libxgboost, in the module
 * bppipe-gbtree.so that train_gbtree_load.c loads. */
#ifndef BPPIPE_CLI_TRAIN_H
#define BPPIPE_CLI_TRAIN_H

#include "clinical/logreg.h"

#include <stdint.h>
#include <stdio.h>

typedef struct train_args {
    const char *out, *data, *dump;
    int64_t samples, seed;
    int features;        /* logreg: bp_feature_set */
    const char *columns; /* gbtree: --features as a comma-separated list, NULL = all */
    bool gbtree;         /* --model gbtree */
    int64_t ward;        /* --ward PATIENTS: rows of the simulated ward (0: not) */
    bool episode;        /* --target episode (else next-stage2) */
    int64_t rounds, max_depth, parallel_trees;
    double eta, subsample, colsample;
    const char *name, *version; /* gbtree: attributes saved with the model */
    const char *label;          /* gbtree, --data ARCHIVE.ndjson: the documents' label field */
    double test_size, c, threshold;
} train_args;

/* The original training set: systolic ~ N(120, 20), diastolic ~ N(80, 15), seeded, labelled by
 * detector-rules' default thresholds. */
int bp_train_generate(bp_lr_data *d, int64_t samples, uint64_t seed);
/* YYYY-MM-DD of today (UTC), or of SOURCE_DATE_EPOCH when set. */
void bp_train_today(char *out, size_t len);
/* The classification report, as scikit-learn prints it, with ROC AUC and the confusion matrix. */
void bp_train_print_metrics(const bp_lr_metrics *r);
/* Rows of the simulated ward: `patients` patients read every 15 minutes, `samples` rows in all,
 * each with every vocabulary feature (history included; pulse is NaN, the ward has none) and
 * label 1 when that patient's next reading is stage 2 or worse (episode: when the patient is in
 * a hypertensive episode at this reading). emit() returning non-zero
 * stops and is returned. */
typedef int (*bp_train_row_fn)(void *user, const double *features, int label);
int bp_train_ward(int64_t samples, int64_t patients, uint64_t seed, bool episode,
                  bp_train_row_fn emit, void *user);
/* `bppipe train --model gbtree`: 0, 1 (could not write) or 2 (bad data or arguments, or no
 * module). Loads bppipe-gbtree.so and calls its one exported function, bp_gbtree_train_entry
 * (`args_size` is sizeof(train_args): a module of another build refuses). */
int bp_train_gbtree(const train_args *a);
typedef int bp_gbtree_train_entry_fn(const train_args *a, size_t args_size);
bp_gbtree_train_entry_fn bp_gbtree_train_entry;

#endif
