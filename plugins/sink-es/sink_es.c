/* sink-es: judged readings into Elasticsearch (or OpenSearch) with _bulk.
 *
 * A reading is a `create` with its stable id as _id, so a replayed reading is a 409 that counts
 * as delivered and nothing is ever indexed twice. A reading with a logical id (ABI 1.8
 * revisions) has that as _id instead: a version is an `index` with external versioning (a
 * replayed older or equal version is a 409 and changes nothing), a retraction a `delete`.
 * Per-item answers become per-record outcomes: only items Elasticsearch could not take now
 * (429, 5xx) are retried, documents it will never take (mapping errors) go to the dead letter
 * with its reason. A cluster that is down is waited for: write() answers BP_RETRY, and the host
 * keeps its readings in the sink's lane (or its disk buffer) meanwhile. */
#include "es_bulk.h"
#include "es_tls.h"

#include "common/clock.h"

#include <cjson/cJSON.h>

#include <bppipe/plugin.h>

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_NODES 8
#define MAX_ID 512 /* Elasticsearch refuses longer _id values */

typedef struct sink {
    const bp_host *host;
    bp_ctx *ctx;
    char *nodes[MAX_NODES]; /* base URLs without a trailing slash */
    char *shown[MAX_NODES]; /* the same without user:password@, for messages */
    size_t n_nodes, node;   /* node = the one that answered last */
    const char *index;
    /* the index name of the last reading's second (index_for) */
    bool index_cached;
    int64_t index_secs;
    char index_name[256];
    size_t index_len;
    char *bulk_path;     /* "/_bulk", with "?pipeline=" and the escaped name when one is set */
    char *template_path; /* "/_index_template/" and the escaped template_name */
    size_t batch_size, batch_bytes;
    int compress, install_template, ready;
    CURL *curl;
    struct curl_slist *headers;
    bp_buf body, gz, answer;
    bp_es_item *items;
    size_t items_cap;
    int product_header; /* set by the header callback of the last request */
    CURLcode last_error; /* of the last node tried when no node answered */
    long verify_result;  /* OpenSSL's verdict on that node's chain (CURLINFO_SSL_VERIFYRESULT) */
    char curl_detail[CURL_ERROR_SIZE]; /* libcurl's own words for the last failure */
    /* An outage is said once when it begins and once when it ends, not at every retry: `down`
     * while no node answers, `if_down` what happens meanwhile (where the readings go depends on
     * the section's buffer key). */
    int down;
    const char *if_down;
} sink;

static const bp_option options[] = {
    BP_OPTION_STRING("url", "http://127.0.0.1:9200", 0,
                     "cluster node URL(s), comma-separated, tried in turn"),
    BP_OPTION_STRING("index", "bp-anomalies-%Y.%m", 0,
                     "index name; %Y %m %d %H %j %G %V come from the reading's own time (UTC)"),
    BP_OPTION_STRING("pipeline", NULL, 0, "ingest pipeline to run on every document"),
    BP_OPTION_INT("batch_size", "1000", 1, 100000, 0, "most documents per _bulk request"),
    BP_OPTION_INT("batch_bytes", "5242880", 1024, 104857600, 0,
                  "most body bytes per _bulk request (before compression)"),
    BP_OPTION_INT("timeout_ms", "30000", 100, 600000, 0, "whole-request timeout"),
    BP_OPTION_INT("connect_timeout_ms", "5000", 100, 600000, 0, "connection timeout"),
    BP_OPTION_BOOL("compress", "false", "gzip the request bodies (Content-Encoding: gzip)"),
    BP_OPTION_STRING("username", NULL, 0, "basic authentication user"),
    BP_OPTION_STRING("password", NULL, BP_OPT_SECRET,
                     "basic authentication password; give it as ${ENV_VAR}"),
    BP_OPTION_STRING("api_key", NULL, BP_OPT_SECRET,
                     "API key (the base64 'encoded' value); give it as ${ENV_VAR}"),
    BP_OPTION_STRING("ca_file", NULL, 0, "PEM file of the CA that signed the cluster's certificate"),
    BP_OPTION_BOOL("verify", "true", "verify the cluster's TLS certificate and host name"),
    BP_OPTION_BOOL("install_template", "false",
                   "install the index template (and ILM policy) before the first write"),
    BP_OPTION_STRING("template", "deploy/elasticsearch/bp-anomalies-template.json", 0,
                     "composable index template file installed with install_template"),
    BP_OPTION_STRING("template_name", "bp-anomalies", 0, "name to install the template under"),
    BP_OPTION_STRING("ilm_policy", NULL, 0,
                     "ILM policy file installed (as bp-anomalies) before the template; "
                     "empty to skip (OpenSearch has no ILM)"),
};

