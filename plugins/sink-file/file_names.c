#include "file_names.h"

#include "common/sha256.h"

#include <stdbool.h>
#include <stdint.h>
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

static bool name_char(char c, size_t at)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           (c == '.' && at > 0);
}

void bp_name_part(const char *in, const char *fallback, char *out, size_t out_len)
{
    if (!in || !*in)
        in = fallback;
    size_t len = strlen(in), n = 0;
    bool as_is = len <= BP_NAME_PART_MAX;
    for (size_t i = 0; as_is && i < len; i++)
        as_is = name_char(in[i], i);
    if (as_is) {
        snprintf(out, out_len, "%s", in);
        return;
    }
    /* Shortened or made safe: a readable prefix, then what tells it apart from every other. */
    bp_safe_name(in, fallback, BP_NAME_PREFIX, out, out_len);
    n = strlen(out);
    uint8_t digest[32];
    bp_sha256(in, len, digest);
    if (n + 1 < out_len)
        out[n++] = '~';
    for (int i = 0; i < BP_NAME_HASH_HEX / 2 && n + 2 < out_len; i++)
        n += (size_t)snprintf(out + n, out_len - n, "%02x", digest[i]);
    out[n] = '\0';
}

int bp_record_file_name(const char *patient, const char *practitioner, int64_t effective_ms,
                        const char *id, char *out, size_t out_len)
{
    char p[BP_NAME_PART_MAX + 1], pr[BP_NAME_PART_MAX + 1], i[BP_NAME_PART_MAX + 1], when[32];
    struct tm tm;
    if (utc_parts(effective_ms, &tm) != 0 || !strftime(when, sizeof when, "%Y%m%d_%H%M%S", &tm))
        return -1;
    bp_name_part(patient, "unknown", p, sizeof p);
    bp_name_part(practitioner, "none", pr, sizeof pr);
    bp_name_part(id, "noid", i, sizeof i);
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

int bp_invalid_file_name(const void *payload, size_t len, int64_t offset, int64_t resource_index,
                         char *out, size_t out_len)
{
    uint64_t seed = (uint64_t)offset * 0x9E3779B97F4A7C15ull;
    /* The position inside the payload only when there is one, so the name of a dead letter of
     * a whole payload is the one earlier versions gave it (a replay overwrites it). */
    if (resource_index >= 0)
        seed ^= ((uint64_t)resource_index + 1) * 0xC2B2AE3D27D4EB4Full;
    uint64_t h = bp_fnv1a64(payload, len, seed);
    int n = snprintf(out, out_len, "invalid_%016llx.json", (unsigned long long)h);
    return n > 0 && (size_t)n < out_len ? 0 : -1;
}

int64_t bp_doc_resource_index(const char *doc, size_t len)
{
    static const char key[] = "\"resource_index\":";
    const size_t klen = sizeof key - 1;
    /* Inside a JSON string every '"' is escaped, so the key with its quotes and colon is only
     * ever the field's own key: the payload a dead letter carries cannot fake it. */
    for (const char *p = doc, *end = doc + len; (size_t)(end - p) > klen; p++) {
        p = memchr(p, '"', (size_t)(end - p) - klen);
        if (!p)
            break;
        if (memcmp(p, key, klen) != 0)
            continue;
        const char *d = p + klen;
        while (d < end && *d == ' ')
            d++;
        int64_t v = 0;
        const char *digits = d;
        while (d < end && *d >= '0' && *d <= '9' && v < INT32_MAX)
            v = v * 10 + (*d++ - '0');
        return d > digits ? v : -1;
    }
    return -1;
}

/* The last hour a thread named: an archive names every reading's file, and a batch's readings
 * nearly all fall in one hour (gmtime and strftime were 1 200 instructions a reading). */
typedef struct named_hour {
    bool valid;
    int64_t hour; /* hours since the epoch */
    char name[32];
} named_hour;

static _Thread_local named_hour last_hour;

int bp_hour_file_name(int64_t ms, char *out, size_t out_len)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int64_t hour = secs >= 0 ? secs / 3600 : (secs - 3599) / 3600;
    if (!last_hour.valid || last_hour.hour != hour) {
        struct tm tm;
        last_hour.valid = utc_parts(ms, &tm) == 0 && strftime(last_hour.name, sizeof last_hour.name,
                                                              "bp-%Y%m%dT%H.ndjson", &tm);
        last_hour.hour = hour;
    }
    size_t n = strlen(last_hour.name);
    if (!last_hour.valid || n + 1 > out_len)
        return -1;
    memcpy(out, last_hour.name, n + 1);
    return 0;
}
