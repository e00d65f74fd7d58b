/* es_standin: a fast Elasticsearch 8 stand-in for benchmarks (bench/es_fast.sh).
 *
 * It answers what sink-es (and a benchmark reading counters) asks, the way an Elasticsearch 8
 * node does, but without storing documents, so a benchmark measures the client and not a
 * Python emulator:
 *
 *   GET|HEAD /                 cluster info, `X-Elastic-Product: Elasticsearch` on every answer
 *   POST|PUT /_bulk, /<index>/_bulk
 *                              NDJSON parsed line by line; per-item results (create and index;
 *                              a repeated create is 409 version_conflict_engine_exception)
 *   PUT|POST /_index_template/<n>, /_component_template/<n>, /_template/<n>,
 *            /_ilm/policy/<n>  {"acknowledged":true} for a JSON object body; GET/HEAD of a
 *                              name installed before is 200, else 404 (the body is not kept)
 *   GET /_cluster/health, /_refresh, /<index>/_refresh, /_count, /<index>/_count (match_all)
 *   GET /_emulator/stats       counters (the names of tests/es/es_emulator.py where they mean
 *                              the same), POST /_emulator/reset forgets ids and counters
 *
 * HTTP/1.1 with keep-alive and pipelining, Content-Length or chunked request bodies,
 * Content-Encoding gzip or deflate, Expect: 100-continue. One thread, epoll, non-blocking
 * sockets; it listens on 127.0.0.1 only and ends cleanly on SIGTERM or SIGINT.
 *
 * Memory is bounded. What it remembers of a document is a 64-bit word per (index, _id):
 * 56 bits of a hash of the index name and the id, and 8 bits of version (for `index` on a known
 * id). The set is an open-addressing table that doubles up to --max-ids ids at most 3/4 full:
 * at the default 4 194 304 ids, 64 MiB. Ids past the limit are answered as created but not
 * remembered (counted as ids_not_remembered; a replay of them would be 201, not 409). Two
 * distinct ids whose hashes agree in 56 bits would make the second a false 409: for n ids the
 * chance is about n^2 / 2^57 (3e-7 for 200 000 ids, 1e-4 at the limit), fine for a benchmark,
 * not for a store. Indices: at most 1 000 (the default shard limit of a one-node cluster),
 * templates and policies 256 names each, connections 1 024, a request body 100 MiB (also
 * decompressed; Elasticsearch's http.max_content_length), a request head 64 KiB.
 *
 *   es_standin [--port N] [--port-file FILE] [--max-ids N] [--latency-log FILE]
 *              [--timeline FILE] [--quiet]
 *
 * --port 0 (the default) takes any free port; it is printed as "port N" and written to
 * --port-file (whole, by rename) once listening.
 *
 * --latency-log FILE (for bench/latency.sh) appends one line per _bulk item whose document
 * carries the Kafka position bppipe writes into it (src/pipeline/document.c: "source": {"partition",
 * "offset"}): `PARTITION OFFSET ACK_US STATUS`, ACK_US being the wall clock (CLOCK_REALTIME,
 * microseconds since the epoch) at which the answer to its _bulk request was ready to send, and
 * STATUS the item's HTTP status. Joined with the messages' Kafka timestamps (same host, same
 * clock) it gives each reading's latency from Kafka to the acknowledgement of its write. The
 * file is written through a large stdio buffer and flushed when the stand-in stops.
 *
 * --timeline FILE (for bench/rsyslog_side_by_side.sh) appends one line per answered _bulk
 * request, `WALL_S DOCUMENTS`: the wall clock (CLOCK_REALTIME, seconds) and the documents held
 * after it. A benchmark reads when each share of its documents arrived from it, to the request,
 * instead of sampling the counters (a sample every 0.1 s cut a half-second window into five
 * steps). Flushed after every line, so it can be read while the stand-in runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define ES_VERSION "8.12.1"
#define MAX_HEAD (64 * 1024)
#define MAX_TARGET 4096
#define MAX_BODY (100u * 1024 * 1024)
#define MAX_CONNS 1024
#define MAX_INDICES 1000
#define MAX_NAMES 256
#define MAX_ID_BYTES 512
#define OUT_HIGH (4u * 1024 * 1024) /* stop reading pipelined requests above this much output */
#define DEFAULT_MAX_IDS 4194304u

/* -- buffers -------------------------------------------------------------------------------- */

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static void die_oom(void)
{
    fputs("es_standin: out of memory\n", stderr);
    exit(1);
}

static void buf_reserve(buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown)
        die_oom();
    b->data = grown;
    b->cap = cap;
}

static void buf_add(buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

#define BUF_LIT(b, s) buf_add((b), (s), sizeof(s) - 1)

static void buf_str(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_u64(buf *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_add(b, tmp + n, sizeof tmp - n);
}

static void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A JSON string literal of n bytes (UTF-8 passes through). */
static void buf_json(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, 2 + n);
    b->data[b->len++] = '"';
    size_t run = 0; /* bytes that need no escape, copied in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_add(b, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_add(b, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_add(b, esc, 6);
        }
    }
    buf_add(b, s + run, n - run);
    BUF_LIT(b, "\"");
}

static void buf_free(buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* -- state ---------------------------------------------------------------------------------- */

#define KEY_BITS 0x00ffffffffffffffull

typedef struct idset {
    uint64_t *slot; /* 0 = empty; else key (56 bits, never 0) | (version - 1) << 56 */
    size_t n_slots, count, max_ids, max_slots;
} idset;

typedef struct index {
    char *name;
    size_t len;
    uint64_t seq_no, docs;
    char uuid[23];
} index_t;

typedef struct names {
    char *name[MAX_NAMES];
    size_t n;
} names;

typedef struct stats {
    uint64_t requests, bulk_requests, connections, items, created, updated, conflicts,
        item_errors, request_errors, gzip_requests, chunked_requests, expect_100, bytes_in,
        bytes_inflated, max_bulk_items, max_bulk_bytes, ids_not_remembered;
    double busy_s;
} stats;

static struct {
    idset ids;
    index_t *indices[MAX_INDICES];
    size_t n_indices;
    index_t *last; /* the index of the previous item: most bulks name one */
    names templates, component_templates, legacy_templates, policies;
    stats st;
    uint64_t autoid;
    int quiet, warned_full;
    FILE *latency_log; /* --latency-log, or NULL */
    FILE *timeline;    /* --timeline, or NULL */
    /* scratch, reused by every request (one thread) */
    buf inflated, arena, items, answer, key;
    struct op *ops;
    int *item_status; /* per op of the current _bulk, for --latency-log (ops_cap of them) */
    size_t ops_cap, cur_item;
} g;

/* A 64-bit hash of the index name, a 0 byte and the id; 8 bytes at a time, then a finaliser
 * that spreads every input bit over the word (the splitmix64 constants). */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * 0x9e3779b97f4a7c15ull;
    return mix(h);
}

static uint64_t doc_key(const char *index, size_t ilen, const char *id, size_t idlen)
{
    uint64_t h = hash_bytes(0x243f6a8885a308d3ull ^ ilen, index, ilen);
    h = hash_bytes(h ^ 0x13198a2e03707344ull ^ idlen, id, idlen) & KEY_BITS;
    return h ? h : 1;
}

static void idset_init(idset *s, size_t max_ids)
{
    s->max_ids = max_ids;
    s->max_slots = 1024;
    while (s->max_slots / 4 * 3 < max_ids)
        s->max_slots *= 2;
    s->n_slots = 1024;
    s->count = 0;
    s->slot = calloc(s->n_slots, sizeof *s->slot);
    if (!s->slot)
        die_oom();
}

/* The slot holding key, or the empty slot where it would go. */
static uint64_t *idset_find(const idset *s, uint64_t key)
{
    size_t mask = s->n_slots - 1;
    for (size_t i = (size_t)mix(key) & mask;; i = (i + 1) & mask) {
        uint64_t v = s->slot[i];
        if (v == 0 || (v & KEY_BITS) == key)
            return &s->slot[i];
    }
}

static void idset_grow(idset *s)
{
    idset bigger = *s;
    bigger.n_slots = s->n_slots * 2;
    bigger.slot = calloc(bigger.n_slots, sizeof *bigger.slot);
    if (!bigger.slot)
        die_oom();
    for (size_t i = 0; i < s->n_slots; i++)
        if (s->slot[i])
            *idset_find(&bigger, s->slot[i] & KEY_BITS) = s->slot[i];
    free(s->slot);
    *s = bigger;
}

/* Inserts into the empty slot *at found for key; 0 when the set is full (not remembered). */
static int idset_insert(idset *s, uint64_t *at, uint64_t key)
{
    if (s->count >= s->max_ids)
        return 0;
    if ((s->count + 1) * 4 > s->n_slots * 3) {
        if (s->n_slots >= s->max_slots)
            return 0;
        idset_grow(s);
        at = idset_find(s, key);
    }
    *at = key;
    s->count++;
    return 1;
}

static void forget_all(void)
{
    for (size_t i = 0; i < g.n_indices; i++) {
        free(g.indices[i]->name);
        free(g.indices[i]);
    }
    g.n_indices = 0;
    g.last = NULL;
    free(g.ids.slot);
    idset_init(&g.ids, g.ids.max_ids);
    names *lists[] = {&g.templates, &g.component_templates, &g.legacy_templates, &g.policies};
    for (size_t l = 0; l < 4; l++) {
        for (size_t i = 0; i < lists[l]->n; i++)
            free(lists[l]->name[i]);
        lists[l]->n = 0;
    }
    memset(&g.st, 0, sizeof g.st);
    g.warned_full = 0;
}

static index_t *find_index(const char *name, size_t len, int create)
{
    if (g.last && g.last->len == len && memcmp(g.last->name, name, len) == 0)
        return g.last;
    for (size_t i = 0; i < g.n_indices; i++) {
        index_t *x = g.indices[i];
        if (x->len == len && memcmp(x->name, name, len) == 0)
            return g.last = x;
    }
    if (!create || g.n_indices == MAX_INDICES)
        return NULL;
    index_t *x = calloc(1, sizeof *x);
    if (!x || !(x->name = malloc(len + 1)))
        die_oom();
    memcpy(x->name, name, len);
    x->name[len] = '\0';
    x->len = len;
    /* 22 characters of base64url, as Elasticsearch's index UUIDs look */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t h1 = mix(doc_key(name, len, "uuid", 4)), h2 = mix(h1 + g.n_indices);
    for (int i = 0; i < 22; i++) {
        uint64_t *h = i < 11 ? &h1 : &h2;
        x->uuid[i] = b64[*h & 63];
        *h >>= 6;
    }
    x->uuid[22] = '\0';
    g.indices[g.n_indices++] = x;
    return g.last = x;
}

/* -- names kept for templates and policies -------------------------------------------------- */

static int names_has(const names *l, const char *n)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->name[i], n) == 0)
            return 1;
    return 0;
}

