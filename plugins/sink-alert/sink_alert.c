/* sink-alert: critical readings as FHIR DetectedIssue alerts, to a webhook (HTTP POST), a
 * file (NDJSON) or standard output, once per patient and reason per cooldown. Like every sink,
 * it acknowledges a reading only once its alert was delivered (or deliberately suppressed),
 * so an unreachable webhook holds the source's offsets back instead of losing alerts. The
 * cooldowns live in the host's keyed state (ABI 1.5), so they follow the input's partitions
 * and survive a restart as of the committed position. */
#include "alert.h"

#include <bppipe/plugin.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sink {
    const bp_host *host;
    bp_ctx *ctx;
    const char *webhook, *path;
    CURL *curl;
    struct curl_slist *headers;
    int fd; /* -1 unless path is a file */
    int64_t period_ms;
    const char **reasons; /* the reading's reason codes, every one of them */
    size_t reasons_cap;
    bp_cooldown_entry *entries; /* the cooldown of each of the reading's keys */
    size_t entries_cap;
    bp_record **unsynced; /* alarm events of this write() whose lines await the batch's sync */
    size_t n_unsynced, unsynced_cap;
    bool warned_state;
    uint8_t *held; /* BP_STATE_MAX_VALUE bytes: a remembered alert (bp_alerted, alert.h) */
} sink;

static const bp_option options[] = {
    BP_OPTION_STRING("webhook", NULL, 0, "URL to POST each alert to (JSON); 2xx = delivered"),
    BP_OPTION_STRING("bearer_token", NULL, BP_OPT_SECRET,
                     "Authorization: Bearer token for the webhook; give it as ${ENV_VAR}"),
    BP_OPTION_STRING("path", NULL, 0, "NDJSON file of alerts, or - for standard output"),
    BP_OPTION_DOUBLE("cooldown", "900", 0, 86400, 0,
                     "seconds between two alerts for one patient and reason (0: every reading)"),
    BP_OPTION_INT("timeout_ms", "5000", 100, 600000, 0, "webhook request timeout"),
    BP_OPTION_BOOL("verify", "true", "verify the webhook's TLS certificate"),
    BP_OPTION_STRING("state_file", NULL, 0,
                     "cooldown snapshot the host writes after commits and reads at start, unless "
                     "the source keeps the state (source-kafka); unset: none"),
};

static void free_sink(sink *s)
{
    if (s->curl)
        curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    if (s->fd >= 0)
        close(s->fd);
    free(s->reasons);
    free(s->entries);
    free(s->held);
    free(s->unsynced);
    free(s);
}

static int setup_webhook(sink *s)
{
    const bp_host *h = s->host;
    s->curl = curl_easy_init();
    if (!s->curl)
        return -1;
    s->headers = curl_slist_append(NULL, "Content-Type: application/fhir+json");
    s->headers = curl_slist_append(s->headers, "Expect:");
    const char *token = h->opt_string(s->ctx, "bearer_token");
    if (token && *token) {
        /* The whole token, however long: a cut one would be refused with no word why. */
        size_t size = strlen(token) + sizeof "Authorization: Bearer ";
        char *auth = malloc(size);
        if (!auth)
            return -1;
        snprintf(auth, size, "Authorization: Bearer %s", token);
        s->headers = curl_slist_append(s->headers, auth);
        free(auth);
    }
    curl_easy_setopt(s->curl, CURLOPT_URL, s->webhook);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)h->opt_int(s->ctx, "timeout_ms", 5000));
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    if (!h->opt_bool(s->ctx, "verify", 1)) {
        h->log(s->ctx, BP_LOG_WARN, "TLS verification of the webhook is OFF (verify = false)");
        curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return 0;
}

static int alert_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->fd = -1;
    s->webhook = host->opt_string(ctx, "webhook");
    s->path = host->opt_string(ctx, "path");
    if (s->webhook && !*s->webhook)
        s->webhook = NULL; /* ${ALERT_WEBHOOK:-} left empty: no webhook */
    s->period_ms = (int64_t)(host->opt_double(ctx, "cooldown", 900) * 1000);
    if (!(s->held = malloc(BP_STATE_MAX_VALUE)))
        goto fail;
    if (!s->webhook && !s->path) {
        host->log(ctx, BP_LOG_ERROR, "set webhook = URL and/or path = FILE (or - for stdout)");
        goto fail;
    }
    if (s->webhook && setup_webhook(s) != 0) {
        host->log(ctx, BP_LOG_ERROR, "cannot set up the HTTP client");
        goto fail;
    }
    if (!BP_HOST_HAS(host, state_open) ||
        host->state_open(ctx, BP_COOLDOWN_FORMAT, 0, host->opt_string(ctx, "state_file")) !=
            BP_OK) {
        host->log(ctx, BP_LOG_ERROR, "cannot keep the cooldowns (keyed state, ABI 1.5)");
        goto fail;
    }
    if (s->path && strcmp(s->path, "-") != 0) {
        s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (s->fd < 0) {
            host->log(ctx, BP_LOG_ERROR, "cannot open %s: %s", s->path, strerror(errno));
            goto fail;
        }
    }
    *state = s;
    return BP_OK;
