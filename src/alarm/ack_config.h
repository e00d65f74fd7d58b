/* The [alarms] keys of the acknowledgement path (docs/alarms.md, "Acknowledging"):
 * users_file, the people who may acknowledge and their tokens (src/alarm/users.h), and
 * audit_file, where every acknowledgement request is written down (src/alarm/audit.h). The
 * [alarms] section is parsed with the alarm stage's keys (alarm_config.c accepts these two);
 * the files they name are checked here. */
#ifndef BPPIPE_ALARM_ACK_CONFIG_H
#define BPPIPE_ALARM_ACK_CONFIG_H

#include "config/config.h"

/* The two files of cfg's [alarms] section (NULL when unset or no such section). */
const char *bp_alarm_users_file(const bp_config *cfg);
const char *bp_alarm_audit_file(const bp_config *cfg);

/* What a run would refuse, added to errs with the key's file and line: a users_file that
 * bp_users_load refuses (readable by others, malformed), an audit_file that cannot be
 * appended to, or one of the two without the other (an acknowledgement must be audited).
 * Writes nothing. Returns the number of errors added. */
size_t bp_alarm_ack_check(const bp_config *cfg, bp_errors *errs);

#endif
