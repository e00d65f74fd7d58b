#include "base/backoff.h"

#include "common/clock.h"

#include <math.h>
#include <time.h>

/* xorshift64*, mapped to [0, 1). */
static double jitter_unit(uint64_t *rng)
{
    *rng ^= *rng >> 12;
    *rng ^= *rng << 25;
    *rng ^= *rng >> 27;
    return (double)((*rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

double bp_backoff_ms(int64_t initial_ms, int64_t max_ms, unsigned attempt, uint64_t *rng)
{
    double cap = (double)initial_ms * pow(2.0, attempt < 30 ? attempt : 30);
    if (cap > (double)max_ms)
        cap = (double)max_ms;
    return cap * jitter_unit(rng);
}

void bp_backoff_sleep(double ms, bool (*wake)(void *user), void *user)
{
    double until = bp_now_s() + ms / 1000.0;
    while (!wake(user)) {
        double left = until - bp_now_s();
        if (left <= 0)
            break;
        double slice = left < 0.05 ? left : 0.05;
        struct timespec ts = {0, (long)(slice * 1e9)};
        nanosleep(&ts, NULL);
    }
}