fail:
    free_sink(s);
    return BP_FATAL;
}

static void alert_close(void *state)
{
    free_sink(state);
}

static size_t discard(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    (void)user;
    return size * n;
}

static int post(sink *s, const char *body, size_t len)
{
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(s->curl);
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status >= 200 && status < 300)
        return 0;
    s->host->log(s->ctx, BP_LOG_WARN, "webhook did not take the alert (%s, HTTP %ld); will retry",
                 rc == CURLE_OK ? "refused" : curl_easy_strerror(rc), status);
    return -1;
}

/* Makes every line written so far durable: one fsync of the file (a flush of standard
 * output). */
static int sync_lines(sink *s)
{
    if (!s->path)
        return 0;
    if (strcmp(s->path, "-") == 0)
        return fflush(stdout) != 0 ? -1 : 0;
    if (fsync(s->fd) != 0) {
        s->host->log(s->ctx, BP_LOG_ERROR, "cannot write alert to %s: %s", s->path,
                     strerror(errno));
        return -1;
    }
    return 0;
}

/* Appends one line; durable only once sync_lines() returned 0, unless `sync` asks for it now. */
static int write_line(sink *s, const char *body, size_t len, bool sync)
{
    if (!s->path)
        return 0;
    if (strcmp(s->path, "-") == 0) {
        if (printf("%s\n", body) < 0)
            return -1;
    } else if (write(s->fd, body, len) != (ssize_t)len || write(s->fd, "\n", 1) != 1) {
        s->host->log(s->ctx, BP_LOG_ERROR, "cannot write alert to %s: %s", s->path,
                     strerror(errno));
        return -1;
    }
    return sync ? sync_lines(s) : 0;
}

/* The reading's facts; reasons come from its document, where every detector's reasons are.
 * Returns -1 when memory ran out. */
static int read_input(sink *s, bp_record *r, bp_alert_input *in, cJSON **doc)
{
    const bp_host *h = s->host;
    memset(in, 0, sizeof *in);
    in->stable_id = h->text(r, BP_F_STABLE_ID);
    in->observation_id = h->text(r, BP_F_OBSERVATION_ID);
    in->patient_id = h->text(r, BP_F_PATIENT_ID);
    in->category = h->text(r, BP_F_CATEGORY);
    in->severity = (int)h->number(r, BP_F_SEVERITY);
    double ms = h->number(r, BP_F_EFFECTIVE_MS);
    in->effective_ms = isnan(ms) ? 0 : (int64_t)ms;
    in->systolic = h->number(r, BP_F_SYSTOLIC);
    in->diastolic = h->number(r, BP_F_DIASTOLIC);
    size_t len;
    const char *text = h->document(s->ctx, r, 0, &len);
    *doc = text ? cJSON_ParseWithLength(text, len) : NULL;
    if (!*doc)
        return -1;
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(*doc, "anomaly_details");
    size_t n = cJSON_IsArray(details) ? (size_t)cJSON_GetArraySize(details) : 0;
    if (n > s->reasons_cap) {
        const char **grown = realloc(s->reasons, n * sizeof *grown);
        if (!grown)
            return -1;
        s->reasons = grown;
        s->reasons_cap = n;
    }
    const cJSON *reason;
    size_t k = 0;
    cJSON_ArrayForEach(reason, details)
    {
        if (cJSON_IsString(reason))
            s->reasons[k++] = reason->valuestring;
    }
    in->reasons = s->reasons;
    in->n_reasons = k;
    return 0;
}

/* The cooldown of each key of `in` into s->entries (absent where the host holds none or a
 * value of no known layout). -1 when memory ran out. */