/* -- HTTP ---------------------------------------------------------------------------------- */

static size_t collect(char *p, size_t size, size_t n, void *user)
{
    bp_buf *b = user;
    bp_buf_put(b, p, size * n);
    return b->failed ? 0 : size * n;
}

static size_t header_seen(char *p, size_t size, size_t n, void *user)
{
    sink *s = user;
    static const char name[] = "x-elastic-product:";
    size_t len = size * n;
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *v = p + sizeof name - 1;
        while (*v == ' ')
            v++;
        if (strncmp(v, "Elasticsearch", 13) == 0)
            s->product_header = 1;
    }
    return len;
}

/* One request to the current node, then the others in turn while nodes do not answer.
 * `gzipped` says the body is gzip-compressed (only bulk bodies are). Returns the HTTP status,
 * or 0 when no node answered (*err then says why). The answer body is in s->answer. */
static long request(sink *s, const char *method, const char *path, const char *ctype,
                    int gzipped, const char *body, size_t len, char *err, size_t err_cap)
{
    err[0] = '\0';
    struct curl_slist *hdrs = NULL, *last = NULL;
    struct curl_slist *all = s->headers;
    char type_header[96];
    if (ctype) {
        snprintf(type_header, sizeof type_header, "Content-Type: %s", ctype);
        hdrs = curl_slist_append(NULL, type_header);
        if (hdrs && gzipped && !curl_slist_append(hdrs, "Content-Encoding: gzip")) {
            curl_slist_free_all(hdrs);
            hdrs = NULL;
        }
        if (!hdrs) {
            snprintf(err, err_cap, "out of memory");
            return 0;
        }
        for (last = hdrs; last->next; last = last->next)
            ;
        last->next = s->headers; /* borrowed tail; unlinked before freeing below */
        all = hdrs;
    }
    long status = 0;
    for (size_t tried = 0; tried < s->n_nodes; tried++) {
        size_t node = (s->node + tried) % s->n_nodes;
        /* Whole, however long the path (a long pipeline name): a cut URL names another one. */
        size_t url_len = strlen(s->nodes[node]) + strlen(path) + 1;
        char *url = malloc(url_len);
        if (!url) {
            snprintf(err, err_cap, "out of memory");
            break;
        }
        snprintf(url, url_len, "%s%s", s->nodes[node], path);
        bp_buf_reset(&s->answer);
        s->product_header = 0;
        s->curl_detail[0] = '\0';
        curl_easy_setopt(s->curl, CURLOPT_URL, url);
        curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, all);
        curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, NULL);
        if (strcmp(method, "GET") == 0) {
            curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);
        } else {
            curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
            curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
            if (strcmp(method, "POST") != 0)
                curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, method);
        }
        CURLcode rc = curl_easy_perform(s->curl);
        free(url); /* curl copied it */
        if (rc == CURLE_OK && !s->answer.failed) {
            curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
            s->node = node;
            break;
        }
        s->last_error = rc;
        s->verify_result = 0;
        curl_easy_getinfo(s->curl, CURLINFO_SSL_VERIFYRESULT, &s->verify_result);
        snprintf(err, err_cap, "%s: %s", s->shown[node],
                 s->answer.failed ? "out of memory reading the answer"
                 : s->curl_detail[0] ? s->curl_detail : curl_easy_strerror(rc));
        if (bp_es_tls_fatal(rc))
            break; /* the next node's certificate would not be told apart in the message */
    }
    if (hdrs) {
        last->next = NULL;
        curl_slist_free_all(hdrs);
    }
    return status;
}

/* Why the last answer was not a success: Elasticsearch's "type: reason", or a summary of a page
 * that is not one (a proxy's HTML), never the page itself. */
static void answer_reason(sink *s, char *out, size_t cap)
{
    char *ctype = NULL;
    curl_easy_getinfo(s->curl, CURLINFO_CONTENT_TYPE, &ctype);
    bp_es_error_reason(s->answer.data, s->answer.len, ctype, out, cap);
}

/* No node answers (`what` failed, `err` says how): said when an outage begins, at debug while
 * it lasts (its cause changes as the cluster goes away: a reset, then refusals, then timeouts;
 * those are not news); `next` (NULL: s->if_down) says what happens meanwhile. */
static void note_down(sink *s, bp_log_level level, const char *what, const char *err,
                      const char *next)
{
    s->host->log(s->ctx, s->down ? BP_LOG_DEBUG : level, "%s (%s); %s", what, err,
                 next ? next : s->if_down);
    s->down = 1;
}

/* -- the cluster check --------------------------------------------------------------------- */

typedef enum check_result { CHECK_OK, CHECK_DOWN, CHECK_FATAL } check_result;

/* `if_down` ends the message logged when no node answers: what happens next (NULL: what a
 * write does meanwhile). */
