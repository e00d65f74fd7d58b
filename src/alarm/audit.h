/* The acknowledgement audit ([alarms] audit_file, docs/alarms.md): one JSON object per line
 * for every acknowledgement request the listener answered, accepted or not: when, who (the
 * user the token named, null when none did), which alarm, from which address, and the
 * outcome. The file is only ever appended to (O_APPEND, one write per line) and each line is
 * on disk (fsync) before the request is answered; it is created with mode 0600 and refused
 * when it is readable by others, since it says who looked after which patient. No token is
 * ever written. Safe from any thread (one lock). */
#ifndef BPPIPE_ALARM_AUDIT_H
#define BPPIPE_ALARM_AUDIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct bp_audit bp_audit;

typedef struct bp_audit_entry {
    int64_t time_ms;      /* wall clock, written as ISO 8601 UTC */
    const char *user;     /* NULL: no valid token (written as null) */
    const char *alarm_id; /* as requested (NULL: none) */
    const char *remote;   /* the peer's address, "IP:PORT" (NULL: unknown) */
    const char *outcome;  /* acknowledged, accepted, already_acknowledged, unauthorized,
                             not_found, unavailable (docs/alarms.md) */
} bp_audit_entry;

/* Opens (creating with mode 0600) `path` for appending. Refused, with err saying what to do,
 * when it is not a regular file, is a symbolic link, belongs to another user or has any
 * permission for group or others (chmod 600 FILE). NULL on refusal. */
bp_audit *bp_audit_open(const char *path, char *err, size_t err_len);

/* What bp_audit_open would refuse, without creating or writing anything (`bppipe check`): an
 * existing file as above, or a missing one whose folder does not exist. 0, or -1 with err. */
int bp_audit_check_path(const char *path, char *err, size_t err_len);

/* The line for `e` (with its '\n') into out; the length written, or 0 when it did not fit. */
size_t bp_audit_format(const bp_audit_entry *e, char *out, size_t size);

/* Appends `e` as one line and fsyncs. 0, or -1 (errno kept) when the line could not be made
 * durable: the caller then answers the request with an error, so nothing unaudited succeeds. */
int bp_audit_append(bp_audit *a, const bp_audit_entry *e);

void bp_audit_close(bp_audit *a);

#endif