static int load_entries(sink *s, bp_record *r, const bp_alert_input *in)
{
    const bp_host *h = s->host;
    size_t n = bp_alert_n_keys(in);
    if (n > s->entries_cap) {
        bp_cooldown_entry *grown = realloc(s->entries, n * sizeof *grown);
        if (!grown)
            return -1;
        s->entries = grown;
        s->entries_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t key[BP_ALERT_KEY_MAX], value[BP_COOLDOWN_VALUE_LEN];
        size_t key_len = bp_alert_key(in, i, key), len = 0;
        int rc = h->state_get(s->ctx, r, key, key_len, value, sizeof value, &len);
        if (rc != BP_OK || bp_cooldown_decode(value, len, &s->entries[i]) != 0)
            memset(&s->entries[i], 0, sizeof s->entries[i]);
    }
    return 0;
}

/* Stores every entry of `in` that is present. A store that fails leaves that key's cooldown
 * as it was: the next reading may alert again, it is never silenced. */
static void store_entries(sink *s, bp_record *r, const bp_alert_input *in)
{
    const bp_host *h = s->host;
    for (size_t i = 0; i < bp_alert_n_keys(in); i++) {
        if (!s->entries[i].present)
            continue;
        uint8_t key[BP_ALERT_KEY_MAX], value[BP_COOLDOWN_VALUE_LEN];
        size_t key_len = bp_alert_key(in, i, key);
        bp_cooldown_encode(&s->entries[i], value);
        int rc = h->state_put(s->ctx, r, key, key_len, value, sizeof value);
        if (rc != BP_OK) {
            h->count(s->ctx, "state_put_failed", 1);
            if (!s->warned_state) {
                s->warned_state = true;
                h->log(s->ctx, BP_LOG_WARN,
                       "cannot store a cooldown (%d, out of memory?): "
                       "that patient may be alerted again early (counted as state_put_failed)",
                       rc);
            }
        }
    }
}

/* An alarm event (route = alarm, docs/alarms.md): its DetectedIssue, delivered as an alert is.
 * No cooldown: the alarm stage decided already, and every transition must reach the tier. Its
 * line is written, not yet synced: alert_write makes the lines of its batch durable together
 * (one fsync where each line had one: 2 689 fsyncs for the ward's 100 000 readings held it near
 * 15 000 readings/s) and only then acknowledges them. */
static int deliver_alarm(sink *s, bp_record *r)
{
    const bp_host *h = s->host;
    bp_alarm_issue_input in = {
        .alarm_id = h->text(r, BP_F_ALARM_ID),
        .event = h->text(r, BP_F_ALARM_EVENT),
        .priority = h->text(r, BP_F_ALARM_PRIORITY),
        .condition = h->text(r, BP_F_ALARM_CONDITION),
        .state = h->text(r, BP_F_ALARM_STATE),
        .patient_id = h->text(r, BP_F_PATIENT_ID),
        .by = h->text(r, BP_F_ALARM_BY),
        .systolic = h->number(r, BP_F_SYSTOLIC),
        .diastolic = h->number(r, BP_F_DIASTOLIC),
    };
    double tier = h->number(r, BP_F_ALARM_TIER), raised = h->number(r, BP_F_ALARM_RAISED_AT_MS),
           at = h->number(r, BP_F_ALARM_EVENT_MS);
    in.tier = isnan(tier) ? 0 : (int)tier;
    in.raised_at_ms = isnan(raised) ? 0 : (int64_t)raised;
    in.event_ms = isnan(at) ? 0 : (int64_t)at;
    size_t len = 0;
    char *issue = bp_alert_alarm_issue(&in, &len);
    int rc = issue ? 0 : -1;
    if (rc == 0 && s->webhook)
        rc = post(s, issue, len);
    if (rc == 0)
        rc = write_line(s, issue, len, false);
    free(issue);
    return rc;
}

/* Sends one DetectedIssue to the webhook and the file. 0, or -1 (retried). */
static int send_issue(sink *s, const bp_alert_input *in, uint32_t since)
{
    size_t len = 0;
    char *alert = bp_alert_detected_issue(in, since, &len);
    int rc = alert ? 0 : -1;
    if (rc == 0 && s->webhook)
        rc = post(s, alert, len);
    if (rc == 0)
        rc = write_line(s, alert, len, true); /* its state is stored right after */
    free(alert);
    return rc;
}

static int64_t version_of(const bp_host *h, const bp_record *r)
{
    double v = h->number(r, BP_F_VERSION);
    return isnan(v) || v < 1 ? 0 : (int64_t)v;
}

