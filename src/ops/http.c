#include "ops/http.h"

#include "base/log.h"
#include "common/clock.h"
#include "common/json_buf.h"
#include "config/listen_addr.h"
#include "ops/alarm_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bp_http {
    struct MHD_Daemon *daemon;
    char *token; /* NULL: none asked for */
    pthread_mutex_t mu;
    /* under mu: the latest snapshot */
    char *metrics;
    size_t len, cap;
    int ready;
    char reason[256];
    double heartbeat; /* bp_now_s() of the last publish; 0: none yet */
    char *live;       /* the last /api/ward text; NULL: none yet */
    size_t live_len, live_cap;
    bp_alarm_api *alarms; /* /api/alarms (alarm_api.c); NULL: not served */
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *body)
{
    return answer(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

/* Compares the whole length whatever the first difference, so the time taken does not tell
 * how much of a guess was right. */
static bool token_ok(const bp_http *h, struct MHD_Connection *c)
{
    if (!h->token)
        return true;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    size_t n = strlen(h->token), m = strlen(given);
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)h->token[i] ^ (unsigned char)(i < m ? given[i] : 0);
    return diff == 0;
}

static enum MHD_Result serve_ready(bp_http *h, struct MHD_Connection *c, double age)
{
    char reason[256];
    pthread_mutex_lock(&h->mu);
    int ready = h->ready;
    snprintf(reason, sizeof reason, "%s", h->reason);
    pthread_mutex_unlock(&h->mu);
    if (age > BP_HTTP_STALE_S) {
        ready = 0;
        snprintf(reason, sizeof reason, "the main loop has not run for %.0f s", age);
    }
    if (ready)
        return answer(c, MHD_HTTP_OK, "application/json", "{\"ready\":true}\n", 15);
    bp_buf body;
    bp_buf_init(&body);
    bp_buf_puts(&body, "{\"ready\":false,\"reason\":");
    bp_buf_json_string(&body, reason, strlen(reason));
    bp_buf_puts(&body, "}\n");
    enum MHD_Result ok = body.failed ? MHD_NO
                                     : answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                                              body.data, body.len);
    bp_buf_free(&body);
    return ok;
}

static enum MHD_Result serve_metrics(bp_http *h, struct MHD_Connection *c)
{
    pthread_mutex_lock(&h->mu);
    struct MHD_Response *r = MHD_create_response_from_buffer(h->len, h->metrics ? h->metrics : "",
                                                             MHD_RESPMEM_MUST_COPY);
    pthread_mutex_unlock(&h->mu);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; "
                            "charset=utf-8");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result serve_live(bp_http *h, struct MHD_Connection *c)
{
    pthread_mutex_lock(&h->mu);
    struct MHD_Response *r =
        h->live ? MHD_create_response_from_buffer(h->live_len, h->live, MHD_RESPMEM_MUST_COPY)
                : NULL;
    pthread_mutex_unlock(&h->mu);
    if (!r)
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot yet\n");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

/* The peer as IP:PORT, for the audit. */
static void remote_of(struct MHD_Connection *c, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
    }
    snprintf(out, size, "%s:%u", ip, port);
}

static bp_alarm_api *alarms_of(bp_http *h)
{
    pthread_mutex_lock(&h->mu);
    bp_alarm_api *a = h->alarms;
    pthread_mutex_unlock(&h->mu);
    return a;
}

/* POST /api/alarms/ALARM_ID/ack. The user's own token is the credential here (it names who
 * acknowledged), so the listener's token is not asked for as well. */
static enum MHD_Result serve_ack(bp_http *h, struct MHD_Connection *c, const char *url)
{
    bp_alarm_api *a = alarms_of(h);
    if (!a)
        return text(c, MHD_HTTP_NOT_FOUND, "no [alarms] in this pipeline\n");
    const char *id = url + strlen("/api/alarms/");
    size_t id_len = strlen(id) - strlen("/ack");
    char alarm_id[BP_ALARM_API_ID_MAX + 1];
    /* Longer than any alarm id: passed on empty, so it is answered (401 or 404) and audited as
     * not an alarm id, never cut into one. */
    snprintf(alarm_id, sizeof alarm_id, "%.*s", id_len > BP_ALARM_API_ID_MAX ? 0 : (int)id_len, id);
    char remote[96];
    remote_of(c, remote, sizeof remote);
    bp_alarm_api_answer ans;
    bp_alarm_api_ack(a,
                     MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                     alarm_id, remote, &ans);
    return answer(c, ans.status, "application/json", ans.body, strlen(ans.body));
}