static check_result check_cluster(sink *s, bp_log_level down_level, const char *if_down)
{
    const bp_host *h = s->host;
    char err[512];
    s->last_error = CURLE_OK;
    long status = request(s, "GET", "/", NULL, 0, NULL, 0, err, sizeof err);
    if (status == 0 && bp_es_tls_fatal(s->last_error)) {
        /* Waiting will not make an untrusted certificate trusted. */
        char advice[1024];
        bp_es_tls_advice(s->last_error, s->verify_result, s->curl_detail, s->shown[s->node],
                         h->opt_string(s->ctx, "ca_file"), advice, sizeof advice);
        h->log(s->ctx, BP_LOG_ERROR, "%s", advice);
        return CHECK_FATAL;
    }
    if (status == 0) {
        if (down_level == BP_LOG_ERROR) /* bppipe check: always said */
            h->log(s->ctx, down_level, "no cluster node answers (%s); %s", err, if_down);
        else
            note_down(s, down_level, "no cluster node answers", err, if_down);
        return CHECK_DOWN;
    }
    if (s->down)
        h->log(s->ctx, BP_LOG_INFO, "%s answers again", s->shown[s->node]);
    s->down = 0;
    char reason[320];
    if (status == 401 || status == 403) {
        answer_reason(s, reason, sizeof reason);
        h->log(s->ctx, BP_LOG_ERROR, "%s refused the credentials (HTTP %ld: %s); check "
               "username/password or api_key", s->shown[s->node], status, reason);
        return CHECK_FATAL;
    }
    if (status == 429 || status >= 500) {
        h->log(s->ctx, down_level, "%s is not ready (HTTP %ld); waiting for it",
               s->shown[s->node], status);
        return CHECK_DOWN;
    }
    bp_es_info info;
    bp_es_parse_info(s->answer.data, s->answer.len, s->product_header, &info);
    if (status != 200 || info.flavor == BP_ES_UNKNOWN) {
        h->log(s->ctx, BP_LOG_ERROR, "%s is not an Elasticsearch or OpenSearch cluster (HTTP "
               "%ld: %s); check url", s->shown[s->node], status,
               info.why ? info.why : "unexpected status");
        return CHECK_FATAL;
    }
    h->log(s->ctx, BP_LOG_INFO, "connected to %s %s at %s (cluster %s)",
           info.flavor == BP_ES_OPENSEARCH ? "OpenSearch" : "Elasticsearch", info.version,
           s->shown[s->node], info.cluster[0] ? info.cluster : "unnamed");
    return CHECK_OK;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    bp_buf b;
    bp_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        bp_buf_put(&b, chunk, n);
    int bad = ferror(f) || b.failed;
    fclose(f);
    if (bad) {
        bp_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* At open, with install_template: the files are there and are JSON objects, so a wrong path
 * is a `bppipe check` error now, not a stop at the first write. */
static int file_is_json_object(sink *s, const char *what, const char *path)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        s->host->log(s->ctx, BP_LOG_ERROR, "cannot read the %s %s: %s (relative paths start at "
                     "the working directory)", what, path, strerror(errno));
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    int ok = cJSON_IsObject(root);
    cJSON_Delete(root);
    free(text);
    if (!ok)
        s->host->log(s->ctx, BP_LOG_ERROR, "the %s %s is not a JSON object", what, path);
    return ok ? 0 : -1;
}

/* PUTs one JSON file; CHECK_DOWN when the cluster should be asked again later. */
static check_result put_file(sink *s, const char *what, const char *path, const char *url_path)
{
    const bp_host *h = s->host;
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        h->log(s->ctx, BP_LOG_ERROR, "cannot read the %s %s: %s", what, path, strerror(errno));
        return CHECK_FATAL;
    }
    char err[512], reason[320];
    long status = request(s, "PUT", url_path, "application/json", 0, text, len, err,
                          sizeof err);
    free(text);
    if (status >= 200 && status < 300) {
        h->log(s->ctx, BP_LOG_INFO, "installed the %s %s", what, url_path);
        return CHECK_OK;
    }
    if (status == 0 || status == 429 || status >= 500) {
        h->log(s->ctx, BP_LOG_WARN, "cannot install the %s yet (%s); will retry", what,
               status ? "cluster busy" : err);
        return CHECK_DOWN;
    }
    answer_reason(s, reason, sizeof reason);
    h->log(s->ctx, BP_LOG_ERROR, "the cluster refused the %s from %s (HTTP %ld: %s)", what, path,
           status, reason);
    return CHECK_FATAL;
}

