/* Loading and scoring an XGBoost model (gbtree.h). */
#include "gbtree/gbtree.h"

#include <cjson/cJSON.h>
#include <xgboost/c_api.h>

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* The library's last error, first line only (it can hold a stack trace). */
static const char *last_error(void)
{
    static _Thread_local char line[200];
    snprintf(line, sizeof line, "%s", XGBGetLastError());
    line[strcspn(line, "\n")] = '\0';
    return line;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 65536 > cap) {
            char *grown = realloc(buf, cap = (n + 65536) * 2);
            if (!grown) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

/* objective and num_parallel_tree from the booster's configuration. */
static int read_config(bp_gbt *m, char *why, size_t why_len)
{
    bst_ulong len;
    const char *text;
    if (XGBoosterSaveJsonConfig(m->booster, &len, &text) != 0)
        return fail(why, why_len, "cannot read the model's configuration: %s", last_error());
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *learner = cJSON_GetObjectItemCaseSensitive(root, "learner");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(learner, "objective");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "name"));
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(learner, "gradient_booster");
    const char *booster = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(gb, "name"));
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(gb, "gbtree_model_param");
    const char *npt =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mp, "num_parallel_tree"));
    int rc = 0;
    if (!name || (strcmp(name, "binary:logistic") != 0 && strcmp(name, "reg:logistic") != 0))
        rc = fail(why, why_len,
                  "objective '%s' is not binary:logistic: the model must give "
                  "the probability of an anomaly",
                  name ? name : "?");
    else if (!booster || (strcmp(booster, "gbtree") != 0 && strcmp(booster, "dart") != 0))
        rc = fail(why, why_len, "booster '%s' is not a tree model (gbtree)",
                  booster ? booster : "?");
    m->trees_per_round = npt ? atoi(npt) : 1;
    cJSON_Delete(root);
    return rc;
}

/* Maps names (the model's own, or the `features` list) onto the vocabulary. */
static int map_features(bp_gbt *m, const char *features, char *why, size_t why_len)
{
    bst_ulong n_model = 0, n_names = 0;
    const char **names = NULL;
    if (XGBoosterGetNumFeature(m->booster, &n_model) != 0)
        return fail(why, why_len, "cannot read the number of features: %s", last_error());
    char list[1024], *save = NULL;
    const char *given[BP_GBT_MAX_FEATURES + 1];
    if (features) {
        snprintf(list, sizeof list, "%s", features);
        for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
            if (n_names == BP_GBT_MAX_FEATURES + 1)
                break;
            given[n_names++] = tok;
        }
        names = given;
    } else if (XGBoosterGetStrFeatureInfo(m->booster, "feature_name", &n_names, &names) != 0) {
        return fail(why, why_len, "cannot read the feature names: %s", last_error());
    }
    if (n_names == 0)
        return fail(why, why_len,
                    "the model has no feature names: train it on named columns "
                    "(a pandas DataFrame, or DMatrix(feature_names=...)) or list them in "
                    "features = ...");
    if (n_names > BP_GBT_MAX_FEATURES || n_names < n_model)
        return fail(why, why_len, "%lu feature names for a model of %lu features",
                    (unsigned long)n_names, (unsigned long)n_model);
    m->n_features = n_names;
    m->uses_history = false;
    for (size_t i = 0; i < n_names; i++) {
        int f = bp_feat_parse(names[i]);
        if (f < 0)
            return fail(why, why_len,
                        "feature '%.64s' is not in the vocabulary (docs/model.md, "
                        "\"Features\"): systolic, diastolic, pulse, pulse_pressure, map, count, "
                        "seconds_since_last, prev_*, delta_*, baseline_*, baseline_delta_*, "
                        "slope_* of systolic and diastolic",
                        names[i]);
        m->feat[i] = (bp_feat)f;
        m->uses_history |= bp_feat_is_history((bp_feat)f);
    }
    return 0;
}