/* Remembers, under the reading's logical id, the alert just sent for it (`in`), so that a
 * correction updates it and a retraction withdraws it. A reading without a logical id can never
 * be revised: nothing is kept. */
static void remember(sink *s, bp_record *r, const bp_alert_input *in)
{
    const bp_host *h = s->host;
    const char *logical = h->text(r, BP_F_LOGICAL_ID);
    if (!logical)
        return;
    bp_alerted a = {.version = version_of(h, r),
                    .effective_ms = in->effective_ms,
                    .systolic = in->systolic,
                    .diastolic = in->diastolic,
                    .severity = in->severity,
                    .stable_id = in->stable_id,
                    .patient_id = in->patient_id,
                    .observation_id = in->observation_id,
                    .category = in->category,
                    .reasons = in->reasons,
                    .n_reasons = in->n_reasons};
    uint8_t key[BP_ALERT_KEY_MAX];
    size_t key_len = bp_alerted_key(logical, key);
    size_t len = bp_alerted_encode(&a, s->held, BP_STATE_MAX_VALUE);
    if (!len || h->state_put(s->ctx, r, key, key_len, s->held, len) != BP_OK)
        h->count(s->ctx, "state_put_failed", 1); /* that alert cannot be withdrawn */
}

/* A correction or a retraction of logical id `logical` (issue 26): when this sink alerted on a
 * version of it, the alert is withdrawn (status entered-in-error: retracted, or corrected to a
 * value no longer critical) or amended (corrected and still critical), under the same id, and
 * delivered as any alert; a withdrawal also ends the cooldowns that alert started, so the next
 * critical reading of that patient is announced at once. *handled false: this sink never alerted
 * on it (or the alert is newer), and a correction is then judged as a new reading. 0, or -1 when
 * the delivery failed (retried). */
static int revise(sink *s, bp_record *r, const char *logical, bool retract, bool *handled)
{
    const bp_host *h = s->host;
    uint8_t key[BP_ALERT_KEY_MAX];
    size_t key_len = bp_alerted_key(logical, key), len = 0;
    const char *reasons[BP_ALERTED_MAX_REASONS];
    bp_alerted a;
    *handled = false;
    if (h->state_get(s->ctx, r, key, key_len, s->held, BP_STATE_MAX_VALUE, &len) != BP_OK ||
        bp_alerted_decode(s->held, len, &a, reasons) != 0)
        return 0;
    int64_t version = version_of(h, r);
    *handled = true;
    if (version && a.version && (version < a.version || (version == a.version && !retract)))
        return 0; /* a replay of what was already announced */
    bool critical = h->number(r, BP_F_SEVERITY) >= BP_SEV_CRITICAL;
    bp_alert_input in;
    if (retract || !critical) {
        const char *status = h->text(r, BP_F_STATUS);
        bp_alerted_input(&a, "entered-in-error",
                         retract && status && strcmp(status, "entered-in-error") == 0
                             ? "withdrawn: the reading was entered in error"
                             : "withdrawn: the reading was corrected to a value that is not "
                               "critical",
                         &in);
        if (send_issue(s, &in, 0) != 0)
            return -1;
        h->state_delete(s->ctx, r, key, key_len);
        for (size_t k = 0; k < bp_alert_n_keys(&in); k++) {
            uint8_t ck[BP_ALERT_KEY_MAX];
            h->state_delete(s->ctx, r, ck, bp_alert_key(&in, k, ck));
        }
        h->count(s->ctx, "alerts_withdrawn", 1);
        return 0;
    }
    cJSON *doc;
    if (read_input(s, r, &in, &doc) != 0) {
        cJSON_Delete(doc);
        return -1;
    }
    in.stable_id = a.stable_id; /* the alert it amends keeps its id */
    in.status = "amended";
    in.note = "amended: the reading was corrected";
    int rc = send_issue(s, &in, 0);
    if (rc == 0) {
        remember(s, r, &in);
        h->count(s->ctx, "alerts_amended", 1);
    }
    cJSON_Delete(doc);
    return rc;
}

/* Keeps `r` for the batch's sync; -1 when memory ran out (then it is synced at once). */
static int await_sync(sink *s, bp_record *r)
{
    if (s->n_unsynced == s->unsynced_cap) {
        size_t cap = s->unsynced_cap ? 2 * s->unsynced_cap : 64;
        bp_record **grown = realloc(s->unsynced, cap * sizeof *grown);
        if (!grown)
            return -1;
        s->unsynced = grown;
        s->unsynced_cap = cap;
    }
    s->unsynced[s->n_unsynced++] = r;
    return 0;
}

