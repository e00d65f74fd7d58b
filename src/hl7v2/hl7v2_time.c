#include "hl7v2/hl7v2_time.h"

#include "common/clock.h"

static int digits(const char *s, int n, int at, int count, int *v)
{
    if (at + count > n)
        return -1;
    int x = 0;
    for (int i = 0; i < count; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return -1;
        x = x * 10 + (c - '0');
    }
    *v = x;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int bp_hl7_time_parse(const char *s, int n, bp_hl7_time *out)
{
    *out = (bp_hl7_time){0};
    int end = 0;
    while (end < n && s[end] != '+' && s[end] != '-')
        end++;
    int y = 0, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0;
    int len = end, at = 0;
    if (digits(s, len, 0, 4, &y) != 0)
        return -1;
    at = 4;
    if (at < len && digits(s, len, at, 2, &mo) != 0)
        return -1;
    at = at < len ? at + 2 : at;
    if (at < len && digits(s, len, at, 2, &d) != 0)
        return -1;
    at = at < len ? at + 2 : at;
    if (at < len) {
        if (digits(s, len, at, 2, &h) != 0)
            return -1;
        out->has_clock = true;
        at += 2;
    }
    if (at < len) {
        if (digits(s, len, at, 2, &mi) != 0)
            return -1;
        at += 2;
    }
    if (at < len) {
        if (digits(s, len, at, 2, &sec) != 0)
            return -1;
        at += 2;
    }
    if (at < len) {
        if (s[at] != '.' || at + 1 >= len || len - at - 1 > 4)
            return -1;
        int frac = 0, k = len - at - 1;
        if (digits(s, len, at + 1, k, &frac) != 0)
            return -1;
        for (int i = k; i < 3; i++)
            frac *= 10;
        for (int i = 3; i < k; i++)
            frac /= 10;
        ms = frac;
        at = len;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return -1;
    if (end < n) {
        int zh, zm;
        if (n - end != 5 || digits(s, n, end + 1, 2, &zh) != 0 ||
            digits(s, n, end + 3, 2, &zm) != 0 || zh > 14 || zm > 59)
            return -1;
        out->has_zone = true;
        out->zone_min = (s[end] == '-' ? -1 : 1) * (zh * 60 + zm);
    }
    out->local_ms = ((bp_days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000LL +
                    sec * 1000LL + ms;
    return 0;
}

int bp_hl7_time_utc(const bp_hl7_time *t, bool fallback_ok, int fallback_zone_min, int64_t *ms)
{
    int zone = 0;
    if (t->has_zone)
        zone = t->zone_min;
    else if (fallback_ok)
        zone = fallback_zone_min;
    else if (t->has_clock)
        return -1;
    *ms = t->local_ms - zone * 60000LL;
    return 0;
}
