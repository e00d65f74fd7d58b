#include "clinical/logreg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bp_lr_data_push(bp_lr_data *d, double sys, double dia, int label)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024;
        double *s = realloc(d->sys, cap * sizeof *s);
        if (!s)
            return -1;
        d->sys = s;
        double *a = realloc(d->dia, cap * sizeof *a);
        if (!a)
            return -1;
        d->dia = a;
        int *l = realloc(d->label, cap * sizeof *l);
        if (!l)
            return -1;
        d->label = l;
        d->cap = cap;
    }
    d->sys[d->n] = sys;
    d->dia[d->n] = dia;
    d->label[d->n] = label ? 1 : 0;
    d->n++;
    return 0;
}

void bp_lr_data_free(bp_lr_data *d)
{
    free(d->sys);
    free(d->dia);
    free(d->label);
    memset(d, 0, sizeof *d);
}

static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bp_lr_split(const bp_lr_data *d, double test_size, uint64_t seed, bool *is_test)
{
    memset(is_test, 0, d->n * sizeof *is_test);
    size_t *idx = malloc((d->n ? d->n : 1) * sizeof *idx);
    if (!idx)
        return;
    uint64_t state = seed ^ 0x5851F42D4C957F2Dull;
    for (int cls = 0; cls < 2; cls++) {
        size_t k = 0;
        for (size_t i = 0; i < d->n; i++)
            if (d->label[i] == cls)
                idx[k++] = i;
        for (size_t i = k; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)(mix(&state) % i);
            size_t t = idx[i - 1];
            idx[i - 1] = idx[j];
            idx[j] = t;
        }
        size_t n_test = (size_t)llround(test_size * (double)k);
        for (size_t i = 0; i < n_test && i < k; i++)
            is_test[idx[i]] = true;
    }
    free(idx);
}

/* Solves A x = b (n <= 9) by Gaussian elimination with partial pivoting; A and b are
 * overwritten. Returns -1 when A is singular. */
static int solve(double *a, double *b, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        size_t p = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
                p = r;
        if (fabs(a[p * n + c]) < 1e-300)
            return -1;
        if (p != c) {
            for (size_t k = 0; k < n; k++) {
                double t = a[c * n + k];
                a[c * n + k] = a[p * n + k];
                a[p * n + k] = t;
            }
            double t = b[c];
            b[c] = b[p];
            b[p] = t;
        }
        for (size_t r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (size_t k = c; k < n; k++)
                a[r * n + k] -= f * a[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (size_t c = n; c-- > 0;) {
        for (size_t k = c + 1; k < n; k++)
            b[c] -= a[c * n + k] * b[k];
        b[c] /= a[c * n + c];
    }
    return 0;
}

/* log(1 + exp(t)) without overflow. */
static double softplus(double t)
{
    return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t));
}

typedef struct problem {
    const double *z; /* n x k standardised features */
    const int *y;
    size_t n, k;
    double c;
} problem;

/* Objective 0.5|w|^2 + C * sum log-loss at theta = (w, b). */
static double objective(const problem *p, const double *theta)
{
    double reg = 0, loss = 0;
    for (size_t j = 0; j < p->k; j++)
        reg += theta[j] * theta[j];
    for (size_t i = 0; i < p->n; i++) {
        double t = theta[p->k];
        for (size_t j = 0; j < p->k; j++)
            t += theta[j] * p->z[i * p->k + j];
        loss += p->y[i] ? softplus(-t) : softplus(t);
    }
    return 0.5 * reg + p->c * loss;
}

/* Gradient and Hessian at theta; returns the gradient's infinity norm. */
static double derivatives(const problem *p, const double *theta, double *g, double *h)
{
    size_t m = p->k + 1;
    memset(g, 0, m * sizeof *g);
    memset(h, 0, m * m * sizeof *h);
    for (size_t i = 0; i < p->n; i++) {
        double x[BP_LR_MAX_FEATURES + 1];
        double t = theta[p->k];
        for (size_t j = 0; j < p->k; j++) {
            x[j] = p->z[i * p->k + j];
            t += theta[j] * x[j];
        }
        x[p->k] = 1.0;
        double prob = 1.0 / (1.0 + exp(-t));
        double r = p->c * (prob - p->y[i]), w = p->c * prob * (1 - prob);
        for (size_t a = 0; a < m; a++) {
            g[a] += r * x[a];
            for (size_t b = 0; b <= a; b++)
                h[a * m + b] += w * x[a] * x[b];
        }
    }
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < a; b++)
            h[b * m + a] = h[a * m + b];
    double norm = 0;
    for (size_t j = 0; j < m; j++) {
        if (j < p->k) { /* the penalty covers the weights, not the intercept */
            g[j] += theta[j];
            h[j * m + j] += 1.0;
        }
        if (fabs(g[j]) > norm)
            norm = fabs(g[j]);
    }
    return norm;
}

