/* `bppipe train --model gbtree`: gradient-boosted trees through libxgboost on the data the
 * logistic trainer uses (the original set, or a CSV whose header names vocabulary features),
 * with the same stratified split and the same report; writes XGBoost's JSON model.
 *
 * This file is the module bppipe-gbtree.so (with train_common.c and train_ward.c), built where
 * libxgboost is found, and not part of the executable: bppipe links no libxgboost, libstdc++ or
 * libgomp (about 6 MiB mapped in every process, a pipeline's too), and train_gbtree_load.c
 * loads this module only for `bppipe train --model gbtree`. */
#include "cli/train.h"

#include "clinical/history.h"
#include "gbtree/gbtree.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct table {
    size_t k;                /* feature columns */
    bp_feat feat[BP_FEAT_N]; /* their vocabulary entries */
    float *x;                /* n x k */
    int *label;
    size_t n, cap;
} table;

static int table_push(table *t, const float *row, int label)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        float *x = realloc(t->x, cap * t->k * sizeof *x);
        if (!x)
            return -1;
        t->x = x;
        int *l = realloc(t->label, cap * sizeof *l);
        if (!l)
            return -1;
        t->label = l;
        t->cap = cap;
    }
    memcpy(t->x + t->n * t->k, row, t->k * sizeof *row);
    t->label[t->n++] = label;
    return 0;
}

/* Which of the `names` columns are used: all of them, or those --features lists. */
static int pick(table *t, const char *const *names, size_t n_names, const char *columns,
                int *col_of)
{
    for (size_t c = 0; c < n_names; c++)
        col_of[c] = -1;
    if (!columns) {
        for (size_t c = 0; c < n_names; c++)
            if (bp_feat_parse(names[c]) >= 0) {
                col_of[c] = (int)t->k;
                t->feat[t->k++] = (bp_feat)bp_feat_parse(names[c]);
            }
        return t->k ? 0 : -1;
    }
    char list[1024], *save = NULL;
    snprintf(list, sizeof list, "%s", columns);
    for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        size_t c = 0;
        while (c < n_names && strcmp(names[c], tok) != 0)
            c++;
        if (c == n_names || bp_feat_parse(tok) < 0 || col_of[c] >= 0) {
            fprintf(stderr, "error: --features: '%s' is %s\n", tok,
                    bp_feat_parse(tok) < 0 ? "not in the vocabulary (docs/model.md)"
                    : c == n_names         ? "not a column of the data"
                                           : "listed twice");
            return -1;
        }
        col_of[c] = (int)t->k;
        t->feat[t->k++] = (bp_feat)bp_feat_parse(tok);
    }
    return t->k ? 0 : -1;
}

/* The original set, as the logistic trainer generates it: systolic and diastolic. */
static int from_synthetic(const train_args *a, table *t)
{
    bp_lr_data d = {0};
    static const char *const names[] = {"systolic", "diastolic"};
    int col_of[2], rc = -1;
    if (pick(t, names, 2, a->columns, col_of) != 0 ||
        bp_train_generate(&d, a->samples, (uint64_t)a->seed) != 0)
        goto done;
    for (size_t i = 0; i < d.n; i++) {
        float row[2], v[2] = {(float)d.sys[i], (float)d.dia[i]};
        for (int c = 0; c < 2; c++)
            if (col_of[c] >= 0)
                row[col_of[c]] = v[c];
        if (table_push(t, row, d.label[i]) != 0)
            goto done;
    }
    rc = 0;
done:
    bp_lr_data_free(&d);
    return rc;
}

typedef struct ward_ctx {
    table *t;
    int col_of[BP_FEAT_N];
} ward_ctx;

static int ward_row(void *user, const double *f, int label)
{
    ward_ctx *w = user;
    float row[BP_FEAT_N];
    for (int c = 0; c < BP_FEAT_N; c++)
        if (w->col_of[c] >= 0)
            row[w->col_of[c]] = (float)f[c];
    return table_push(w->t, row, label);
}

/* The simulated ward: every feature but pulse (the ward has none) unless --features picks. */
static int from_ward(const train_args *a, table *t)
{
    ward_ctx w = {.t = t};
    const char *names[BP_FEAT_N];
    for (int c = 0; c < BP_FEAT_N; c++)
        names[c] = c == BP_FEAT_PULSE && !a->columns ? "-" : bp_feat_name((bp_feat)c);
    if (pick(t, names, BP_FEAT_N, a->columns, w.col_of) != 0)
        return -1;
    return bp_train_ward(a->samples, a->ward, (uint64_t)a->seed, a->episode, ward_row, &w);
}

/* The label of an archived document: its field `name` as true/false or 0/1; -1 otherwise. */
static int archive_label(const cJSON *doc, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
        return (int)v->valuedouble;
    return -1;
}

/* Readings of an archive (NDJSON documents, as sink-file writes them) where detector-xgboost
 * ran with annotate_features = true: each document's `xgb_feature.NAME` fields are its model
 * inputs (a missing one, such as a history feature of a patient's first reading, is a missing
 * value), `--label FIELD` its label. The columns are every feature some document has, in the
 * vocabulary's order (or those --features lists); every bad line is reported. */