/* Before the first write: the cluster is there (again) and the template is in place. */
static check_result get_ready(sink *s)
{
    if (s->ready)
        return CHECK_OK;
    check_result r = check_cluster(s, BP_LOG_WARN, NULL); /* note_down says what happens */
    if (r != CHECK_OK)
        return r;
    const bp_host *h = s->host;
    if (s->install_template) {
        const char *policy = h->opt_string(s->ctx, "ilm_policy");
        if (policy && *policy) {
            r = put_file(s, "ILM policy", policy, "/_ilm/policy/bp-anomalies");
            if (r != CHECK_OK)
                return r;
        }
        r = put_file(s, "index template", h->opt_string(s->ctx, "template"), s->template_path);
        if (r != CHECK_OK)
            return r;
    }
    s->ready = 1;
    return CHECK_OK;
}

/* -- open / close -------------------------------------------------------------------------- */

static void free_sink(sink *s)
{
    if (s->curl)
        curl_easy_cleanup(s->curl);
    curl_slist_free_all(s->headers);
    for (size_t i = 0; i < s->n_nodes; i++) {
        free(s->nodes[i]);
        free(s->shown[i]);
    }
    bp_buf_free(&s->body);
    bp_buf_free(&s->gz);
    bp_buf_free(&s->answer);
    free(s->items);
    free(s->bulk_path);
    free(s->template_path);
    free(s);
}

/* Splits the url option into nodes; the shown form drops any user:password@. */
static int parse_nodes(sink *s, const char *list)
{
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        if (s->n_nodes == MAX_NODES)
            return -1;
        while (n > 0 && p[n - 1] == '/')
            n--;
        char *url = strndup(p, n);
        if (!url)
            return -1;
        s->nodes[s->n_nodes] = url;
        const char *scheme = strstr(url, "://");
        const char *host = scheme ? scheme + 3 : url;
        const char *at = strchr(host, '@');
        const char *slash = strchr(host, '/');
        char shown[1024];
        if (at && (!slash || at < slash))
            snprintf(shown, sizeof shown, "%.*s%s", (int)(host - url), url, at + 1);
        else
            snprintf(shown, sizeof shown, "%s", url);
        s->shown[s->n_nodes] = strdup(shown);
        if (!s->shown[s->n_nodes++])
            return -1;
        if (!scheme || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
            return -2;
        p += strcspn(p, ",");
    }
    return s->n_nodes ? 0 : -1;
}

static int setup_curl(sink *s)
{
    const bp_host *h = s->host;
    s->curl = curl_easy_init();
    if (!s->curl)
        return -1;
    /* An empty Expect: keeps curl from waiting for 100-continue on large bodies. curl_slist_append
     * returns NULL and leaves the list as it was when it cannot allocate. */
    s->headers = curl_slist_append(NULL, "Expect:");
    if (!s->headers || !curl_slist_append(s->headers, "Accept: application/json"))
        return -1;
    const char *key = h->opt_string(s->ctx, "api_key");
    if (key && *key) {
        /* The whole key, however long: a cut one is refused as wrong credentials. */
        size_t size = strlen(key) + sizeof "Authorization: ApiKey ";
        char *auth = malloc(size);
        if (!auth)
            return -1;
        snprintf(auth, size, "Authorization: ApiKey %s", key);
        struct curl_slist *added = curl_slist_append(s->headers, auth);
        memset(auth, 0, size);
        free(auth);
        if (!added)
            return -1;
    }
    const char *user = h->opt_string(s->ctx, "username");
    if (user && *user) {
        const char *pw = h->opt_string(s->ctx, "password");
        curl_easy_setopt(s->curl, CURLOPT_USERNAME, user);
        curl_easy_setopt(s->curl, CURLOPT_PASSWORD, pw ? pw : "");
        curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "bppipe-sink-es/1.0");
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)h->opt_int(s->ctx, "timeout_ms", 30000));
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)h->opt_int(s->ctx, "connect_timeout_ms", 5000));
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &s->answer);
    curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, header_seen);
    curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->curl_detail);
    const char *ca = h->opt_string(s->ctx, "ca_file");
    if (ca && *ca)
        curl_easy_setopt(s->curl, CURLOPT_CAINFO, ca);
    if (!h->opt_bool(s->ctx, "verify", 1)) {
        h->log(s->ctx, BP_LOG_WARN, "TLS verification is OFF (verify = false): anyone on the "
               "path can read and change what is sent");
        curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return 0;
}

/* "prefix" + the URL-escaped name, malloc'd; NULL when out of memory. */
static char *escaped_path(CURL *curl, const char *prefix, const char *name)
{
    char *esc = curl_easy_escape(curl, name, 0);
    if (!esc)
        return NULL;
    size_t len = strlen(prefix) + strlen(esc) + 1;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s%s", prefix, esc);
    curl_free(esc);
    return out;
}

