#include "profiles.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLUMNS 8

static const struct {
    const char *name;
    size_t offset;
} columns[] = {
    {"systolic_high", offsetof(bp_thresholds, systolic_high)},
    {"systolic_low", offsetof(bp_thresholds, systolic_low)},
    {"diastolic_high", offsetof(bp_thresholds, diastolic_high)},
    {"diastolic_low", offsetof(bp_thresholds, diastolic_low)},
};

static int by_id(const void *a, const void *b)
{
    return strcmp(((const bp_profile *)a)->patient_id, ((const bp_profile *)b)->patient_id);
}

/* Ties broken by line, so duplicates sort in file order and the report names the first. */
static int by_id_line(const void *a, const void *b)
{
    int c = by_id(a, b);
    return c ? c : ((const bp_profile *)a)->line - ((const bp_profile *)b)->line;
}

void bp_profiles_free(bp_profiles *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].patient_id);
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

/* Splits a line at commas in place; returns the number of cells (at most `max`). */
static int split(char *line, char **cells, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        cells[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

int bp_profiles_load(const char *path, const bp_thresholds *base, bp_profiles *out, char *why,
                     size_t why_len)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_len, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0, n_cols = 0, which[MAX_COLUMNS + 1];
    size_t cap = 0;
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *cells[MAX_COLUMNS + 2];
        int n = split(line, cells, MAX_COLUMNS + 2);
        if (lineno == 1) {
            if (strcmp(cells[0], "patient_id") != 0) {
                snprintf(why, why_len, "%s:1: the first column must be patient_id", path);
                goto done;
            }
            for (int c = 1; c < n; c++) {
                which[c] = -1;
                for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++)
                    if (strcmp(cells[c], columns[k].name) == 0)
                        which[c] = (int)k;
                if (which[c] < 0 || c > MAX_COLUMNS) {
                    snprintf(why, why_len, "%s:1: unknown column '%.40s' (known: systolic_high, "
                             "systolic_low, diastolic_high, diastolic_low)", path, cells[c]);
                    goto done;
                }
            }
            n_cols = n;
            continue;
        }
        if (!line[0] && n == 1)
            continue;
        if (n != n_cols || !cells[0][0]) {
            snprintf(why, why_len, "%s:%d: expected %d cells with a patient_id", path, lineno,
                     n_cols);
            goto done;
        }
        bp_thresholds t = *base;
        for (int c = 1; c < n; c++) {
            if (!cells[c][0])
                continue; /* empty: the default */
            char *end;
            double v = strtod(cells[c], &end);
            if (*end || !isfinite(v) || v < 0 || v > 400) {
                snprintf(why, why_len, "%s:%d: '%.20s' is not a pressure in mmHg (column %s)",
                         path, lineno, cells[c], columns[which[c]].name);
                goto done;
            }
            *(double *)((char *)&t + columns[which[c]].offset) = v;
        }
        const char *problem = bp_thresholds_check(&t);
        if (problem) {
            snprintf(why, why_len, "%s:%d: %s", path, lineno, problem);
            goto done;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            bp_profile *items = realloc(out->items, cap * sizeof *items);
            if (!items) {
                snprintf(why, why_len, "out of memory");
                goto done;
            }
            out->items = items;
        }
        out->items[out->n].t = t;
        out->items[out->n].line = lineno;
        if (!(out->items[out->n].patient_id = strdup(cells[0]))) {
            snprintf(why, why_len, "out of memory");
            goto done;
        }
        out->n++;
    }
    qsort(out->items, out->n, sizeof *out->items, by_id_line);
    for (size_t i = 1; i < out->n; i++) {
        if (strcmp(out->items[i].patient_id, out->items[i - 1].patient_id) == 0) {
            snprintf(why, why_len, "%s:%d: patient '%.60s' is listed twice (first at line %d)",
                     path, out->items[i].line, out->items[i].patient_id, out->items[i - 1].line);
            goto done;
        }
    }
    rc = 0;
done:
    fclose(f);
    if (rc != 0)
        bp_profiles_free(out);
    return rc;
}

const bp_thresholds *bp_profiles_find(const bp_profiles *p, const char *patient_id)
{
    if (!patient_id || !p->n)
        return NULL;
    bp_profile key;
    memset(&key, 0, sizeof key);
    key.patient_id = (char *)patient_id;
    const bp_profile *hit = bsearch(&key, p->items, p->n, sizeof *p->items, by_id);
    return hit ? &hit->t : NULL;
}
