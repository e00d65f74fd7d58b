/* Training and saving an XGBoost model (gbtree.h): what `bppipe train --model gbtree` runs. */
#include "gbtree/gbtree.h"

#include "common/io.h"

#include <xgboost/c_api.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bp_gbt_params bp_gbt_params_default(void)
{
    return (bp_gbt_params){.rounds = 100,
                           .max_depth = 4,
                           .eta = 0.3,
                           .parallel_trees = 1,
                           .subsample = 1,
                           .colsample = 1,
                           .seed = 42};
}

static int set(BoosterHandle b, const char *key, const char *fmt, double v)
{
    char text[64];
    snprintf(text, sizeof text, fmt, v);
    return XGBoosterSetParam(b, key, text);
}

int bp_gbt_train(const float *rows, const int *label, const bool *use, size_t n, size_t k,
                 const char *const *names, const bp_gbt_params *p, bp_gbt *m, char *why,
                 size_t why_len)
{
    memset(m, 0, sizeof *m);
    size_t n_use = 0;
    for (size_t i = 0; i < n; i++)
        n_use += !use || use[i];
    float *x = malloc((n_use ? n_use : 1) * k * sizeof *x);
    float *y = malloc((n_use ? n_use : 1) * sizeof *y);
    DMatrixHandle dm = NULL;
    BoosterHandle b = NULL;
    int rc = -1;
    if (!x || !y) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    for (size_t i = 0, j = 0; i < n; i++) {
        if (use && !use[i])
            continue;
        memcpy(x + j * k, rows + i * k, k * sizeof *x);
        y[j++] = (float)label[i];
    }
    omp_set_num_threads(1); /* the DMatrix too, not only the booster (nthread) */
    /* One thread and the histogram method: the same rows and seed give the same trees,
     * so the shipped model can be rebuilt byte for byte. */
    if (XGDMatrixCreateFromMat(x, n_use, k, NAN, &dm) != 0 ||
        XGDMatrixSetFloatInfo(dm, "label", y, n_use) != 0 ||
        XGDMatrixSetStrFeatureInfo(dm, "feature_name", (const char **)names, k) != 0 ||
        XGBoosterCreate(&dm, 1, &b) != 0 || XGBoosterSetParam(b, "objective", "binary:logistic") ||
        XGBoosterSetParam(b, "tree_method", "hist") || XGBoosterSetParam(b, "nthread", "1") ||
        set(b, "max_depth", "%.0f", p->max_depth) || set(b, "eta", "%.17g", p->eta) ||
        set(b, "num_parallel_tree", "%.0f", p->parallel_trees) ||
        set(b, "subsample", "%.17g", p->subsample) ||
        set(b, "colsample_bynode", "%.17g", p->colsample) ||
        set(b, "seed", "%.0f", (double)(p->seed % 2147483647u)) ||
        XGBoosterSetParam(b, "verbosity", "0")) {
        snprintf(why, why_len, "%s", XGBGetLastError());
        goto done;
    }
    for (int i = 0; i < p->rounds; i++)
        if (XGBoosterUpdateOneIter(b, i, dm) != 0) {
            snprintf(why, why_len, "round %d: %s", i, XGBGetLastError());
            goto done;
        }
    if (XGBoosterSetStrFeatureInfo(b, "feature_name", (const char **)names, k) != 0) {
        snprintf(why, why_len, "%s", XGBGetLastError());
        goto done;
    }
    m->booster = b;
    b = NULL;
    m->n_features = k;
    for (size_t i = 0; i < k; i++) {
        m->feat[i] = (bp_feat)bp_feat_parse(names[i]);
        m->uses_history |= bp_feat_is_history(m->feat[i]);
    }
    snprintf(m->name, sizeof m->name, "bppipe-gbtree");
    snprintf(m->version, sizeof m->version, "1");
    m->threshold = 0.5;
    m->rounds = p->rounds;
    m->trees_per_round = p->parallel_trees;
    rc = 0;
done:
    if (b)
        XGBoosterFree(b);
    if (dm)
        XGDMatrixFree(dm);
    free(x);
    free(y);
    return rc;
}

int bp_gbt_set_attr(bp_gbt *m, const char *key, const char *value)
{
    return XGBoosterSetAttr(m->booster, key, value) == 0 ? 0 : -1;
}

int bp_gbt_save(const bp_gbt *m, const char *path)
{
    bst_ulong len;
    const char *buf;
    if (XGBoosterSaveModelToBuffer(m->booster, "{\"format\": \"json\"}", &len, &buf) != 0) {
        errno = EINVAL;
        return -1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = bp_write_all(fd, buf, len) == 0 && bp_write_all(fd, "\n", 1) == 0 && fsync(fd) == 0
                 ? 0
                 : -1;
    int saved = errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) == 0)
        return 0;
    saved = rc == 0 ? errno : saved;
    unlink(tmp);
    errno = saved;
    return -1;
}
