#include "base/log.h"

#include "common/clock.h"
#include "common/json_buf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic int current_level = BP_LOG_INFO;
static _Atomic int current_format = BP_LOG_TEXT;
/* Delivery lanes log from their own threads: the table below and the line itself are one
 * critical section, so lines never interleave and counts are never lost. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* A small table of recently seen messages for rate limiting: a hash of who+text, when it was
 * last printed and how many copies were swallowed since. Collisions only merge counts. */
#define LIMIT_SLOTS 64
#define LIMIT_INTERVAL_S 10
static struct {
    unsigned long hash;
    time_t last;
    unsigned long suppressed;
} limits[LIMIT_SLOTS];

void bp_log_set_level(bp_log_level level)
{
    current_level = level;
}

bp_log_level bp_log_get_level(void)
{
    return (bp_log_level)current_level;
}

int bp_log_level_parse(const char *text)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (text && strcmp(text, names[i]) == 0)
            return i;
    return -1;
}

void bp_log_set_format(bp_log_format format)
{
    current_format = format;
}

bp_log_format bp_log_get_format(void)
{
    return (bp_log_format)current_format;
}

int bp_log_format_parse(const char *text)
{
    if (text && strcmp(text, "text") == 0)
        return BP_LOG_TEXT;
    if (text && strcmp(text, "json") == 0)
        return BP_LOG_JSON;
    return -1;
}

void bp_log_format_from_env(void)
{
    int f = bp_log_format_parse(getenv("BPPIPE_LOG_FORMAT"));
    if (f >= 0)
        bp_log_set_format((bp_log_format)f);
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* One JSON line: {"time":...,"level":...,"component":...,"message":...[,fields]}. Call under
 * log_lock. */
static void put_json_line(const char *who, bp_log_level level, const char *message,
                          const char *fields)
{
    bp_buf b;
    bp_buf_init(&b);
    bp_buf_puts(&b, "{\"time\":\"");
    bp_buf_iso_time(&b, (long long)bp_wall_ms());
    bp_buf_puts(&b, "\",\"level\":\"");
    bp_buf_puts(&b, level_names[level]);
    bp_buf_puts(&b, "\",\"component\":");
    who = who ? who : "bppipe";
    bp_buf_json_string(&b, who, strlen(who));
    bp_buf_puts(&b, ",\"message\":");
    bp_buf_json_string(&b, message, strlen(message));
    if (fields && *fields) {
        bp_buf_putc(&b, ',');
        bp_buf_puts(&b, fields);
    }
    bp_buf_puts(&b, "}\n");
    if (!b.failed)
        fwrite(b.data, 1, b.len, stderr);
    bp_buf_free(&b);
}

void bp_log_event(const char *who, bp_log_level level, const char *message, const char *fields,
                  const char *text_line)
{
    pthread_mutex_lock(&log_lock);
    if (current_format == BP_LOG_JSON)
        put_json_line(who, level, message, fields);
    else
        fprintf(stderr, "%s\n", text_line);
    pthread_mutex_unlock(&log_lock);
}

static unsigned long hash_text(const char *who, const char *text)
{
    unsigned long h = 5381;
    for (const char *p = who ? who : ""; *p; p++)
        h = h * 33u ^ (unsigned char)*p;
    for (const char *p = text; *p; p++)
        h = h * 33u ^ (unsigned char)*p;
    return h;
}

void bp_log_reset_limits(void)
{
    pthread_mutex_lock(&log_lock);
    memset(limits, 0, sizeof limits);
    pthread_mutex_unlock(&log_lock);
}

void bp_logv(const char *who, bp_log_level level, const char *fmt, va_list ap)
{
    const char *const *tags = level_names;
    if ((int)level > current_level)
        return;
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);

    time_t now = (time_t)(bp_wall_ms() / 1000); /* whole seconds: the text stamp and the limits */
    unsigned long suppressed = 0;
    pthread_mutex_lock(&log_lock);
    if (level != BP_LOG_DEBUG) {
        unsigned long h = hash_text(who, text);
        unsigned slot = (unsigned)(h % LIMIT_SLOTS);
        if (limits[slot].hash == h && now - limits[slot].last < LIMIT_INTERVAL_S) {
            limits[slot].suppressed++;
            pthread_mutex_unlock(&log_lock);
            return;
        }
        suppressed = limits[slot].hash == h ? limits[slot].suppressed : 0;
        limits[slot].hash = h;
        limits[slot].last = now;
        limits[slot].suppressed = 0;
    }
    if (current_format == BP_LOG_JSON) {
        char fields[64] = "";
        if (suppressed)
            snprintf(fields, sizeof fields, "\"repeated\":%lu", suppressed);
        put_json_line(who, level, text, fields);
        pthread_mutex_unlock(&log_lock);
        return;
    }
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (suppressed)
        fprintf(stderr, "%s %-5s [%s] %s (repeated %lu more times)\n", stamp, tags[level],
                who ? who : "bppipe", text, suppressed);
    else
        fprintf(stderr, "%s %-5s [%s] %s\n", stamp, tags[level], who ? who : "bppipe", text);
    pthread_mutex_unlock(&log_lock);
}

void bp_log(const char *who, bp_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bp_logv(who, level, fmt, ap);
    va_end(ap);
}