static int names_add(names *l, const char *n)
{
    if (names_has(l, n))
        return 0;
    if (l->n == MAX_NAMES)
        return -1;
    if (!(l->name[l->n] = strdup(n)))
        die_oom();
    l->n++;
    return 0;
}

/* -- a small JSON reader, for the action lines ---------------------------------------------- */

typedef struct jr {
    const char *p, *end;
} jr;

static void jws(jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
        r->p++;
}

static int jpeek(jr *r)
{
    jws(r);
    return r->p < r->end ? (unsigned char)*r->p : -1;
}

static int jexpect(jr *r, char c)
{
    if (jpeek(r) != (unsigned char)c)
        return -1;
    r->p++;
    return 0;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void utf8(buf *out, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 63));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12);
        u[1] = (char)(0x80 | ((cp >> 6) & 63));
        u[2] = (char)(0x80 | (cp & 63));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18);
        u[1] = (char)(0x80 | ((cp >> 12) & 63));
        u[2] = (char)(0x80 | ((cp >> 6) & 63));
        u[3] = (char)(0x80 | (cp & 63));
        n = 4;
    }
    buf_add(out, u, n);
}

/* A JSON string, decoded onto out (NULL: only skipped). */
static int jstring(jr *r, buf *out)
{
    if (jexpect(r, '"') != 0)
        return -1;
    const char *run = r->p;
    while (r->p < r->end) {
        char c = *r->p;
        if (c == '"') {
            if (out)
                buf_add(out, run, (size_t)(r->p - run));
            r->p++;
            return 0;
        }
        if ((unsigned char)c < 0x20)
            return -1;
        if (c != '\\') {
            r->p++;
            continue;
        }
        if (out)
            buf_add(out, run, (size_t)(r->p - run));
        if (r->end - r->p < 2)
            return -1;
        char e = r->p[1];
        r->p += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            if (out)
                buf_add(out, &to[simple - "\"\\/bfnrt"], 1);
        } else if (e == 'u') {
            unsigned cp, lo;
            if (r->end - r->p < 4 || hex4(r->p, &cp) != 0)
                return -1;
            r->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
                    hex4(r->p + 2, &lo) != 0 || lo < 0xdc00 || lo >= 0xe000)
                    return -1;
                r->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return -1;
            }
            if (out)
                utf8(out, cp);
        } else {
            return -1;
        }
        run = r->p;
    }
    return -1;
}

/* Skips one JSON value (nested up to 64 deep). */
static int jskip(jr *r, int depth)
{
    int c = jpeek(r);
    if (c == '"')
        return jstring(r, NULL);
    if (c == '{' || c == '[') {
        if (depth > 64)
            return -1;
        char close = c == '{' ? '}' : ']';
        r->p++;
        if (jpeek(r) == close) {
            r->p++;
            return 0;
        }
        for (;;) {
            if (c == '{' && (jstring(r, NULL) != 0 || jexpect(r, ':') != 0))
                return -1;
            if (jskip(r, depth + 1) != 0)
                return -1;
            int n = jpeek(r);
            if (n < 0)
                return -1;
            r->p++;
            if (n == close)
                return 0;
            if (n != ',')
                return -1;
        }
    }
    /* number, true, false, null: a run of their characters */
    const char *start = r->p;
    while (r->p < r->end && strchr("0123456789+-.eEtruefalsn", *r->p) && *r->p)
        r->p++;
    return r->p > start ? 0 : -1;
}

/* -- HTTP answers --------------------------------------------------------------------------- */

enum { ST_HEAD, ST_BODY, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_CRLF, ST_TRAILER };

typedef struct request {
    char method[16];
    char target[MAX_TARGET];
    int keep_alive, chunked, encoding, expect100; /* encoding: 0 identity, 1 gzip/deflate */
    long long content_length; /* -1 when not given */
    char ctype[128];
    const char *body;
    size_t body_len;
} request;

typedef struct conn {
    int fd;
    buf in; /* received; [in_off, len) not consumed yet */
    size_t in_off, scanned;
    buf out;
    size_t out_off;
    int state, close_after, peer_closed;
    uint32_t events; /* what epoll watches for now */
    size_t chunk_left;
    buf body; /* a chunked body, decoded */
    request req;
    struct conn *prev, *next;
} conn;

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 413: return "Request Entity Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    default: return "Internal Server Error";
    }
}

/* Queues one answer with a JSON body of len bytes (not sent for HEAD). */
static void respond(conn *c, int status, const char *json, size_t len)
{
    buf_printf(&c->out, "HTTP/1.1 %d %s\r\nX-Elastic-Product: Elasticsearch\r\ncontent-type: "
               "application/json\r\ncontent-length: %zu\r\n%s\r\n", status, reason_phrase(status),
               len, c->close_after || !c->req.keep_alive ? "connection: close\r\n" : "");
    if (strcmp(c->req.method, "HEAD") != 0)
        buf_add(&c->out, json, len);
    if (status >= 400)
        g.st.request_errors++;
}