int bp_lr_fit(const bp_lr_data *d, const bool *use, bp_feature_set set, double c, double tol,
              int max_iter, bp_lr_model *m, char *why, size_t why_len)
{
    size_t k = bp_lr_feature_count(set), n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += !use || use[i];
    double *z = malloc((n ? n : 1) * k * sizeof *z);
    int *y = malloc((n ? n : 1) * sizeof *y);
    int rc = -1;
    if (!z || !y) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    size_t pos = 0, ones = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (use && !use[i])
            continue;
        bp_lr_features(set, d->sys[i], d->dia[i], z + pos * k);
        y[pos] = d->label[i];
        ones += (size_t)y[pos];
        pos++;
    }
    if (n < 2 || ones == 0 || ones == n) {
        snprintf(why, why_len, "the training rows need both classes (%zu rows, %zu anomalous)", n,
                 ones);
        goto done;
    }
    m->features = set;
    m->n_features = k;
    /* StandardScaler: mean and population standard deviation; a constant feature keeps
     * scale 1, as scikit-learn does. */
    for (size_t j = 0; j < k; j++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++)
            mean += z[i * k + j];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++)
            var += (z[i * k + j] - mean) * (z[i * k + j] - mean);
        double sd = sqrt(var / (double)n);
        m->mean[j] = mean;
        m->scale[j] = sd > 0 ? sd : 1.0;
        for (size_t i = 0; i < n; i++)
            z[i * k + j] = (z[i * k + j] - mean) / m->scale[j];
    }
    problem p = {z, y, n, k, c};
    double theta[BP_LR_MAX_FEATURES + 1] = {0}, g[BP_LR_MAX_FEATURES + 1];
    double h[(BP_LR_MAX_FEATURES + 1) * (BP_LR_MAX_FEATURES + 1)];
    double norm = derivatives(&p, theta, g, h);
    int it = 0;
    double f = objective(&p, theta);
    while (norm > tol && it < max_iter) {
        double step[BP_LR_MAX_FEATURES + 1];
        memcpy(step, g, sizeof step);
        if (solve(h, step, k + 1) != 0) {
            snprintf(why, why_len, "the Hessian is singular");
            goto done;
        }
        /* Backtracking keeps every Newton step a descent step far from the optimum. */
        double t = 1.0, next[BP_LR_MAX_FEATURES + 1], fn;
        for (;;) {
            for (size_t j = 0; j <= k; j++)
                next[j] = theta[j] - t * step[j];
            fn = objective(&p, next);
            /* a step that changes the objective only by rounding is accepted too */
            if (fn <= f + 1e-12 * fabs(f) || t < 1e-10)
                break;
            t *= 0.5;
        }
        memcpy(theta, next, sizeof theta);
        f = fn;
        norm = derivatives(&p, theta, g, h);
        it++;
    }
    memcpy(m->coef, theta, k * sizeof *theta);
    m->intercept = theta[k];
    m->iterations = it;
    m->gradient_norm = norm;
    m->c = c;
    if (norm > tol) {
        snprintf(why, why_len, "no convergence in %d iterations (gradient norm %g)", it, norm);
        goto done;
    }
    rc = 0;
done:
    free(z);
    free(y);
    return rc;
}

typedef struct scored {
    double p;
    int y;
} scored;

static int by_score(const void *a, const void *b)
{
    double x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return x < y ? -1 : x > y;
}

/* ROC AUC as the Mann-Whitney statistic, ties counted as one half (average ranks). */
static double roc_auc(scored *s, size_t n, size_t pos)
{
    qsort(s, n, sizeof *s, by_score);
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j].p == s[i].p)
            j++;
        double avg_rank = (double)(i + 1 + j) / 2.0; /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (s[k].y)
                rank_sum += avg_rank;
        i = j;
    }
    size_t neg = n - pos;
    if (!pos || !neg)
        return NAN;
    return (rank_sum - (double)pos * (double)(pos + 1) / 2.0) / ((double)pos * (double)neg);
}

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0; /* scikit-learn's zero_division=0 */
}

void bp_lr_evaluate(const bp_lr_model *m, const bp_lr_data *d, const bool *use,
                    bp_lr_metrics *out)
{
    double *p = malloc((d->n ? d->n : 1) * sizeof *p);
    if (!p) {
        memset(out, 0, sizeof *out);
        out->roc_auc = NAN;
        return;
    }
    for (size_t i = 0; i < d->n; i++)
        p[i] = use && !use[i] ? 0 : bp_lr_score(m, d->sys[i], d->dia[i]);
    bp_metrics_from_scores(p, d->label, use, d->n, m->threshold, out);
    free(p);
}

void bp_metrics_from_scores(const double *score, const int *label, const bool *use, size_t n_rows,
                            double threshold, bp_lr_metrics *out)
{
    memset(out, 0, sizeof *out);
    scored *s = malloc((n_rows ? n_rows : 1) * sizeof *s);
    size_t n = 0, pos = 0;
    for (size_t i = 0; i < n_rows; i++) {
        if (use && !use[i])
            continue;
        double p = score[i];
        int pred = p >= threshold;
        out->confusion[label[i]][pred]++;
        if (s) {
            s[n].p = p;
            s[n].y = label[i];
        }
        n++;
        pos += (size_t)label[i];
    }
    for (int c = 0; c < 2; c++) {
        size_t tp = out->confusion[c][c];
        size_t predicted = out->confusion[0][c] + out->confusion[1][c];
        size_t actual = out->confusion[c][0] + out->confusion[c][1];
        out->precision[c] = ratio(tp, predicted);
        out->recall[c] = ratio(tp, actual);
        double pr = out->precision[c] + out->recall[c];
        out->f1[c] = pr > 0 ? 2 * out->precision[c] * out->recall[c] / pr : 0;
        out->support[c] = actual;
    }
    out->accuracy = ratio(out->confusion[0][0] + out->confusion[1][1], n);
    out->macro_precision = (out->precision[0] + out->precision[1]) / 2;
    out->macro_recall = (out->recall[0] + out->recall[1]) / 2;
    out->macro_f1 = (out->f1[0] + out->f1[1]) / 2;
    double w0 = ratio(out->support[0], n), w1 = ratio(out->support[1], n);
    out->weighted_precision = w0 * out->precision[0] + w1 * out->precision[1];
    out->weighted_recall = w0 * out->recall[0] + w1 * out->recall[1];
    out->weighted_f1 = w0 * out->f1[0] + w1 * out->f1[1];
    out->roc_auc = s ? roc_auc(s, n, pos) : NAN;
    free(s);
}
