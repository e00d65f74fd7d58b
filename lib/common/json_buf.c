#include "common/json_buf.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

void bp_buf_init(bp_buf *b)
{
    memset(b, 0, sizeof *b);
}

void bp_buf_free(bp_buf *b)
{
    free(b->data);
    bp_buf_init(b);
}

void bp_buf_reset(bp_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

bool bp_buf_grow(bp_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void bp_buf_put(bp_buf *b, const char *s, size_t n)
{
    if (!bp_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void bp_buf_puts(bp_buf *b, const char *s)
{
    bp_buf_put(b, s, strlen(s));
}

void bp_buf_putc(bp_buf *b, char c)
{
    if (!bp_buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void bp_buf_printf(bp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!bp_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes are not valid UTF-8. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

static bool plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Whether any of the eight bytes of x needs escaping: one is below 0x20, has its high bit, or is
 * a quote or a backslash. (x - 0x20..) & ~x & 0x80.. is set exactly when some byte is below
 * 0x20, and likewise for a zero byte of x ^ '"'.. and x ^ '\\'.. (the classic "has less"). */
static bool word_needs_escape(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    uint64_t t = ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) |
                 ((backslash - ones) & ~backslash) | x;
    return (t & highs) != 0;
}

/* The first byte of s[0..n) that needs escaping, or n; byte by byte. */
static size_t plain_bytes(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && plain_byte(p[i]))
        i++;
    return i;
}

#ifdef __SSE2__
/* Where in the 16 bytes at p the first one needing escaping is, or 16: as signed bytes, the
 * control characters and every byte from 0x80 are below 0x20. */
static unsigned first_escape16(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                               _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    unsigned mask = (unsigned)_mm_movemask_epi8(bad);
    return mask ? (unsigned)__builtin_ctz(mask) : 16;
}
#endif

size_t bp_json_plain_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
#ifdef __SSE2__
    if (n >= 16) {
        /* sixteen bytes at a time (a document's ids are 36), the last sixteen overlapping what
         * was checked already */
        for (size_t i = 0; i + 16 <= n; i += 16) {
            unsigned at = first_escape16(p + i);
            if (at < 16)
                return i + at;
        }
        return n - 16 + first_escape16(p + n - 16);
    }
#endif
    /* eight bytes at a time, the last eight overlapping what was checked already; the bytes
     * locate a hit */
    size_t i = 0;
    uint64_t x;
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, p + i, 8);
        if (word_needs_escape(x))
            return i + plain_bytes(p + i, 8);
    }
    if (i < n && n >= 8) {
        memcpy(&x, p + n - 8, 8);
        if (!word_needs_escape(x))
            return n;
    } else if (n >= 4 && n < 8) {
        /* the first four bytes and the last four as one word ("final", "PAT-005") */
        uint32_t head, tail;
        memcpy(&head, p, 4);
        memcpy(&tail, p + n - 4, 4);
        if (!word_needs_escape(head | (uint64_t)tail << 32))
            return n;
    }
    return i + plain_bytes(p + i, n - i);
}

void bp_buf_json_string(bp_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (bp_json_plain_prefix(s, n) == n) {
        /* Nothing to escape, as nearly every key and value: one copy with its quotes. */
        if (!bp_buf_reserve(b, n + 2))
            return;
        char *d = b->data + b->len;
        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        d[n + 2] = '\0';
        b->len += n + 2;
        return;
    }
    bp_buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        /* copy plain runs in one go */
        size_t run = i + bp_json_plain_prefix(s + i, n - i);
        if (run > i)
            bp_buf_put(b, s + i, run - i);
        i = run;
        if (i >= n)
            break;
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            bp_buf_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[8];
            switch (c) {
            case '\n': bp_buf_put(b, "\\n", 2); break;
            case '\r': bp_buf_put(b, "\\r", 2); break;
            case '\t': bp_buf_put(b, "\\t", 2); break;
            default:
                snprintf(esc, sizeof esc, "\\u%04x", c);
                bp_buf_puts(b, esc);
            }
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                bp_buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD replacement character */
                i++;
            } else {
                bp_buf_put(b, s + i, len);
                i += len;
            }
        }
    }
    bp_buf_putc(b, '"');
}

