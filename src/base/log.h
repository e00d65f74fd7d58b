/* Process-wide logging to stderr: one line per event, prefixed with time, level and the
 * instance name, or (log_format = json) one JSON object per line with time, level, component,
 * message and the event's own fields. Identical messages from the same place are rate-limited
 * (one per interval, with a count of what was suppressed) so a failure that repeats per record
 * never floods. */
#ifndef BPPIPE_LOG_H
#define BPPIPE_LOG_H

#include "bppipe/plugin.h"

#include <stdarg.h>

/* Messages above `level` (less severe) are dropped. Default BP_LOG_INFO. */
void bp_log_set_level(bp_log_level level);
bp_log_level bp_log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int bp_log_level_parse(const char *text);

typedef enum bp_log_format { BP_LOG_TEXT = 0, BP_LOG_JSON = 1 } bp_log_format;
/* Text by default; BPPIPE_LOG_FORMAT=json in the environment, or [pipeline] log_format. */
void bp_log_set_format(bp_log_format format);
bp_log_format bp_log_get_format(void);
/* Parses "text|json"; returns -1 when unknown. */
int bp_log_format_parse(const char *text);
/* Reads BPPIPE_LOG_FORMAT (ignored when unset or unknown). */
void bp_log_format_from_env(void);

/* One event the run asked for (status line, summary): never rate-limited nor filtered by
 * level. In json, `fields` (members of a JSON object, such as
 * "\"readings_in\":5,\"rate\":2.5", or NULL) follow the message; in text, `text_line` is
 * printed as it is (a line of its own, newline added). */
void bp_log_event(const char *who, bp_log_level level, const char *message, const char *fields,
                  const char *text_line);

/* `who` names the component or instance ("core", "sink.anomalies"); may be NULL. */
void bp_log(const char *who, bp_log_level level, const char *fmt, ...) BP_PRINTF(3, 4);
void bp_logv(const char *who, bp_log_level level, const char *fmt, va_list ap);

/* Forgets the rate-limit history (tests). */
void bp_log_reset_limits(void);

#endif
