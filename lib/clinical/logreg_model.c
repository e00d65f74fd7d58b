#include "clinical/logreg.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The centre of the normal region of the clinical rules (midpoints of 90-140 and 60-90 mmHg).
 * Squared distances from it let a linear model draw a closed boundary around "normal". */
#define CENTRE_SYS 115.0
#define CENTRE_DIA 75.0

static const char *const basic_names[] = {"systolic", "diastolic"};
static const char *const clinical_names[] = {"systolic",         "diastolic",
                                             "systolic_dev_sq",  "diastolic_dev_sq",
                                             "systolic_dev_4th", "diastolic_dev_4th"};

size_t bp_lr_feature_count(bp_feature_set set)
{
    return set == BP_FEATURES_BASIC ? 2 : set == BP_FEATURES_CLINICAL ? 6 : 0;
}

const char *bp_lr_feature_name(bp_feature_set set, size_t i)
{
    if (i >= bp_lr_feature_count(set))
        return NULL;
    return set == BP_FEATURES_BASIC ? basic_names[i] : clinical_names[i];
}

int bp_lr_feature_set_parse(const char *name)
{
    if (name && strcmp(name, "basic") == 0)
        return BP_FEATURES_BASIC;
    if (name && strcmp(name, "clinical") == 0)
        return BP_FEATURES_CLINICAL;
    return -1;
}

const char *bp_lr_feature_set_name(bp_feature_set set)
{
    return set == BP_FEATURES_BASIC ? "basic" : set == BP_FEATURES_CLINICAL ? "clinical" : NULL;
}

size_t bp_lr_features(bp_feature_set set, double s, double d, double *out)
{
    out[0] = s;
    out[1] = d;
    if (set == BP_FEATURES_BASIC)
        return 2;
    /* Deviations in units of the normal range's half-width (25 and 15 mmHg): squares draw an
     * ellipse around "normal", fourth powers square its corners towards the rules' box. */
    double u = (s - CENTRE_SYS) / 25.0, v = (d - CENTRE_DIA) / 15.0;
    out[2] = u * u;
    out[3] = v * v;
    out[4] = u * u * u * u;
    out[5] = v * v * v * v;
    return 6;
}

double bp_lr_score(const bp_lr_model *m, double s, double d)
{
    double x[BP_LR_MAX_FEATURES];
    size_t n = bp_lr_features(m->features, s, d, x);
    double z = m->intercept;
    for (size_t i = 0; i < n; i++)
        z += m->coef[i] * (x[i] - m->mean[i]) / m->scale[i];
    return 1.0 / (1.0 + exp(-z));
}

static int fail(char *why, size_t len, const char *fmt, const char *a)
{
    snprintf(why, len, fmt, a);
    return -1;
}

/* Reads `n` finite numbers of array `key`. */
static int read_array(const cJSON *root, const char *key, size_t n, double *out, char *why,
                      size_t len)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != n)
        return fail(why, len, "'%s' must be an array with one number per feature", key);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return fail(why, len, "'%s' holds a value that is not a finite number", key);
        out[i++] = v->valuedouble;
    }
    return 0;
}

static int read_number(const cJSON *root, const char *key, double *out, char *why, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail(why, len, "'%s' must be a finite number", key);
    *out = v->valuedouble;
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            char *grown = realloc(buf, cap);
            if (!grown)
                break;
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || !buf) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int bp_lr_load(const char *path, bp_lr_model *m, char *why, size_t why_len)
{
    memset(m, 0, sizeof *m);
    size_t len;
    char *text = slurp(path, &len);
    if (!text) {
        snprintf(why, why_len, "cannot read: %s", strerror(errno));
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    int rc = -1;
    if (!root) {
        fail(why, why_len, "not JSON%s", "");
        goto done;
    }
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "format_version");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, BP_LR_FORMAT) != 0) {
        fail(why, why_len, "not a bppipe logistic-regression model (format is not '%s')",
             BP_LR_FORMAT);
        goto done;
    }
    if (!cJSON_IsNumber(version) || version->valuedouble != BP_LR_FORMAT_VERSION) {
        snprintf(why, why_len, "model format version %g, this bppipe reads version %d; retrain "
                 "with 'bppipe train'", cJSON_IsNumber(version) ? version->valuedouble : -1.0,
                 BP_LR_FORMAT_VERSION);
        goto done;
    }
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(root, "feature_set");
    int fs = bp_lr_feature_set_parse(cJSON_IsString(set) ? set->valuestring : NULL);
    if (fs < 0) {
        fail(why, why_len, "unknown feature set '%s'", cJSON_IsString(set) ? set->valuestring : "?");
        goto done;
    }
    m->features = (bp_feature_set)fs;
    m->n_features = bp_lr_feature_count(m->features);
    if (read_array(root, "mean", m->n_features, m->mean, why, why_len) ||
        read_array(root, "scale", m->n_features, m->scale, why, why_len) ||
        read_array(root, "coefficients", m->n_features, m->coef, why, why_len) ||
        read_number(root, "intercept", &m->intercept, why, why_len) ||
        read_number(root, "threshold", &m->threshold, why, why_len))
        goto done;
    for (size_t i = 0; i < m->n_features; i++) {
        if (m->scale[i] <= 0) {
            fail(why, why_len, "'scale' must be positive%s", "");
            goto done;
        }
    }
    if (m->threshold <= 0 || m->threshold >= 1) {
        fail(why, why_len, "'threshold' must lie strictly between 0 and 1%s", "");
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

static cJSON *number_array(const double *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(v[i]));
    return arr;
}

