#include "clinical/profiles.h"

#include "clinical/csv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    size_t offset;
} columns[] = {
    {"systolic_high", offsetof(bp_thresholds, systolic_high)},
    {"systolic_low", offsetof(bp_thresholds, systolic_low)},
    {"diastolic_high", offsetof(bp_thresholds, diastolic_high)},
    {"diastolic_low", offsetof(bp_thresholds, diastolic_low)},
};
#define N_COLUMNS (sizeof columns / sizeof columns[0])

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

/* Reads the header row: patient_id first, then known threshold columns, each once. */
static int read_header(const char *path, char **cells, size_t n, int line, int *which,
                       char *why, size_t why_len)
{
    if (strcmp(cells[0], "patient_id") != 0) {
        snprintf(why, why_len, "%s:%d: the first column must be patient_id", path, line);
        return -1;
    }
    for (size_t c = 1; c < n; c++) {
        which[c] = -1;
        for (size_t k = 0; k < N_COLUMNS; k++)
            if (strcmp(cells[c], columns[k].name) == 0)
                which[c] = (int)k;
        if (which[c] < 0) {
            snprintf(why, why_len, "%s:%d: unknown column '%.40s' (known: systolic_high, "
                     "systolic_low, diastolic_high, diastolic_low)", path, line, cells[c]);
            return -1;
        }
        for (size_t e = 1; e < c; e++)
            if (which[e] == which[c]) {
                snprintf(why, why_len, "%s:%d: column '%s' appears twice", path, line,
                         cells[c]);
                return -1;
            }
    }
    return 0;
}

/* One patient's row: the defaults from `base` with the row's non-empty cells applied. */
static int read_row(const char *path, char **cells, size_t n, int line, const int *which,
                    const bp_thresholds *base, bp_thresholds *t, char *why, size_t why_len)
{
    *t = *base;
    for (size_t c = 1; c < n; c++) {
        if (!cells[c][0])
            continue; /* empty: the default */
        char *end;
        double v = strtod(cells[c], &end);
        if (*end || !isfinite(v) || v < 0 || v > 400) {
            snprintf(why, why_len, "%s:%d: '%.20s' is not a pressure in mmHg (column %s)", path,
                     line, cells[c], columns[which[c]].name);
            return -1;
        }
        *(double *)((char *)t + columns[which[c]].offset) = v;
    }
    const char *problem = bp_thresholds_check(t);
    if (problem) {
        snprintf(why, why_len, "%s:%d: %s", path, line, problem);
        return -1;
    }
    return 0;
}

static int add(bp_profiles *out, size_t *cap, const char *id, const bp_thresholds *t, int line)
{
    if (out->n == *cap) {
        size_t grown = *cap ? *cap * 2 : 64;
        bp_profile *items = realloc(out->items, grown * sizeof *items);
        if (!items)
            return -1;
        out->items = items;
        *cap = grown;
    }
    bp_profile *p = &out->items[out->n];
    memset(p, 0, sizeof *p);
    p->t = *t;
    p->line = line;
    if (!(p->patient_id = strdup(id)))
        return -1;
    out->n++;
    return 0;
}

int bp_profiles_load(const char *path, const bp_thresholds *base, bp_profiles *out, char *why,
                     size_t why_len)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    bp_csv csv;
    bp_csv_init(&csv, f);
    char **cells, csv_why[200];
    size_t n, n_cols = 0, cap = 0;
    int which[N_COLUMNS + 1], got, rc = -1;
    while ((got = bp_csv_next(&csv, &cells, &n, csv_why, sizeof csv_why)) == 1) {
        int line = bp_csv_line(&csv);
        if (!n_cols) {
            if (n > N_COLUMNS + 1) {
                snprintf(why, why_len, "%s:%d: %zu columns; at most patient_id and the %zu "
                         "threshold columns", path, line, n, N_COLUMNS);
                goto done;
            }
            if (read_header(path, cells, n, line, which, why, why_len) != 0)
                goto done;
            n_cols = n;
            continue;
        }
        if (n != n_cols) {
            snprintf(why, why_len, "%s:%d: %zu cells where the header has %zu columns (a value "
                     "with a comma needs quotes)", path, line, n, n_cols);
            goto done;
        }
        if (!cells[0][0]) {
            snprintf(why, why_len, "%s:%d: no patient_id", path, line);
            goto done;
        }
        bp_thresholds t;
        if (read_row(path, cells, n, line, which, base, &t, why, why_len) != 0)
            goto done;
        if (add(out, &cap, cells[0], &t, line) != 0) {
            snprintf(why, why_len, "out of memory");
            goto done;
        }
    }
    if (got < 0) {
        snprintf(why, why_len, "%s:%s", path, csv_why);
        goto done;
    }
    if (!n_cols) {
        snprintf(why, why_len, "%s:1: empty file: the first line must name the columns "
                 "(patient_id,...)", path);
        goto done;
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
    bp_csv_free(&csv);
    fclose(f);
    if (rc != 0)
        bp_profiles_free(out);
    return rc;
}

const bp_thresholds *bp_profiles_find(bp_profiles *p, const char *patient_id)
{
    if (!patient_id || !p->n)
        return NULL;
    bp_profile key;
    memset(&key, 0, sizeof key);
    key.patient_id = (char *)patient_id;
    bp_profile *hit = bsearch(&key, p->items, p->n, sizeof *p->items, by_id);
    if (!hit)
        return NULL;
    hit->matched = 1;
    return &hit->t;
}

void bp_profiles_carry_matches(bp_profiles *fresh, const bp_profiles *old)
{
    /* both sorted by id: one merge walk */
    size_t j = 0;
    for (size_t i = 0; i < fresh->n && j < old->n;) {
        int c = strcmp(fresh->items[i].patient_id, old->items[j].patient_id);
        if (c == 0 && old->items[j].matched)
            fresh->items[i].matched = 1;
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
}

size_t bp_profiles_unmatched(const bp_profiles *p, const bp_profile **first, size_t max)
{
    size_t count = 0, kept = 0;
    for (size_t i = 0; i < p->n; i++) {
        const bp_profile *u = &p->items[i];
        if (u->matched)
            continue;
        count++;
        /* keep the `max` earliest in the file, in line order (insertion into a short list) */
        size_t at = kept;
        while (at > 0 && first[at - 1]->line > u->line)
            at--;
        if (at >= max)
            continue;
        if (kept < max)
            kept++;
        memmove(&first[at + 1], &first[at], (kept - 1 - at) * sizeof *first);
        first[at] = u;
    }
    return count;
}
