/* The container walk: a payload is one resource, a Bundle, a JSON array or NDJSON. Each
 * Observation found is extracted by fhir_observation.c; single-value Observations of one
 * message are paired; then every result is emitted in order. */
#include "fhir_decode.h"

#include "fhir_observation.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Results of one payload, kept until pairing is done. */
#define INLINE_RESULTS 4
#define INLINE_TREES 2

typedef struct walk {
    bp_obs_result *items; /* `inline_items` until a payload holds more */
    size_t n, cap;
    bp_obs_result inline_items[INLINE_RESULTS];
    cJSON *inline_trees[INLINE_TREES];
    size_t skipped;  /* resources that are not blood pressure (Patient, body weight, ...) */
    cJSON **trees;   /* parsed documents the results point into */
    size_t n_trees;
    bool nomem;
    /* What the payload was, for the reason when it yields nothing: "Bundle of 137 entries". */
    const char *container, *container_noun, *container_nouns;
    size_t container_size;
} walk;

static bp_obs_result *next_slot(walk *w)
{
    if (w->n == w->cap) {
        /* A Bundle with many readings: move from the inline slots to the heap. */
        size_t cap = w->cap * 2;
        bp_obs_result *items = w->items == w->inline_items ? malloc(cap * sizeof *items)
                                                            : realloc(w->items, cap * sizeof *items);
        if (!items) {
            w->nomem = true;
            return NULL;
        }
        if (w->items == w->inline_items)
            memcpy(items, w->inline_items, sizeof w->inline_items);
        w->items = items;
        w->cap = cap;
    }
    return &w->items[w->n++];
}

static void add_invalid(walk *w, int index, const char *reason)
{
    bp_obs_result *r = next_slot(w);
    if (!r)
        return;
    memset(r, 0, sizeof *r);
    snprintf(r->reason, sizeof r->reason, "%s", reason);
    r->d.invalid_reason = r->reason;
    r->d.systolic = r->d.diastolic = r->d.heart_rate = NAN;
    r->d.effective_ms = INT64_MIN;
    r->d.resource_index = index;
}

static void visit(walk *w, const cJSON *node, int index, const char *full_url, bool top,
                  const char *raw, size_t raw_len);

static void note_container(walk *w, bool top, const char *kind, const char *noun,
                           const char *nouns, size_t size)
{
    if (top && !w->container) {
        w->container = kind;
        w->container_noun = noun;
        w->container_nouns = nouns;
        w->container_size = size;
    }
}

static void visit_bundle(walk *w, const cJSON *bundle, bool top)
{
    const cJSON *entry;
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(bundle, "entry");
    int i = 0;
    note_container(w, top, "Bundle", "entry", "entries",
                   cJSON_IsArray(entries) ? (size_t)cJSON_GetArraySize(entries) : 0);
    cJSON_ArrayForEach(entry, entries)
    {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(entry, "resource");
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(entry, "fullUrl");
        if (res)
            visit(w, res, i, cJSON_IsString(url) ? url->valuestring : NULL, false, NULL, 0);
        else
            w->skipped++; /* a request-only entry (e.g. DELETE) carries no resource */
        i++;
    }
}

static void visit(walk *w, const cJSON *node, int index, const char *full_url, bool top,
                  const char *raw, size_t raw_len)
{
    if (cJSON_IsArray(node)) {
        const cJSON *el;
        int i = 0;
        note_container(w, top, "JSON array", "element", "elements", (size_t)cJSON_GetArraySize(node));
        cJSON_ArrayForEach(el, node) visit(w, el, i++, NULL, false, NULL, 0);
        return;
    }
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(node, "resourceType");
    if (!cJSON_IsObject(node) || !cJSON_IsString(rt)) {
        add_invalid(w, index, cJSON_IsObject(node) ? "not a FHIR resource (no resourceType)"
                                                    : "not a FHIR resource (not a JSON object)");
        return;
    }
    if (strcmp(rt->valuestring, "Bundle") == 0) {
        visit_bundle(w, node, top);
        return;
    }
    if (strcmp(rt->valuestring, "Observation") != 0) {
        if (top) {
            char reason[160];
            snprintf(reason, sizeof reason, "resourceType %.40s is not an Observation or Bundle",
                     rt->valuestring);
            add_invalid(w, index, reason);
        } else {
            w->skipped++;
        }
        return;
    }
    bp_obs_result *r = next_slot(w);
    if (!r)
        return;
    bp_obs_extract(node, full_url, raw, raw_len, r);
    r->d.resource_index = index;
    /* Inside a container, an Observation about something else is not an error. */
    if (!r->is_bp && !top) {
        w->n--;
        w->skipped++;
    }
}

