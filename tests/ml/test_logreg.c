/* Scoring by hand, feature sets, the fit on a case with a known answer, metrics, and every
 * refusal of a corrupt model file. */
#include "check.h"
#include "clinical/logreg.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/bppipe-logreg-XXXXXX";

static int load_text(const char *text, char *why, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/m.json", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    bp_lr_model m;
    return bp_lr_load(path, &m, why, len);
}

#define GOOD_HEAD "{\"format\":\"bppipe-logreg\",\"format_version\":1,\"feature_set\":\"basic\","
#define GOOD_BODY "\"mean\":[120,80],\"scale\":[20,15],\"coefficients\":[1.5,0.5],\"intercept\":-1,\"threshold\":0.5}"

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    /* a hand-computed example: z = 1.5*(140-120)/20 + 0.5*(95-80)/15 - 1 = 1 */
    char why[512];
    CHECK(load_text(GOOD_HEAD GOOD_BODY, why, sizeof why) == 0);
    bp_lr_model m;
    char path[256];
    snprintf(path, sizeof path, "%s/m.json", dir);
    CHECK(bp_lr_load(path, &m, why, sizeof why) == 0);
    CHECK_NUM(bp_lr_score(&m, 140, 95), 1.0 / (1.0 + exp(-1.0)));
    CHECK_NUM(bp_lr_score(&m, 120, 80), 1.0 / (1.0 + exp(1.0)));

    /* clinical features: deviations from 115/75 in half-widths 25/15 */
    double x[BP_LR_MAX_FEATURES];
    CHECK(bp_lr_features(BP_FEATURES_CLINICAL, 140, 90, x) == 6);
    CHECK_NUM(x[2], 1.0);
    CHECK_NUM(x[3], 1.0);
    CHECK_NUM(x[4], 1.0);
    CHECK_NUM(x[5], 1.0);
    CHECK(bp_lr_features(BP_FEATURES_CLINICAL, 165, 45, x) == 6);
    CHECK_NUM(x[2], 4.0);
    CHECK_NUM(x[5], 16.0);
    CHECK_STR(bp_lr_feature_name(BP_FEATURES_CLINICAL, 4), "systolic_dev_4th");
    CHECK(bp_lr_feature_set_parse("fancy") == -1);

    /* every refusal names its cause */
    struct { const char *text, *cause; } bad[] = {
        {"not json", "not JSON"},
        {"{\"format\":\"other\"}", "not a bppipe logistic-regression model"},
        {"{\"format\":\"bppipe-logreg\",\"format_version\":2}", "model format version 2, this bppipe reads version 1"},
        {"{\"format\":\"bppipe-logreg\",\"format_version\":1,\"feature_set\":\"fancy\"}", "unknown feature set 'fancy'"},
        {GOOD_HEAD "\"mean\":[120],\"scale\":[20,15],\"coefficients\":[1,1],\"intercept\":0,\"threshold\":0.5}",
         "'mean' must be an array with one number per feature"},
        {GOOD_HEAD "\"mean\":[120,80],\"scale\":[20,15],\"coefficients\":[1,1e999],\"intercept\":0,\"threshold\":0.5}",
         "'coefficients' holds a value that is not a finite number"},
        {GOOD_HEAD "\"mean\":[120,80],\"scale\":[0,15],\"coefficients\":[1,1],\"intercept\":0,\"threshold\":0.5}",
         "'scale' must be positive"},
        {GOOD_HEAD "\"mean\":[120,80],\"scale\":[20,15],\"coefficients\":[1,1],\"intercept\":\"x\",\"threshold\":0.5}",
         "'intercept' must be a finite number"},
        {GOOD_HEAD "\"mean\":[120,80],\"scale\":[20,15],\"coefficients\":[1,1],\"intercept\":0,\"threshold\":1}",
         "'threshold' must lie strictly between 0 and 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(load_text(bad[i].text, why, sizeof why) == -1);
        CHECK_CONTAINS(why, bad[i].cause);
    }
    CHECK(bp_lr_load("/nonexistent/model.json", &m, why, sizeof why) == -1);
    CHECK_CONTAINS(why, "cannot read");

    /* a fit with a known answer: labels by systolic > 140 on a grid; the model must rank them
     * perfectly and the gradient must vanish */
    bp_lr_data d = {0};
    for (int s = 80; s <= 200; s++)
        for (int di = 50; di <= 100; di += 5)
            bp_lr_data_push(&d, s, di, s > 140);
    bp_lr_model fit;
    memset(&fit, 0, sizeof fit);
    CHECK(bp_lr_fit(&d, NULL, BP_FEATURES_BASIC, 1.0, 1e-8, 100, &fit, why, sizeof why) == 0);
    CHECK(fit.gradient_norm < 1e-8);
    CHECK(fit.coef[0] > 0);
    fit.threshold = 0.5;
    bp_lr_metrics mt;
    bp_lr_evaluate(&fit, &d, NULL, &mt);
    CHECK_NUM(mt.roc_auc, 1.0);
    CHECK(mt.support[0] + mt.support[1] == d.n);
    CHECK(mt.accuracy > 0.97);
    /* one class only cannot be fitted */
    bp_lr_data one = {0};
    bp_lr_data_push(&one, 120, 80, 0);
    bp_lr_data_push(&one, 121, 80, 0);
    CHECK(bp_lr_fit(&one, NULL, BP_FEATURES_BASIC, 1.0, 1e-8, 100, &fit, why, sizeof why) == -1);
    CHECK_CONTAINS(why, "need both classes");

    /* the stratified split keeps each class's share and is seeded */
    bool a[2000], b[2000];
    bp_lr_data big = {0};
    for (int i = 0; i < 2000; i++)
        bp_lr_data_push(&big, i, 0, i % 4 == 0);
    bp_lr_split(&big, 0.2, 7, a);
    bp_lr_split(&big, 0.2, 7, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    size_t test_pos = 0, test_all = 0;
    for (int i = 0; i < 2000; i++) {
        test_all += a[i];
        test_pos += a[i] && big.label[i];
    }
    CHECK(test_all == 400 && test_pos == 100);
    bp_lr_data_free(&d);
    bp_lr_data_free(&one);
    bp_lr_data_free(&big);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    CHECK(system(path) == 0);
    return CHECK_DONE();
}