/* v's 17 significant digits, from one printf: what "%.*g" prints at any precision is derived
 * from them (rounding them again is exact but where they end in 5, 50, ...: then printf). */
typedef struct digits17 {
    double v;
    bool negative, normal;
    char d[17]; /* '0'..'9' */
    int exp;    /* of the first digit */
} digits17;

static void digits_of(digits17 *g, double v)
{
    char e[40];
    snprintf(e, sizeof e, "%.16e", v); /* [-]d.dddddddddddddddde[+-]X */
    const char *p = e;
    g->v = v;
    g->negative = *p == '-';
    if (g->negative)
        p++;
    g->d[0] = *p++;
    p++; /* the point */
    memcpy(g->d + 1, p, 16);
    g->exp = atoi(p + 17);
    g->normal = fabs(v) >= DBL_MIN;
}

/* "%.*g" of g->v at `prec` (1..17) into out, or false when the digits cannot tell the rounding
 * (or, with `only_if_close`, when the result cannot read back as v: then out is untouched). */
static bool format_g(const digits17 *g, int prec, bool only_if_close, char *out, size_t size)
{
    char d[18];
    int x = g->exp;
    memcpy(d, g->d, (size_t)prec);
    if (prec < 17) {
        /* The dropped digits as a number, against half of 10^(their count). */
        unsigned long long dropped = 0, full = 1;
        for (int i = prec; i < 17; i++) {
            dropped = dropped * 10 + (unsigned)(g->d[i] - '0');
            full *= 10;
        }
        if (dropped * 2 == full)
            return false; /* exactly half: only printf knows which side v is on */
        bool up = dropped * 2 > full;
        /* v's rounding interval is at most 11.1 units of the 17th digit either side (normal
         * numbers), and the 17 digits are within half a unit of v: farther than 12 units, the
         * shorter text cannot read back as v. */
        unsigned long long off = up ? full - dropped : dropped;
        if (only_if_close && g->normal && off > 12)
            return false;
        if (up) {
            int i = prec - 1;
            for (; i >= 0 && d[i] == '9'; i--)
                d[i] = '0';
            if (i >= 0) {
                d[i]++;
            } else { /* 9.99 -> 10.0 */
                memmove(d + 1, d, (size_t)prec - 1);
                d[0] = '1';
                x++;
            }
        }
    }
    int n = prec;
    while (n > 1 && d[n - 1] == '0')
        n--; /* %g drops trailing zeros */
    char *o = out;
    if (g->negative)
        *o++ = '-';
    if (x < -4 || x >= prec) {
        *o++ = d[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)n - 1);
            o += n - 1;
        }
        snprintf(o, size - (size_t)(o - out), "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
        return true;
    }
    if (x < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > x; i--)
            *o++ = '0';
        memcpy(o, d, (size_t)n);
        o += n;
    } else {
        memcpy(o, d, (size_t)x + 1 < (size_t)n ? (size_t)x + 1 : (size_t)n);
        o += x + 1 < n ? x + 1 : n;
        for (int i = n; i <= x; i++)
            *o++ = '0';
        if (n > x + 1) {
            *o++ = '.';
            memcpy(o, d + x + 1, (size_t)(n - x - 1));
            o += n - x - 1;
        }
    }
    *o = '\0';
    return true;
}

/* Whether "%.*g" of v at `prec` digits reads back as v; the text is left in `out` when it
 * does. Most shorter forms are told apart from the digits alone, without printf or strtod. */