/* A systolic-only and a diastolic-only reading of the same patient at the same time are one
 * reading (C-CDA conversions split the panel). Pairing never crosses patients or times. */
static void pair_single_values(walk *w)
{
    for (size_t i = 0; i < w->n; i++) {
        bp_obs_result *a = &w->items[i];
        if (a->d.invalid_reason || !a->d.patient_id || a->has_sys == a->has_dia)
            continue;
        for (size_t j = i + 1; j < w->n; j++) {
            bp_obs_result *b = &w->items[j];
            if (b->d.invalid_reason || !b->d.patient_id || b->has_sys == b->has_dia ||
                b->has_sys == a->has_sys || b->d.effective_ms != a->d.effective_ms ||
                strcmp(a->d.patient_id, b->d.patient_id) != 0)
                continue;
            if (b->has_sys)
                a->d.systolic = b->d.systolic;
            else
                a->d.diastolic = b->d.diastolic;
            a->has_sys = a->has_dia = true;
            char joined[sizeof a->ids[0]];
            snprintf(joined, sizeof joined, "%s+%s", a->d.stable_id, b->d.stable_id);
            memcpy(a->ids[0], joined, sizeof joined);
            a->d.stable_id = a->ids[0];
            if (!a->d.practitioner_id && b->d.practitioner_id) {
                memcpy(a->ids[2], b->ids[2], sizeof a->ids[2]);
                a->d.practitioner_id = a->ids[2];
            }
            b->paired_away = true;
            break;
        }
    }
}

/* Where a document nests deeper than cJSON's limit, say so rather than "not JSON". */
static size_t nesting_overflow_at(const char *data, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > CJSON_NESTING_LIMIT)
                return i;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return (size_t)-1;
}

/* Byte offset of the first invalid UTF-8 sequence, or (size_t)-1. */
static size_t utf8_error_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, eight bytes at a time: FHIR JSON is nearly all ASCII. */
        while (i + 8 <= len) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (word & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                                : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (n == 0 || i + n > len)
            return i;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
            return i;
        i += n;
    }
    return (size_t)-1;
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_space(const char *data, size_t len, size_t i)
{
    while (i < len && is_json_space(data[i]))
        i++;
    return i;
}

/* Parses one JSON text of data[0..len) and walks it. `line` > 0 names an NDJSON line. */
static void parse_and_visit(walk *w, const char *data, size_t len, int line)
{
    char reason[160];
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, false);
    size_t rest = root ? skip_space(data, len, (size_t)(end - data)) : 0;
    if (!root || rest < len) {
        size_t at = root ? rest : (end ? (size_t)(end - data) : 0);
        /* Too deep only when that is where the parser stopped, not a syntax error before it. */
        size_t deep = root ? (size_t)-1 : nesting_overflow_at(data, len);
        if (deep != (size_t)-1 && deep > at)
            deep = (size_t)-1;
        const char *what = deep != (size_t)-1 ? "nested deeper than the limit of 1000"
                           : root             ? "trailing data after the JSON value"
                                              : "not JSON";
        if (deep != (size_t)-1)
            at = deep;
        if (line > 0)
            snprintf(reason, sizeof reason, "line %d: %s at byte %zu", line, what, at);
        else
            snprintf(reason, sizeof reason, "%s at byte %zu", what, at);
        add_invalid(w, line > 0 ? line - 1 : -1, reason);
        cJSON_Delete(root);
        return;
    }
    /* A resource's content hash is over its own bytes, without surrounding white space, so a
     * resource has the same id alone in a message, with a trailing newline, or as an NDJSON
     * line. */
    size_t first = skip_space(data, len, 0), last = len;
    while (last > first && is_json_space(data[last - 1]))
        last--;
    visit(w, root, line > 0 ? line - 1 : -1, NULL, line <= 0,
          cJSON_IsObject(root) ? data + first : NULL, last - first);
    /* Results point into the tree, so it lives until they are emitted: keep it in the walk. */
    if (w->n_trees == INLINE_TREES && w->trees == w->inline_trees) {
        cJSON **heap = malloc(2 * INLINE_TREES * sizeof *heap);
        if (!heap)
            goto nomem;
        memcpy(heap, w->inline_trees, sizeof w->inline_trees);
        w->trees = heap;
    } else if (w->n_trees > INLINE_TREES && (w->n_trees & (w->n_trees - 1)) == 0) {
        cJSON **grown = realloc(w->trees, 2 * w->n_trees * sizeof *grown);
        if (!grown)
            goto nomem;
        w->trees = grown;
    }
    w->trees[w->n_trees++] = root;
    return;
