#include "es_bulk.h"

#include <bppipe/plugin.h>

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *bp_es_index_name_check(const char *name)
{
    size_t len = strlen(name);
    if (len == 0)
        return "an index name must not be empty";
    if (len > 255)
        return "an index name must be at most 255 bytes";
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return "an index name must not be . or ..";
    if (name[0] == '_' || name[0] == '-' || name[0] == '+')
        return "an index name must not start with _, - or +";
    for (const char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            return "an index name must be lower case";
        if (strchr("\\/*?\"<>| ,#:", *p))
            return "an index name must not contain \\ / * ? \" < > | space , # :";
    }
    return NULL;
}

int bp_es_index_name(const char *pattern, int64_t ms, char *out, size_t cap)
{
    if (!pattern || !out || cap == 0)
        return -1;
    /* Only date conversions: a name must not depend on the locale or the clock. */
    for (const char *p = pattern; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (!*p || !strchr("YmdHjGV%", *p))
            return -1;
    }
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return -1;
    size_t n = strftime(out, cap, pattern, &tm);
    if (n == 0)
        return -1; /* too long for cap (an empty pattern is caught by the name check too) */
    return bp_es_index_name_check(out) ? -1 : 0;
}

/* A JSON string literal; index names and ids are short, so a cJSON round trip is not worth
 * it here. Not bp_buf_json_string, which repairs invalid UTF-8 (a document already sent would
 * get another _id) and writes \n, \r and \t short: the bulk body stays byte for byte as it was. */
static void append_json_string(bp_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    bp_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            bp_buf_put(b, esc, 2);
        } else if (*p < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            bp_buf_put(b, esc, 6);
        } else {
            bp_buf_putc(b, (char)*p);
        }
    }
    bp_buf_putc(b, '"');
}

int bp_es_bulk_add(bp_buf *body, const char *index, const char *id, const char *doc, size_t doc_len)
{
    return bp_es_bulk_add_op(body, BP_ES_OP_CREATE, index, id, 0, doc, doc_len);
}

bp_es_op bp_es_op_for(const char *revision, int64_t version)
{
    if (revision && strcmp(revision, "retract") == 0)
        return BP_ES_OP_DELETE;
    if (version > 0 || (revision && strcmp(revision, "replace") == 0))
        return BP_ES_OP_INDEX;
    return BP_ES_OP_CREATE;
}

int64_t bp_es_version_of(double number)
{
    /* 2^53: above it a double skips whole numbers, and two versions could compare equal. */
    if (!(number >= 1.0 && number <= 9007199254740992.0) || number != floor(number))
        return 0;
    return (int64_t)number;
}

int bp_es_bulk_add_op(bp_buf *body, bp_es_op op, const char *index, const char *id, int64_t version,
                      const char *doc, size_t doc_len)
{
    static const char *const open[] = {
        "{\"create\":{\"_index\":", "{\"index\":{\"_index\":", "{\"delete\":{\"_index\":"};
    if (op > BP_ES_OP_DELETE)
        return -1;
    bp_buf_put(body, open[op], strlen(open[op]));
    append_json_string(body, index);
    if (id) {
        bp_buf_put(body, ",\"_id\":", 7);
        append_json_string(body, id);
    }
    if (version > 0 && op != BP_ES_OP_CREATE) {
        /* Elasticsearch refuses external versions on create; index and delete take them. */
        char v[64];
        int n = snprintf(v, sizeof v, ",\"version\":%lld,\"version_type\":\"external\"",
                         (long long)version);
        bp_buf_put(body, v, (size_t)n);
    }
    bp_buf_put(body, "}}\n", 3);
    if (op != BP_ES_OP_DELETE) {
        bp_buf_put(body, doc, doc_len);
        bp_buf_putc(body, '\n');
    }
    return body->failed ? -1 : 0;
}

int bp_es_index_is_dated(const char *pattern)
{
    for (const char *p = pattern; p && *p; p++) {
        if (*p != '%')
            continue;
        if (p[1] != '%')
            return 1;
        p++; /* %% is a literal percent sign */
    }
    return 0;
}

