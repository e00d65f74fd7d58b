#include "ops/alarm_api.h"

#include "alarm/alarm.h"
#include "base/log.h"
#include "common/clock.h"
#include "common/json_buf.h"
#include "engine/inject.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bp_alarm_api {
    bp_users *users;
    bp_audit *audit;
    bool can_forward;
    pthread_mutex_t mu;
    char *list; /* under mu: the last published list; NULL: none yet */
    size_t len;
    /* under mu: the refused requests' budget (a token bucket): each refused request that is
     * audited takes one; BP_ALARM_API_REFUSALS_PER_S come back every second */
    double refusal_tokens;
    double refusal_at_s;
    uint64_t refusals_unaudited; /* answered 429 since the last warning */
};

/* Whether one more refused request may be audited now; else it is answered 429, not written,
 * so that a flood of wrong tokens cannot fill the audit file's disk with fsynced lines. */
static bool refusal_budget(bp_alarm_api *a)
{
    double now = bp_now_s();
    pthread_mutex_lock(&a->mu);
    a->refusal_tokens += (now - a->refusal_at_s) * BP_ALARM_API_REFUSALS_PER_S;
    if (a->refusal_tokens > BP_ALARM_API_REFUSALS_PER_S)
        a->refusal_tokens = BP_ALARM_API_REFUSALS_PER_S;
    a->refusal_at_s = now;
    bool ok = a->refusal_tokens >= 1;
    if (ok)
        a->refusal_tokens -= 1;
    else
        a->refusals_unaudited++;
    uint64_t unaudited = a->refusals_unaudited;
    pthread_mutex_unlock(&a->mu);
    if (!ok) /* the same words each time: the host's rate limit keeps it to a line a while */
        bp_log("alarms", BP_LOG_WARN,
               "acknowledgement requests with no or a wrong token come faster than %d a second: "
               "those beyond are answered 429 and not audited (%llu so far); check who sends them",
               BP_ALARM_API_REFUSALS_PER_S, (unsigned long long)unaudited);
    return ok;
}

bp_alarm_api *bp_alarm_api_new(bp_users *users, bp_audit *audit, bool can_forward)
{
    bp_alarm_api *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->users = users;
    a->audit = audit;
    a->can_forward = can_forward;
    a->refusal_tokens = BP_ALARM_API_REFUSALS_PER_S;
    a->refusal_at_s = bp_now_s();
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void bp_alarm_api_free(bp_alarm_api *a)
{
    if (!a)
        return;
    bp_users_free(a->users);
    bp_audit_close(a->audit);
    pthread_mutex_destroy(&a->mu);
    free(a->list);
    free(a);
}

void bp_alarm_api_publish(bp_alarm_api *a, const char *json, size_t len)
{
    char *copy = a ? malloc(len + 1) : NULL;
    if (!copy)
        return; /* the last list stays served */
    memcpy(copy, json, len);
    copy[len] = '\0';
    pthread_mutex_lock(&a->mu);
    free(a->list);
    a->list = copy;
    a->len = len;
    pthread_mutex_unlock(&a->mu);
}

char *bp_alarm_api_list(bp_alarm_api *a, size_t *len)
{
    pthread_mutex_lock(&a->mu);
    char *copy = a->list ? malloc(a->len + 1) : NULL;
    if (copy) {
        memcpy(copy, a->list, a->len + 1);
        *len = a->len;
    }
    pthread_mutex_unlock(&a->mu);
    return copy;
}

/* The state the last list gives alarm `id` ("raised", "acknowledged", ...) into `state`;
 * false when the list does not have it. */
static bool listed_state(bp_alarm_api *a, const char *id, char *state, size_t size)
{
    pthread_mutex_lock(&a->mu);
    cJSON *doc = a->list ? cJSON_ParseWithLength(a->list, a->len) : NULL;
    pthread_mutex_unlock(&a->mu);
    bool found = false;
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(doc, "alarms"))
    {
        const cJSON *aid = cJSON_GetObjectItemCaseSensitive(item, "alarm_id");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "state");
        if (cJSON_IsString(aid) && strcmp(aid->valuestring, id) == 0) {
            snprintf(state, size, "%s", cJSON_IsString(st) ? st->valuestring : "");
            found = true;
            break;
        }
    }
    cJSON_Delete(doc);
    return found;
}

/* An id as alarm ids are written (bp_alarm_id_make): topic characters, '~', hex digits; at
 * most BP_ALARM_API_ID_MAX bytes, as the acknowledgement payload takes. */
static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > BP_ALARM_API_ID_MAX)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-' || *c == '~'))
            return false;
    return true;
}

/* The bearer token of an Authorization header, its length in *len; NULL when there is none. */
static const char *bearer(const char *authorization, size_t *len)
{
    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    const char *t = authorization + 7;
    *len = strlen(t);
    return *len ? t : NULL;
}

static void answer(bp_alarm_api_answer *out, unsigned status, const char *outcome, const char *id,
                   const char *by, const char *message)
{
    bp_buf b;
    bp_buf_init(&b);
    bp_buf_puts(&b, "{\"outcome\":");
    bp_buf_json_string(&b, outcome, strlen(outcome));
    if (id && id_ok(id)) {
        bp_buf_puts(&b, ",\"alarm_id\":");
        bp_buf_json_string(&b, id, strlen(id));
    }
    if (by) {
        bp_buf_puts(&b, ",\"by\":");
        bp_buf_json_string(&b, by, strlen(by));
    }
    if (message) {
        bp_buf_puts(&b, ",\"message\":");
        bp_buf_json_string(&b, message, strlen(message));
    }
    bp_buf_puts(&b, "}\n");
    out->status = status;
    snprintf(out->body, sizeof out->body, "%s", b.failed ? "{}\n" : bp_buf_cstr(&b));
    bp_buf_free(&b);
}

