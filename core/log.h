/* Process-wide logging to stderr: one line per event, prefixed with time, level and the
 * instance name. Identical messages from the same place are rate-limited (one per interval,
 * with a count of what was suppressed) so a failure that repeats per record never floods. */
#ifndef BPPIPE_LOG_H
#define BPPIPE_LOG_H

#include "bppipe/plugin.h"

#include <stdarg.h>

/* Messages above `level` (less severe) are dropped. Default BP_LOG_INFO. */
void bp_log_set_level(bp_log_level level);
bp_log_level bp_log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int bp_log_level_parse(const char *text);

/* `who` names the component or instance ("core", "sink.anomalies"); may be NULL. */
void bp_log(const char *who, bp_log_level level, const char *fmt, ...) BP_PRINTF(3, 4);
void bp_logv(const char *who, bp_log_level level, const char *fmt, va_list ap);

/* Forgets the rate-limit history (tests). */
void bp_log_reset_limits(void);

#endif