static bool round_trips(const digits17 *g, int prec, char *out, size_t size)
{
    char text[40];
    if (!format_g(g, prec, true, text, sizeof text)) {
        if (format_g(g, prec, false, text, sizeof text))
            return false; /* too far from v to read back */
        snprintf(text, sizeof text, "%.*g", prec, g->v); /* exactly half way in the digits */
    }
    if (strtod(text, NULL) != g->v)
        return false;
    snprintf(out, size, "%s", text);
    return true;
}

/* Digits of an integer of at most 15 digits, as "%.0f" prints it ("-0" for negative zero). */
static void put_integer(bp_buf *b, double v)
{
    char num[24], *end = num + sizeof num, *p = end;
    bool negative = signbit(v);
    unsigned long long u = (unsigned long long)fabs(v);
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (negative)
        *--p = '-';
    bp_buf_put(b, p, (size_t)(end - p));
}

/* ---- exact shortest digits, without printf or strtod ------------------------------------------
 * For a non-integer 1e-4 <= |v| < 1e6 (every probability, z-score, baseline and mean a detector
 * computes), v = m * 2^-sh with sh in 32..66, and m * 10^k (k <= 20) fits in 128 bits: the
 * rounding of v to P significant digits and whether that decimal reads back as v are exact
 * integer comparisons. The printf of digits_of and the strtod of round_trips were most of a
 * document's number cost. Compilers without a 128-bit integer take the general path. */
#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 bp_u128;

static const unsigned long long pow10_u64[] = {1ULL,
                                               10ULL,
                                               100ULL,
                                               1000ULL,
                                               10000ULL,
                                               100000ULL,
                                               1000000ULL,
                                               10000000ULL,
                                               100000000ULL,
                                               1000000000ULL,
                                               10000000000ULL,
                                               100000000000ULL,
                                               1000000000000ULL,
                                               10000000000000ULL,
                                               100000000000000ULL,
                                               1000000000000000ULL,
                                               10000000000000000ULL,
                                               100000000000000000ULL,
                                               1000000000000000000ULL,
                                               10000000000000000000ULL};

static bp_u128 pow10_u128(int k)
{
    return k < 20 ? (bp_u128)pow10_u64[k] : (bp_u128)pow10_u64[19] * pow10_u64[k - 19];
}

/* v = m / 2^sh (first digit's exponent x) rounded to `prec` significant digits, to nearest and
 * ties to even as printf rounds v's exact value: the digits in *q, the first digit's exponent
 * after rounding in *xp (x + 1 when 9.99.. rounded up to 10.0), and whether that decimal reads
 * back as v. With k = prec - 1 - x, q / 10^k reads back when it lies in v's rounding interval,
 * half a unit of v's last bit either side, the borders included when m is even (strtod's ties
 * go to even); scaled by 2^(sh+1) 10^k: when 2 |q 2^sh - m 10^k| is below (or, m even, equal
 * to) 10^k, where |q 2^sh - m 10^k| is what the rounding dropped or added. */
static bool rounds_back(unsigned long long m, int sh, int x, int prec, unsigned long long *q,
                        int *xp)
{
    bp_u128 p = pow10_u128(prec - 1 - x), num = (bp_u128)m * p;
    bp_u128 down = num >> sh, dropped = num - (down << sh), half = (bp_u128)1 << (sh - 1);
    bool up = dropped > half || (dropped == half && (down & 1));
    *q = (unsigned long long)down + up;
    *xp = *q >= pow10_u64[prec] ? x + 1 : x;
    bp_u128 gap = up ? ((bp_u128)1 << sh) - dropped : dropped;
    return 2 * gap < p || ((m & 1) == 0 && 2 * gap == p);
}

/* "00" .. "99": decimal digits written two at a time. */
static const char digit_pairs[] = "000102030405060708091011121314151617181920212223242526272829"
                                   "303132333435363738394041424344454647484950515253545556575859"
                                   "606162636465666768697071727374757677787980818283848586878889"
                                   "90919293949596979899";