/* Names from the INI go into URLs escaped, so "a&b" is one pipeline name, not two parameters. */
static int build_paths(sink *s)
{
    const char *pipeline = s->host->opt_string(s->ctx, "pipeline");
    s->bulk_path = pipeline && *pipeline ? escaped_path(s->curl, "/_bulk?pipeline=", pipeline)
                                         : strdup("/_bulk");
    s->template_path = escaped_path(s->curl, "/_index_template/",
                                    s->host->opt_string(s->ctx, "template_name"));
    return s->bulk_path && s->template_path ? 0 : -1;
}

static int es_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    s->index = host->opt_string(ctx, "index");
    s->batch_size = (size_t)host->opt_int(ctx, "batch_size", 1000);
    s->batch_bytes = (size_t)host->opt_int(ctx, "batch_bytes", 5242880);
    s->compress = host->opt_bool(ctx, "compress", 0);
    s->install_template = host->opt_bool(ctx, "install_template", 0);
    int rc = parse_nodes(s, host->opt_string(ctx, "url"));
    if (rc != 0) {
        host->log(ctx, BP_LOG_ERROR, rc == -2 ? "url must start with http:// or https://"
                  : "url must name 1 to %d nodes, comma-separated", MAX_NODES);
        goto fail;
    }
    char probe[256];
    if (bp_es_index_name(s->index, 0, probe, sizeof probe) != 0) {
        host->log(ctx, BP_LOG_ERROR, "index = %s does not make a valid index name: only %%Y %%m "
                  "%%d %%H %%j %%G %%V and %%%% conversions, lower case, none of \\ / * ? \" < "
                  "> | space , # :", s->index);
        goto fail;
    }
    const char *key = host->opt_string(ctx, "api_key");
    const char *user = host->opt_string(ctx, "username");
    if (key && *key && user && *user) {
        host->log(ctx, BP_LOG_ERROR, "set either api_key or username/password, not both");
        goto fail;
    }
    const char *ca = host->opt_string(ctx, "ca_file");
    if (ca && *ca && access(ca, R_OK) != 0) {
        host->log(ctx, BP_LOG_ERROR, "ca_file = %s cannot be read: %s (relative paths start at "
                  "the working directory)", ca, strerror(errno));
        goto fail;
    }
    /* What a write does while no node answers is the host's: the lane keeps the readings, or
     * its disk buffer does (the section's buffer key), and the source is paused only when a
     * lane without room is full. Say that, not more. */
    const char *buffer = host->opt_string(ctx, "buffer");
    s->if_down = buffer && strcmp(buffer, "disk") == 0
                     ? "will retry; its readings go to its disk buffer meanwhile"
                     : "will retry; its readings wait in its lane meanwhile (the source is paused "
                       "only when the lane is full)";
    if (setup_curl(s) != 0 || build_paths(s) != 0) {
        host->log(ctx, BP_LOG_ERROR, "cannot set up the HTTP client");
        goto fail;
    }
    if (s->install_template) {
        const char *policy = host->opt_string(ctx, "ilm_policy");
        if (file_is_json_object(s, "index template", host->opt_string(ctx, "template")) != 0 ||
            (policy && *policy && file_is_json_object(s, "ILM policy", policy) != 0))
            goto fail;
    }
    /* An unreachable cluster is waited for in write(); one that answers wrongly is an error
     * now, so `bppipe check` reports it too. */
    check_result found = check_cluster(s, BP_LOG_WARN, "a run starts anyway and waits for it "
                                       "before its first write");
    if (found == CHECK_FATAL)
        goto fail;
    /* The template is installed by the first write: open() must not change the cluster. */
    s->ready = found == CHECK_OK && !s->install_template;
    *state = s;
    return BP_OK;
fail:
    free_sink(s);
    return BP_FATAL;
}

static void es_close(void *state)
{
    free_sink(state);
}

/* `bppipe check`: a cluster node answers GET / as Elasticsearch or OpenSearch would, and takes
 * the credentials. */
static int es_probe(void *state, int timeout_ms)
{
    sink *s = state;
    (void)timeout_ms; /* the request is bounded by connect_timeout_ms and timeout_ms (keys) */
    check_result r = check_cluster(s, BP_LOG_ERROR, "check url and that the cluster runs; "
                                   "'bppipe check --offline' checks the file alone");
    return r == CHECK_OK ? BP_OK : r == CHECK_DOWN ? BP_RETRY : BP_FATAL;
}

/* -- write --------------------------------------------------------------------------------- */

static int gzip_body(sink *s)
{
    bp_buf_reset(&s->gz);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t bound = deflateBound(&z, (uLong)s->body.len);
    int rc = -1;
    if (!bp_buf_reserve(&s->gz, bound))
        goto done;
    z.next_in = (Bytef *)s->body.data;
    z.avail_in = (uInt)s->body.len;
    z.next_out = (Bytef *)s->gz.data;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        goto done;
    s->gz.len = z.total_out;
    s->gz.data[s->gz.len] = '\0'; /* reserved with the bound */
    rc = 0;
done:
    deflateEnd(&z);
    return rc;
}

