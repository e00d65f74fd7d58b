/* Gradient-boosted trees (and random forests) through libxgboost's C API: loading a model saved
 * by Python's xgboost or by `bppipe train --model gbtree` (JSON or UBJSON), mapping its feature
 * names onto the vocabulary of clinical/history.h, batch prediction, and training. Only this
 * folder includes <xgboost/c_api.h>; it is built when libxgboost is found. */
#ifndef BPPIPE_GBTREE_H
#define BPPIPE_GBTREE_H

#include "clinical/history.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BP_GBT_MAX_FEATURES BP_FEAT_N

typedef struct bp_gbt {
    void *booster;                     /* BoosterHandle */
    size_t n_features;                 /* the model's inputs, in its order */
    bp_feat feat[BP_GBT_MAX_FEATURES]; /* vocabulary entry of each input */
    bool uses_history;                 /* any input needs the patient's history */
    char name[128], version[64];       /* attributes "name" and "version", else file, "0" */
    double threshold;                  /* attribute "threshold", else 0.5 */
    int rounds;                        /* boosted rounds */
    int trees_per_round;               /* num_parallel_tree (a random forest: > 1) */
} bp_gbt;

/* Loads a model file. `features`, when not NULL, is a comma-separated list of vocabulary names
 * that replaces the model's own feature names (for a model saved without names). Returns 0, or
 * -1 with a sentence in `why`: unreadable, not an XGBoost model, not a binary:logistic model, no
 * feature names, a name outside the vocabulary, more inputs than the model has. Predictions run
 * on the calling thread (nthread = 1). */
int bp_gbt_load(const char *path, const char *features, bp_gbt *m, char *why, size_t why_len);
void bp_gbt_free(bp_gbt *m);

/* Probabilities of `n` rows of m->n_features float32 values each (row-major, NaN = missing)
 * into out[n], in one call of the library. Returns 0, or -1 with the library's message. */
int bp_gbt_predict(bp_gbt *m, const float *rows, size_t n, float *out, char *why, size_t why_len);

/* Picks the model's inputs out of a full vocabulary row (BP_FEAT_N doubles) into `row`. */
void bp_gbt_row(const bp_gbt *m, const double *all, float *row);

/* ---- training (`bppipe train --model gbtree`) ------------------------------------------ */

typedef struct bp_gbt_params {
    int rounds;         /* boosting rounds (default 100) */
    int max_depth;      /* default 4 */
    double eta;         /* learning rate (default 0.3) */
    int parallel_trees; /* num_parallel_tree: > 1 with rounds = 1 and subsampling is a forest */
    double subsample;   /* row share per tree (1) */
    double colsample;   /* column share per node (1) */
    uint64_t seed;
} bp_gbt_params;

bp_gbt_params bp_gbt_params_default(void);

/* Trains on the rows where use[i] (NULL = all): n rows of k float32 values named names[k]
 * (vocabulary names), labels 0/1. On success `m` is ready to predict (as after bp_gbt_load).
 * Returns 0 or -1 with the reason. */
int bp_gbt_train(const float *rows, const int *label, const bool *use, size_t n, size_t k,
                 const char *const *names, const bp_gbt_params *p, bp_gbt *m, char *why,
                 size_t why_len);

/* Sets string attributes saved with the model (name, version, threshold, training facts). */
int bp_gbt_set_attr(bp_gbt *m, const char *key, const char *value);

/* Writes the model as JSON, atomically (temporary file, fsync, rename). 0 or -1 (errno). */
int bp_gbt_save(const bp_gbt *m, const char *path);

#endif
