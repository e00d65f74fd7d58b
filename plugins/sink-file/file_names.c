#include "file_names.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void bp_safe_name(const char *in, const char *fallback, size_t max, char *out, size_t out_len)
{
    if (!in || !*in)
        in = fallback;
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < out_len && n < max; p++) {
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || (c == '.' && n > 0);
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
}

static int utc_parts(int64_t ms, struct tm *tm)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    return gmtime_r(&t, tm) ? 0 : -1;
}

int bp_record_file_name(const char *patient, const char *practitioner, int64_t effective_ms,
                        const char *id, char *out, size_t out_len)
{
    char p[72], pr[72], i[120], when[32];
    struct tm tm;
    if (utc_parts(effective_ms, &tm) != 0)
        return -1;
    strftime(when, sizeof when, "%Y%m%d_%H%M%S", &tm);
    bp_safe_name(patient, "unknown", 64, p, sizeof p);
    bp_safe_name(practitioner, "none", 64, pr, sizeof pr);
    bp_safe_name(id, "noid", 110, i, sizeof i);
    int n = snprintf(out, out_len, "%s_%s_%s_%s.json", p, pr, when, i);
    return n > 0 && (size_t)n < out_len ? 0 : -1;
}

uint64_t bp_fnv1a64(const void *data, size_t len, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int bp_invalid_file_name(const void *payload, size_t len, int64_t resource_index, char *out,
                         size_t out_len)
{
    uint64_t h = bp_fnv1a64(payload, len, (uint64_t)resource_index * 0x9E3779B97F4A7C15ull);
    int n = snprintf(out, out_len, "invalid_%016llx.json", (unsigned long long)h);
    return n > 0 && (size_t)n < out_len ? 0 : -1;
}

int bp_hour_file_name(int64_t ms, char *out, size_t out_len)
{
    struct tm tm;
    if (utc_parts(ms, &tm) != 0)
        return -1;
    return strftime(out, out_len, "bp-%Y%m%dT%H.ndjson", &tm) ? 0 : -1;
}