/* The index name for one record: from its own effective time, so a replay lands where the
 * first delivery did. */
static int index_for(sink *s, const bp_record *r, char *out, size_t cap)
{
    double ms = s->host->number(r, BP_F_EFFECTIVE_MS);
    if (isnan(ms))
        ms = s->host->number(r, BP_F_SOURCE_TIMESTAMP_MS);
    if (isnan(ms))
        ms = (double)bp_wall_ms();
    /* The pattern names at most the hour: a name is the same through a second, and a batch's
     * readings (each planned twice, sizing then sending) mostly share a few seconds; strftime
     * and gmtime_r were a fifth of the plan. */
    int64_t t = (int64_t)ms, secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
    if (s->index_cached && secs == s->index_secs && cap > s->index_len) {
        memcpy(out, s->index_name, s->index_len + 1);
        return 0;
    }
    int rc = bp_es_index_name(s->index, t, out, cap);
    size_t n = rc == 0 ? strlen(out) : 0;
    s->index_cached = rc == 0 && n < sizeof s->index_name;
    if (s->index_cached) {
        memcpy(s->index_name, out, n + 1);
        s->index_len = n;
        s->index_secs = secs;
    }
    return rc;
}

/* One record as a bulk item. */
typedef struct item_plan {
    bp_es_op op;
    const char *id;  /* _id: the logical id when the record has one, else the stable id */
    int64_t version; /* external version, 0 when unknown */
    char index[256];
    const char *doc; /* NULL for a delete */
    size_t doc_len;
} item_plan;

typedef enum plan_result { PLAN_OK, PLAN_REFUSED, PLAN_NO_MEMORY } plan_result;

/* What to send for `r` (docs/plugins/sink-es.md, "Corrections and retractions"); PLAN_REFUSED
 * with the reason in `why`. */
static plan_result plan_item(sink *s, const bp_record *r, item_plan *p, char *why, size_t cap)
{
    const bp_host *h = s->host;
    const char *logical = h->text(r, BP_F_LOGICAL_ID);
    p->id = logical && *logical ? logical : h->text(r, BP_F_STABLE_ID);
    p->version = bp_es_version_of(h->number(r, BP_F_VERSION));
    p->op = bp_es_op_for(h->text(r, BP_F_REVISION), p->version);
    p->doc = NULL;
    p->doc_len = 0;
    size_t id_len = p->id ? strlen(p->id) : 0;
    if (id_len > MAX_ID) {
        /* Never cut: a shortened _id would be another reading's, and its create a 409 counted
         * as delivered. */
        snprintf(why, cap,
                 "%s of %zu bytes is longer than the 512 bytes Elasticsearch allows for _id",
                 p->id == logical ? "logical id" : "stable id", id_len);
        return PLAN_REFUSED;
    }
    if (p->op == BP_ES_OP_DELETE) {
        /* A retraction removes the document from the index its reading went to: the one its
         * effective time names. Without that time only a fixed index name is certain; the
         * clock or the source's timestamp would name another month's index and the delete
         * would find nothing there (a 404, counted delivered) while the document stays. */
        double ms = h->number(r, BP_F_EFFECTIVE_MS);
        if (!p->id || (isnan(ms) && bp_es_index_is_dated(s->index))) {
            if (p->id)
                snprintf(why, cap,
                         "retraction without an effective time: index = %s names indices by the "
                         "reading's time, so the index holding the document is not known; "
                         "delete _id %s by hand (POST <indices>/_delete_by_query, ids query)",
                         s->index, p->id);
            else
                snprintf(why, cap, "retraction without a logical or stable id: nothing to delete");
            return PLAN_REFUSED;
        }
        if (bp_es_index_name(s->index, isnan(ms) ? 0 : (int64_t)ms, p->index, sizeof p->index))
            goto bad_index;
        return PLAN_OK;
    }
    if (index_for(s, r, p->index, sizeof p->index) != 0)
        goto bad_index;
    p->doc = h->document(s->ctx, r, 0, &p->doc_len);
    return p->doc ? PLAN_OK : PLAN_NO_MEMORY;
bad_index:
    /* A time whose name the pattern cannot make (a 5-digit year past 255 bytes). */
    snprintf(why, cap,
             "the index pattern makes no valid index name (at most 255 bytes) for this "
             "reading's time");
    return PLAN_REFUSED;
}

typedef enum send_result { SEND_OK, SEND_RETRY, SEND_FATAL } send_result;

