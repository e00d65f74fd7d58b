/* `bppipe train`: fits the logistic-regression model of detector-logreg, on the original
 * system's synthetic data (labelled by the same rule function detector-rules uses) or on a
 * user's CSV, reports held-out metrics and writes the model file atomically. */
#include "cli/commands.h"
#include "cli/train.h"

#include "clinical/bp_rules.h"
#include "clinical/history.h"
#include "clinical/logreg.h"
#include "config/options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void train_usage(FILE *f)
{
    fputs(
        "usage: bppipe train --out FILE [--samples 5000] [--seed 42] [--features basic|clinical]\n"
        "                    [--data FILE.csv] [--test-size 0.2] [--C 1.0] [--threshold 0.5]\n"
        "                    [--dump-data FILE.csv]\n"
        "       bppipe train --model gbtree --out FILE.json [--data FILE.csv] [--features a,b,..]\n"
        "                    [--data ARCHIVE.ndjson --label FIELD]\n"
        "                    [--rounds 100] [--max-depth 4] [--eta 0.3] [--parallel-trees 1]\n"
        "                    [--subsample 1] [--colsample 1] [--name N] [--version V]\n\n"
        "Fits the logistic-regression model of detector-logreg and writes it to FILE (JSON,\n"
        "atomically). Without --data it generates the original system's training set:\n"
        "systolic ~ N(120, 20), diastolic ~ N(80, 15), labelled by detector-rules' default\n"
        "thresholds. --data reads a CSV with the header systolic,diastolic,label (label 0/1).\n"
        "Rows are split into train and held-out test sets, stratified and seeded\n"
        "(--test-size 0 trains on everything; the report then says so). Features are\n"
        "standardised on the training rows; the fit is L2-regularised with strength C as in\n"
        "scikit-learn, by Newton's method to a gradient norm below 1e-8.\n"
        "  --features basic     systolic, diastolic (the original model)\n"
        "  --features clinical  adds squared deviations from the centre of the normal range\n"
        "  --dump-data FILE     also write the rows used, with their split, as CSV\n"
        "  --ward PATIENTS      rows from the simulated ward instead (--samples in all): the\n"
        "                       label is 'this patient's next reading is stage 2 or worse'\n"
        "  --target episode     with --ward: label 'the patient is in a hypertensive episode\n"
        "                       now' (the simulation's state) instead\n"
        "The model's date is today (UTC), or SOURCE_DATE_EPOCH when set (reproducible files).\n\n"
        "--model gbtree fits gradient-boosted trees with libxgboost (detector-xgboost loads\n"
        "them; so does Python's xgboost) on the same data, split and report, and writes\n"
        "XGBoost's JSON model. Its --data CSV has a header of feature names from the\n"
        "vocabulary (docs/model.md: systolic, diastolic, pulse, ..., baseline_systolic, ...)\n"
        "and a column 'label'; an empty field is a missing value. --features picks columns\n"
        "(default: every feature column). --data ARCHIVE.ndjson --label FIELD reads archived\n"
        "readings where detector-xgboost ran with annotate_features = true: their\n"
        "xgb_feature.NAME fields are the inputs, FIELD (true/false or 0/1) the label.\n"
        "--parallel-trees N with --subsample below 1 and\n"
        "--rounds 1 is a random forest.\n",
        f);
}

