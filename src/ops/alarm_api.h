/* The alarm endpoints of the listener (docs/alarms.md, "The API"): GET /api/alarms answers the
 * list of active alarms the main thread last published; POST /api/alarms/ALARM_ID/ack
 * acknowledges one for the user whose token the request carries, writes the audit line, and
 * hands the acknowledgement to the input (src/engine/inject.h): to the alarm's own partition
 * through the source's send_input when the id names one, else into this process's next batch.
 * Everything here runs on the listener's threads except bp_alarm_api_publish (main thread). */
#ifndef BPPIPE_ALARM_API_H
#define BPPIPE_ALARM_API_H

#include "alarm/audit.h"
#include "alarm/users.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct bp_alarm_api bp_alarm_api;

/* How long an acknowledgement may wait for its batch's commit, or for the broker, before the
 * answer is 503 (it may still be applied: acknowledging is idempotent, so the user retries). */
#define BP_ALARM_API_WAIT_MS 10000
/* The longest alarm id (as bp_alarm_id_make writes them for any Kafka topic). */
#define BP_ALARM_API_ID_MAX 287
/* Refused requests (no or a wrong token) audited per second, at most; beyond, 429 unaudited. */
#define BP_ALARM_API_REFUSALS_PER_S 20

/* Takes over `users` and `audit` (either NULL: nobody can acknowledge; every POST answers
 * 401 and is audited when there is an audit). can_forward: the source has send_input, so an
 * id that names a partition goes to it. NULL on ENOMEM. */
bp_alarm_api *bp_alarm_api_new(bp_users *users, bp_audit *audit, bool can_forward);
void bp_alarm_api_free(bp_alarm_api *a);

/* Main thread: the list (bp_alarms_list_json's text) that GET /api/alarms serves from now. */
void bp_alarm_api_publish(bp_alarm_api *a, const char *json, size_t len);

/* GET /api/alarms: a malloc'd copy of the last list (*len set), or NULL when none was
 * published yet (or ENOMEM). */
char *bp_alarm_api_list(bp_alarm_api *a, size_t *len);

typedef struct bp_alarm_api_answer {
    unsigned status; /* 200, 202, 400, 401, 404, 429, 500, 503 */
    char body[512];  /* JSON, one line */
} bp_alarm_api_answer;

/* POST /api/alarms/ALARM_ID/ack. authorization: the request's Authorization header (NULL:
 * none); remote: the peer as IP:PORT. Answers (every one audited, with the user when the
 * token named one, but for 429; no token is ever written or logged):
 *   401 no or an unknown token;  404 an id this process can neither own nor forward;
 *   429 more than BP_ALARM_API_REFUSALS_PER_S refused requests a second: not audited;
 *   200 {"outcome":"acknowledged"}: applied here, its batch committed;
 *   200 {"outcome":"already_acknowledged"}: the list shows it acknowledged;
 *   202 {"outcome":"accepted"}: durable on the owner's partition, which applies it in order;
 *   503 not done within BP_ALARM_API_WAIT_MS, or the run is ending (try again);
 *   500 the audit line could not be written (nothing was done). */
void bp_alarm_api_ack(bp_alarm_api *a, const char *authorization, const char *alarm_id,
                      const char *remote, bp_alarm_api_answer *out);

#endif
