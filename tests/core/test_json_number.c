/* bp_buf_json_number and bp_buf_iso_time take shortcuts (fewer printf/strtod tries, digits by
 * hand); they must print exactly what the plain definitions print: the shortest of 6..16
 * significant digits that reads back, else 17; the integer of "%.0f"; strftime's date. The
 * plain definitions are here, and both are compared over random and awkward values. */
#include "check.h"
#include "json_buf.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void reference_number(char *num, size_t size, double v)
{
    if (!isfinite(v)) {
        snprintf(num, size, "null");
        return;
    }
    bool integer = v == floor(v) && fabs(v) < 1e15;
    snprintf(num, size, integer ? "%.0f" : "%.17g", v);
    for (int prec = 6; prec < 17 && !integer; prec++) {
        char shorter[40];
        snprintf(shorter, sizeof shorter, "%.*g", prec, v);
        if (strtod(shorter, NULL) == v) {
            snprintf(num, size, "%s", shorter);
            break;
        }
    }
}

static void reference_time(char *out, size_t size, long long ms)
{
    long long secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, size, "null");
        return;
    }
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03lldZ", rem);
}

static uint64_t state = 0x243F6A8885A308D3ull;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static int mismatches;

static void compare(bp_buf *b, double v)
{
    char want[48];
    reference_number(want, sizeof want, v);
    bp_buf_reset(b);
    bp_buf_json_number(b, v);
    if (strcmp(b->data, want) != 0 && mismatches++ < 10)
        fprintf(stderr, "%a: printed %s, expected %s\n", v, b->data, want);
}

int main(void)
{
    bp_buf b;
    bp_buf_init(&b);
    const double fixed[] = {0.0, -0.0, 1.0, -3.0, 0.1, 0.5, -0.5, 0.25, 98.6, 102.7227196535116,
                            1e15, -1e15, 999999999999999.0, 1e15 - 0.5, 1e16, 1e22, 1e-7,
                            123456.5, 5e-324, DBL_MIN, DBL_MAX, -DBL_MAX, 0x1p-30, 0x1p52,
                            0x1p53 + 2, 1.0 / 3.0, 2.0 / 3.0, 0.0026623386964284177,
                            0.0031892152059058397, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        compare(&b, fixed[i]);
    /* Probabilities and readings as detectors compute them, short decimals, powers of two and
     * their neighbours, then arbitrary bit patterns. */
    for (int i = 0; i < 25000; i++) {
        double u = (double)(next() >> 11) / 9007199254740992.0;
        compare(&b, u);
        compare(&b, 1.0 / (1.0 + exp(-20 * (u - 0.5))));
        compare(&b, round(u * 3000.0) / 10.0);
        compare(&b, -u * 1e14);
        double p2 = ldexp(1.0, (int)(next() % 200) - 100);
        compare(&b, p2);
        compare(&b, nextafter(p2, 0));
        compare(&b, nextafter(p2, INFINITY));
        /* Decimals ending in 5 at every length: the half-way cases of shorter roundings. */
        char text[40];
        int len = 6 + (int)(next() % 12);
        snprintf(text, sizeof text, "%llu5e%d", (unsigned long long)(next() % 100000000000000ULL),
                 -(int)(next() % 20) - len / 2);
        compare(&b, strtod(text, NULL));
        uint64_t bits = next();
        double any;
        memcpy(&any, &bits, sizeof any);
        compare(&b, any);
    }
    CHECK(mismatches == 0);

    /* Times: the epoch's neighbours, every reading's range, and years strftime prints as they
     * are (before 1000, after 9999). */
    int time_mismatches = 0;
    const long long times[] = {0, -1, 999, 1000, -1000, 1767225600000LL, 253402300799999LL,
                               253402300800000LL, -30610224000001LL, -62135596800000LL,
                               -62167219200000LL, -99999999999999LL, 999999999999999LL};
    for (size_t i = 0; i < sizeof times / sizeof times[0] + 20000; i++) {
        long long ms = i < sizeof times / sizeof times[0]
                           ? times[i]
                           : (long long)(next() % 600000000000000ULL) - 300000000000000LL;
        char want[64];
        reference_time(want, sizeof want, ms);
        bp_buf_reset(&b);
        bp_buf_iso_time(&b, ms);
        if (strcmp(b.data, want) != 0 && time_mismatches++ < 10)
            fprintf(stderr, "%lld ms: printed %s, expected %s\n", ms, b.data, want);
    }
    CHECK(time_mismatches == 0);
    bp_buf_free(&b);
    return CHECK_DONE();
}
