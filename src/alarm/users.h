/* The users who may acknowledge alarms ([alarms] users_file, docs/alarms.md): a text file of
 * `NAME TOKEN` lines, `#` comments and blank lines. The file is a secret, so it is refused
 * unless it is a regular file that only its owner, the user bppipe runs as, can read or write
 * (mode 0600 or 0400). Only the SHA-256 of each token is kept in memory, and a lookup compares
 * the digest of the token given with every user's, whatever matched, so neither the time it
 * takes nor a log line tells anything of a token. Pure: no thread, no global. */
#ifndef BPPIPE_ALARM_USERS_H
#define BPPIPE_ALARM_USERS_H

#include <stddef.h>

typedef struct bp_users bp_users;

/* The shortest token accepted: a guessable token would make the audit's "who" worthless. */
#define BP_USERS_MIN_TOKEN 16
/* The longest user name (the audit and the acknowledged event carry it). */
#define BP_USERS_MAX_NAME 64
/* The largest users file read. */
#define BP_USERS_MAX_BYTES (1024 * 1024)

/* Whether `path` may hold tokens: a regular file (not a link, folder or device), owned by the
 * running user, with no permission for group or others and no execute bit (0600 or 0400).
 * Returns 0, or -1 with a message in err that says what to do (`chmod 600 FILE`, `chown`). */
int bp_users_check_file(const char *path, char *err, size_t err_len);

/* Checks the file as above and reads its users. Each line is `NAME TOKEN` (one or more spaces
 * or tabs between, none inside either); blank lines and lines whose first non-blank character
 * is `#` are skipped. Refused, with the file and line (never the token) in err: a line of
 * another shape, a name of other characters than letters, digits and . _ @ -, a token shorter
 * than BP_USERS_MIN_TOKEN, a name or a token given twice, a file with no user. NULL on
 * refusal. */
bp_users *bp_users_load(const char *path, char *err, size_t err_len);

/* The name of the user whose token is `token` (`len` bytes), or NULL when none is: every
 * user's digest is compared in full whatever the first difference. The name stays valid until
 * bp_users_free. `u` may be NULL (no users: always NULL). Safe from any thread once loaded. */
const char *bp_users_find(const bp_users *u, const char *token, size_t len);

size_t bp_users_count(const bp_users *u);
void bp_users_free(bp_users *u);

#endif
