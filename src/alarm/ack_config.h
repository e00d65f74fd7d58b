/* The [alarms] keys of the acknowledgement path (docs/alarms.md, "Acknowledging"):
 * users_file, the people who may acknowledge and their tokens (src/alarm/users.h), and
 * audit_file, where every acknowledgement request is written down (src/alarm/audit.h). The
 * [alarms] section itself is declared and parsed with the alarm stage's keys; its options
 * table takes these through BP_ALARM_ACK_OPTIONS, and the files are checked here. */
#ifndef BPPIPE_ALARM_ACK_CONFIG_H
#define BPPIPE_ALARM_ACK_CONFIG_H

#include "bppipe/plugin.h"
#include "config/config.h"

/* For the [alarms] options table: `BP_ALARM_ACK_OPTIONS,` among its entries. */
#define BP_ALARM_ACK_OPTIONS                                                                       \
    BP_OPTION_STRING("users_file", NULL, 0,                                                        \
                     "file of `NAME TOKEN` lines: who may acknowledge alarms over the listener "   \
                     "(Authorization: Bearer TOKEN); mode 0600 or 0400, owned by the user "        \
                     "bppipe runs as; unset: nobody can acknowledge"),                             \
        BP_OPTION_STRING("audit_file", NULL, 0,                                                    \
                         "file every acknowledgement request is appended to, one JSON line "       \
                         "(time, user, alarm_id, remote, outcome), created with mode 0600; "       \
                         "required with users_file")

/* The two files of cfg's [alarms] section (NULL when unset or no such section). */
const char *bp_alarm_users_file(const bp_config *cfg);
const char *bp_alarm_audit_file(const bp_config *cfg);

/* What a run would refuse, added to errs with the key's file and line: a users_file that
 * bp_users_load refuses (readable by others, malformed), an audit_file that cannot be
 * appended to, or one of the two without the other (an acknowledgement must be audited).
 * Writes nothing. Returns the number of errors added. */
size_t bp_alarm_ack_check(const bp_config *cfg, bp_errors *errs);

#endif
