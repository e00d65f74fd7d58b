/* A minimal assertion kit for the C tests: each failed CHECK prints where and why, the
 * program goes on, and CHECK_DONE() returns non-zero when anything failed (ctest reads the
 * exit status). */
#ifndef BPPIPE_TEST_CHECK_H
#define BPPIPE_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures_;
static int check_count_;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        check_count_++;                                                                \
        if (!(cond)) {                                                                 \
            check_failures_++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *ca_ = (a), *cb_ = (b);                                             \
        check_count_++;                                                                \
        if (!((ca_ == NULL && cb_ == NULL) || (ca_ && cb_ && strcmp(ca_, cb_) == 0))) { \
            check_failures_++;                                                         \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
                    #a, ca_ ? ca_ : "(null)", cb_ ? cb_ : "(null)");                    \
        }                                                                              \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                    \
    do {                                                                               \
        const char *ch_ = (hay), *cn_ = (needle);                                      \
        check_count_++;                                                                \
        if (!ch_ || !strstr(ch_, cn_)) {                                               \
            check_failures_++;                                                         \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                    ch_ ? ch_ : "(null)", cn_);                                        \
        }                                                                              \
    } while (0)

#define CHECK_NUM(a, b)                                                                \
    do {                                                                               \
        double na_ = (a), nb_ = (b);                                                   \
        check_count_++;                                                                \
        if (!((isnan(na_) && isnan(nb_)) || fabs(na_ - nb_) <= 1e-9 * (1 + fabs(nb_)))) { \
            check_failures_++;                                                         \
            fprintf(stderr, "%s:%d: %s == %.17g, expected %.17g\n", __FILE__, __LINE__, #a, \
                    na_, nb_);                                                         \
        }                                                                              \
    } while (0)

#define CHECK_DONE()                                                                   \
    (fprintf(stderr, "%d checks, %d failed\n", check_count_, check_failures_),         \
     check_failures_ ? 1 : 0)

#endif
