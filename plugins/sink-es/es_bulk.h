/* The pure part of sink-es: index names from a reading's own time, the _bulk NDJSON body, and
 * reading Elasticsearch's answers (bulk items, error envelopes, GET / info). Plain functions
 * over plain data; no I/O, no bp_host, so every rule here is unit-tested directly. */
#ifndef BP_ES_BULK_H
#define BP_ES_BULK_H

#include "common/json_buf.h"

#include <stddef.h>
#include <stdint.h>

/* Writes the index name for a reading taken at `ms` (milliseconds since 1970, UTC) into `out`:
 * `pattern` with strftime conversions (%Y %m %d %H %j %G %V and %%) expanded in UTC.
 * Returns 0, or -1 when the result does not fit `cap` or is not a valid Elasticsearch index
 * name (see bp_es_index_name_check). */
int bp_es_index_name(const char *pattern, int64_t ms, char *out, size_t cap);

/* NULL when `name` is a valid index name, else a static sentence saying why it is not
 * (Elasticsearch's rules: lower case, no \ / * ? " < > | space , # :, not starting with
 * _ - +, not . or .., at most 255 bytes). */
const char *bp_es_index_name_check(const char *name);

/* Appends one `create` item: the action line {"create":{"_index":INDEX,"_id":ID}} and the
 * document `doc` (one line of JSON, `doc_len` bytes), each ending in a newline. `id` may be
 * NULL (Elasticsearch then assigns one, losing idempotence). Returns 0, or -1 when memory
 * has run out (body->failed, now or at an earlier append). */
int bp_es_bulk_add(bp_buf *body, const char *index, const char *id, const char *doc,
                   size_t doc_len);

/* The bulk action for one record (docs/plugins/sink-es.md, "Corrections and retractions"). */
typedef enum bp_es_op {
    BP_ES_OP_CREATE = 0, /* a first version whose version is unknown: 409 = already there */
    BP_ES_OP_INDEX = 1,  /* a known version (external versioning), or a replacement without one */
    BP_ES_OP_DELETE = 2, /* a retraction: no document line follows */
    BP_ES_OP_OTHER = 3   /* an answer for an action sink-es never sends (update) */
} bp_es_op;

/* The action for a record whose BP_F_REVISION is `revision` ("replace", "retract" or NULL) and
 * whose version is `version` (0 when unknown): "retract" deletes; a known version is an `index`
 * with external versioning, so an older or equal version never overwrites a newer one; a
 * "replace" without a version is an `index` (the last one written wins); anything else is a
 * `create`, as before revisions existed. */
bp_es_op bp_es_op_for(const char *revision, int64_t version);

/* The whole version from BP_F_VERSION's number: 1 to 2^53 (a double holds those exactly, and
 * Elasticsearch takes external versions from 1 up), else 0 (unknown: NaN, fractions, 0 or
 * less). */
int64_t bp_es_version_of(double number);

/* Appends one item for `op`: the action line, with "version":V,"version_type":"external" when
 * `version` > 0 and `op` is index or delete, and, except for a delete, the document line.
 * Returns 0, or -1 when memory has run out (body->failed). */
int bp_es_bulk_add_op(bp_buf *body, bp_es_op op, const char *index, const char *id,
                      int64_t version, const char *doc, size_t doc_len);

/* 1 when `pattern` has a date conversion, so the index a document lives in depends on its
 * reading's time; 0 for a fixed name. */
int bp_es_index_is_dated(const char *pattern);

/* What a bulk item's status means for the record. */
typedef enum bp_es_verdict {
    BP_ES_DELIVERED = 0, /* 200/201; 409 on create, index or delete (the same or a newer version
                            is there, or gone); 404 on delete (nothing to delete) */
    BP_ES_AGAIN = 1,     /* 429 or 5xx: try this item again later */
    BP_ES_REJECTED = 2   /* any other 4xx: this document will never be taken */
} bp_es_verdict;

/* The verdict for one item of `action` ("create", "index", ...) answered with `status`. */
bp_es_verdict bp_es_item_verdict(const char *action, int status);

/* One item of a bulk response, in request order. */
typedef struct bp_es_item {
    int status;            /* HTTP status of the item; 0 when the item was missing */
    bp_es_op op;           /* the action the item answers, from its key */
    bp_es_verdict verdict; /* from bp_es_item_verdict */
    char reason[320];      /* "type: reason" from the item's error, empty without one */
} bp_es_item;

/* Reads a 2xx _bulk response body into `items[0..n)`. Returns 0, or -1 with a static sentence
 * in *why when the body is not a bulk response or holds another number of items than `n`
 * (the caller then cannot know which documents were taken and must retry all of them). */
int bp_es_parse_bulk(const char *body, size_t len, bp_es_item *items, size_t n,
                     const char **why);

/* Writes "type: reason" from an Elasticsearch error body ({"error":{"type","reason"}} or
 * {"error":"text"}) into out. A body that is not one (a proxy's HTML page) is summarised, never
 * copied: its content type `ctype` (may be NULL), its length, and its <title> or first line, at
 * most 100 printable ASCII characters, saying that it was shortened. A reason longer than `cap`
 * ends with "... (shortened from N bytes)" (when cap is at least 64). Empty for an empty body.
 * Always NUL-terminates when cap > 0. */
void bp_es_error_reason(const char *body, size_t len, const char *ctype, char *out, size_t cap);

/* What to do with a whole _bulk request answered with HTTP `status` (0 = no answer: refused,
 * timed out, reset). */
typedef enum bp_es_request_action {
    BP_ES_REQ_ITEMS = 0, /* 2xx: read the items */
    BP_ES_REQ_RETRY = 1, /* no answer, 408, 429, 5xx: retry the whole request later */
    BP_ES_REQ_SPLIT = 2, /* 413, or 400 for a request of several documents: halve and resend */
    BP_ES_REQ_REJECT = 3, /* 400 for a single document: that document is refused */
    BP_ES_REQ_AUTH = 4,  /* 401/403: the credentials are wrong; stop */
    BP_ES_REQ_FATAL = 5  /* any other status: misconfiguration (wrong URL, proxy); stop */
} bp_es_request_action;

bp_es_request_action bp_es_request_verdict(long status, size_t n_docs);

/* What GET / said about the cluster. */
typedef enum bp_es_flavor {
    BP_ES_UNKNOWN = 0,       /* answers, but is neither: refuse to write to it */
    BP_ES_ELASTICSEARCH = 1,
    BP_ES_OPENSEARCH = 2
} bp_es_flavor;

typedef struct bp_es_info {
    bp_es_flavor flavor;
    int major;          /* version major, 0 when unknown */
    char version[32];   /* "8.12.1"; empty when unknown */
    char cluster[128];  /* cluster_name; empty when absent */
    const char *why;    /* static sentence when flavor is BP_ES_UNKNOWN */
} bp_es_info;

/* Decides from the GET / body and whether the response carried `X-Elastic-Product:
 * Elasticsearch` (`product_header`) what the cluster is. Elasticsearch 7.14 and later always
 * send the header, so an "Elasticsearch" without it is refused, as the official clients do;
 * OpenSearch says so in version.distribution. Returns 0; fills *info in every case. */
int bp_es_parse_info(const char *body, size_t len, int product_header, bp_es_info *info);

#endif /* BP_ES_BULK_H */