static send_result send_range(sink *s, bp_batch *batch, size_t *idx, size_t n);

/* Sends records batch[idx[0..n)] as one _bulk request and reports every record's outcome. */
static send_result send_range(sink *s, bp_batch *batch, size_t *idx, size_t n)
{
    const bp_host *h = s->host;
    bp_buf_reset(&s->body);
    for (size_t k = 0; k < n; k++) {
        bp_record *r = h->batch_at(batch, idx[k]);
        item_plan p;
        char why[512];
        if (plan_item(s, r, &p, why, sizeof why) != PLAN_OK)
            return SEND_FATAL; /* out of memory; write() refused the others before */
        bp_es_bulk_add_op(&s->body, p.op, p.index, p.id, p.version, p.doc, p.doc_len);
    }
    if (s->body.failed || (s->compress && gzip_body(s) != 0)) {
        h->log(s->ctx, BP_LOG_ERROR, "out of memory building a bulk request");
        return SEND_FATAL;
    }
    char err[512], reason[320];
    const bp_buf *out = s->compress ? &s->gz : &s->body;
    long status = request(s, "POST", s->bulk_path, "application/x-ndjson", s->compress, out->data,
                          out->len, err, sizeof err);
    h->count(s->ctx, "es_requests", 1);
    bp_es_request_action act = bp_es_request_verdict(status, n);
    if (act != BP_ES_REQ_ITEMS && status)
        answer_reason(s, reason, sizeof reason);
    switch (act) {
    case BP_ES_REQ_ITEMS:
        break;
    case BP_ES_REQ_RETRY:
        if (status)
            h->log(s->ctx, BP_LOG_WARN, "bulk request of %zu document(s) refused with HTTP %ld "
                   "(%s); will retry", n, status, reason);
        else
            note_down(s, BP_LOG_WARN, "bulk request failed", err, NULL);
        s->ready = 0; /* check the cluster again before the next try */
        for (size_t k = 0; k < n; k++)
            h->set_outcome(s->ctx, h->batch_at(batch, idx[k]), BP_AGAIN, NULL);
        return SEND_RETRY;
    case BP_ES_REQ_SPLIT: {
        h->log(s->ctx, BP_LOG_INFO, "bulk request of %zu documents refused with HTTP %ld; "
               "splitting it", n, status);
        h->count(s->ctx, "es_splits", 1);
        size_t half = n / 2;
        send_result a = send_range(s, batch, idx, half);
        if (a == SEND_FATAL)
            return a;
        send_result b = send_range(s, batch, idx + half, n - half);
        return b != SEND_OK ? b : a;
    }
    case BP_ES_REQ_REJECT: {
        char why[400];
        snprintf(why, sizeof why, "HTTP %ld: %s", status, reason);
        h->set_outcome(s->ctx, h->batch_at(batch, idx[0]), BP_REJECTED, why);
        h->count(s->ctx, "es_rejected", 1);
        return SEND_OK;
    }
    case BP_ES_REQ_AUTH:
        h->log(s->ctx, BP_LOG_ERROR, "%s refused the credentials (HTTP %ld: %s); check "
               "username/password or api_key; stopping", s->shown[s->node], status, reason);
        return SEND_FATAL;
    case BP_ES_REQ_FATAL:
        h->log(s->ctx, BP_LOG_ERROR, "%s answered the bulk request with HTTP %ld (%s); check "
               "url and pipeline; stopping", s->shown[s->node], status, reason);
        return SEND_FATAL;
    }
    if (s->items_cap < n) {
        bp_es_item *grown = realloc(s->items, n * sizeof *grown);
        if (!grown)
            return SEND_FATAL;
        s->items = grown;
        s->items_cap = n;
    }
    const char *why = NULL;
    if (bp_es_parse_bulk(s->answer.data, s->answer.len, s->items, n, &why) != 0) {
        h->log(s->ctx, BP_LOG_WARN, "%s; retrying all %zu document(s) (creates, external "
               "versions and deletes make that safe)", why, n);
        for (size_t k = 0; k < n; k++)
            h->set_outcome(s->ctx, h->batch_at(batch, idx[k]), BP_AGAIN, NULL);
        return SEND_RETRY;
    }
    /* What each answer did, counted apart: a correction replaced a document, a replay was
     * refused as stale, a retraction deleted one or found nothing to delete. */
    size_t again = 0, created = 0, dups = 0, rejected = 0, replaced = 0, stale = 0, deleted = 0;
    size_t gone = 0;
    const char *again_reason = NULL;
    int again_status = 0;
    for (size_t k = 0; k < n; k++) {
        bp_record *r = h->batch_at(batch, idx[k]);
        const bp_es_item *it = &s->items[k];
        if (it->verdict == BP_ES_DELIVERED) {
            if (it->op == BP_ES_OP_DELETE)
                *(it->status == 409 ? &stale : it->status == 404 ? &gone : &deleted) += 1;
            else if (it->status == 409)
                *(it->op == BP_ES_OP_CREATE ? &dups : &stale) += 1;
            else if (it->op == BP_ES_OP_INDEX && it->status == 200)
                replaced++;
            else
                created++;
            h->set_outcome(s->ctx, r, BP_DELIVERED, NULL);
        } else if (it->verdict == BP_ES_AGAIN) {
            again++;
            again_reason = it->reason;
            again_status = it->status;
            h->set_outcome(s->ctx, r, BP_AGAIN, NULL);
        } else {
            rejected++;
            h->set_outcome(s->ctx, r, BP_REJECTED, it->reason[0] ? it->reason : "refused");
        }
    }
    h->count(s->ctx, "es_created", (double)created);
    if (dups)
        h->count(s->ctx, "es_already_there", (double)dups);
    if (replaced)
        h->count(s->ctx, "es_replaced", (double)replaced);
    if (stale)
        h->count(s->ctx, "es_stale", (double)stale);
    if (deleted)
        h->count(s->ctx, "es_deleted", (double)deleted);
    if (gone)
        h->count(s->ctx, "es_already_gone", (double)gone);
    if (rejected)
        h->count(s->ctx, "es_rejected", (double)rejected);
    if (again) {
        h->count(s->ctx, "es_items_retried", (double)again);
        /* The same words every time (the status and the error's type, no counts, no reason text
         * with its queue sizes), so the host's rate limit keeps a storm of 429s to a line a while;
         * how many is in the counter. */
        const char *r = again_reason && *again_reason ? again_reason : "no reason";
        h->log(s->ctx, BP_LOG_WARN, "documents not taken now (item status %d, %.*s); retrying only "
               "those (counted in es_items_retried)", again_status, (int)strcspn(r, ":"), r);
        return SEND_RETRY;
    }
    return SEND_OK;
}

