#include "json_buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static bool reserve(bp_buf *b, size_t extra)
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
    if (!reserve(b, n))
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
    bp_buf_put(b, &c, 1);
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

void bp_buf_json_string(bp_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    bp_buf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        /* copy plain runs in one go */
        while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
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

/* Whether "%.*g" of v at `prec` digits reads back as v; the text is left in `out`. */
static bool round_trips(double v, int prec, char *out, size_t size)
{
    snprintf(out, size, "%.*g", prec, v);
    return strtod(out, NULL) == v;
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

void bp_buf_json_number(bp_buf *b, double v)
{
    char num[40];
    if (!isfinite(v)) {
        bp_buf_puts(b, "null");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        put_integer(b, v);
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
    if (round_trips(v, 6, num, sizeof num))
        goto done;
    if (ordered && !round_trips(v, 15, num, sizeof num)) {
        if (!round_trips(v, 16, num, sizeof num))
            snprintf(num, sizeof num, "%.17g", v);
        goto done;
    }
    for (int prec = 7; prec < 17; prec++)
        if (round_trips(v, prec, num, sizeof num))
            goto done;
    snprintf(num, sizeof num, "%.17g", v);
done:
    bp_buf_puts(b, num);
}

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

void bp_buf_iso_time(bp_buf *b, long long ms)
{
    long long secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    char out[48];
    if (!gmtime_r(&t, &tm)) {
        bp_buf_puts(b, "null");
        return;
    }
    if (tm.tm_year >= 1000 - 1900 && tm.tm_year <= 9999 - 1900) {
        /* Four-digit years, every reading's: the digits by hand, as strftime would print them
         * (strftime and snprintf were a tenth of a document's cost). */
        char *p = put_digits(out, (unsigned)(tm.tm_year + 1900), 4);
        *p++ = '-';
        p = put_digits(p, (unsigned)tm.tm_mon + 1, 2);
        *p++ = '-';
        p = put_digits(p, (unsigned)tm.tm_mday, 2);
        *p++ = 'T';
        p = put_digits(p, (unsigned)tm.tm_hour, 2);
        *p++ = ':';
        p = put_digits(p, (unsigned)tm.tm_min, 2);
        *p++ = ':';
        p = put_digits(p, (unsigned)tm.tm_sec, 2);
        *p++ = '.';
        p = put_digits(p, (unsigned)rem, 3);
        *p++ = 'Z';
        bp_buf_put(b, out, (size_t)(p - out));
        return;
    }
    size_t n = strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, sizeof out - n, ".%03lldZ", rem);
    bp_buf_puts(b, out);
}

const char *bp_buf_cstr(bp_buf *b)
{
    if (!reserve(b, 0))
        return NULL;
    if (!b->data)
        return "";
    b->data[b->len] = '\0';
    return b->data;
}