/* The acknowledgement as the input carries it (src/decode/alarm_ack.c reads it). */
static char *ack_payload(const char *id, const char *by, const char *remote, size_t *len)
{
    bp_buf b;
    bp_buf_init(&b);
    bp_buf_puts(&b, "{\"bppipe\":\"alarm-ack\",\"alarm_id\":");
    bp_buf_json_string(&b, id, strlen(id));
    bp_buf_puts(&b, ",\"by\":");
    bp_buf_json_string(&b, by, strlen(by));
    bp_buf_puts(&b, ",\"at\":\"");
    bp_buf_iso_time(&b, (long long)bp_wall_ms());
    bp_buf_puts(&b, "\",\"from\":");
    bp_buf_json_string(&b, remote ? remote : "", remote ? strlen(remote) : 0);
    bp_buf_puts(&b, "}");
    if (b.failed) {
        bp_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data; /* the buffer's own allocation, handed over */
}

/* Hands the acknowledgement to the input and waits: the outcome word and the status. */
static unsigned deliver(bp_alarm_api *a, const char *id, const char *by, const char *remote,
                        const char **outcome, const char **message)
{
    char topic[256], state[32];
    int32_t partition;
    bool located = bp_alarm_id_location(id, topic, sizeof topic, &partition) == 0;
    bool listed = listed_state(a, id, state, sizeof state);
    if (listed && strcmp(state, "acknowledged") == 0) {
        *outcome = "already_acknowledged";
        return 200;
    }
    if (!(located && a->can_forward) && !listed) {
        *outcome = "not_found";
        *message = located ? "this process's source cannot reach the alarm's partition"
                           : "no active alarm of this process has that id";
        return 404;
    }
    size_t len;
    char *payload = ack_payload(id, by, remote, &len);
    bp_inject_req *req = !payload ? NULL
                         : located && a->can_forward
                             ? bp_runner_send_input(topic, partition, id, strlen(id), payload, len)
                             : bp_runner_inject(payload, len);
    free(payload);
    if (!req) {
        *outcome = "unavailable";
        *message = "the pipeline is not running or too many acknowledgements wait; try again";
        return 503;
    }
    switch (bp_inject_wait(req, BP_ALARM_API_WAIT_MS)) {
    case BP_INJECT_DONE:
        *outcome = located && a->can_forward ? "accepted" : "acknowledged";
        return located && a->can_forward ? 202 : 200;
    case BP_INJECT_REFUSED:
        *outcome = "not_found";
        *message = "the alarm's topic or partition is not one this pipeline reads";
        return 404;
    case BP_INJECT_TIMEOUT:
        *outcome = "unavailable";
        *message = "not confirmed in time; it may still be applied (acknowledging again is safe)";
        return 503;
    default:
        *outcome = "unavailable";
        *message = "the pipeline stopped before the acknowledgement was applied; try again";
        return 503;
    }
}

void bp_alarm_api_ack(bp_alarm_api *a, const char *authorization, const char *alarm_id,
                      const char *remote, bp_alarm_api_answer *out)
{
    size_t token_len = 0;
    const char *token = bearer(authorization, &token_len);
    const char *user = token ? bp_users_find(a->users, token, token_len) : NULL;
    const char *outcome, *message = NULL;
    unsigned status;
    if (!a->users || !a->audit) {
        outcome = "unauthorized";
        message = "nobody may acknowledge: [alarms] users_file and audit_file are not set";
        status = 401;
    } else if (!user) {
        outcome = "unauthorized";
        message = token ? "the token is not one of [alarms] users_file"
                        : "send Authorization: Bearer TOKEN (a token of [alarms] users_file)";
        status = 401;
    } else if (!id_ok(alarm_id)) {
        outcome = "not_found";
        message = "that is not an alarm id";
        status = 404;
    } else {
        status = deliver(a, alarm_id, user, remote, &outcome, &message);
    }
    if (status == 401 && !refusal_budget(a)) {
        answer(out, 429, "too_many_refused", alarm_id, NULL,
               "too many requests with no or a wrong token; try again in a second");
        return;
    }
    bp_audit_entry e = {.time_ms = bp_wall_ms(),
                        .user = user,
                        .alarm_id = id_ok(alarm_id) ? alarm_id : NULL,
                        .remote = remote,
                        .outcome = outcome};
    if (a->audit && bp_audit_append(a->audit, &e) != 0) {
        bp_log("alarms", BP_LOG_ERROR,
               "the audit file could not be written (%s); the acknowledgement request of %s is "
               "answered 500",
               strerror(errno), user ? user : "an unknown user");
        answer(out, 500, outcome, alarm_id, user,
               "the audit line could not be written; check the audit file's disk");
        return;
    }
    if (status != 401)
        bp_log("alarms", status < 300 ? BP_LOG_INFO : BP_LOG_WARN,
               "acknowledgement of %s by %s from %s: %s", alarm_id, user, remote ? remote : "?",
               outcome);
    answer(out, status, outcome, alarm_id, status == 401 ? NULL : user, message);
}