static int es_write(void *state, bp_batch *batch)
{
    sink *s = state;
    const bp_host *h = s->host;
    size_t count = h->batch_count(batch);
    size_t *idx = NULL;
    int status = BP_OK;
    check_result ready = get_ready(s);
    if (ready == CHECK_FATAL)
        return BP_FATAL;
    if (ready == CHECK_DOWN)
        return BP_RETRY; /* no outcome set: every record takes the batch result */
    idx = malloc((count ? count : 1) * sizeof *idx);
    if (!idx)
        return BP_RETRY;
    size_t start = 0, n = 0, bytes = 0;
    for (size_t i = 0; i <= count; i++) {
        bp_record *r = i < count ? h->batch_at(batch, i) : NULL;
        size_t item_len = 0;
        if (r) {
            item_plan p;
            char why[512];
            plan_result pr = plan_item(s, r, &p, why, sizeof why);
            if (pr == PLAN_REFUSED) {
                h->set_outcome(s->ctx, r, BP_REJECTED, why);
                continue;
            }
            if (pr == PLAN_NO_MEMORY) {
                status = BP_RETRY;
                h->set_outcome(s->ctx, r, BP_AGAIN, NULL);
                continue;
            }
            /* document, action line (index name at most 255 bytes, version), escapes, newlines */
            item_len = p.doc_len + 2 * strlen(p.id ? p.id : "") + 360;
        }
        /* Flush when this record would overflow either limit, and at the end. */
        int full = n > 0 && (!r || n == s->batch_size || bytes + item_len > s->batch_bytes);
        if (full) {
            send_result sr = send_range(s, batch, idx + start, n);
            if (sr == SEND_FATAL) {
                status = BP_FATAL;
                break;
            }
            if (sr == SEND_RETRY) {
                /* The cluster is struggling: the rest waits for the host's back-off. */
                for (size_t j = i; j < count; j++)
                    h->set_outcome(s->ctx, h->batch_at(batch, j), BP_AGAIN, NULL);
                status = BP_RETRY;
                break;
            }
            start += n;
            n = 0;
            bytes = 0;
        }
        if (r) {
            idx[start + n++] = i;
            bytes += item_len;
        }
    }
    free(idx);
    return status;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = 0, /* an older host answers NULL and NaN for the revision fields: all creates */
    .name = "sink-es",
    .version = "1.1.0",
    .kind = BP_KIND_SINK,
    .description = "readings into Elasticsearch or OpenSearch with _bulk, exactly once; "
                   "corrections replace (external versions), retractions delete",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = es_open,
    .close = es_close,
    .write = es_write,
    .probe = es_probe,
    /* Corrections replace the logical id's document, retractions delete it (ABI 1.8). */
    .caps = BP_CAP_REVISIONS,
};

BP_PLUGIN(descriptor)
