/* The shared back-off: every wait lies in [0, cap) with cap doubling from retry_initial_ms up
 * to retry_max_ms, the jitter spreads over that range, and a sleep ends early once woken. */
#include "base/backoff.h"
#include "common/clock.h"

#include "../check.h"

static bool always(void *user)
{
    (void)user;
    return true;
}

static bool after_calls(void *user)
{
    int *left = user;
    return --*left <= 0;
}

int main(void)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (unsigned attempt = 0; attempt < 40; attempt++) {
        double cap = 100.0 * (double)(1ull << (attempt < 30 ? attempt : 30));
        if (cap > 2000)
            cap = 2000;
        double lo = cap, hi = 0;
        for (int i = 0; i < 2000; i++) {
            double ms = bp_backoff_ms(100, 2000, attempt, &rng);
            CHECK(ms >= 0 && ms < cap);
            lo = ms < lo ? ms : lo;
            hi = ms > hi ? ms : hi;
        }
        /* Full jitter: the draws cover most of [0, cap), not one point of it. */
        CHECK(lo < cap * 0.05 && hi > cap * 0.95);
    }
    uint64_t a = 7, b = 7;
    /* the caller's state only */
    CHECK(bp_backoff_ms(100, 2000, 3, &a) == bp_backoff_ms(100, 2000, 3, &b));

    double t0 = bp_now_s();
    bp_backoff_sleep(5000, always, NULL);
    CHECK(bp_now_s() - t0 < 1.0);
    int calls = 3;
    t0 = bp_now_s();
    bp_backoff_sleep(5000, after_calls, &calls);
    CHECK(calls == 0 && bp_now_s() - t0 < 2.5);
    t0 = bp_now_s();
    bp_backoff_sleep(120, after_calls, &(int){1000});
    CHECK(bp_now_s() - t0 >= 0.1);
    return CHECK_DONE();
}
