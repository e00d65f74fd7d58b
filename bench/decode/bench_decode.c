/* bench/decode: readings per second on one core for
 *   1. cJSON_Parse alone (the floor: parsing the same bytes),
 *   2. bp_fhir_decode (parse + find every value + ids + times),
 *   3. bp_fhir_decode + the clinical rules (what the pipeline does per reading before sinks),
 * over simulated-ward Observations and over the FHIR examples of tests/data.
 *
 * Usage: build/bench/bench_decode [PAYLOADS (20000)] [EXAMPLES_DIR (tests/data/fhir-examples)]
 */
#include "clinical/bp_rules.h"
#include "fhir/fhir_decode.h"
#include "wardsim/ward_sim.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct corpus {
    char **data;
    size_t *len;
    size_t n, bytes;
} corpus;

static void push(corpus *c, const char *data, size_t len)
{
    c->data = realloc(c->data, (c->n + 1) * sizeof *c->data);
    c->len = realloc(c->len, (c->n + 1) * sizeof *c->len);
    c->data[c->n] = malloc(len + 1);
    memcpy(c->data[c->n], data, len);
    c->data[c->n][len] = '\0';
    c->len[c->n++] = len;
    c->bytes += len;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct tally {
    size_t readings, anomalies;
    bool judge;
    bp_thresholds t;
} tally;

static int count(void *user, const bp_decoded *d)
{
    tally *t = user;
    if (d->invalid_reason || d->skip_reason) /* dead letters and skipped resources */
        return 0;
    t->readings++;
    if (t->judge)
        t->anomalies += bp_rules_is_anomaly(&t->t, d->systolic, d->diastolic);
    return 0;
}

typedef enum { MODE_PARSE, MODE_DECODE, MODE_JUDGE } mode;

/* One timed pass over the corpus in `m`; returns seconds. */
static double pass(const corpus *c, int rounds, mode m, tally *t)
{
    double t0 = now();
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < c->n; i++) {
            if (m == MODE_PARSE)
                cJSON_Delete(cJSON_ParseWithLength(c->data[i], c->len[i]));
            else
                bp_fhir_decode(c->data[i], c->len[i], NULL, count, t);
        }
    return now() - t0;
}

/* Best of five passes per mode, the modes interleaved so that none gets a warmer machine. */
static void measure(const char *name, const corpus *c, int rounds)
{
    double best[3] = {1e300, 1e300, 1e300};
    tally plain = {0}, judged = {.judge = true, .t = bp_thresholds_default()};
    pass(c, 1, MODE_DECODE, &plain); /* warm the allocator and caches */
    for (int rep = 0; rep < 5; rep++) {
        for (mode m = MODE_PARSE; m <= MODE_JUDGE; m++) {
            plain.readings = judged.readings = judged.anomalies = 0;
            double s = pass(c, rounds, m, m == MODE_JUDGE ? &judged : &plain);
            if (s < best[m])
                best[m] = s;
        }
    }
    double readings = (double)judged.readings; /* per pass: the last pass was a judged one */
    double mb = (double)c->bytes * rounds / 1e6;
    printf("%s: %zu payloads x %d rounds, %zu readings, %.1f MB per pass (best of 5)\n", name,
           c->n, rounds, judged.readings, mb);
    printf("  cJSON_Parse alone       %10.0f readings/s  %7.1f MB/s\n", readings / best[0],
           mb / best[0]);
    printf("  decode                  %10.0f readings/s  %7.1f MB/s\n", readings / best[1],
           mb / best[1]);
    printf("  decode + rules          %10.0f readings/s  (%zu anomalies)\n", readings / best[2],
           judged.anomalies);
    printf("  decode time / parse time %9.2f\n", best[1] / best[0]);
}

static void load_examples(corpus *c, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        char *buf = malloc((size_t)len);
        if (fread(buf, 1, (size_t)len, f) == (size_t)len)
            push(c, buf, (size_t)len);
        free(buf);
        fclose(f);
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    const char *examples = argc > 2 ? argv[2] : "tests/data/fhir-examples";

    corpus ward = {0};
    bp_ward w;
    bp_ward_init(&w, 42, 5, 2, 1767225600000LL, 5.0, 0);
    char buf[4096];
    for (size_t i = 0; i < n; i++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        push(&ward, buf, bp_ward_fhir(&w, &r, buf, sizeof buf));
    }
    bp_ward_free(&w);
    measure("simulated ward", &ward, 5);

    corpus ex = {0};
    load_examples(&ex, examples);
    if (ex.n)
        measure("FHIR examples", &ex, 500);
    else
        printf("FHIR examples: not found in %s\n", examples);
    return 0;
}