/* The n last decimal digits of q into p[0..n). */
static void put_digit_run(char *p, unsigned long long q, int n)
{
    for (; n >= 2; n -= 2, q /= 100)
        memcpy(p + n - 2, digit_pairs + 2 * (q % 100), 2);
    if (n)
        p[0] = (char)('0' + q % 10);
}

/* "%.*g" of the decimal q at `prec` digits (first digit's exponent xp, -4 <= xp < prec): no
 * exponent, trailing zeros dropped. */
static size_t write_fixed(char *out, bool negative, unsigned long long q, int prec, int xp, int x)
{
    char digits[20];
    int n = prec;
    if (xp != x)
        q /= 10; /* 10^prec: the same prec digits, one place up */
    put_digit_run(digits, q, n);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    char *o = out;
    if (negative)
        *o++ = '-';
    if (xp >= 0) {
        memcpy(o, digits, (size_t)xp + 1);
        o += xp + 1;
        if (n > xp + 1) {
            *o++ = '.';
            memcpy(o, digits + xp + 1, (size_t)(n - xp - 1));
            o += n - xp - 1;
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > xp; i--)
            *o++ = '0';
        memcpy(o, digits, (size_t)n);
        o += n;
    }
    *o = '\0';
    return (size_t)(o - out);
}

/* The smallest P in lo..hi whose rounding reads back, or 0 when none does; its digits and
 * exponent (rounds_back's) in *q and *xp, left as they were when none does. With v's rounding
 * interval symmetric (v is no power of two), P digits reading back means P + 1 do too, as the
 * nearest decimal of P + 1 digits is never farther from v than that of P: a bisection. */
static int shortest_prec(unsigned long long m, int sh, int x, int lo, int hi, unsigned long long *q,
                         int *xp)
{
    int found = 0;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        unsigned long long mq;
        int mxp;
        if (rounds_back(m, sh, x, mid, &mq, &mxp)) {
            found = mid;
            *q = mq;
            *xp = mxp;
            hi = mid - 1;
        } else {
            lo = mid + 1;
        }
    }
    return found;
}

/* 1e-4 .. 1e5 as doubles: each is 10^x or the double just above it, so for a double a,
 * a >= 10^x exactly when a >= pow10_double[x + 4] (no double lies between the two). */
static const double pow10_double[] = {1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5};

/* "%.*g" of v at the shortest P in 6..17 that reads back, when v is in the range above and that
 * text has no exponent; its length, or 0 otherwise (the caller takes the general path). */
static size_t shortest_exact(double v, char *out)
{
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e6))
        return 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned long long frac = bits & ((1ULL << 52) - 1);
    if (frac == 0)
        return 0; /* a power of two: the gap below it is half the one above */
    unsigned long long m = frac | (1ULL << 52);
    int sh = 1075 - (int)((bits >> 52) & 0x7ff); /* v = m / 2^sh */
    int x = 5; /* the exponent of v's first digit: 10^x <= a < 10^(x+1) */
    while (a < pow10_double[x + 4])
        x--;
    unsigned long long q;
    int xp, prec = 6;
    bool short_enough = rounds_back(m, sh, x, 6, &q, &xp);
    if (xp >= 6)
        return 0; /* 999999.5 and up: "%g" writes 1e+06 */
    if (!short_enough) {
        /* A computed value (a probability, a mean) needs 15 to 17 digits: 15 tells which side
         * to bisect. Above 6 digits and below 1e6, "%g" writes no exponent. */
        if (rounds_back(m, sh, x, 15, &q, &xp)) {
            int shorter = shortest_prec(m, sh, x, 7, 14, &q, &xp);
            prec = shorter ? shorter : 15;
        } else if (!(prec = shortest_prec(m, sh, x, 16, 17, &q, &xp))) {
            return 0;
        }
    }
    return write_fixed(out, v < 0, q, prec, xp, x);
}
#else
static size_t shortest_exact(double v, char *out)
{
    (void)v;
    (void)out;
    return 0;
}
#endif

