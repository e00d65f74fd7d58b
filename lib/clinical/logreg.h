/* Logistic regression for blood-pressure readings: feature sets, the model file, scoring, and
 * the training that `bppipe train` runs. Pure functions over plain data; only the model file
 * functions touch the file system. */
#ifndef BPPIPE_LOGREG_H
#define BPPIPE_LOGREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_LR_FORMAT "bppipe-logreg"
#define BP_LR_FORMAT_VERSION 1
#define BP_LR_MAX_FEATURES 8

typedef enum bp_feature_set {
    BP_FEATURES_BASIC = 0,   /* systolic, diastolic: the original model */
    BP_FEATURES_CLINICAL = 1 /* + squared deviations from the normal centre, pulse pressure, MAP */
} bp_feature_set;

/* Held-out (or training, see `on_training_data`) metrics of a model. */
typedef struct bp_lr_metrics {
    double precision[2], recall[2], f1[2];
    size_t support[2];
    double accuracy, macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
    double roc_auc;
    size_t confusion[2][2]; /* [true label][predicted label] */
    bool on_training_data;
} bp_lr_metrics;

typedef struct bp_lr_model {
    bp_feature_set features;
    size_t n_features;
    double mean[BP_LR_MAX_FEATURES], scale[BP_LR_MAX_FEATURES];
    double coef[BP_LR_MAX_FEATURES];
    double intercept;
    double threshold;
    /* training metadata */
    size_t samples;
    uint64_t seed;
    double c;
    double test_size;
    char data_source[256]; /* "synthetic" or the CSV file name */
    char date[32];         /* YYYY-MM-DD */
    int iterations;
    double gradient_norm;
    bp_lr_metrics metrics;
} bp_lr_model;

/* Feature names and count of a set; NULL/0 for an unknown set. */
size_t bp_lr_feature_count(bp_feature_set set);
const char *bp_lr_feature_name(bp_feature_set set, size_t i);
/* "basic" / "clinical" → set; -1 when unknown. */
int bp_lr_feature_set_parse(const char *name);
const char *bp_lr_feature_set_name(bp_feature_set set);

/* Raw (unstandardised) features of one reading into out[]; returns the count. */
size_t bp_lr_features(bp_feature_set set, double systolic, double diastolic, double *out);

/* Probability of an anomaly. Allocates nothing. Both values must be present (not NaN). */
double bp_lr_score(const bp_lr_model *m, double systolic, double diastolic);

/* Reads a model file. Returns 0, or -1 with a sentence in `why` naming the problem (unreadable,
 * not JSON, another format or version, unknown feature set, wrong sizes, non-finite numbers,
 * zero scale). */
int bp_lr_load(const char *path, bp_lr_model *m, char *why, size_t why_len);
/* Writes the model atomically (temporary file, fsync, rename). Returns 0 or -1 (errno set). */
int bp_lr_save(const char *path, const bp_lr_model *m);

/* Training data: parallel arrays. */
typedef struct bp_lr_data {
    double *sys, *dia;
    int *label;
    size_t n, cap;
} bp_lr_data;

int bp_lr_data_push(bp_lr_data *d, double sys, double dia, int label);
void bp_lr_data_free(bp_lr_data *d);

/* Splits row indices into train and test, stratified by label and seeded: each class is
 * shuffled and its first round(test_size * count) rows go to test. `is_test` has d->n
 * entries. */
void bp_lr_split(const bp_lr_data *d, double test_size, uint64_t seed, bool *is_test);

/* Fits standardisation and L2-regularised logistic regression (penalty 0.5*|w|^2 + C * log
 * loss, intercept not penalised, as scikit-learn) by Newton's method on the rows where
 * use[i] is true (NULL = all). Stops when the gradient's infinity norm is below `tol`.
 * Returns 0, or -1 when the data cannot be fitted (one class only, a constant feature). */
int bp_lr_fit(const bp_lr_data *d, const bool *use, bp_feature_set set, double c, double tol,
              int max_iter, bp_lr_model *m, char *why, size_t why_len);

/* Metrics of `m` on the rows where use[i] is true, at the model's threshold. */
void bp_lr_evaluate(const bp_lr_model *m, const bp_lr_data *d, const bool *use,
                    bp_lr_metrics *out);
/* The same metrics from any model's probabilities: score[i] and label[i] (0/1) of the rows where
 * use[i] is true (NULL = all), predicted 1 at score >= threshold. `bppipe train --model gbtree`
 * reports through it, so both models' reports mean the same. */
void bp_metrics_from_scores(const double *score, const int *label, const bool *use, size_t n,
                            double threshold, bp_lr_metrics *out);

#endif
