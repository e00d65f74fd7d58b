/* bp_buf_json_number, bp_buf_iso_time and bp_buf_json_string take shortcuts (fewer printf/strtod
 * tries, digits by hand, one copy of a string with nothing to escape); they must print exactly
 * what the plain definitions print: the shortest of 6..16 significant digits that reads back,
 * else 17; the integer of "%.0f"; strftime's date; the escapes. The plain definitions are
 * here, and both are compared over random and awkward values. */
#include "check.h"
#include "common/json_buf.h"

#include <float.h>
#include <stdbool.h>
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

static void compare_time(bp_buf *b, long long ms, int *mismatches)
{
    char want[64];
    reference_time(want, sizeof want, ms);
    bp_buf_reset(b);
    bp_buf_iso_time(b, ms);
    if (strcmp(b->data, want) != 0 && (*mismatches)++ < 10)
        fprintf(stderr, "%lld ms: printed %s, expected %s\n", ms, b->data, want);
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

/* A JSON string as the plain definition writes it: escapes for quote, backslash and control
 * characters, valid UTF-8 copied, every other byte U+FFFD. */
static void reference_string(bp_buf *b, const unsigned char *p, size_t n)
{
    bp_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                                  : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[i + k] & 0xC0) == 0x80;
        if (ok && len == 3) {
            unsigned cp = ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            ok = cp >= 0x800 && !(cp >= 0xD800 && cp <= 0xDFFF);
        } else if (ok && len == 4) {
            unsigned cp = ((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) |
                          ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
            ok = cp >= 0x10000 && cp <= 0x10FFFF;
        }
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            bp_buf_put(b, esc, 2);
        } else if (c == '\n') {
            bp_buf_puts(b, "\\n");
        } else if (c == '\r') {
            bp_buf_puts(b, "\\r");
        } else if (c == '\t') {
            bp_buf_puts(b, "\\t");
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            bp_buf_puts(b, esc);
        } else if (!ok) {
            bp_buf_puts(b, "\xEF\xBF\xBD");
            i++;
            continue;
        } else {
            bp_buf_put(b, (const char *)p + i, len);
            i += len;
            continue;
        }
        i++;
    }
    bp_buf_putc(b, '"');
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
    /* The exact path (non-integers 1e-4 <= |v| < 1e6): log-uniform values as detectors
     * compute them, the neighbours of every power of ten and of its half-way points (where the
     * first digit's exponent and "%g"'s exponent form change), dyadic fractions (exact ties of
     * a shorter rounding: printf rounds them to even), and short decimals. */
    for (int x = -5; x <= 6; x++)
        for (int mant = 1; mant <= 9; mant++) {
            double p = mant * pow(10.0, x), half = 9.5 * pow(10.0, x);
            const double around[] = {p, half, 0.5 * p, 999999.5 * pow(10.0, x - 5)};
            for (size_t j = 0; j < sizeof around / sizeof around[0]; j++) {
                double w = around[j];
                for (int step = 0; step < 40; step++) {
                    compare(&b, w);
                    compare(&b, -w);
                    w = nextafter(w, INFINITY);
                }
                w = around[j];
                for (int step = 0; step < 40; step++)
                    compare(&b, w = nextafter(w, 0));
            }
        }
    for (int i = 0; i < 60000; i++) {
        double u = (double)(next() >> 11) / 9007199254740992.0;
        double w = pow(10.0, -4.5 + u * 11);
        compare(&b, i % 2 ? w : -w);
        compare(&b, ldexp((double)(next() >> (11 + next() % 40)), -(int)(next() % 60)));
        compare(&b, (double)(next() % 100000000) / pow(10.0, (double)(next() % 12)));
        compare(&b, 120.0 + (u - 0.5) * 0.0000001);
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
        compare_time(&b, ms, &time_mismatches);
    }
    /* Readings in a row, as a stream has them (the day's text is kept between them): steps of
     * up to ten minutes across midnights, before and after the epoch. */
    const long long starts[] = {1767225600000LL - 3600000, -86400000LL * 3 - 1, 253402200000000LL};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        for (long long ms = starts[i], k = 0; k < 2000; k++, ms += (long long)(next() % 600000))
            compare_time(&b, ms, &time_mismatches);
    CHECK(time_mismatches == 0);

    /* Strings: plain ones (the one-copy path), and ones with something to escape anywhere. */
    int string_mismatches = 0;
    bp_buf want;
    bp_buf_init(&want);
    static const unsigned char alphabet[] = "abcXYZ019 -_:/.\"\\\n\t\x01\x7f\xc3\xa9\xe2\x82"
                                            "\xac\xf0\x9f\x98\x80\xff\xc0";
    for (int i = 0; i < 20000; i++) {
        unsigned char text[64];
        size_t n = next() % sizeof text;
        bool plain = i % 2 == 0;
        for (size_t k = 0; k < n; k++)
            text[k] = plain ? alphabet[next() % 15] : alphabet[next() % (sizeof alphabet - 1)];
        /* one byte of any value at any place of a plain text: each byte of the eight that are
         * checked at once must be told apart */
        if (i % 4 == 1 && n > 0) {
            for (size_t k = 0; k < n; k++)
                text[k] = alphabet[next() % 15];
            text[next() % n] = (unsigned char)(next() % 256);
        }
        bp_buf_reset(&b);
        bp_buf_reset(&want);
        bp_buf_put(&b, "x", 1); /* appended after what is there */
        bp_buf_put(&want, "x", 1);
        bp_buf_json_string(&b, (const char *)text, n);
        reference_string(&want, text, n);
        if ((b.len != want.len || memcmp(b.data, want.data, b.len) != 0) &&
            string_mismatches++ < 10)
            fprintf(stderr, "string of %zu bytes: printed %s, expected %s\n", n, b.data,
                    want.data);
    }
    CHECK(string_mismatches == 0);
    bp_buf_free(&want);
    bp_buf_free(&b);
    return CHECK_DONE();
}