static bp_es_op op_named(const char *action)
{
    if (!action)
        return BP_ES_OP_OTHER;
    if (strcmp(action, "create") == 0)
        return BP_ES_OP_CREATE;
    if (strcmp(action, "index") == 0)
        return BP_ES_OP_INDEX;
    if (strcmp(action, "delete") == 0)
        return BP_ES_OP_DELETE;
    return BP_ES_OP_OTHER;
}

bp_es_verdict bp_es_item_verdict(const char *action, int status)
{
    if (status >= 200 && status < 300)
        return BP_ES_DELIVERED;
    bp_es_op op = op_named(action);
    /* create: that _id is already there (a replay, not a loss). index and delete: sink-es sends
     * them versioned (external) or unversioned, and only a versioned one can conflict: the
     * same or a newer version is stored, or its delete's tombstone is. */
    if (status == 409 && op != BP_ES_OP_OTHER)
        return BP_ES_DELIVERED;
    if (status == 404 && op == BP_ES_OP_DELETE)
        return BP_ES_DELIVERED; /* not_found, or no such index: nothing left to remove */
    if (status == 429 || status >= 500 || status == 408)
        return BP_ES_AGAIN;
    if (status >= 400)
        return BP_ES_REJECTED;
    return BP_ES_AGAIN; /* 0 or 1xx/3xx: we cannot know it was taken */
}

/* Writes the formatted text into `out`; when it does not fit, its end says so and how long it
 * was, so a reason is never cut silently (below 64 bytes there is no room to say it). */
static void put_bounded(char *out, size_t cap, const char *fmt, ...) BP_PRINTF(3, 4);
static void put_bounded(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n < cap || cap < 64)
        return;
    char tail[48];
    int t = snprintf(tail, sizeof tail, "... (shortened from %d bytes)", n);
    memcpy(out + cap - 1 - (size_t)t, tail, (size_t)t + 1);
}

/* At most `max` bytes of `p[0..len)` as one line of printable ASCII, runs of white space as one
 * space, "..." at the end when there was more. */
static void one_line(const char *p, size_t len, size_t max, char *out, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len && isspace((unsigned char)p[i]))
        i++;
    for (; i < len && n + 4 < cap && n < max; i++) {
        unsigned char c = (unsigned char)p[i];
        if (isspace(c)) {
            if (n && out[n - 1] != ' ')
                out[n++] = ' ';
            continue;
        }
        out[n++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
    }
    while (n && out[n - 1] == ' ')
        n--;
    if (i < len)
        out[n++] = '.', out[n++] = '.', out[n++] = '.';
    out[n] = '\0';
}

/* A case-insensitive search in the first `len` bytes (bodies are not NUL-terminated strings). */
static const char *find_ci(const char *p, size_t len, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= len; i++)
        if (strncasecmp(p + i, needle, k) == 0)
            return p + i;
    return NULL;
}

/* An answer that is not an Elasticsearch error (a proxy's HTML page, a load balancer's text):
 * its type, its length and its title or first line, never the page. */
static void answer_summary(const char *body, size_t len, const char *ctype, char *out, size_t cap)
{
    char type[64], line[128];
    const char *what = "first line";
    size_t scan = len < 65536 ? len : 65536;
    const char *title = find_ci(body, scan, "<title>");
    const char *end = title ? find_ci(title, scan - (size_t)(title - body), "</title>") : NULL;
    if (title && end) {
        title += 7;
        one_line(title, (size_t)(end - title), 100, line, sizeof line);
        what = "title";
    } else {
        size_t first = 0;
        while (first < len && isspace((unsigned char)body[first]))
            first++;
        size_t stop = first;
        while (stop < len && body[stop] != '\n')
            stop++;
        one_line(body + first, stop - first, 100, line, sizeof line);
    }
    if (ctype && *ctype)
        one_line(ctype, strcspn(ctype, ";"), 48, type, sizeof type);
    else
        snprintf(type, sizeof type, "untyped");
    put_bounded(out, cap,
                "%s answer of %zu bytes, %s \"%s\" (shortened: the answer itself is not "
                "kept)",
                type, len, what, line);
}

