#include "fhir/fhir_time.h"

#include "common/clock.h"

#include <ctype.h>
#include <string.h>

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

int bp_fhir_parse_time(const char *text, int64_t *ms)
{
    const char *p = text;
    int y, mo = 1, d = 1, h = 0, mi = 0, s = 0, frac_ms = 0;
    if (!p || digits(&p, 4, &y) != 0)
        return -1;
    if (*p == '-') {
        p++;
        if (digits(&p, 2, &mo) != 0 || mo < 1 || mo > 12)
            return -1;
        if (*p == '-') {
            p++;
            if (digits(&p, 2, &d) != 0 || d < 1 || d > days_in_month(y, mo))
                return -1;
        }
    }
    int64_t offset_min = 0;
    if (*p == 'T') {
        p++;
        if (digits(&p, 2, &h) != 0 || h > 23 || *p++ != ':' || digits(&p, 2, &mi) != 0 ||
            mi > 59)
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &s) != 0 || s > 60) /* 60: a leap second, folded below */
                return -1;
            if (*p == '.') {
                p++;
                int scale = 100, n = 0;
                while (isdigit((unsigned char)*p)) {
                    if (scale)
                        frac_ms += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                    n++;
                }
                if (n == 0)
                    return -1;
            }
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if (digits(&p, 2, &oh) != 0 || oh > 14 || *p++ != ':' || digits(&p, 2, &om) != 0 ||
                om > 59)
                return -1;
            offset_min = sign * (oh * 60 + om);
        } else {
            return -1;
        }
    }
    if (*p)
        return -1;
    if (s == 60)
        s = 59;
    int64_t secs = bp_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s -
                   offset_min * 60;
    *ms = secs * 1000 + frac_ms;
    return 0;
}