nomem:
    /* The trees kept so far stay owned by the walk, which frees them. */
    w->nomem = true;
    cJSON_Delete(root);
}

/* Several JSON texts, one per line: each line is its own payload with its line number. */
static bool looks_like_ndjson(const char *data, size_t len)
{
    size_t first = skip_space(data, len, 0);
    const char *nl = memchr(data + first, '\n', len - first);
    if (!nl)
        return false;
    size_t next = skip_space(data, len, (size_t)(nl - data));
    return next < len && (data[next] == '{' || data[next] == '[');
}

static void walk_payload(walk *w, const char *data, size_t len)
{
    if (!looks_like_ndjson(data, len)) {
        parse_and_visit(w, data, len, 0);
        return;
    }
    /* A pretty-printed single document also has '{' after newlines; it parses whole. */
    const char *end = NULL;
    cJSON *whole = cJSON_ParseWithLengthOpts(data, len, &end, false);
    if (whole && skip_space(data, len, (size_t)(end - data)) == len) {
        cJSON_Delete(whole);
        parse_and_visit(w, data, len, 0);
        return;
    }
    cJSON_Delete(whole);
    int line = 0;
    size_t texts = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t stop = nl ? (size_t)(nl - data) : len;
        line++;
        if (skip_space(data, stop, i) < stop) {
            parse_and_visit(w, data + i, stop - i, line);
            texts++;
        }
        i = stop + 1;
    }
    note_container(w, true, "NDJSON", "line", "lines", texts);
}

int bp_fhir_decode(const char *data, size_t len, const bp_decode_opts *opts,
                   bp_decode_emit emit, void *user)
{
    walk w;
    w.items = w.inline_items;
    w.n = 0;
    w.cap = INLINE_RESULTS;
    w.skipped = 0;
    w.trees = w.inline_trees;
    w.n_trees = 0;
    w.nomem = false;
    w.container = w.container_noun = w.container_nouns = NULL;
    w.container_size = 0;
    char reason[160];
    const char *early = NULL;
    size_t limit = opts ? opts->max_payload_bytes : 0;
    size_t bad_utf8;
    if (!data || skip_space(data, len, 0) == len) {
        early = "empty payload";
    } else if (limit && len > limit) {
        snprintf(reason, sizeof reason, "payload of %zu bytes is over the limit of %zu "
                 "(max_payload_bytes)", len, limit);
        early = reason;
    } else if ((bad_utf8 = utf8_error_at((const unsigned char *)data, len)) != (size_t)-1) {
        snprintf(reason, sizeof reason, "not valid UTF-8 at byte %zu", bad_utf8);
        early = reason;
    }
    if (early) {
        bp_decoded d = {.invalid_reason = early, .systolic = NAN, .diastolic = NAN,
                        .heart_rate = NAN, .effective_ms = INT64_MIN, .resource_index = -1};
        return emit(user, &d);
    }
    size_t start = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* BOM */
    walk_payload(&w, data + start, len - start);
    int rc = 0;
    if (w.nomem) {
        bp_decoded d = {.invalid_reason = "out of memory while decoding", .systolic = NAN,
                        .diastolic = NAN, .heart_rate = NAN, .effective_ms = INT64_MIN,
                        .resource_index = -1};
        emit(user, &d);
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < w.n; i++)
        bp_obs_rebase(&w.items[i]);
    pair_single_values(&w);
    size_t emitted = 0;
    for (size_t i = 0; i < w.n && rc == 0; i++) {
        if (w.items[i].paired_away)
            continue;
        rc = emit(user, &w.items[i].d);
        emitted++;
    }
    if (emitted == 0 && rc == 0) {
        /* Every resource was skipped as not about blood pressure: say what was looked at. */
        if (w.container)
            snprintf(reason, sizeof reason, "no blood-pressure Observation in %s of %zu %s "
                     "(%zu other resource%s)", w.container, w.container_size,
                     w.container_size == 1 ? w.container_noun : w.container_nouns, w.skipped,
                     w.skipped == 1 ? "" : "s");
        else
            snprintf(reason, sizeof reason, "no blood-pressure Observation in the payload");
        bp_decoded d = {.invalid_reason = reason, .systolic = NAN, .diastolic = NAN,
                        .heart_rate = NAN, .effective_ms = INT64_MIN, .resource_index = -1};
        rc = emit(user, &d);
    }
done:
    for (size_t i = 0; i < w.n_trees; i++)
        cJSON_Delete(w.trees[i]);
    if (w.trees != w.inline_trees)
        free(w.trees);
    if (w.items != w.inline_items)
        free(w.items);
    return rc;
}
