/* Capped, full-jitter exponential back-off, shared by the main thread (source, detectors,
 * commits) and the delivery lanes, so both wait the same way. */
#ifndef BPPIPE_BACKOFF_H
#define BPPIPE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/* Milliseconds to wait before attempt `attempt + 1`: uniform in [0, cap), where cap is
 * initial_ms * 2^attempt bounded by max_ms (callers pass [pipeline] retry_initial_ms and
 * retry_max_ms). `rng` is the caller's own xorshift state (non-zero; jitter only, not
 * security), so threads never share one. */
double bp_backoff_ms(int64_t initial_ms, int64_t max_ms, unsigned attempt, uint64_t *rng);

/* Sleeps `ms`, checking `wake(user)` every 50 ms and returning early once it answers true. */
void bp_backoff_sleep(double ms, bool (*wake)(void *user), void *user);

#endif