static int parse_train_args(int argc, char **argv, train_args *a)
{
    *a = (train_args){.samples = 5000,
                      .seed = 42,
                      .features = BP_FEATURES_BASIC,
                      .test_size = 0.2,
                      .c = 1.0,
                      .threshold = 0.5,
                      .rounds = 100,
                      .max_depth = 4,
                      .parallel_trees = 1,
                      .eta = 0.3,
                      .subsample = 1,
                      .colsample = 1};
    const char *features = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        int64_t n;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            train_usage(stdout);
            return 1;
        }
        if (!v) {
            fprintf(stderr, "error: %s needs a value (see 'bppipe train --help')\n", arg);
            return -1;
        }
        i++;
        if (strcmp(arg, "--out") == 0) {
            a->out = v;
        } else if (strcmp(arg, "--data") == 0) {
            a->data = v;
        } else if (strcmp(arg, "--label") == 0) {
            a->label = v;
        } else if (strcmp(arg, "--dump-data") == 0) {
            a->dump = v;
        } else if (strcmp(arg, "--features") == 0) {
            features = v;
        } else if (strcmp(arg, "--model") == 0) {
            if (strcmp(v, "gbtree") != 0 && strcmp(v, "logreg") != 0) {
                fprintf(stderr, "error: --model must be logreg or gbtree, not '%s'\n", v);
                return -1;
            }
            a->gbtree = strcmp(v, "gbtree") == 0;
        } else if (strcmp(arg, "--name") == 0 || strcmp(arg, "--version") == 0) {
            *(arg[2] == 'n' ? &a->name : &a->version) = v;
        } else if (strcmp(arg, "--target") == 0) {
            if (strcmp(v, "episode") != 0 && strcmp(v, "next-stage2") != 0) {
                fprintf(stderr, "error: --target must be next-stage2 or episode, not '%s'\n", v);
                return -1;
            }
            a->episode = strcmp(v, "episode") == 0;
        } else if (strcmp(arg, "--ward") == 0) {
            if (bp_parse_int(v, &n) != 0 || n < 1 || n > 1000000) {
                fprintf(stderr,
                        "error: --ward needs a number of patients from 1 to 1000000, "
                        "not '%s'\n",
                        v);
                return -1;
            }
            a->ward = n;
        } else if (strcmp(arg, "--rounds") == 0 || strcmp(arg, "--max-depth") == 0 ||
                   strcmp(arg, "--parallel-trees") == 0) {
            if (bp_parse_int(v, &n) != 0 || n < 1 || n > 10000) {
                fprintf(stderr, "error: %s needs a whole number from 1 to 10000, not '%s'\n", arg,
                        v);
                return -1;
            }
            *(arg[2] == 'r' ? &a->rounds : arg[2] == 'm' ? &a->max_depth : &a->parallel_trees) = n;
        } else if (strcmp(arg, "--eta") == 0 || strcmp(arg, "--subsample") == 0 ||
                   strcmp(arg, "--colsample") == 0) {
            if (bp_parse_double(v, &d) != 0 || d <= 0 || d > 1) {
                fprintf(stderr, "error: %s must be in (0, 1], not '%s'\n", arg, v);
                return -1;
            }
            *(arg[2] == 'e' ? &a->eta : arg[2] == 's' ? &a->subsample : &a->colsample) = d;
        } else if (strcmp(arg, "--samples") == 0 || strcmp(arg, "--seed") == 0) {
            if (bp_parse_int(v, &n) != 0 || n < (arg[2] == 's' && arg[3] == 'a' ? 10 : 0)) {
                fprintf(stderr, "error: %s needs a whole number (samples >= 10), not '%s'\n", arg,
                        v);
                return -1;
            }
            *(strcmp(arg, "--seed") == 0 ? &a->seed : &a->samples) = n;
        } else if (strcmp(arg, "--test-size") == 0 || strcmp(arg, "--C") == 0 ||
                   strcmp(arg, "--threshold") == 0) {
            bool ts = strcmp(arg, "--test-size") == 0, th = strcmp(arg, "--threshold") == 0;
            if (bp_parse_double(v, &d) != 0 || (ts && (d < 0 || d >= 1)) ||
                (th && (d <= 0 || d >= 1)) || (!ts && !th && d <= 0)) {
                fprintf(stderr,
                        "error: %s out of range: '%s' (test-size in [0, 1), threshold "
                        "in (0, 1), C > 0)\n",
                        arg, v);
                return -1;
            }
            *(ts ? &a->test_size : th ? &a->threshold : &a->c) = d;
        } else {
            fprintf(stderr, "error: unknown option '%s' (see 'bppipe train --help')\n", arg);
            return -1;
        }
    }
    if (!a->out) {
        fprintf(stderr, "error: --out FILE is required (see 'bppipe train --help')\n");
        return -1;
    }
    if (a->ward && a->data) {
        fprintf(stderr, "error: --ward and --data are two sources of rows: give one\n");
        return -1;
    }
    if (a->label && (!a->gbtree || !a->data)) {
        fprintf(stderr, "error: --label names the label field of an archive: it goes with "
                        "--model gbtree --data ARCHIVE.ndjson\n");
        return -1;
    }
    if (a->gbtree) {
        a->columns = features;
        return 0;
    }
    if (features && (a->features = bp_lr_feature_set_parse(features)) < 0) {
        fprintf(stderr, "error: --features must be basic or clinical, not '%s'\n", features);
        return -1;
    }
    return 0;
}