/* The lines written and not yet acknowledged become durable; then they are delivered, or, when
 * the sync failed, all retried (a line may then be written twice: at-least-once). */
static int settle_unsynced(sink *s, int status)
{
    const bp_host *h = s->host;
    bool synced = s->n_unsynced == 0 || sync_lines(s) == 0;
    for (size_t i = 0; i < s->n_unsynced; i++)
        h->set_outcome(s->ctx, s->unsynced[i], synced ? BP_DELIVERED : BP_AGAIN, NULL);
    if (synced && s->n_unsynced)
        h->count(s->ctx, "alarm_events_sent", (double)s->n_unsynced);
    s->n_unsynced = 0;
    return synced ? status : BP_RETRY;
}

static int alert_write(void *state, bp_batch *batch)
{
    sink *s = state;
    const bp_host *h = s->host;
    int status = BP_OK;
    for (size_t i = 0; i < h->batch_count(batch); i++) {
        bp_record *r = h->batch_at(batch, i);
        if (status != BP_OK) {
            /* After a failed delivery the rest waits too: alerts go out in reading order, and
             * a later reading must not open a cooldown that silences an earlier one. */
            h->set_outcome(s->ctx, r, BP_AGAIN, NULL);
            continue;
        }
        if (h->text(r, BP_F_ALARM_ID)) {
            bool sent = deliver_alarm(s, r) == 0;
            if (sent && await_sync(s, r) != 0) {
                sent = sync_lines(s) == 0;
                h->set_outcome(s->ctx, r, sent ? BP_DELIVERED : BP_AGAIN, NULL);
                if (sent)
                    h->count(s->ctx, "alarm_events_sent", 1);
            } else if (!sent) {
                h->set_outcome(s->ctx, r, BP_AGAIN, NULL);
            }
            status = sent ? BP_OK : BP_RETRY;
            continue;
        }
        const char *revision = h->text(r, BP_F_REVISION), *logical = h->text(r, BP_F_LOGICAL_ID);
        bool retract = revision && strcmp(revision, "retract") == 0;
        if (revision) {
            bool handled = false;
            if (logical && revise(s, r, logical, retract, &handled) != 0) {
                h->set_outcome(s->ctx, r, BP_AGAIN, NULL);
                status = BP_RETRY;
                continue;
            }
            if (handled || retract) {
                /* A retraction of a reading this sink never alerted on changes nothing. */
                h->set_outcome(s->ctx, r, BP_DELIVERED, NULL);
                continue;
            }
        }
        bp_alert_input in;
        cJSON *doc;
        if (read_input(s, r, &in, &doc) != 0 || load_entries(s, r, &in) != 0) {
            cJSON_Delete(doc);
            h->set_outcome(s->ctx, r, BP_AGAIN, NULL);
            status = BP_RETRY;
            continue;
        }
        uint32_t since;
        if (!bp_cooldown_should_alert(s->period_ms, &in, s->entries, &since)) {
            for (size_t k = 0; k < bp_alert_n_keys(&in); k++)
                bp_cooldown_suppress(&s->entries[k]);
            store_entries(s, r, &in);
            h->count(s->ctx, "alerts_suppressed", 1);
            h->set_outcome(s->ctx, r, BP_DELIVERED, NULL);
            cJSON_Delete(doc);
            continue;
        }
        int rc = send_issue(s, &in, since);
        if (rc == 0) {
            for (size_t k = 0; k < bp_alert_n_keys(&in); k++)
                bp_cooldown_sent(&s->entries[k], &in);
            store_entries(s, r, &in);
            remember(s, r, &in);
            h->count(s->ctx, "alerts_sent", 1);
            h->set_outcome(s->ctx, r, BP_DELIVERED, NULL);
        } else {
            /* The cooldown is untouched, so the retry alerts again rather than staying
             * silent. */
            h->set_outcome(s->ctx, r, BP_AGAIN, NULL);
            status = BP_RETRY;
        }
        cJSON_Delete(doc);
    }
    return settle_unsynced(s, status);
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 5, /* keyed state */
    .name = "sink-alert",
    .version = "1.2.0",
    .kind = BP_KIND_SINK,
    .description = "alarm events (route = alarm) and critical readings as FHIR DetectedIssue: "
                   "webhook, file or stdout",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = alert_open,
    .close = alert_close,
    .write = alert_write,
    .caps = BP_CAP_REVISIONS,
};

BP_PLUGIN(descriptor)