static cJSON *metrics_json(const bp_lr_metrics *mt)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "computed_on", mt->on_training_data ? "training data" : "held-out data");
    static const char *const cls[] = {"normal", "anomaly"};
    for (int c = 0; c < 2; c++) {
        cJSON *k = cJSON_AddObjectToObject(o, cls[c]);
        cJSON_AddNumberToObject(k, "precision", mt->precision[c]);
        cJSON_AddNumberToObject(k, "recall", mt->recall[c]);
        cJSON_AddNumberToObject(k, "f1", mt->f1[c]);
        cJSON_AddNumberToObject(k, "support", (double)mt->support[c]);
    }
    cJSON_AddNumberToObject(o, "accuracy", mt->accuracy);
    cJSON *macro = cJSON_AddObjectToObject(o, "macro_avg");
    cJSON_AddNumberToObject(macro, "precision", mt->macro_precision);
    cJSON_AddNumberToObject(macro, "recall", mt->macro_recall);
    cJSON_AddNumberToObject(macro, "f1", mt->macro_f1);
    cJSON *w = cJSON_AddObjectToObject(o, "weighted_avg");
    cJSON_AddNumberToObject(w, "precision", mt->weighted_precision);
    cJSON_AddNumberToObject(w, "recall", mt->weighted_recall);
    cJSON_AddNumberToObject(w, "f1", mt->weighted_f1);
    cJSON_AddNumberToObject(o, "roc_auc", mt->roc_auc);
    cJSON *cm = cJSON_AddArrayToObject(o, "confusion_matrix");
    for (int t = 0; t < 2; t++) {
        double row[2] = {(double)mt->confusion[t][0], (double)mt->confusion[t][1]};
        cJSON_AddItemToArray(cm, number_array(row, 2));
    }
    return o;
}

int bp_lr_save(const char *path, const bp_lr_model *m)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return -1;
    cJSON_AddStringToObject(root, "format", BP_LR_FORMAT);
    cJSON_AddNumberToObject(root, "format_version", BP_LR_FORMAT_VERSION);
    cJSON_AddStringToObject(root, "feature_set", bp_lr_feature_set_name(m->features));
    cJSON *names = cJSON_AddArrayToObject(root, "features");
    for (size_t i = 0; i < m->n_features; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(bp_lr_feature_name(m->features, i)));
    cJSON_AddItemToObject(root, "mean", number_array(m->mean, m->n_features));
    cJSON_AddItemToObject(root, "scale", number_array(m->scale, m->n_features));
    cJSON_AddItemToObject(root, "coefficients", number_array(m->coef, m->n_features));
    cJSON_AddNumberToObject(root, "intercept", m->intercept);
    cJSON_AddNumberToObject(root, "threshold", m->threshold);
    cJSON *tr = cJSON_AddObjectToObject(root, "training");
    cJSON_AddNumberToObject(tr, "samples", (double)m->samples);
    cJSON_AddNumberToObject(tr, "seed", (double)m->seed);
    cJSON_AddNumberToObject(tr, "C", m->c);
    cJSON_AddNumberToObject(tr, "test_size", m->test_size);
    cJSON_AddStringToObject(tr, "data", m->data_source);
    cJSON_AddStringToObject(tr, "date", m->date);
    cJSON_AddNumberToObject(tr, "iterations", m->iterations);
    cJSON_AddNumberToObject(tr, "gradient_norm", m->gradient_norm);
    cJSON_AddItemToObject(root, "metrics", metrics_json(&m->metrics));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return -1;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = -1;
    if (fd >= 0) {
        size_t len = strlen(text);
        rc = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0
                 ? 0
                 : -1;
        int saved = errno;
        close(fd);
        if (rc == 0)
            rc = rename(tmp, path);
        else
            errno = saved;
        if (rc != 0) {
            saved = errno;
            unlink(tmp);
            errno = saved;
        }
    }
    free(text);
    return rc;
}