static void respond_buf(conn *c, int status, const buf *b)
{
    respond(c, status, b->data ? b->data : "", b->len);
}

/* Elasticsearch's whole-request error: {"error":{"root_cause":[{...}],...},"status":N}. */
static void respond_error(conn *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void respond_error(conn *c, int status, const char *type, const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    buf *a = &g.answer;
    a->len = 0;
    buf cause = {0};
    BUF_LIT(&cause, "{\"type\":");
    buf_json(&cause, type, strlen(type));
    BUF_LIT(&cause, ",\"reason\":");
    buf_json(&cause, reason, strlen(reason));
    BUF_LIT(a, "{\"error\":{\"root_cause\":[");
    buf_add(a, cause.data, cause.len);
    BUF_LIT(a, "}],");
    buf_add(a, cause.data + 1, cause.len - 1);
    buf_printf(a, "},\"status\":%d}", status);
    buf_free(&cause);
    respond_buf(c, status, a);
}

/* -- the API -------------------------------------------------------------------------------- */

static void answer_info(conn *c)
{
    static const char info[] =
        "{\"name\":\"es-standin\",\"cluster_name\":\"bppipe-bench\",\"cluster_uuid\":"
        "\"es-standin-cluster-uuid\",\"version\":{\"number\":\"" ES_VERSION "\","
        "\"build_flavor\":\"default\",\"build_type\":\"docker\",\"build_hash\":"
        "\"0000000000000000000000000000000000000000\",\"build_date\":"
        "\"2024-02-01T13:07:13.727175297Z\",\"build_snapshot\":false,\"lucene_version\":"
        "\"9.9.2\",\"minimum_wire_compatibility_version\":\"7.17.0\","
        "\"minimum_index_compatibility_version\":\"7.0.0\"},\"tagline\":\"You Know, for "
        "Search\"}";
    respond(c, 200, info, sizeof info - 1);
}

enum { A_CREATE, A_INDEX, A_UPDATE, A_DELETE };
static const char *const action_names[] = {"create", "index", "update", "delete"};

typedef struct op {
    int action, has_index, has_id;
    size_t index_off, index_len, id_off, id_len; /* in g.arena */
    const char *doc;
    size_t doc_len;
} op;

/* Why Elasticsearch refuses this index name, or NULL. */
static const char *bad_index_name(const char *n, size_t len, char *why, size_t cap)
{
    if (len == 0) {
        snprintf(why, cap, "Invalid index name [], must not be empty");
        return why;
    }
    for (size_t i = 0; i < len; i++) {
        if (n[i] >= 'A' && n[i] <= 'Z') {
            snprintf(why, cap, "Invalid index name [%.*s], must be lowercase", (int)len, n);
            return why;
        }
    }
    if (n[0] == '_' || n[0] == '-' || n[0] == '+') {
        snprintf(why, cap, "Invalid index name [%.*s], must not start with '_', '-', or '+'",
                 (int)len, n);
        return why;
    }
    for (size_t i = 0; i < len; i++) {
        if (n[i] == '\0' || strchr("\\/*?\"<>| ,#:", n[i])) {
            snprintf(why, cap, "Invalid index name [%.*s], must not contain the following "
                     "characters ['\\\\','/','*','?','\"','<','>','|',' ',',','#',':']",
                     (int)len, n);
            return why;
        }
    }
    if ((len == 1 && n[0] == '.') || (len == 2 && n[0] == '.' && n[1] == '.')) {
        snprintf(why, cap, "Invalid index name [%.*s], must not be '.' or '..'", (int)len, n);
        return why;
    }
    if (len > 255) {
        snprintf(why, cap, "Invalid index name [%.*s], index name is too long, (%zu > 255)",
                 (int)len, n, len);
        return why;
    }
    return NULL;
}

static const char *const meta_keys[] = {
    "_index", "_id", "routing", "pipeline", "require_alias", "require_data_stream", "if_seq_no",
    "if_primary_term", "version", "version_type", "dynamic_templates", "retry_on_conflict",
    "_source", "list_executed_pipelines", NULL};

/* Parses one action line into *o; on failure fills err (the whole request is refused). */
static int parse_action(const char *line, size_t len, size_t lineno, op *o, char *err,
                        size_t cap, const char **etype)
{
    jr r = {line, line + len};
    buf key = g.key; /* scratch, given back below */
    key.len = 0;
    int rc = -1;
    *etype = "illegal_argument_exception";
    memset(o, 0, sizeof *o);
    if (jexpect(&r, '{') != 0) {
        *etype = "x_content_parse_exception";
        snprintf(err, cap, "[%zu:1] Malformed action/metadata line [%zu], expected START_OBJECT "
                 "but found [VALUE_STRING]", lineno, lineno);
        goto done;
    }
    if (jstring(&r, &key) != 0 || jexpect(&r, ':') != 0) {
        snprintf(err, cap, "Malformed action/metadata line [%zu], expected FIELD_NAME but found "
                 "[END_OBJECT]", lineno);
        goto done;
    }
    o->action = -1;
    for (int a = 0; a < 4; a++)
        if (key.len == strlen(action_names[a]) && memcmp(key.data, action_names[a], key.len) == 0)
            o->action = a;
    if (o->action < 0) {
        snprintf(err, cap, "Malformed action/metadata line [%zu], expected one of [create, "
                 "delete, index, update] but found [%.*s]", lineno, (int)key.len,
                 key.data ? key.data : "");
        goto done;
    }
    if (jexpect(&r, '{') != 0) {
        snprintf(err, cap, "Malformed action/metadata line [%zu], expected START_OBJECT but "
                 "found [VALUE_STRING]", lineno);
        goto done;
    }
    if (jpeek(&r) == '}') {
        r.p++;
    } else {
        for (;;) {
            key.len = 0;
            if (jstring(&r, &key) != 0 || jexpect(&r, ':') != 0)
                goto malformed;
            int is_index = key.len == 6 && memcmp(key.data, "_index", 6) == 0;
            int is_id = key.len == 3 && memcmp(key.data, "_id", 3) == 0;
            if (is_index || is_id) {
                if (jpeek(&r) != '"') {
                    snprintf(err, cap, "Malformed action/metadata line [%zu], expected a simple "
                             "value for field [%.*s] but found [START_OBJECT]", lineno,
                             (int)key.len, key.data);
                    goto done;
                }
                size_t off = g.arena.len;
                if (jstring(&r, &g.arena) != 0)
                    goto malformed;
                if (is_index) {
                    o->has_index = 1;
                    o->index_off = off;
                    o->index_len = g.arena.len - off;
                } else {
                    o->has_id = 1;
                    o->id_off = off;
                    o->id_len = g.arena.len - off;
                }
            } else {
                int known = 0;
                for (size_t k = 0; meta_keys[k]; k++)
                    if (key.len == strlen(meta_keys[k]) &&
                        memcmp(key.data, meta_keys[k], key.len) == 0)
                        known = 1;
                if (!known) {
                    snprintf(err, cap, "Action/metadata line [%zu] contains an unknown parameter "
                             "[%.*s]", lineno, (int)key.len, key.data);
                    goto done;
                }
                if (jskip(&r, 0) != 0)
                    goto malformed;
            }
            int n = jpeek(&r);
            if (n < 0)
                goto malformed;
            r.p++;
            if (n == '}')
                break;
            if (n != ',')
                goto malformed;
        }
    }
    if (jexpect(&r, '}') != 0 || jpeek(&r) != -1)
        goto malformed;
    rc = 0;
    goto done;
malformed:
    *etype = "x_content_parse_exception";
    snprintf(err, cap, "[%zu:%zu] Malformed action/metadata line [%zu]", lineno,
             (size_t)(r.p - line) + 1, lineno);
done:
    g.key = key;
    return rc;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

/* The partition and offset of a document's "source" object (top level), as src/pipeline/document.c
 * writes them; 0 when it has both, -1 otherwise. */
static int doc_position(const char *doc, size_t len, long long *partition, long long *offset)
{
    jr r = {doc, doc + len};
    buf *key = &g.key;
    int found = 0;
    if (jexpect(&r, '{') != 0)
        return -1;
    while (jpeek(&r) == '"') {
        key->len = 0;
        if (jstring(&r, key) != 0 || jexpect(&r, ':') != 0)
            return -1;
        if (key->len == 6 && memcmp(key->data, "source", 6) == 0 && jpeek(&r) == '{') {
            r.p++;
            while (jpeek(&r) == '"') {
                key->len = 0;
                if (jstring(&r, key) != 0 || jexpect(&r, ':') != 0)
                    return -1;
                int is_p = key->len == 9 && memcmp(key->data, "partition", 9) == 0;
                int is_o = key->len == 6 && memcmp(key->data, "offset", 6) == 0;
                if (is_p || is_o) {
                    jws(&r);
                    char *end = NULL;
                    long long v = strtoll(r.p, &end, 10);
                    if (end == r.p || end > r.end)
                        return -1;
                    r.p = end;
                    *(is_p ? partition : offset) = v;
                    found |= is_p ? 1 : 2;
                } else if (jskip(&r, 0) != 0) {
                    return -1;
                }
                if (jpeek(&r) != ',')
                    break;
                r.p++;
            }
            return found == 3 ? 0 : -1;
        }
        if (jskip(&r, 0) != 0)
            return -1;
        if (jpeek(&r) != ',')
            break;
        r.p++;
    }
    return -1;
}

/* Appends the --latency-log lines of one answered _bulk request. */
static void log_latency(size_t n_ops, const int *status)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ack_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    for (size_t k = 0; k < n_ops; k++) {
        long long partition, offset;
        const op *o = &g.ops[k];
        if (o->doc && doc_position(o->doc, o->doc_len, &partition, &offset) == 0)
            fprintf(g.latency_log, "%lld %lld %lld %d\n", partition, offset, ack_us, status[k]);
    }
}

/* Appends the --timeline line of one answered _bulk request. */
static void log_timeline(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t documents = 0;
    for (size_t i = 0; i < g.n_indices; i++)
        documents += g.indices[i]->docs;
    fprintf(g.timeline, "%lld.%06ld %" PRIu64 "\n", (long long)ts.tv_sec, ts.tv_nsec / 1000,
            documents);
    fflush(g.timeline);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The start of one item's result: {"create":{"_index":"..","_id":"..", */
static void item_head(buf *b, const op *o, const char *index, size_t ilen, const char *id,
                      size_t idlen)
{
    BUF_LIT(b, "{\"");
    buf_str(b, action_names[o->action]);
    BUF_LIT(b, "\":{\"_index\":");
    buf_json(b, index, ilen);
    BUF_LIT(b, ",\"_id\":");
    buf_json(b, id, idlen);
}

static void item_error(buf *b, int status, const char *type, const char *reason,
                       const index_t *x, const char *index, size_t ilen)
{
    g.st.item_errors++;
    g.item_status[g.cur_item] = status;
    buf_printf(b, ",\"status\":%d,\"error\":{\"type\":\"%s\",\"reason\":", status, type);
    buf_json(b, reason, strlen(reason));
    if (x) {
        BUF_LIT(b, ",\"index_uuid\":\"");
        buf_str(b, x->uuid);
        BUF_LIT(b, "\",\"shard\":\"0\"");
    } else {
        BUF_LIT(b, ",\"index_uuid\":\"_na_\"");
    }
    BUF_LIT(b, ",\"index\":");
    buf_json(b, index, ilen);
    BUF_LIT(b, "}}}");
}

static void bulk(conn *c, const char *default_index, size_t body_len_in)
{
    const char *body = c->req.body;
    size_t len = c->req.body_len;
    double t0 = now_s();
    g.st.bulk_requests++;
    char mime[128];
    snprintf(mime, sizeof mime, "%.*s", (int)strcspn(c->req.ctype, "; \t"), c->req.ctype);
    if (strcasecmp(mime, "application/x-ndjson") != 0 &&
        strcasecmp(mime, "application/json") != 0 &&
        strcasecmp(mime, "application/vnd.elasticsearch+x-ndjson") != 0) {
        g.answer.len = 0;
        BUF_LIT(&g.answer, "{\"error\":\"Content-Type header [");
        /* inside a JSON string already opened: escape without the quotes */
        buf tmp = {0};
        buf_json(&tmp, c->req.ctype, strlen(c->req.ctype));
        buf_add(&g.answer, tmp.data + 1, tmp.len - 2);
        buf_free(&tmp);
        BUF_LIT(&g.answer, "] is not supported\",\"status\":406}");
        respond_buf(c, 406, &g.answer);
        return;
    }
    if (len == 0) {
        respond_error(c, 400, "action_request_validation_exception",
                      "Validation Failed: 1: no requests added;");
        return;
    }
    if (body[len - 1] != '\n') {
        respond_error(c, 400, "illegal_argument_exception",
                      "The bulk request must be terminated by a newline [\\n]");
        return;
    }
    /* First every action line, so a malformed one refuses the request before any item is
     * taken, as Elasticsearch does. */
    g.arena.len = 0;
    size_t n_ops = 0, lineno = 0;
    char err[1024];
    const char *etype = NULL;
    for (const char *p = body, *end = body + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        lineno++;
        if (blank(p, n)) {
            p = nl + 1;
            continue;
        }
        if (n_ops == g.ops_cap) {
            size_t cap = g.ops_cap ? g.ops_cap * 2 : 1024;
            op *grown = realloc(g.ops, cap * sizeof *grown);
            if (!grown)
                die_oom();
            g.ops = grown;
            int *st = realloc(g.item_status, cap * sizeof *st);
            if (!st)
                die_oom();
            g.item_status = st;
            g.ops_cap = cap;
        }
        op *o = &g.ops[n_ops];
        if (parse_action(p, n, lineno, o, err, sizeof err, &etype) != 0) {
            respond_error(c, 400, etype, "%s", err);
            return;
        }
        if (!o->has_index && !default_index) {
            respond_error(c, 400, "action_request_validation_exception",
                          "Validation Failed: 1: index is missing;");
            return;
        }
        if (o->has_id && o->id_len > MAX_ID_BYTES) {
            respond_error(c, 400, "action_request_validation_exception", "Validation Failed: 1: "
                          "id [%.*s] is too long, must be no longer than 512 bytes but was: %zu;",
                          (int)o->id_len, g.arena.data + o->id_off, o->id_len);
            return;
        }
        p = nl + 1;
        if (o->action != A_DELETE) {
            if (p >= end) {
                respond_error(c, 400, "illegal_argument_exception",
                              "The bulk request must be terminated by a newline [\\n]");
                return;
            }
            nl = memchr(p, '\n', (size_t)(end - p));
            o->doc = p;
            o->doc_len = (size_t)(nl - p);
            lineno++;
            p = nl + 1;
        }
        n_ops++;
    }
    if (n_ops == 0) {
        respond_error(c, 400, "action_request_validation_exception",
                      "Validation Failed: 1: no requests added;");
        return;
    }
    g.st.items += n_ops;
    if (n_ops > g.st.max_bulk_items)
        g.st.max_bulk_items = n_ops;
    if (body_len_in > g.st.max_bulk_bytes)
        g.st.max_bulk_bytes = body_len_in;
    buf *b = &g.items;
    b->len = 0;
    uint64_t errors_before = g.st.item_errors;
    size_t default_len = default_index ? strlen(default_index) : 0;
    char why[1400];
    for (size_t k = 0; k < n_ops; k++) {
        op *o = &g.ops[k];
        g.cur_item = k;
        if (k)
            BUF_LIT(b, ",");
        const char *index = o->has_index ? g.arena.data + o->index_off : default_index;
        size_t ilen = o->has_index ? o->index_len : default_len;
        char idbuf[24];
        const char *id = g.arena.data + o->id_off;
        size_t idlen = o->id_len;
        if (!o->has_id) {
            /* 20 characters, like Elasticsearch's generated ids */
            static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            uint64_t h1 = mix(++g.autoid), h2 = mix(h1);
            for (int i = 0; i < 20; i++) {
                uint64_t *h = i < 10 ? &h1 : &h2;
                idbuf[i] = b64[*h & 63];
                *h >>= 6;
            }
            id = idbuf;
            idlen = 20;
        }
        item_head(b, o, index, ilen, id, idlen);
        if (bad_index_name(index, ilen, why, sizeof why)) {
            item_error(b, 400, "invalid_index_name_exception", why, NULL, index, ilen);
            continue;
        }
        index_t *x = find_index(index, ilen, 1);
        if (!x) {
            snprintf(why, sizeof why, "Validation Failed: 1: this action would add [2] shards, "
                     "but this cluster currently has [%d]/[%d] maximum normal shards open;",
                     2 * MAX_INDICES, 2 * MAX_INDICES);
            item_error(b, 400, "validation_exception", why, NULL, index, ilen);
            continue;
        }
        if (o->action == A_UPDATE || o->action == A_DELETE) {
            snprintf(why, sizeof why, "es_standin keeps no documents: [%s] is not implemented",
                     action_names[o->action]);
            item_error(b, 400, "illegal_argument_exception", why, x, index, ilen);
            continue;
        }
        jr d = {o->doc, o->doc + o->doc_len};
        if (jpeek(&d) != '{') {
            snprintf(why, sizeof why, "[1:%zu] failed to parse: the document is not a JSON "
                     "object", (size_t)(d.p - o->doc) + 1);
            item_error(b, 400, "document_parsing_exception", why, x, index, ilen);
            continue;
        }
        uint64_t key = doc_key(index, ilen, id, idlen);
        uint64_t *slot = idset_find(&g.ids, key);
        unsigned version = 1;
        const char *result = "created";
        int status = 201;
        if (*slot) {
            unsigned current = (unsigned)(*slot >> 56) + 1;
            if (o->action == A_CREATE) {
                g.st.conflicts++;
                snprintf(why, sizeof why, "[%.*s]: version conflict, document already exists "
                         "(current version [%u])", (int)idlen, id, current);
                item_error(b, 409, "version_conflict_engine_exception", why, x, index, ilen);
                continue;
            }
            version = current + 1; /* past 256 the version is not kept exactly */
            if (current < 256)
                *slot += 1ull << 56;
            result = "updated";
            status = 200;
            g.st.updated++;
        } else {
            if (!idset_insert(&g.ids, slot, key)) {
                g.st.ids_not_remembered++;
                if (!g.warned_full && !g.quiet)
                    fprintf(stderr, "es_standin: the id set is full (%zu ids, --max-ids); later "
                            "ids are answered but not remembered\n", g.ids.count);
                g.warned_full = 1;
            }
            x->docs++;
            g.st.created++;
        }
        BUF_LIT(b, ",\"_version\":");
        buf_u64(b, version);
        BUF_LIT(b, ",\"result\":\"");
        buf_str(b, result);
        BUF_LIT(b, "\",\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":");
        buf_u64(b, x->seq_no++);
        BUF_LIT(b, ",\"_primary_term\":1,\"status\":");
        buf_u64(b, (uint64_t)status);
        g.item_status[k] = status;
        BUF_LIT(b, "}}");
    }
    buf *a = &g.answer;
    a->len = 0;
    BUF_LIT(a, "{\"took\":");
    buf_u64(a, (uint64_t)((now_s() - t0) * 1000));
    if (g.st.item_errors > errors_before)
        BUF_LIT(a, ",\"errors\":true,\"items\":[");
    else
        BUF_LIT(a, ",\"errors\":false,\"items\":[");
    buf_add(a, b->data, b->len);
    BUF_LIT(a, "]}");
    if (g.latency_log)
        log_latency(n_ops, g.item_status);
    if (g.timeline)
        log_timeline();
    respond_buf(c, 200, a);
}

/* -- the other endpoints -------------------------------------------------------------------- */

static void answer_stats(conn *c)
{
    const stats *s = &g.st;
    buf *a = &g.answer;
    a->len = 0;
    uint64_t documents = 0;
    for (size_t i = 0; i < g.n_indices; i++)
        documents += g.indices[i]->docs;
    buf_printf(a, "{\"server\":\"es_standin\",\"documents\":%" PRIu64 ",\"requests\":%" PRIu64
               ",\"bulk_requests\":%" PRIu64 ",\"connections\":%" PRIu64 ",\"items\":%" PRIu64
               ",\"created\":%" PRIu64 ",\"updated\":%" PRIu64 ",\"conflicts\":%" PRIu64
               ",\"item_errors\":%" PRIu64 ",\"request_errors\":%" PRIu64
               ",\"gzip_requests\":%" PRIu64 ",\"chunked_requests\":%" PRIu64
               ",\"expect_100\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bytes_inflated\":%" PRIu64
               ",\"max_bulk_items\":%" PRIu64 ",\"max_bulk_bytes\":%" PRIu64 ",\"busy_s\":%.6f"
               ",\"ids_remembered\":%zu,\"ids_not_remembered\":%" PRIu64 ",\"max_ids\":%zu"
               ",\"id_table_bytes\":%zu,\"templates\":%zu,\"ilm_policies\":%zu,\"indices\":[",
               documents, s->requests, s->bulk_requests, s->connections, s->items, s->created,
               s->updated, s->conflicts, s->item_errors, s->request_errors, s->gzip_requests,
               s->chunked_requests, s->expect_100, s->bytes_in, s->bytes_inflated,
               s->max_bulk_items, s->max_bulk_bytes, s->busy_s, g.ids.count,
               s->ids_not_remembered, g.ids.max_ids, g.ids.n_slots * sizeof(uint64_t),
               g.templates.n + g.component_templates.n + g.legacy_templates.n, g.policies.n);
    for (size_t i = 0; i < g.n_indices; i++) {
        if (i)
            BUF_LIT(a, ",");
        buf_json(a, g.indices[i]->name, g.indices[i]->len);
    }
    BUF_LIT(a, "]}");
    respond_buf(c, 200, a);
}

/* Does the index expression (comma list, * wildcards, _all) name index x? */
static int names_index(const char *expr, const index_t *x)
{
    if (!expr || strcmp(expr, "_all") == 0)
        return 1;
    char part[512];
    for (const char *p = expr; *p;) {
        size_t n = strcspn(p, ",");
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        if (fnmatch(part, x->name, 0) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static void answer_count(conn *c, const char *expr)
{
    /* Nothing is stored, so only match_all can be counted truthfully. */
    const char *b = c->req.body;
    size_t n = c->req.body_len;
    int has_query = 0, match_all = 0;
    for (size_t i = 0; i + 7 <= n; i++) {
        if (memcmp(b + i, "\"query\"", 7) == 0)
            has_query = 1;
        if (i + 11 <= n && memcmp(b + i, "\"match_all\"", 11) == 0)
            match_all = 1;
    }
    if (has_query && !match_all) {
        respond_error(c, 400, "illegal_argument_exception",
                      "es_standin keeps no documents and counts match_all only");
        return;
    }
    uint64_t count = 0;
    size_t shards = 0;
    for (size_t i = 0; i < g.n_indices; i++) {
        if (names_index(expr, g.indices[i])) {
            count += g.indices[i]->docs;
            shards++;
        }
    }
    if (expr && !strpbrk(expr, "*,") && strcmp(expr, "_all") != 0 && shards == 0) {
        respond_error(c, 404, "index_not_found_exception", "no such index [%s]", expr);
        return;
    }
    buf *a = &g.answer;
    a->len = 0;
    buf_printf(a, "{\"count\":%" PRIu64 ",\"_shards\":{\"total\":%zu,\"successful\":%zu,"
               "\"skipped\":0,\"failed\":0}}", count, shards, shards);
    respond_buf(c, 200, a);
}

static void answer_refresh(conn *c, const char *expr)
{
    size_t shards = 0;
    for (size_t i = 0; i < g.n_indices; i++)
        shards += (size_t)names_index(expr, g.indices[i]);
    buf *a = &g.answer;
    a->len = 0;
    buf_printf(a, "{\"_shards\":{\"total\":%zu,\"successful\":%zu,\"failed\":0}}", 2 * shards,
               shards);
    respond_buf(c, 200, a);
}

static void answer_health(conn *c)
{
    buf *a = &g.answer;
    a->len = 0;
    buf_printf(a, "{\"cluster_name\":\"bppipe-bench\",\"status\":\"green\",\"timed_out\":false,"
               "\"number_of_nodes\":1,\"number_of_data_nodes\":1,\"active_primary_shards\":%zu,"
               "\"active_shards\":%zu,\"relocating_shards\":0,\"initializing_shards\":0,"
               "\"unassigned_shards\":0,\"delayed_unassigned_shards\":0,"
               "\"number_of_pending_tasks\":0,\"number_of_in_flight_fetch\":0,"
               "\"task_max_waiting_in_queue_millis\":0,\"active_shards_percent_as_number\":100.0}",
               g.n_indices, g.n_indices);
    respond_buf(c, 200, a);
}

/* PUT/POST stores the name of a JSON object body; GET/HEAD says whether it is there. */
static void answer_named(conn *c, names *list, const char *name, const char *missing_fmt)
{
    const char *m = c->req.method;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        if (!names_has(list, name)) {
            respond_error(c, 404, "resource_not_found_exception", missing_fmt, name);
            return;
        }
        static const char known[] = "{\"acknowledged\":true,\"note\":\"es_standin keeps only "
                                    "the names of what was installed\"}";
        respond(c, 200, known, sizeof known - 1);
        return;
    }
    if (strcmp(m, "PUT") != 0 && strcmp(m, "POST") != 0) {
        respond_error(c, 405, "illegal_argument_exception", "Incorrect HTTP method for uri [%s] "
                      "and method [%s], allowed: [GET, PUT, POST, HEAD]", c->req.target, m);
        return;
    }
    jr r = {c->req.body, c->req.body + c->req.body_len};
    jr whole = r;
    if (jpeek(&r) != '{' || jskip(&whole, 0) != 0 || jpeek(&whole) != -1) {
        respond_error(c, 400, "x_content_parse_exception", "[1:1] the body is not a JSON object");
        return;
    }
    if (names_add(list, name) != 0) {
        respond_error(c, 400, "illegal_argument_exception", "es_standin keeps at most %d names "
                      "of this kind", MAX_NAMES);
        return;
    }
    static const char ack[] = "{\"acknowledged\":true}";
    respond(c, 200, ack, sizeof ack - 1);
}

/* In-place %XX decoding of one path segment; -1 for a bad escape. */
static int percent_decode(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        unsigned v;
        if (*p == '%') {
            char h[5] = {'0', '0', p[1], p[1] ? p[2] : '\0', '\0'};
            if (!p[1] || !p[2] || hex4(h, &v) != 0 || v == 0)
                return -1;
            *w++ = (char)v;
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return 0;
}

/* Inflates a gzip or deflate body into g.inflated; 0, or the HTTP status of the refusal. */
static int inflate_body(conn *c, char *why, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) /* 15 + 32: zlib or gzip, from the header */
        die_oom();
    buf *out = &g.inflated;
    out->len = 0;
    z.next_in = (Bytef *)c->req.body;
    z.avail_in = (uInt)c->req.body_len;
    int rc, status = 0;
    do {
        buf_reserve(out, c->req.body_len * 4 + 65536);
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)(out->cap - out->len - 1);
        size_t before = z.total_out;
        rc = inflate(&z, Z_NO_FLUSH);
        out->len += z.total_out - before;
        if (out->len > MAX_BODY) {
            snprintf(why, cap, "the decompressed body is larger than %u bytes", MAX_BODY);
            status = 413;
            break;
        }
        if (rc == Z_BUF_ERROR && z.avail_in == 0) {
            snprintf(why, cap, "the compressed body is truncated");
            status = 400;
            break;
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            snprintf(why, cap, "cannot decompress the body: %s", z.msg ? z.msg : "corrupt data");
            status = 400;
            break;
        }
    } while (rc != Z_STREAM_END);
    inflateEnd(&z);
    if (status)
        return status;
    out->data[out->len] = '\0';
    g.st.bytes_inflated += out->len;
    c->req.body = out->data;
    c->req.body_len = out->len;
    return 0;
}

static void handle(conn *c)
{
    request *q = &c->req;
    double t0 = now_s();
    g.st.requests++;
    g.st.bytes_in += q->body_len;
    size_t wire_len = q->body_len;
    if (q->encoding) {
        char why[256];
        g.st.gzip_requests++;
        int status = inflate_body(c, why, sizeof why);
        if (status) {
            if (status == 413)
                respond(c, 413, "{\"error\":\"Request Entity Too Large\",\"status\":413}", 47);
            else
                respond_error(c, 400, "parse_exception", "%s", why);
            goto done;
        }
    }
    char path[MAX_TARGET];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(q->target, "?"), q->target);
    char *parts[8];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == 8 || percent_decode(t) != 0) {
            n = 9;
            break;
        }
        parts[n++] = t;
    }
    const char *m = q->method;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    int post = strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0;
    const char *last = n > 0 && n < 9 ? parts[n - 1] : "";
    if (n == 0 && get) {
        answer_info(c);
    } else if ((n == 1 || n == 2) && strcmp(last, "_bulk") == 0 && post) {
        bulk(c, n == 2 ? parts[0] : NULL, wire_len);
    } else if (n == 2 && strcmp(parts[0], "_emulator") == 0 && strcmp(parts[1], "stats") == 0 &&
               get) {
        g.st.requests--; /* a benchmark's reading of the counters is not counted in them */
        answer_stats(c);
    } else if (n == 2 && strcmp(parts[0], "_emulator") == 0 && strcmp(parts[1], "reset") == 0 &&
               post) {
        forget_all();
        static const char ack[] = "{\"acknowledged\":true}";
        respond(c, 200, ack, sizeof ack - 1);
    } else if ((n == 1 || n == 2) && strcmp(last, "_count") == 0 && (get || post)) {
        answer_count(c, n == 2 ? parts[0] : NULL);
    } else if ((n == 1 || n == 2) && strcmp(last, "_refresh") == 0 && (get || post)) {
        answer_refresh(c, n == 2 ? parts[0] : NULL);
    } else if (n == 2 && strcmp(parts[0], "_cluster") == 0 && strcmp(parts[1], "health") == 0 &&
               get) {
        answer_health(c);
    } else if (n == 2 && strcmp(parts[0], "_index_template") == 0) {
        answer_named(c, &g.templates, parts[1], "index template matching [%s] not found");
    } else if (n == 2 && strcmp(parts[0], "_component_template") == 0) {
        answer_named(c, &g.component_templates, parts[1],
                     "component template matching [%s] not found");
    } else if (n == 2 && strcmp(parts[0], "_template") == 0) {
        answer_named(c, &g.legacy_templates, parts[1], "index_template [%s] missing");
    } else if (n == 3 && strcmp(parts[0], "_ilm") == 0 && strcmp(parts[1], "policy") == 0) {
        answer_named(c, &g.policies, parts[2], "Lifecycle policy not found: %s");
    } else {
        respond_error(c, 400, "illegal_argument_exception",
                      "no handler found for uri [%s] and method [%s]", q->target, m);
    }
done:
    g.st.busy_s += now_s() - t0;
}

/* -- HTTP requests -------------------------------------------------------------------------- */

static int header_is(const char *line, size_t len, const char *name, const char **value,
                     size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return 0;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *vlen = (size_t)(end - v);
    return 1;
}

static int contains_token(const char *v, size_t n, const char *token)
{
    size_t t = strlen(token);
    for (size_t i = 0; i + t <= n; i++)
        if (strncasecmp(v + i, token, t) == 0)
            return 1;
    return 0;
}

/* Parses the head [p, p + len) (without the blank line). 0, or the status to refuse with. */
static int parse_head(conn *c, const char *p, size_t len)
{
    request *q = &c->req;
    memset(q, 0, sizeof *q);
    q->content_length = -1;
    q->keep_alive = 1;
    const char *end = p + len;
    const char *eol = memmem(p, len, "\r\n", 2);
    if (!eol)
        eol = end;
    /* METHOD SP target SP HTTP/1.x */
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || (size_t)(sp1 - p) >= sizeof q->method || eol - sp2 - 1 != 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return 400;
    if ((size_t)(sp2 - sp1 - 1) >= sizeof q->target)
        return 414;
    memcpy(q->method, p, (size_t)(sp1 - p));
    memcpy(q->target, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    if (sp2[8] == '0')
        q->keep_alive = 0; /* HTTP/1.0: unless it asks for keep-alive */
    int te_seen = 0;
    for (const char *line = eol + 2; line < end;) {
        const char *next = memmem(line, (size_t)(end - line), "\r\n", 2);
        size_t n = next ? (size_t)(next - line) : (size_t)(end - line);
        const char *v;
        size_t vn;
        if (header_is(line, n, "content-length", &v, &vn)) {
            long long cl = 0;
            if (vn == 0 || vn > 12)
                return 400;
            for (size_t i = 0; i < vn; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return 400;
                cl = cl * 10 + (v[i] - '0');
            }
            if (q->content_length >= 0 && q->content_length != cl)
                return 400;
            q->content_length = cl;
        } else if (header_is(line, n, "transfer-encoding", &v, &vn)) {
            te_seen = 1;
            q->chunked = vn >= 7 && strncasecmp(v + vn - 7, "chunked", 7) == 0;
        } else if (header_is(line, n, "content-encoding", &v, &vn)) {
            if ((vn == 4 && strncasecmp(v, "gzip", 4) == 0) ||
                (vn == 6 && strncasecmp(v, "x-gzip", 6) == 0) ||
                (vn == 7 && strncasecmp(v, "deflate", 7) == 0))
                q->encoding = 1;
            else if (!(vn == 8 && strncasecmp(v, "identity", 8) == 0))
                return 415;
        } else if (header_is(line, n, "content-type", &v, &vn)) {
            snprintf(q->ctype, sizeof q->ctype, "%.*s", (int)vn, v);
        } else if (header_is(line, n, "connection", &v, &vn)) {
            if (contains_token(v, vn, "close"))
                q->keep_alive = 0;
            else if (contains_token(v, vn, "keep-alive"))
                q->keep_alive = 1;
        } else if (header_is(line, n, "expect", &v, &vn)) {
            q->expect100 = vn == 12 && strncasecmp(v, "100-continue", 12) == 0;
        }
        line = next ? next + 2 : end;
    }
    if (te_seen && !q->chunked)
        return 400; /* a transfer coding other than chunked last: the length is unknown */
    if (q->chunked)
        q->content_length = -1; /* Transfer-Encoding wins (RFC 9112, 6.3) */
    return 0;
}

static void refuse(conn *c, int status)
{
    c->close_after = 1;
    c->req.keep_alive = 0;
    if (!c->req.method[0])
        strcpy(c->req.method, "GET");
    if (status == 413)
        respond(c, 413, "{\"error\":\"Request Entity Too Large\",\"status\":413}", 47);
    else
        respond_error(c, status, status == 415 ? "illegal_argument_exception" : "parse_exception",
                      "es_standin cannot read this request (HTTP %d %s)", status,
                      reason_phrase(status));
}

/* One request is complete: answers it and makes ready for the next. */
static void complete(conn *c, const char *body, size_t len)
{
    c->req.body = body;
    c->req.body_len = len;
    handle(c);
    if (!c->req.keep_alive)
        c->close_after = 1;
    c->state = ST_HEAD;
    c->scanned = 0;
    c->body.len = 0;
}

/* Handles every complete request in c->in, until more bytes are needed or the connection is to
 * close. */
static void serve(conn *c)
{
    while (!c->close_after && c->out.len - c->out_off < OUT_HIGH) {
        char *p = c->in.data + c->in_off;
        size_t avail = c->in.len - c->in_off;
        if (c->state == ST_HEAD) {
            /* leading empty lines between requests are allowed (RFC 9112, 2.2) */
            while (avail >= 2 && p[0] == '\r' && p[1] == '\n') {
                p += 2;
                avail -= 2;
                c->in_off += 2;
            }
            size_t from = c->scanned > 3 ? c->scanned - 3 : 0;
            const char *e = avail >= 4 ? memmem(p + from, avail - from, "\r\n\r\n", 4) : NULL;
            if (!e) {
                c->scanned = avail;
                if (avail > MAX_HEAD)
                    refuse(c, 431);
                return;
            }
            size_t head = (size_t)(e - p);
            if (head + 4 > MAX_HEAD) {
                refuse(c, 431);
                return;
            }
            int bad = parse_head(c, p, head);
            c->in_off += head + 4;
            if (bad) {
                refuse(c, bad);
                return;
            }
            if (c->req.content_length > (long long)MAX_BODY) {
                refuse(c, 413);
                return;
            }
            avail = c->in.len - c->in_off;
            if (c->req.expect100 &&
                (c->req.chunked ? avail == 0 : c->req.content_length > (long long)avail)) {
                g.st.expect_100++;
                BUF_LIT(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
            }
            if (c->req.chunked) {
                g.st.chunked_requests++;
                c->state = ST_CHUNK_SIZE;
            } else {
                c->state = ST_BODY;
            }
            continue;
        }
        if (c->state == ST_BODY) {
            size_t want = c->req.content_length > 0 ? (size_t)c->req.content_length : 0;
            if (avail < want)
                return;
            c->in_off += want;
            complete(c, p, want);
            continue;
        }
        if (c->state == ST_CHUNK_SIZE || c->state == ST_TRAILER) {
            const char *e = memmem(p, avail, "\r\n", 2);
            if (!e) {
                if (avail > 4096)
                    refuse(c, 400);
                return;
            }
            size_t line = (size_t)(e - p);
            c->in_off += line + 2;
            if (c->state == ST_TRAILER) {
                if (line == 0)
                    complete(c, c->body.data ? c->body.data : "", c->body.len);
                continue; /* a trailer field: ignored */
            }
            size_t size = 0, digits = 0;
            for (; digits < line; digits++) {
                char h = p[digits];
                unsigned v;
                char x[5] = {'0', '0', '0', h, '\0'};
                if (hex4(x, &v) != 0)
                    break;
                if (size > MAX_BODY) {
                    refuse(c, 413);
                    return;
                }
                size = size * 16 + v;
            }
            if (digits == 0 || (digits < line && p[digits] != ';' && p[digits] != ' ' &&
                                p[digits] != '\t')) {
                refuse(c, 400);
                return;
            }
            if (size == 0) {
                c->state = ST_TRAILER;
            } else if (c->body.len + size > MAX_BODY) {
                refuse(c, 413);
                return;
            } else {
                c->chunk_left = size;
                c->state = ST_CHUNK_DATA;
            }
            continue;
        }
        if (c->state == ST_CHUNK_DATA) {
            if (avail == 0)
                return;
            size_t take = avail < c->chunk_left ? avail : c->chunk_left;
            buf_add(&c->body, p, take);
            c->in_off += take;
            c->chunk_left -= take;
            if (c->chunk_left == 0)
                c->state = ST_CHUNK_CRLF;
            continue;
        }
        /* ST_CHUNK_CRLF */
        if (avail < 2)
            return;
        if (p[0] != '\r' || p[1] != '\n') {
            refuse(c, 400);
            return;
        }
        c->in_off += 2;
        c->state = ST_CHUNK_SIZE;
    }
}

/* -- connections and the loop --------------------------------------------------------------- */

static int epfd;
static conn *conns;
static size_t n_conns;

static void close_conn(conn *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->close_after && !c->peer_closed) {
        /* Closing with unread bytes makes the kernel send a reset, which can destroy the answer
         * just sent before the client reads it: end our side, then drop what already came. */
        shutdown(c->fd, SHUT_WR);
        char sink[65536];
        for (int i = 0; i < 16 && recv(c->fd, sink, sizeof sink, 0) > 0; i++)
            ;
    }
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->body);
    free(c);
    n_conns--;
}

/* Watches for output room while `on`, and for input until the peer has closed its side. */
static void want_out(conn *c, int on)
{
    uint32_t events = (c->peer_closed ? 0 : EPOLLIN | EPOLLRDHUP) | (on ? EPOLLOUT : 0);
    if (events == c->events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

/* Sends what is queued. 0 while the connection lives on, -1 when it was closed. */
static int flush_out(conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_out(c, 1);
            return 0;
        }
        close_conn(c);
        return -1;
    }
    c->out.len = c->out_off = 0;
    want_out(c, 0);
    if (c->close_after) {
        close_conn(c);
        return -1;
    }
    return 0;
}

/* Serves and flushes until nothing more can be done now. */
static void progress(conn *c)
{
    for (;;) {
        size_t before = c->in_off;
        int state = c->state;
        serve(c);
        if (flush_out(c) != 0 || c->out.len != 0)
            return; /* closed, or waiting for room to send */
        if (c->in_off == before && c->state == state) {
            /* nothing more to do until more bytes come; none will once the peer closed */
            if (c->peer_closed)
                close_conn(c);
            return;
        }
        /* output drained and input consumed: go on with pipelined requests */
    }
}

static void on_readable(conn *c)
{
    for (;;) {
        if (c->in_off > 0) { /* keep the unconsumed bytes at the start */
            memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
            c->in.len -= c->in_off;
            c->in_off = 0;
        }
        size_t room = 65536;
        if (c->state == ST_BODY && c->req.content_length > 0 &&
            (size_t)c->req.content_length > c->in.len)
            room = (size_t)c->req.content_length - c->in.len + 65536;
        buf_reserve(&c->in, room);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            if (c->in.len - c->in_off > MAX_HEAD + (size_t)MAX_BODY + 65536)
                break; /* more than one request can hold: serve it first */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        c->peer_closed = 1; /* 0: orderly shutdown; an error is treated the same */
        want_out(c, 0);
        break;
    }
    progress(c);
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a connection that went away */
        if (n_conns >= MAX_CONNS) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c)
            die_oom();
        c->fd = fd;
        c->next = conns;
        if (conns)
            conns->prev = c;
        conns = c;
        n_conns++;
        g.st.connections++;
        c->events = EPOLLIN | EPOLLRDHUP;
        struct epoll_event ev = {.events = c->events, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
            close_conn(c);
    }
}