static void read_attrs(bp_gbt *m, const char *path)
{
    const char *v;
    int ok;
    const char *base = strrchr(path, '/');
    snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : path);
    snprintf(m->version, sizeof m->version, "0");
    m->threshold = 0.5;
    if (XGBoosterGetAttr(m->booster, "name", &v, &ok) == 0 && ok)
        snprintf(m->name, sizeof m->name, "%s", v);
    if (XGBoosterGetAttr(m->booster, "version", &v, &ok) == 0 && ok)
        snprintf(m->version, sizeof m->version, "%s", v);
    if (XGBoosterGetAttr(m->booster, "threshold", &v, &ok) == 0 && ok) {
        char *end;
        double t = strtod(v, &end);
        if (!*end && t > 0 && t < 1)
            m->threshold = t;
    }
    XGBoosterBoostedRounds(m->booster, &m->rounds);
}

int bp_gbt_load(const char *path, const char *features, bp_gbt *m, char *why, size_t why_len)
{
    memset(m, 0, sizeof *m);
    size_t len = 0;
    char *buf = slurp(path, &len);
    if (!buf)
        return fail(why, why_len, "cannot read: %s", strerror(errno));
    if (len == 0 || buf[0] != '{') {
        free(buf);
        return fail(why, why_len,
                    "not an XGBoost model (JSON or UBJSON, as save_model() "
                    "writes for a name ending in .json or .ubj)");
    }
    /* Everything on the calling thread (the detector's): loading runs OpenMP loops before the
     * booster's nthread applies, and OpenMP's workers, once started, outlive the model (bppipe
     * conform's check mode counts them). The host itself runs no OpenMP. */
    omp_set_num_threads(1);
    BoosterHandle b;
    if (XGBoosterCreate(NULL, 0, &b) != 0) {
        free(buf);
        return fail(why, why_len, "cannot create a booster: %s", last_error());
    }
    m->booster = b;
    int rc = XGBoosterLoadModelFromBuffer(b, buf, (bst_ulong)len);
    free(buf);
    if (rc != 0) {
        fail(why, why_len, "not an XGBoost model: %s", last_error());
    } else if (XGBoosterSetParam(b, "nthread", "1") != 0) {
        rc = fail(why, why_len, "cannot set nthread: %s", last_error());
    } else if ((rc = read_config(m, why, why_len)) == 0 &&
               (rc = map_features(m, features, why, why_len)) == 0) {
        read_attrs(m, path);
        return 0;
    }
    bp_gbt_free(m);
    return -1;
}

void bp_gbt_free(bp_gbt *m)
{
    if (m->booster)
        XGBoosterFree(m->booster);
    m->booster = NULL;
}

void bp_gbt_row(const bp_gbt *m, const double *all, float *row)
{
    for (size_t i = 0; i < m->n_features; i++)
        row[i] = (float)all[m->feat[i]];
}

int bp_gbt_predict(bp_gbt *m, const float *rows, size_t n, float *out, char *why, size_t why_len)
{
    if (n == 0)
        return 0;
    /* In-place prediction over the caller's dense float32 matrix (numpy's __array_interface__
     * in JSON): no DMatrix is built per batch. */
    char data[256];
    snprintf(data, sizeof data,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)rows, n, m->n_features);
    static const char config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                 "\"iteration_end\": 0, \"strict_shape\": false, "
                                 "\"cache_id\": 0, \"missing\": NaN}";
    const bst_ulong *shape;
    bst_ulong dim;
    const float *result;
    if (XGBoosterPredictFromDense(m->booster, data, config, NULL, &shape, &dim, &result) != 0)
        return fail(why, why_len, "prediction failed: %s", last_error());
    bst_ulong total = 1;
    for (bst_ulong i = 0; i < dim; i++)
        total *= shape[i];
    if (total != n)
        return fail(why, why_len, "prediction gave %lu values for %zu rows", (unsigned long)total,
                    n);
    memcpy(out, result, n * sizeof *out);
    return 0;
}