static void reason_of(const cJSON *error, char *out, size_t cap)
{
    if (cJSON_IsString(error)) {
        put_bounded(out, cap, "%s", error->valuestring);
        return;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(error, "type");
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(error, "reason");
    const cJSON *caused = cJSON_GetObjectItemCaseSensitive(error, "caused_by");
    const char *t = cJSON_IsString(type) ? type->valuestring : "error";
    const char *r = cJSON_IsString(reason) ? reason->valuestring : "";
    if (cJSON_IsObject(caused)) {
        /* The cause says what a mapping failure was about (e.g. the number format). */
        const cJSON *cr = cJSON_GetObjectItemCaseSensitive(caused, "reason");
        if (cJSON_IsString(cr)) {
            put_bounded(out, cap, "%s: %s (caused by: %s)", t, r, cr->valuestring);
            return;
        }
    }
    put_bounded(out, cap, "%s: %s", t, r);
}

void bp_es_error_reason(const char *body, size_t len, const char *ctype, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsObject(error) || cJSON_IsString(error))
        reason_of(error, out, cap);
    else if (body && len)
        answer_summary(body, len, ctype, out, cap);
    cJSON_Delete(root);
}

int bp_es_parse_bulk(const char *body, size_t len, bp_es_item *items, size_t n,
                     const char **why)
{
    static const char *not_bulk = "the answer is not a bulk response (no items array)";
    static const char *wrong_count = "the bulk response lists another number of items than "
                                     "were sent";
    int rc = -1;
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "items");
    *why = not_bulk;
    if (!cJSON_IsArray(list))
        goto done;
    *why = wrong_count;
    if ((size_t)cJSON_GetArraySize(list) != n)
        goto done;
    size_t i = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, list)
    {
        /* Each entry is {"<action>": {...}}; the action names how to read a 409. */
        const cJSON *result = entry->child;
        bp_es_item *it = &items[i++];
        memset(it, 0, sizeof *it);
        it->op = BP_ES_OP_OTHER;
        if (!cJSON_IsObject(result)) {
            it->verdict = BP_ES_AGAIN;
            continue;
        }
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(result, "status");
        it->status = cJSON_IsNumber(status) ? status->valueint : 0;
        it->op = op_named(result->string);
        it->verdict = bp_es_item_verdict(result->string, it->status);
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(result, "error");
        if (error)
            reason_of(error, it->reason, sizeof it->reason);
    }
    *why = NULL;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

bp_es_request_action bp_es_request_verdict(long status, size_t n_docs)
{
    if (status >= 200 && status < 300)
        return BP_ES_REQ_ITEMS;
    if (status == 0 || status == 408 || status == 429 || status >= 500)
        return BP_ES_REQ_RETRY;
    if (status == 413)
        return n_docs > 1 ? BP_ES_REQ_SPLIT : BP_ES_REQ_REJECT;
    if (status == 400)
        return n_docs > 1 ? BP_ES_REQ_SPLIT : BP_ES_REQ_REJECT;
    if (status == 401 || status == 403)
        return BP_ES_REQ_AUTH;
    return BP_ES_REQ_FATAL;
}

int bp_es_parse_info(const char *body, size_t len, int product_header, bp_es_info *info)
{
    memset(info, 0, sizeof *info);
    cJSON *root = body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *number = cJSON_GetObjectItemCaseSensitive(version, "number");
    const cJSON *dist = cJSON_GetObjectItemCaseSensitive(version, "distribution");
    const cJSON *cluster = cJSON_GetObjectItemCaseSensitive(root, "cluster_name");
    if (cJSON_IsString(number)) {
        snprintf(info->version, sizeof info->version, "%s", number->valuestring);
        info->major = atoi(number->valuestring);
    }
    if (cJSON_IsString(cluster))
        snprintf(info->cluster, sizeof info->cluster, "%s", cluster->valuestring);
    if (!cJSON_IsObject(root) || !cJSON_IsString(number)) {
        info->why = "GET / did not answer with a cluster description (version.number); is the "
                    "url the cluster's HTTP address?";
    } else if (cJSON_IsString(dist) && strcmp(dist->valuestring, "opensearch") == 0) {
        info->flavor = BP_ES_OPENSEARCH;
    } else if (product_header) {
        if (info->major >= 7)
            info->flavor = BP_ES_ELASTICSEARCH;
        else
            info->why = "Elasticsearch older than 7 is not supported";
    } else {
        info->why = "the server says it is Elasticsearch but does not send the "
                    "X-Elastic-Product header that every Elasticsearch since 7.14 sends";
    }
    cJSON_Delete(root);
    return 0;
}