static int write_port_file(const char *path, int port)
{
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (!tmp)
        die_oom();
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        int bad = fprintf(f, "%d\n", port) < 0;
        bad |= fclose(f) != 0;
        rc = bad ? -1 : rename(tmp, path);
    }
    if (rc != 0)
        fprintf(stderr, "es_standin: cannot write %s: %s\n", path, strerror(errno));
    free(tmp);
    return rc;
}

static void usage(FILE *to)
{
    fputs("usage: es_standin [--port N] [--port-file FILE] [--max-ids N] [--latency-log FILE]\n"
          "                  [--timeline FILE] [--quiet]\n"
          "A fast Elasticsearch 8 stand-in for benchmarks: answers GET /, _bulk (per-item\n"
          "results, 409 on a repeated create), templates and ILM policies without storing\n"
          "documents; GET /_emulator/stats reads its counters. Listens on 127.0.0.1 only.\n"
          "--latency-log FILE: one line per _bulk item with a Kafka position in its document,\n"
          "`PARTITION OFFSET ACK_US STATUS` (ACK_US: wall clock, microseconds, when the answer\n"
          "was ready), flushed on exit (bench/latency.sh).\n"
          "--timeline FILE: one line per answered _bulk request, `WALL_S DOCUMENTS` (wall\n"
          "clock in seconds, documents held after it), flushed at once\n"
          "(bench/rsyslog_side_by_side.sh).\n",
          to);
}