static int from_archive(const train_args *a, FILE *f, table *t)
{
    char *line = NULL;
    size_t cap = 0;
    int bad = 0, lineno = 0, col_of[BP_FEAT_N];
    bool seen[BP_FEAT_N] = {false};
    while (getline(&line, &cap, f) >= 0) { /* first pass: which features the archive has */
        cJSON *doc = cJSON_Parse(line);
        for (const cJSON *it = doc ? doc->child : NULL; it; it = it->next) {
            int feat = it->string && strncmp(it->string, "xgb_feature.", 12) == 0
                           ? bp_feat_parse(it->string + 12)
                           : -1;
            if (feat >= 0)
                seen[feat] = true;
        }
        cJSON_Delete(doc);
    }
    const char *names[BP_FEAT_N];
    for (int c = 0; c < BP_FEAT_N; c++)
        names[c] = seen[c] ? bp_feat_name((bp_feat)c) : "-";
    if (pick(t, names, BP_FEAT_N, a->columns, col_of) != 0) {
        fprintf(stderr,
                "error: %s: no xgb_feature.NAME fields of the vocabulary%s: run "
                "detector-xgboost with annotate_features = true\n",
                a->data, a->columns ? " that --features names" : "");
        free(line);
        return -1;
    }
    rewind(f);
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        cJSON *doc = cJSON_Parse(line);
        int label = doc ? archive_label(doc, a->label) : -1;
        if (!doc || label < 0) {
            if (bad++ < 20)
                fprintf(stderr, "error: %s:%d: %s\n", a->data, lineno,
                        !doc ? "not a JSON document"
                             : "no label: the field --label names must be true/false or 0/1");
            cJSON_Delete(doc);
            continue;
        }
        float row[BP_FEAT_N];
        for (size_t c = 0; c < t->k; c++) {
            char key[64];
            snprintf(key, sizeof key, "xgb_feature.%s", bp_feat_name(t->feat[c]));
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
            row[c] = cJSON_IsNumber(v) ? (float)v->valuedouble : NAN;
        }
        cJSON_Delete(doc);
        if (table_push(t, row, label) != 0) {
            bad++;
            break;
        }
    }
    free(line);
    if (bad)
        fprintf(stderr, "error: %s: %d malformed line%s; nothing was trained\n", a->data, bad,
                bad == 1 ? "" : "s");
    return bad || t->n == 0 ? -1 : 0;
}

/* A CSV whose header names vocabulary features and 'label'; every bad line is reported. */
static int from_csv(const train_args *a, table *t)
{
    FILE *f = fopen(a->data, "r");
    if (!f) {
        fprintf(stderr, "error: cannot read %s: %s\n", a->data, strerror(errno));
        return -1;
    }
    if (a->label) { /* an archive: documents, not a CSV */
        int rc = from_archive(a, f, t);
        fclose(f);
        return rc;
    }
    char line[8192], header[8192];
    const char *names[64];
    size_t n_names = 0;
    int col_of[64], label_col = -1, bad = 0, lineno = 1;
    if (!fgets(header, sizeof header, f)) {
        fprintf(stderr, "error: %s is empty\n", a->data);
        fclose(f);
        return -1;
    }
    header[strcspn(header, "\r\n")] = '\0';
    for (char *c = header, *next; c && n_names < 64; c = next) {
        next = strchr(c, ',');
        if (next)
            *next++ = '\0';
        if (strcmp(c, "label") == 0)
            label_col = (int)n_names;
        names[n_names++] = c;
    }
    if (label_col < 0 || pick(t, names, n_names, a->columns, col_of) != 0) {
        fprintf(stderr,
                "error: %s:1: the header needs a column 'label' and feature names of "
                "the vocabulary (docs/model.md), e.g. systolic,diastolic,label\n",
                a->data);
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        float row[BP_FEAT_N];
        int label = -1, ok = 1;
        size_t c = 0;
        for (char *p = line;; c++) {
            char *end = p;
            double v = *p == ',' || !*p ? NAN : strtod(p, &end); /* empty: missing */
            if ((*end != ',' && *end) || c >= n_names || (end != p && !isfinite(v))) {
                ok = 0;
                break;
            }
            if ((int)c == label_col)
                label = v == 0 ? 0 : v == 1 ? 1 : -1;
            else if (col_of[c] >= 0)
                row[col_of[c]] = (float)v;
            if (!*end)
                break;
            p = end + 1;
        }
        if (!ok || c + 1 != n_names || label < 0) {
            if (bad++ < 20)
                fprintf(stderr,
                        "error: %s:%d: expected %zu comma-separated numbers (empty = "
                        "missing) with label 0 or 1\n",
                        a->data, lineno, n_names);
            continue;
        }
        if (table_push(t, row, label) != 0) {
            bad++;
            break;
        }
    }
    fclose(f);
    if (bad)
        fprintf(stderr, "error: %s: %d malformed line%s; nothing was trained\n", a->data, bad,
                bad == 1 ? "" : "s");
    return bad ? -1 : 0;
}