static enum MHD_Result serve_alarms(bp_http *h, struct MHD_Connection *c)
{
    bp_alarm_api *a = alarms_of(h);
    size_t len = 0;
    char *list = a ? bp_alarm_api_list(a, &len) : NULL;
    if (!list)
        return text(c, a ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_NOT_FOUND,
                    a ? "no snapshot yet\n" : "no [alarms] in this pipeline\n");
    struct MHD_Response *r = MHD_create_response_from_buffer(len, list, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(list);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static bool is_ack_url(const char *url)
{
    size_t n = strlen(url), p = strlen("/api/alarms/"), s = strlen("/ack");
    return n > p + s && strncmp(url, "/api/alarms/", p) == 0 && strcmp(url + n - s, "/ack") == 0;
}

/* The page's files hold no patient data, so a browser can load them without the token; the
 * page then sends it on its own requests (docs/live-page.md). */
static const bp_web_asset *find_asset(const char *url)
{
    for (size_t i = 0; i < bp_web_asset_count; i++)
        if (strcmp(bp_web_assets[i].path, url) == 0)
            return &bp_web_assets[i];
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    bp_http *h = cls;
    (void)version;
    (void)upload_data;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
        /* Answered at the first call: an acknowledgement has no body (one sent is ignored). */
        if (is_ack_url(url))
            return serve_ack(h, c, url);
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only to /api/alarms/ALARM_ID/ack\n");
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (*upload_data_size)
        return text(c, MHD_HTTP_BAD_REQUEST, "no body expected\n");
    const bp_web_asset *asset = find_asset(url);
    if (asset)
        return answer(c, MHD_HTTP_OK, asset->type, (const char *)asset->data, asset->len);
    if (!token_ok(h, c))
        return text(c, MHD_HTTP_UNAUTHORIZED, "a bearer token is required\n");
    pthread_mutex_lock(&h->mu);
    double age = h->heartbeat > 0 ? bp_now_s() - h->heartbeat : 0;
    bool started = h->heartbeat > 0;
    pthread_mutex_unlock(&h->mu);
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, c);
    if (strcmp(url, "/healthz") == 0) {
        if (!started || age > BP_HTTP_STALE_S)
            return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "main loop not running\n");
        return text(c, MHD_HTTP_OK, "ok\n");
    }
    if (strcmp(url, "/readyz") == 0)
        return serve_ready(h, c, age);
    if (strcmp(url, "/api/ward") == 0)
        return serve_live(h, c);
    if (strcmp(url, "/api/alarms") == 0)
        return serve_alarms(h, c);
    return text(c, MHD_HTTP_NOT_FOUND,
                "not found: /, /api/ward, /api/alarms, /metrics, /healthz, /readyz\n");
}

static int write_port_file(const char *path, const char *addr)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fprintf(f, "%s\n", addr) > 0;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

bp_http *bp_http_start(const char *listen, const char *port_file, const char *token)
{
    char host[64];
    unsigned port;
    if (bp_parse_listen(listen, host, sizeof host, &port) != 0) {
        bp_log("core", BP_LOG_ERROR,
               "http_listen = %s is not HOST:PORT or PORT with an IPv4 "
               "address (e.g. 127.0.0.1:9464)",
               listen);
        return NULL;
    }
    bp_http *h = calloc(1, sizeof *h);
    if (!h || (token && !(h->token = strdup(token)))) {
        free(h);
        bp_log("core", BP_LOG_ERROR, "out of memory starting the http listener");
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    snprintf(h->reason, sizeof h->reason, "starting");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    /* The listener's thread inherits a mask that blocks every signal, so SIGINT, SIGTERM and
     * SIGHUP reach the main thread, as with the lanes. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    h->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, (uint16_t)port, NULL, NULL,
        on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    int start_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!h->daemon) {
        bp_log("core", BP_LOG_ERROR, "http listener could not listen on %s:%u (%s)", host, port,
               start_errno ? strerror(start_errno) : "libmicrohttpd refused");
        bp_http_stop(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    char addr[96];
    snprintf(addr, sizeof addr, "%s:%u", host, info && info->port ? (unsigned)info->port : port);
    bp_log("core", BP_LOG_INFO,
           "http listener on %s (live page /, /api/ward, /api/alarms, /metrics, /healthz, "
           "/readyz%s)",
           addr, token ? "; bearer token required" : "");
    if (port_file && write_port_file(port_file, addr) != 0) {
        bp_log("core", BP_LOG_ERROR,
               "could not write the listener's address to "
               "http_port_file = %s (%s)",
               port_file, strerror(errno));
        bp_http_stop(h);
        return NULL;
    }
    return h;
}

void bp_http_publish(bp_http *h, const char *metrics, size_t len, int ready, const char *reason)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    if (len + 1 > h->cap) {
        char *grown = realloc(h->metrics, len + 1);
        if (grown) {
            h->metrics = grown;
            h->cap = len + 1;
        }
    }
    if (h->metrics && len + 1 <= h->cap) {
        memcpy(h->metrics, metrics, len);
        h->metrics[len] = '\0';
        h->len = len;
    }
    h->ready = ready;
    snprintf(h->reason, sizeof h->reason, "%s", reason ? reason : "");
    h->heartbeat = bp_now_s();
    pthread_mutex_unlock(&h->mu);
}

void bp_http_publish_live(bp_http *h, const char *json, size_t len)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    if (len + 1 > h->live_cap) {
        char *grown = realloc(h->live, len + 1);
        if (grown) {
            h->live = grown;
            h->live_cap = len + 1;
        }
    }
    if (h->live && len + 1 <= h->live_cap) {
        memcpy(h->live, json, len);
        h->live[len] = '\0';
        h->live_len = len;
    }
    pthread_mutex_unlock(&h->mu);
}

void bp_http_set_alarms(bp_http *h, bp_alarm_api *api)
{
    pthread_mutex_lock(&h->mu);
    h->alarms = api;
    pthread_mutex_unlock(&h->mu);
}

void bp_http_stop(bp_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon); /* every connection's thread is joined: none uses alarms */
    bp_alarm_api_free(h->alarms);
    pthread_mutex_destroy(&h->mu);
    free(h->metrics);
    free(h->live);
    free(h->token);
    free(h);
}