/* CSV with the header systolic,diastolic,label; every bad line is reported by number. */
static int read_csv(const char *path, bp_lr_data *d)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    int lineno = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (lineno == 1) {
            if (strcmp(line, "systolic,diastolic,label") != 0) {
                fprintf(stderr, "error: %s:1: the header must be 'systolic,diastolic,label'\n",
                        path);
                bad++;
                break;
            }
            continue;
        }
        if (!line[0])
            continue;
        char *end;
        double s = strtod(line, &end);
        double dia = *end == ',' ? strtod(end + 1, &end) : NAN;
        long label = *end == ',' ? strtol(end + 1, &end, 10) : -1;
        if (*end || !isfinite(s) || !isfinite(dia) || (label != 0 && label != 1)) {
            if (bad++ < 20)
                fprintf(stderr,
                        "error: %s:%d: expected systolic,diastolic,label (numbers, "
                        "label 0 or 1): '%.60s'\n",
                        path, lineno, line);
            continue;
        }
        if (bp_lr_data_push(d, s, dia, (int)label) != 0) {
            bad++;
            break;
        }
    }
    fclose(f);
    if (bad)
        fprintf(stderr, "error: %s: %d malformed line%s; nothing was trained\n", path, bad,
                bad == 1 ? "" : "s");
    return bad ? -1 : 0;
}

/* A ward row for the logistic model: its two values. */
static int push_row(void *user, const double *f, int label)
{
    return bp_lr_data_push(user, f[BP_FEAT_SYSTOLIC], f[BP_FEAT_DIASTOLIC], label);
}

static int dump(const char *path, const bp_lr_data *d, const bool *is_test)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "systolic,diastolic,label,split\n");
    for (size_t i = 0; i < d->n; i++)
        fprintf(f, "%.17g,%.17g,%d,%s\n", d->sys[i], d->dia[i], d->label[i],
                is_test[i] ? "test" : "train");
    return fclose(f);
}

static void report(const bp_lr_model *m)
{
    printf("model: %s features (%zu), C %g, threshold %g, %d Newton iterations, final gradient "
           "norm %.3g\n",
           bp_lr_feature_set_name(m->features), m->n_features, m->c, m->threshold, m->iterations,
           m->gradient_norm);
    bp_train_print_metrics(&m->metrics);
}

int bp_cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse_train_args(argc, argv, &a);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (a.gbtree)
        return bp_train_gbtree(&a);
    bp_lr_data d = {0};
    bool *is_test = NULL;
    int status = 1;
    if (a.data   ? read_csv(a.data, &d) != 0
        : a.ward ? bp_train_ward(a.samples, a.ward, (uint64_t)a.seed, a.episode, push_row, &d) != 0
                 : bp_train_generate(&d, a.samples, (uint64_t)a.seed) != 0) {
        status = a.data ? 2 : 1;
        goto done;
    }
    if (!(is_test = calloc(d.n ? d.n : 1, sizeof *is_test)))
        goto done;
    bp_lr_split(&d, a.test_size, (uint64_t)a.seed, is_test);
    bool *train = malloc((d.n ? d.n : 1) * sizeof *train);
    if (!train)
        goto done;
    for (size_t i = 0; i < d.n; i++)
        train[i] = !is_test[i];
    bp_lr_model m;
    memset(&m, 0, sizeof m);
    char why[256];
    if (bp_lr_fit(&d, train, (bp_feature_set)a.features, a.c, 1e-8, 100, &m, why, sizeof why) !=
        0) {
        fprintf(stderr, "error: cannot fit the model: %s\n", why);
        free(train);
        status = 2;
        goto done;
    }
    m.threshold = a.threshold;
    m.samples = d.n;
    m.seed = (uint64_t)a.seed;
    m.test_size = a.test_size;
    snprintf(m.data_source, sizeof m.data_source, "%s",
             a.data   ? a.data
             : a.ward ? "ward"
                      : "synthetic");
    bp_train_today(m.date, sizeof m.date);
    bp_lr_evaluate(&m, &d, a.test_size > 0 ? is_test : train, &m.metrics);
    m.metrics.on_training_data = a.test_size == 0;
    free(train);
    report(&m);
    if (a.dump && dump(a.dump, &d, is_test) != 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", a.dump, strerror(errno));
        goto done;
    }
    if (bp_lr_save(a.out, &m) != 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", a.out, strerror(errno));
        goto done;
    }
    printf("wrote %s\n", a.out);
    status = 0;
done:
    free(is_test);
    bp_lr_data_free(&d);
    return status;
}