static int dump(const char *path, const table *t, const bool *is_test, const float *score)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t c = 0; c < t->k; c++)
        fprintf(f, "%s,", bp_feat_name(t->feat[c]));
    fprintf(f, "label,split,score\n");
    for (size_t i = 0; i < t->n; i++) {
        for (size_t c = 0; c < t->k; c++) {
            float v = t->x[i * t->k + c];
            if (!isnan(v))
                fprintf(f, "%.9g", v);
            fputc(',', f);
        }
        fprintf(f, "%d,%s,%.9g\n", t->label[i], is_test[i] ? "test" : "train", score[i]);
    }
    return fclose(f);
}

static void set_attrs(bp_gbt *m, const train_args *a, size_t n)
{
    char text[256];
    bp_gbt_set_attr(m, "name", a->name ? a->name : "bppipe-gbtree");
    bp_gbt_set_attr(m, "version", a->version ? a->version : "1");
    snprintf(text, sizeof text, "%.17g", a->threshold);
    bp_gbt_set_attr(m, "threshold", text);
    bp_train_today(text, sizeof text);
    bp_gbt_set_attr(m, "trained", text);
    snprintf(text, sizeof text, "%zu rows of %s, seed %lld, test size %g", n,
             a->data   ? a->data
             : a->ward ? "the simulated ward"
                       : "synthetic",
             (long long)a->seed, a->test_size);
    bp_gbt_set_attr(m, "training_data", text);
}

__attribute__((visibility("default"))) int bp_gbtree_train_entry(const train_args *a,
                                                                 size_t args_size)
{
    if (args_size != sizeof *a) { /* a module of another build beside this bppipe */
        fprintf(stderr, "error: bppipe-gbtree.so is not of this bppipe's build: install the "
                        "bppipe package of the same version (in a build tree: build again)\n");
        return 2;
    }
    table t = {0};
    bool *is_test = NULL, *train = NULL;
    float *score = NULL;
    double *p = NULL;
    bp_gbt m = {0};
    int status = 2;
    if ((a->data ? from_csv(a, &t) : a->ward ? from_ward(a, &t) : from_synthetic(a, &t)) != 0)
        goto done;
    is_test = calloc(t.n ? t.n : 1, sizeof *is_test);
    train = calloc(t.n ? t.n : 1, sizeof *train);
    score = calloc(t.n ? t.n : 1, sizeof *score);
    p = calloc(t.n ? t.n : 1, sizeof *p);
    status = 1;
    if (!is_test || !train || !score || !p)
        goto done;
    /* The logistic trainer's split, stratified and seeded: the same rows are held out. */
    bp_lr_data labels = {.label = t.label, .n = t.n};
    bp_lr_split(&labels, a->test_size, (uint64_t)a->seed, is_test);
    for (size_t i = 0; i < t.n; i++)
        train[i] = !is_test[i];
    const char *names[BP_FEAT_N];
    for (size_t c = 0; c < t.k; c++)
        names[c] = bp_feat_name(t.feat[c]);
    bp_gbt_params gp = bp_gbt_params_default();
    gp.rounds = (int)a->rounds;
    gp.max_depth = (int)a->max_depth;
    gp.parallel_trees = (int)a->parallel_trees;
    gp.eta = a->eta;
    gp.subsample = a->subsample;
    gp.colsample = a->colsample;
    gp.seed = (uint64_t)a->seed;
    char why[512];
    if (bp_gbt_train(t.x, t.label, train, t.n, t.k, names, &gp, &m, why, sizeof why) != 0) {
        fprintf(stderr, "error: cannot fit the model: %s\n", why);
        status = 2;
        goto done;
    }
    if (bp_gbt_predict(&m, t.x, t.n, score, why, sizeof why) != 0) {
        fprintf(stderr, "error: %s\n", why);
        goto done;
    }
    for (size_t i = 0; i < t.n; i++)
        p[i] = score[i];
    bp_lr_metrics r;
    bp_metrics_from_scores(p, t.label, a->test_size > 0 ? is_test : train, t.n, a->threshold, &r);
    r.on_training_data = a->test_size == 0;
    printf("model: gradient-boosted trees on %zu features (", t.k);
    for (size_t c = 0; c < t.k; c++)
        printf("%s%s", c ? ", " : "", names[c]);
    printf("), %d rounds x %d trees, max depth %d, eta %g, threshold %g\n", gp.rounds,
           gp.parallel_trees, gp.max_depth, gp.eta, a->threshold);
    bp_train_print_metrics(&r);
    set_attrs(&m, a, t.n);
    if (a->dump && dump(a->dump, &t, is_test, score) != 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", a->dump, strerror(errno));
        goto done;
    }
    if (bp_gbt_save(&m, a->out) != 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", a->out, strerror(errno));
        goto done;
    }
    printf("wrote %s\n", a->out);
    status = 0;
done:
    bp_gbt_free(&m);
    free(t.x);
    free(t.label);
    free(is_test);
    free(train);
    free(score);
    free(p);
    return status;
}
