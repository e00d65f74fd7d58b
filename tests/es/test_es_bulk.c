/* sink-es's pure logic: index names from the reading's time, the bulk body byte for byte,
 * per-item verdicts from the real Elasticsearch responses in tests/data/es, error
 * envelopes, whole-request verdicts and the GET / check. */
#include "check.h"
#include "es_bulk.h"
#include "es_tls.h"

#include <curl/curl.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

static char *slurp(const char *name, size_t *len)
{
    const char *dir = getenv("BPPIPE_TEST_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/es/%s", dir && *dir ? dir : "tests/data", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (BPPIPE_TEST_DATA names tests/data; ctest sets it)\n",
                path);
        exit(2);
    }
    bp_buf b;
    bp_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        bp_buf_put(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

static void index_names(void)
{
    char out[64];
    /* 2026-03-01T10:00:00Z */
    CHECK(bp_es_index_name("bp-anomalies-%Y.%m", 1772359200000LL, out, sizeof out) == 0);
    CHECK_STR(out, "bp-anomalies-2026.03");
    CHECK(bp_es_index_name("bp-%Y.%m.%d-%H", 1772359200000LL, out, sizeof out) == 0);
    CHECK_STR(out, "bp-2026.03.01-10");
    /* One millisecond before midnight UTC stays in the old month; negative times floor. */
    CHECK(bp_es_index_name("x-%Y.%m.%d", 1772323199999LL, out, sizeof out) == 0);
    CHECK_STR(out, "x-2026.02.28");
    CHECK(bp_es_index_name("x-%Y.%m.%d", -1, out, sizeof out) == 0);
    CHECK_STR(out, "x-1969.12.31");
    CHECK(bp_es_index_name("plain", 0, out, sizeof out) == 0);
    CHECK_STR(out, "plain");
    CHECK(bp_es_index_name("bp-%B", 0, out, sizeof out) != 0);    /* locale-dependent */
    CHECK(bp_es_index_name("bp-%s", 0, out, sizeof out) != 0);
    CHECK(bp_es_index_name("bp-%", 0, out, sizeof out) != 0);
    CHECK(bp_es_index_name("BP-%Y", 0, out, sizeof out) != 0);
    CHECK(bp_es_index_name("bp %Y", 0, out, sizeof out) != 0);
    CHECK(bp_es_index_name("_bp", 0, out, sizeof out) != 0);
    CHECK(bp_es_index_name("", 0, out, sizeof out) != 0);
    CHECK(bp_es_index_name("bp-anomalies-%Y.%m", 0, out, 8) != 0); /* does not fit */
    CHECK(bp_es_index_name_check("a:b") != NULL);
    CHECK(bp_es_index_name_check("..") != NULL);
    CHECK(bp_es_index_name_check("bp-anomalies-2026.03") == NULL);
}

static void bulk_body(void)
{
    bp_buf b;
    bp_buf_init(&b);
    const char *doc = "{\"a\":1}";
    CHECK(bp_es_bulk_add(&b, "bp-1", "obs/1", doc, strlen(doc)) == 0);
    CHECK(bp_es_bulk_add(&b, "bp-1", "q\"\\\x01", doc, strlen(doc)) == 0);
    CHECK(bp_es_bulk_add(&b, "bp-2", NULL, doc, strlen(doc)) == 0);
    CHECK_STR(b.data, "{\"create\":{\"_index\":\"bp-1\",\"_id\":\"obs/1\"}}\n{\"a\":1}\n"
                      "{\"create\":{\"_index\":\"bp-1\",\"_id\":\"q\\\"\\\\\\u0001\"}}\n{\"a\":1}\n"
                      "{\"create\":{\"_index\":\"bp-2\"}}\n{\"a\":1}\n");
    /* Every action line is valid JSON carrying the id back unchanged. */
    const char *second = strchr(strchr(b.data, '\n') + 1, '\n') + 1;
    cJSON *action = cJSON_ParseWithLength(second, strcspn(second, "\n"));
    const cJSON *id = cJSON_GetObjectItem(cJSON_GetObjectItem(action, "create"), "_id");
    CHECK(cJSON_IsString(id) && strcmp(id->valuestring, "q\"\\\x01") == 0);
    cJSON_Delete(action);
    CHECK(b.data[b.len - 1] == '\n');
    bp_buf_reset(&b);
    CHECK(b.len == 0);
    /* Ids go out byte for byte as they always did: every control character as \u00XX (no short
     * \n), and bytes that are not UTF-8 as they came (an _id must never change). */
    CHECK(bp_es_bulk_add(&b, "bp-1", "a\nb\tc\xff\xc3\xa9", doc, strlen(doc)) == 0);
    CHECK_STR(b.data,
              "{\"create\":{\"_index\":\"bp-1\",\"_id\":\"a\\u000ab\\u0009c\xff\xc3\xa9\"}}\n"
              "{\"a\":1}\n");
    bp_buf_free(&b);
}

/* Which action a record becomes, and the lines it adds. */
static void revision_actions(void)
{
    CHECK(bp_es_op_for(NULL, 0) == BP_ES_OP_CREATE);
    CHECK(bp_es_op_for(NULL, 3) == BP_ES_OP_INDEX);
    CHECK(bp_es_op_for("replace", 0) == BP_ES_OP_INDEX);
    CHECK(bp_es_op_for("replace", 2) == BP_ES_OP_INDEX);
    CHECK(bp_es_op_for("retract", 0) == BP_ES_OP_DELETE);
    CHECK(bp_es_op_for("retract", 5) == BP_ES_OP_DELETE);
    CHECK(bp_es_version_of(NAN) == 0);
    CHECK(bp_es_version_of(0) == 0);
    CHECK(bp_es_version_of(-3) == 0);
    CHECK(bp_es_version_of(2.5) == 0);
    CHECK(bp_es_version_of(1) == 1);
    CHECK(bp_es_version_of(1772359200000.0) == 1772359200000LL); /* lastUpdated in ms */
    CHECK(bp_es_version_of(9007199254740992.0) == 9007199254740992LL);
    CHECK(bp_es_version_of(1e19) == 0);
    CHECK(bp_es_index_is_dated("bp-anomalies-%Y.%m"));
    CHECK(!bp_es_index_is_dated("bp-anomalies"));
    CHECK(!bp_es_index_is_dated("bp-100%%"));
    CHECK(bp_es_index_is_dated("bp-%%-%d"));

    bp_buf b;
    bp_buf_init(&b);
    const char *doc = "{\"a\":1}";
    CHECK(bp_es_bulk_add_op(&b, BP_ES_OP_INDEX, "bp-1", "obs/1", 2, doc, strlen(doc)) == 0);
    CHECK(bp_es_bulk_add_op(&b, BP_ES_OP_INDEX, "bp-1", "obs/2", 0, doc, strlen(doc)) == 0);
    CHECK(bp_es_bulk_add_op(&b, BP_ES_OP_DELETE, "bp-1", "obs/1", 3, NULL, 0) == 0);
    CHECK(bp_es_bulk_add_op(&b, BP_ES_OP_DELETE, "bp-1", "obs/3", 0, NULL, 0) == 0);
    /* create never carries a version: Elasticsearch refuses external versions on create */
    CHECK(bp_es_bulk_add_op(&b, BP_ES_OP_CREATE, "bp-1", "obs/4", 7, doc, strlen(doc)) == 0);
    CHECK_STR(b.data, "{\"index\":{\"_index\":\"bp-1\",\"_id\":\"obs/1\",\"version\":2,"
                      "\"version_type\":\"external\"}}\n{\"a\":1}\n"
                      "{\"index\":{\"_index\":\"bp-1\",\"_id\":\"obs/2\"}}\n{\"a\":1}\n"
                      "{\"delete\":{\"_index\":\"bp-1\",\"_id\":\"obs/1\",\"version\":3,"
                      "\"version_type\":\"external\"}}\n"
                      "{\"delete\":{\"_index\":\"bp-1\",\"_id\":\"obs/3\"}}\n"
                      "{\"create\":{\"_index\":\"bp-1\",\"_id\":\"obs/4\"}}\n{\"a\":1}\n");
    CHECK(bp_es_bulk_add_op(&b, BP_ES_OP_OTHER, "bp-1", "x", 0, doc, strlen(doc)) != 0);
    bp_buf_free(&b);
}

static void item_verdicts(void)
{
    CHECK(bp_es_item_verdict("create", 201) == BP_ES_DELIVERED);
    CHECK(bp_es_item_verdict("index", 200) == BP_ES_DELIVERED);
    CHECK(bp_es_item_verdict("create", 409) == BP_ES_DELIVERED);
    /* index and delete are sent versioned (external) or unversioned: a 409 is the same or a
     * newer version (or its delete) already there */
    CHECK(bp_es_item_verdict("index", 409) == BP_ES_DELIVERED);
    CHECK(bp_es_item_verdict("delete", 409) == BP_ES_DELIVERED);
    CHECK(bp_es_item_verdict("delete", 404) == BP_ES_DELIVERED); /* nothing left to remove */
    CHECK(bp_es_item_verdict("delete", 200) == BP_ES_DELIVERED);
    CHECK(bp_es_item_verdict("index", 404) == BP_ES_REJECTED);
    CHECK(bp_es_item_verdict("update", 409) == BP_ES_REJECTED); /* never sent */
    CHECK(bp_es_item_verdict("update", 404) == BP_ES_REJECTED);
    CHECK(bp_es_item_verdict("delete", 429) == BP_ES_AGAIN);
    CHECK(bp_es_item_verdict("create", 429) == BP_ES_AGAIN);
    CHECK(bp_es_item_verdict("create", 503) == BP_ES_AGAIN);
    CHECK(bp_es_item_verdict("create", 500) == BP_ES_AGAIN);
    CHECK(bp_es_item_verdict("create", 400) == BP_ES_REJECTED);
    CHECK(bp_es_item_verdict("create", 404) == BP_ES_REJECTED);
    CHECK(bp_es_item_verdict("create", 0) == BP_ES_AGAIN);
}

static void real_responses(void)
{
    size_t len;
    const char *why;
    bp_es_item items[4];
    char *body = slurp("go-elasticsearch_bulk-response_create-409.json", &len);
    CHECK(bp_es_parse_bulk(body, len, items, 4, &why) == 0);
    CHECK(items[0].status == 201 && items[0].verdict == BP_ES_DELIVERED);
    CHECK(items[1].status == 409 && items[1].verdict == BP_ES_DELIVERED);
    CHECK_STR(items[1].reason, "version_conflict_engine_exception: [1]: version conflict, "
                               "document already exists (current version [1])");
    CHECK(items[3].status == 200 && items[3].verdict == BP_ES_DELIVERED);
    CHECK(bp_es_parse_bulk(body, len, items, 3, &why) != 0); /* not the items we sent */
    CHECK_CONTAINS(why, "number of items");
    free(body);

    body = slurp("spec-example_bulk-response_errors-true.json", &len);
    CHECK(bp_es_parse_bulk(body, len, items, 3, &why) == 0);
    CHECK(items[0].verdict == BP_ES_REJECTED && items[0].status == 404);
    CHECK_STR(items[0].reason, "document_missing_exception: [5]: document missing");
    CHECK(items[2].verdict == BP_ES_DELIVERED && items[2].reason[0] == '\0');
    free(body);

    body = slurp("spec-example_bulk-response_mixed-success.json", &len);
    CHECK(bp_es_parse_bulk(body, len, items, 4, &why) == 0);
    CHECK(items[0].verdict == BP_ES_DELIVERED && items[2].verdict == BP_ES_DELIVERED);
    /* the real delete of nothing: 404 not_found, a retraction with nothing left to remove */
    CHECK(items[1].op == BP_ES_OP_DELETE && items[1].status == 404);
    CHECK(items[1].verdict == BP_ES_DELIVERED && items[1].reason[0] == '\0');
    CHECK(items[0].op == BP_ES_OP_INDEX && items[2].op == BP_ES_OP_CREATE);
    CHECK(items[3].op == BP_ES_OP_OTHER);
    free(body);

    body = slurp("spec-example_count-response.json", &len);
    CHECK(bp_es_parse_bulk(body, len, items, 1, &why) != 0);
    CHECK_CONTAINS(why, "not a bulk response");
    free(body);
    CHECK(bp_es_parse_bulk("{\"items\":[", 10, items, 1, &why) != 0);

    const char *mixed = "{\"errors\":true,\"took\":1,\"items\":["
                        "{\"create\":{\"status\":429,\"error\":{\"type\":\"es_rejected_execution_"
                        "exception\",\"reason\":\"busy\"}}},"
                        "{\"create\":{\"status\":400,\"error\":{\"type\":\"document_parsing_"
                        "exception\",\"reason\":\"[1:2] failed to parse field [x]\","
                        "\"caused_by\":{\"type\":\"number_format_exception\",\"reason\":"
                        "\"For input string: \\\"a\\\"\"}}}},"
                        "{\"create\":{\"_id\":\"z\"}}]}";
    CHECK(bp_es_parse_bulk(mixed, strlen(mixed), items, 3, &why) == 0);
    CHECK(items[0].verdict == BP_ES_AGAIN);
    CHECK_STR(items[0].reason, "es_rejected_execution_exception: busy");
    CHECK(items[1].verdict == BP_ES_REJECTED);
    CHECK_STR(items[1].reason, "document_parsing_exception: [1:2] failed to parse field [x] "
                               "(caused by: For input string: \"a\")");
    CHECK(items[2].verdict == BP_ES_AGAIN); /* no status: we cannot know it was stored */
}

static void error_reasons(void)
{
    char out[200];
    const char *env = "{\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":"
                      "\"unable to authenticate\"}],\"type\":\"security_exception\",\"reason\":"
                      "\"unable to authenticate\"},\"status\":401}";
    bp_es_error_reason(env, strlen(env), "application/json", out, sizeof out);
    CHECK_STR(out, "security_exception: unable to authenticate");
    bp_es_error_reason("{\"error\":\"Request Entity Too Large\",\"status\":413}", 49, NULL, out,
                       sizeof out);
    CHECK_STR(out, "Request Entity Too Large");
    /* a page that is not an Elasticsearch error: summarised, never copied, and said so */
    bp_es_error_reason("<html>\x01 bad gateway</html>", 26, NULL, out, sizeof out);
    CHECK_STR(out, "untyped answer of 26 bytes, first line \"<html>? bad gateway</html>\" "
                   "(shortened: the answer itself is not kept)");
    char page[4096] = "<html>\r\n<head><title>413 Request\r\n   Entity Too Large</title></head>"
                      "\r\n<body><center><h1>413 Request Entity Too Large</h1></center>";
    size_t used = strlen(page);
    memset(page + used, 'x', sizeof page - used - 8);
    memcpy(page + sizeof page - 8, "</html>", 8);
    char reason[320];
    bp_es_error_reason(page, strlen(page), "text/html; charset=utf-8", reason, sizeof reason);
    CHECK_STR(reason, "text/html answer of 4095 bytes, title \"413 Request Entity Too Large\" "
                      "(shortened: the answer itself is not kept)");
    bp_es_error_reason(NULL, 0, NULL, out, sizeof out);
    CHECK_STR(out, "");
    /* a reason longer than the room for it says that it was cut, and how long it was */
    char longer[1200] = "{\"error\":{\"type\":\"illegal_argument_exception\",\"reason\":\"";
    used = strlen(longer);
    memset(longer + used, 'r', 1000);
    strcpy(longer + used + 1000, "\"}}");
    bp_es_error_reason(longer, strlen(longer), NULL, out, sizeof out);
    CHECK(strlen(out) == sizeof out - 1);
    CHECK(strstr(out, "illegal_argument_exception: rrr") == out);
    CHECK(strstr(out, "... (shortened from 1028 bytes)") != NULL);
    bp_es_error_reason(env, strlen(env), NULL, out, 10); /* no room to say it */
    CHECK(strlen(out) == 9);
}

/* what a TLS failure means: libcurl's code, OpenSSL's verdict on the chain */
static void tls_advice(void)
{
    char out[600];
    CHECK(bp_es_tls_fatal(CURLE_PEER_FAILED_VERIFICATION));
    CHECK(bp_es_tls_fatal(CURLE_SSL_CACERT_BADFILE));
    CHECK(!bp_es_tls_fatal(CURLE_COULDNT_CONNECT));
    /* the right CA, a certificate for another name: the host is the trouble, not the CA */
    bp_es_tls_advice(CURLE_PEER_FAILED_VERIFICATION, 1, /* what libcurl 7.88 reports then */
                     "SSL: no alternative certificate subject name matches target host name "
                     "'127.0.0.1'", "https://127.0.0.1:9200", "certs/ca.pem", out, sizeof out);
    CHECK(strstr(out, "TLS: the certificate of https://127.0.0.1:9200 is issued for another host "
                      "name than 127.0.0.1 (its CA is trusted, ca_file = certs/ca.pem;") == out);
    CHECK(!strstr(out, "give the cluster's CA"));
    bp_es_tls_advice(CURLE_PEER_FAILED_VERIFICATION, 62, "", "https://es.ward:9200", NULL, out,
                     sizeof out);
    CHECK(strstr(out, "another host name than es.ward (its CA is trusted;") != NULL);
    /* an unknown CA: names ca_file, or says none was given */
    bp_es_tls_advice(CURLE_PEER_FAILED_VERIFICATION, 18,
                     "SSL certificate problem: self-signed certificate", "https://es:9200",
                     "certs/other.pem", out, sizeof out);
    CHECK(strstr(out, "not signed by the CA in ca_file = certs/other.pem") != NULL);
    bp_es_tls_advice(CURLE_PEER_FAILED_VERIFICATION, 20, "", "https://es:9200", NULL, out,
                     sizeof out);
    CHECK(strstr(out, "no ca_file is given") != NULL);
    bp_es_tls_advice(CURLE_PEER_FAILED_VERIFICATION, 10, "", "https://es:9200", NULL, out,
                     sizeof out);
    CHECK(strstr(out, "has expired") != NULL);
    /* a CA file curl cannot use: named */
    bp_es_tls_advice(CURLE_SSL_CACERT_BADFILE, 0, "error setting certificate file: junk.pem",
                     "https://es:9200", "junk.pem", out, sizeof out);
    CHECK(strstr(out, "TLS: ca_file = junk.pem holds no CA certificate") == out);
}

static void request_verdicts(void)
{
    CHECK(bp_es_request_verdict(200, 5) == BP_ES_REQ_ITEMS);
    CHECK(bp_es_request_verdict(0, 5) == BP_ES_REQ_RETRY);
    CHECK(bp_es_request_verdict(429, 5) == BP_ES_REQ_RETRY);
    CHECK(bp_es_request_verdict(503, 5) == BP_ES_REQ_RETRY);
    CHECK(bp_es_request_verdict(502, 1) == BP_ES_REQ_RETRY);
    CHECK(bp_es_request_verdict(413, 5) == BP_ES_REQ_SPLIT);
    CHECK(bp_es_request_verdict(413, 1) == BP_ES_REQ_REJECT);
    CHECK(bp_es_request_verdict(400, 2) == BP_ES_REQ_SPLIT);
    CHECK(bp_es_request_verdict(400, 1) == BP_ES_REQ_REJECT);
    CHECK(bp_es_request_verdict(401, 5) == BP_ES_REQ_AUTH);
    CHECK(bp_es_request_verdict(403, 1) == BP_ES_REQ_AUTH);
    CHECK(bp_es_request_verdict(404, 5) == BP_ES_REQ_FATAL);
    CHECK(bp_es_request_verdict(405, 5) == BP_ES_REQ_FATAL);
}

static void cluster_info(void)
{
    size_t len;
    bp_es_info info;
    char *body = slurp("spec-example_root-info-response-8.12.1.json", &len);
    bp_es_parse_info(body, len, 1, &info);
    CHECK(info.flavor == BP_ES_ELASTICSEARCH);
    CHECK(info.major == 8);
    CHECK_STR(info.version, "8.12.1");
    CHECK_STR(info.cluster, "my_test_cluster");
    bp_es_parse_info(body, len, 0, &info); /* a fake: no product header */
    CHECK(info.flavor == BP_ES_UNKNOWN);
    CHECK_CONTAINS(info.why, "X-Elastic-Product");
    free(body);
    const char *os = "{\"version\":{\"distribution\":\"opensearch\",\"number\":\"2.11.0\"}}";
    bp_es_parse_info(os, strlen(os), 0, &info);
    CHECK(info.flavor == BP_ES_OPENSEARCH && info.major == 2);
    bp_es_parse_info("<html>nginx</html>", 18, 0, &info);
    CHECK(info.flavor == BP_ES_UNKNOWN);
    CHECK_CONTAINS(info.why, "version.number");
    const char *old = "{\"version\":{\"number\":\"6.8.0\"}}";
    bp_es_parse_info(old, strlen(old), 1, &info);
    CHECK(info.flavor == BP_ES_UNKNOWN);
}

int main(void)
{
    index_names();
    bulk_body();
    revision_actions();
    item_verdicts();
    real_responses();
    error_reasons();
    tls_advice();
    request_verdicts();
    cluster_info();
    return CHECK_DONE();
}