static long long number_arg(const char *name, const char *v, long long lo, long long hi)
{
    char *end = NULL;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || n < lo || n > hi) {
        fprintf(stderr, "es_standin: %s wants a number from %lld to %lld\n", name, lo, hi);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *port_file = NULL;
    size_t max_ids = DEFAULT_MAX_IDS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--port") == 0) {
            port = (int)number_arg(a, v, 0, 65535);
            i++;
        } else if (strcmp(a, "--port-file") == 0 && v) {
            port_file = v;
            i++;
        } else if (strcmp(a, "--max-ids") == 0) {
            max_ids = (size_t)number_arg(a, v, 1, 1ll << 32);
            i++;
        } else if (strcmp(a, "--latency-log") == 0 && v) {
            g.latency_log = fopen(v, "w");
            if (!g.latency_log) {
                fprintf(stderr, "es_standin: cannot write %s: %s\n", v, strerror(errno));
                return 1;
            }
            setvbuf(g.latency_log, NULL, _IOFBF, 1 << 20);
            i++;
        } else if (strcmp(a, "--timeline") == 0 && v) {
            g.timeline = fopen(v, "w");
            if (!g.timeline) {
                fprintf(stderr, "es_standin: cannot write %s: %s\n", v, strerror(errno));
                return 1;
            }
            i++;
        } else if (strcmp(a, "--quiet") == 0) {
            g.quiet = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    idset_init(&g.ids, max_ids);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (sfd < 0 || lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 128) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
        fprintf(stderr, "es_standin: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    port = ntohs(addr.sin_port);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    static char listen_tag, signal_tag;
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listen_tag};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &signal_tag};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) != 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &sev) != 0) {
        fprintf(stderr, "es_standin: epoll: %s\n", strerror(errno));
        return 1;
    }
    printf("port %d\n", port);
    fflush(stdout);
    if (port_file && write_port_file(port_file, port) != 0)
        return 1;

    int stop = 0;
    while (!stop) {
        struct epoll_event ev[64];
        int n = epoll_wait(epfd, ev, 64, -1);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "es_standin: epoll_wait: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = ev[i].data.ptr;
            if (tag == &listen_tag) {
                on_accept(lfd);
            } else if (tag == &signal_tag) {
                stop = 1;
            } else {
                conn *c = tag;
                if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    on_readable(c); /* also sees the end: recv answers 0 or the error */
                else if (ev[i].events & EPOLLOUT)
                    progress(c);
            }
            /* epoll names a descriptor at most once a round, and a connection is only ever
             * closed while its own event is handled: no later event names a freed one */
        }
    }
    if (!g.quiet)
        fprintf(stderr, "es_standin: stopping: %" PRIu64 " requests, %" PRIu64 " bulk, %" PRIu64
                " items, %" PRIu64 " created, %" PRIu64 " conflicts, %.2f s busy\n",
                g.st.requests, g.st.bulk_requests, g.st.items, g.st.created, g.st.conflicts,
                g.st.busy_s);
    while (conns)
        close_conn(conns);
    forget_all();
    free(g.ids.slot);
    buf_free(&g.inflated);
    buf_free(&g.arena);
    buf_free(&g.items);
    buf_free(&g.answer);
    buf_free(&g.key);
    free(g.ops);
    free(g.item_status);
    if (g.latency_log && fclose(g.latency_log) != 0) {
        fprintf(stderr, "es_standin: cannot write the latency log: %s\n", strerror(errno));
        return 1;
    }
    if (g.timeline && fclose(g.timeline) != 0) {
        fprintf(stderr, "es_standin: cannot write the timeline: %s\n", strerror(errno));
        return 1;
    }
    close(lfd);
    close(sfd);
    close(epfd);
    return 0;
}