void bp_buf_json_number(bp_buf *b, double v)
{
    char num[40];
    if (!isfinite(v)) {
        bp_buf_puts(b, "null");
        return;
    }
    if (fabs(v) < 1e15 && v == (double)(long long)v) { /* (long long) drops the fraction */
        put_integer(b, v);
        return;
    }
    size_t n = shortest_exact(v, num);
    if (n) {
        bp_buf_put(b, num, n);
        return;
    }
    /* The shortest of 6..16 significant digits that reads back as v, else 17. Each try is a
     * printf and a strtod, so the search is ordered: 6 digits (short values), then 15. When 15
     * digits do not read back, no fewer do: the nearest p-digit decimal is never nearer to v
     * than the nearest q-digit one (q > p), and below 1e15 no decimal of at most 17 digits lies
     * exactly on the border of v's rounding interval, which is symmetric except when v is a
     * power of two. Powers of two and large values take every step, as all did before (a
     * computed probability needs 16 or 17 digits: 3 tries instead of 12). */
    int m;
    bool ordered = fabs(v) < 1e15 && frexp(v, &m) != 0.5 && frexp(v, &m) != -0.5;
    digits17 g;
    digits_of(&g, v);
    if (round_trips(&g, 6, num, sizeof num))
        goto done;
    if (ordered && !round_trips(&g, 15, num, sizeof num)) {
        if (!round_trips(&g, 16, num, sizeof num))
            format_g(&g, 17, false, num, sizeof num);
        goto done;
    }
    for (int prec = 7; prec < 17; prec++)
        if (round_trips(&g, prec, num, sizeof num))
            goto done;
    format_g(&g, 17, false, num, sizeof num);
done:
    bp_buf_puts(b, num);
}

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* The "YYYY-MM-DDT" of the last day a thread wrote, so that gmtime runs once a day, not once a
 * document (a day is 86 400 s in UTC, which has no leap seconds for time_t). */
typedef struct iso_day {
    bool valid;
    long long day; /* days since the epoch */
    char text[11];
} iso_day;

static _Thread_local iso_day last_day;

/* Sets `to` to the day `secs` falls in; false when it has no four-digit year. */
static bool day_text(iso_day *to, long long secs)
{
    long long day = secs / 86400 - (secs % 86400 < 0);
    if (to->valid && to->day == day)
        return true;
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < 1000 - 1900 || tm.tm_year > 9999 - 1900)
        return false;
    char *p = put_digits(to->text, (unsigned)(tm.tm_year + 1900), 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)tm.tm_mday, 2);
    *p = 'T';
    to->day = day;
    to->valid = true;
    return true;
}

void bp_buf_iso_time(bp_buf *b, long long ms)
{
    long long secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs -= 1;
    }
    char out[48];
    if (day_text(&last_day, secs)) {
        /* Four-digit years, every reading's: the digits by hand, as strftime would print them
         * (strftime and snprintf were a tenth of a document's cost). */
        unsigned in_day = (unsigned)(secs - last_day.day * 86400);
        memcpy(out, last_day.text, sizeof last_day.text);
        char *p = put_digits(out + sizeof last_day.text, in_day / 3600, 2);
        *p++ = ':';
        p = put_digits(p, in_day / 60 % 60, 2);
        *p++ = ':';
        p = put_digits(p, in_day % 60, 2);
        *p++ = '.';
        p = put_digits(p, (unsigned)rem, 3);
        *p++ = 'Z';
        bp_buf_put(b, out, (size_t)(p - out));
        return;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        bp_buf_puts(b, "null");
        return;
    }
    size_t n = strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, sizeof out - n, ".%03lldZ", rem);
    bp_buf_puts(b, out);
}

const char *bp_buf_cstr(bp_buf *b)
{
    if (!bp_buf_reserve(b, 0))
        return NULL;
    if (!b->data)
        return "";
    b->data[b->len] = '\0';
    return b->data;
}
