/* The container walk: a payload is one resource, a Bundle, a JSON array or NDJSON. Each
 * Observation found is extracted by fhir_observation.c; single-value Observations of one
 * message are paired; then every result is emitted in order. */
#include "fhir/fhir_decode.h"

#include "fhir/fhir_json.h"
#include "fhir/fhir_observation.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cJSON's trees live in a per-thread arena while a payload is decoded: a FHIR resource is a few
 * hundred small nodes and strings, and malloc plus free of each was a third of the decoder's
 * time. The hooks are cJSON's process-wide ones; outside bp_fhir_decode (another thread, a
 * plugin's own cJSON, a tree made before) they are plain malloc and free, and free() of a
 * pointer that is not in the active arena is a plain free. A payload's trees are dropped at once
 * when it is done. Chunks grow with what the payload has used, so a large Bundle takes few. */
#define TREE_CHUNK (64 * 1024)

static _Thread_local bp_arena trees; /* grows; set up at the first payload of the thread */
static _Thread_local bool trees_ready;
static _Thread_local bool trees_active;        /* inside bp_fhir_decode on this thread */
static _Thread_local bp_arena payload_strings; /* ctx.arena, kept warm between payloads */
static _Thread_local bool payload_strings_ready;

static void *tree_malloc(size_t size)
{
    return trees_active ? bp_arena_alloc_raw(&trees, size) : malloc(size);
}

static void tree_free(void *p)
{
    if (p && !(trees_active && bp_arena_owns(&trees, p)))
        free(p);
}

/* Keeps the usual chunk for the next payload; a large payload's memory is given back. */
static void trees_reset(void)
{
    if (bp_arena_bytes(&trees) > TREE_CHUNK)
        bp_arena_free(&trees);
    else
        bp_arena_reset(&trees);
}

/* A tree made in the arena goes with it; one made before the hooks (none here) is freed. */
static void drop_tree(cJSON *root)
{
    if (root && !bp_arena_owns(&trees, root))
        cJSON_Delete(root);
}

/* cJSON's parse, through the fast path for the usual FHIR text (fhir_json.h) while the arena
 * is active; anything the fast path is not sure about is cJSON's to parse. */
static cJSON *parse_json(const char *data, size_t len, const char **end)
{
    cJSON *root = trees_active ? bp_fast_json_parse(data, len, end, tree_malloc) : NULL;
    return root ? root : cJSON_ParseWithLengthOpts(data, len, end, false);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void)
{
    cJSON_Hooks hooks = {.malloc_fn = tree_malloc, .free_fn = tree_free};
    cJSON_InitHooks(&hooks);
}

void bp_fhir_decode_init(void)
{
    pthread_once(&hooks_once, install_hooks);
}

void bp_fhir_decode_thread_done(void)
{
    trees_active = false;
    if (trees_ready)
        bp_arena_free(&trees);
    trees_ready = false;
    if (payload_strings_ready)
        bp_arena_free(&payload_strings);
    payload_strings_ready = false;
}

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
    bp_obs_ctx ctx; /* the composed strings of the results, and whether NULs were marked */
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
    r->d.systolic = r->d.diastolic = r->d.heart_rate = r->d.mean_pressure = NAN;
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

/* A string composed for a skipped item, in the payload's arena (alive until the items are
 * emitted); NULL when memory ran out. */
static char *owned_string(walk *w, size_t size)
{
    char *s = bp_arena_alloc(&w->ctx.arena, size);
    if (!s)
        w->nomem = true;
    return s;
}

/* A string member, NULL when absent, empty, or holding a marked NUL (see fhir_observation.h):
 * a skipped item hands on no marked text; its name is then a content hash. */
static const char *member_text(const cJSON *obj, const char *name)
{
    const cJSON *v = bp_json_member(obj, name);
    if (!cJSON_IsString(v) || !v->valuestring[0] || strchr(v->valuestring, BP_FHIR_NUL_MARK))
        return NULL;
    return v->valuestring;
}

/* What names a skipped resource, whole: "<resourceType>/<id>" (+ "/_history/<versionId>"),
 * else the entry's fullUrl, else "sha256:" over its bytes (`raw` when the payload is exactly
 * that resource, else `node` printed). Never cut, so distinct resources never share a name. */
static const char *skipped_name(walk *w, const char *type, const cJSON *node, const char *full_url,
                                const char *raw, size_t raw_len)
{
    const char *id = type ? member_text(node, "id") : NULL;
    if (id) {
        const char *version = member_text(bp_json_member(node, "meta"), "versionId");
        size_t size = strlen(type) + strlen(id) + (version ? strlen(version) + 10 : 0) + 2;
        char *name = owned_string(w, size);
        if (name)
            snprintf(name, size, version ? "%s/%s/_history/%s" : "%s/%s", type, id, version);
        return name;
    }
    if (full_url && *full_url && !strchr(full_url, BP_FHIR_NUL_MARK))
        return full_url;
    return bp_obs_content_hash(&w->ctx, node, raw, raw_len);
}

/* The code of a concept: its LOINC coding's, else its first coding's; NULL when none. */
static const char *concept_code(const cJSON *concept)
{
    const cJSON *coding, *first = NULL;
    cJSON_ArrayForEach(coding, bp_json_member(concept, "coding"))
    {
        const char *code = member_text(coding, "code");
        const char *system = member_text(coding, "system");
        if (!code)
            continue;
        if (system && strcmp(system, "http://loinc.org") == 0)
            return code;
        if (!first)
            first = coding;
    }
    return first ? member_text(first, "code") : NULL;
}

/* Whether an Observation that is not blood pressure is the mean pressure alone (LOINC 8478-0,
 * MDC 150023): a measurement of pressure, but no systolic or diastolic value to judge. */
static bool is_mean_pressure(const cJSON *obs)
{
    const cJSON *coding;
    cJSON_ArrayForEach(coding, bp_json_member(bp_json_member(obs, "code"), "coding"))
    {
        const char *code = member_text(coding, "code");
        if (code && (strcmp(code, "8478-0") == 0 || strcmp(code, "150023") == 0))
            return true;
    }
    return false;
}

/* One skipped item, kept in order with the readings. `node` is the resource (or, for an entry
 * without one, the entry) and `type` its resourceType. */
static void add_skipped(walk *w, int index, const char *reason, const char *type,
                        const cJSON *node, const char *full_url, const char *raw, size_t raw_len)
{
    const char *name = skipped_name(w, type, node, full_url, raw, raw_len);
    bp_obs_result *r = name ? next_slot(w) : NULL;
    if (!r)
        return;
    memset(&r->d, 0, sizeof r->d);
    r->is_bp = r->has_sys = r->has_dia = r->paired_away = false;
    r->code_sys_only = r->code_dia_only = false;
    r->d.systolic = r->d.diastolic = r->d.heart_rate = r->d.mean_pressure = NAN;
    r->d.effective_ms = INT64_MIN;
    r->d.resource_index = index;
    r->d.skip_reason = reason;
    r->d.resource_type = type;
    r->d.stable_id = name;
    if (type && strcmp(type, "Observation") == 0) {
        r->d.observation_id = member_text(node, "id");
        r->d.resource_code = concept_code(bp_json_member(node, "code"));
    }
}

/* FHIR resource type names are letters, starting with a capital ("Observation"). Anything else
 * ("observation", "") is not FHIR, and a dead letter rather than a skip: a misspelt producer
 * would otherwise lose every reading without a word. */
static bool is_type_name(const char *s)
{
    if (!(*s >= 'A' && *s <= 'Z'))
        return false;
    size_t n = 0;
    for (; *s; s++, n++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
            return false;
    return n <= 64;
}

static void visit_bundle(walk *w, const cJSON *bundle, int index, const char *full_url, bool top,
                         const char *raw, size_t raw_len)
{
    const cJSON *entry;
    const cJSON *entries = bp_json_member(bundle, "entry");
    if (entries && !cJSON_IsArray(entries)) {
        add_invalid(w, index, "Bundle.entry is not an array");
        return;
    }
    size_t size = entries ? (size_t)cJSON_GetArraySize(entries) : 0;
    note_container(w, top, "Bundle", "entry", "entries", size);
    if (size == 0) {
        add_skipped(w, index, BP_SKIP_EMPTY_BUNDLE, "Bundle", bundle, full_url, raw, raw_len);
        return;
    }
    int i = 0;
    cJSON_ArrayForEach(entry, entries)
    {
        const cJSON *res = bp_json_member(entry, "resource");
        const cJSON *full = bp_json_member(entry, "fullUrl");
        const char *url = cJSON_IsString(full) ? full->valuestring : NULL; /* marks and all */
        if (!cJSON_IsObject(entry))
            add_invalid(w, i, "Bundle entry is not a JSON object");
        else if (res)
            visit(w, res, i, url, false, NULL, 0);
        else if (bp_json_member(entry, "request") || bp_json_member(entry, "response"))
            /* A request-only entry (e.g. DELETE) or a transaction-response entry. */
            add_skipped(w, i, BP_SKIP_NO_RESOURCE, NULL, entry, url, NULL, 0);
        else
            add_invalid(w, i, "Bundle entry with no resource, request or response");
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
    const cJSON *rt = bp_json_member(node, "resourceType");
    if (!cJSON_IsObject(node) || !cJSON_IsString(rt)) {
        add_invalid(w, index, cJSON_IsObject(node) ? "not a FHIR resource (no resourceType)"
                                                    : "not a FHIR resource (not a JSON object)");
        return;
    }
    const char *type = rt->valuestring;
    if (!is_type_name(type)) {
        add_invalid(w, index, "not a FHIR resource (resourceType is not a resource type name)");
        return;
    }
    if (strcmp(type, "Bundle") == 0) {
        visit_bundle(w, node, index, full_url, top, raw, raw_len);
        return;
    }
    /* Valid FHIR about something else (a Condition, a body weight) is not bad input: it is
     * skipped, counted by reason, and routable (route = skipped), never a dead letter. */
    if (strcmp(type, "Observation") != 0) {
        add_skipped(w, index, BP_SKIP_NOT_OBSERVATION, type, node, full_url, raw, raw_len);
        return;
    }
    bp_obs_result *r = next_slot(w);
    if (!r)
        return;
    bp_obs_extract(node, full_url, raw, raw_len, &w->ctx, r);
    r->d.resource_index = index;
    /* Not about blood pressure, even with a broken value of its own (a heart rate's): not
     * ours. A blood-pressure code with broken values stays invalid. */
    if (!r->is_bp) {
        w->n--;
        add_skipped(w, index, is_mean_pressure(node) ? BP_SKIP_MEAN_ONLY : BP_SKIP_NOT_BP, type,
                    node, full_url, raw, raw_len);
    }
}

/* The revision fields of a reading paired from `a` and `b`, into `a`: the logical id joins
 * both as the stable id does (no logical id when either half has none: the pair could never be
 * named again); the version is the later of two known ones (the pair changed when either half
 * did), else unknown; a correction of either half corrects the pair. */
static void pair_revision(walk *w, bp_decoded *a, const bp_decoded *b)
{
    a->logical_id = a->logical_id && b->logical_id
                        ? bp_obs_join_ids(&w->ctx, a->logical_id, b->logical_id)
                        : NULL;
    a->version = a->version != BP_VERSION_NONE && b->version != BP_VERSION_NONE
                     ? (a->version > b->version ? a->version : b->version)
                     : BP_VERSION_NONE;
    if (b->revision > a->revision)
        a->revision = b->revision;
}

/* Two entered-in-error halves of a split reading (one coded systolic alone, one diastolic alone,
 * the same patient, the same known time) may have been one paired reading "<a>+<b>", or two
 * single-value readings "<a>" and "<b>" when their originals came in different payloads: the
 * decoder cannot know which, so it retracts all three. Both halves stay as they are; the pair's
 * retraction is added after the payload's other items. A retraction of an id never held is a
 * no-op for sinks and the engine. */
static void pair_retractions(walk *w)
{
    size_t n = w->n;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            const bp_obs_result *a = &w->items[i], *b = &w->items[j];
            bool half_a = a->code_sys_only != a->code_dia_only;
            bool half_b = b->code_sys_only != b->code_dia_only;
            if (a->d.invalid_reason || b->d.invalid_reason ||
                a->d.revision != BP_REVISION_RETRACT || b->d.revision != BP_REVISION_RETRACT ||
                !half_a || !half_b || a->code_sys_only == b->code_sys_only || !a->d.patient_id ||
                !b->d.patient_id || strcmp(a->d.patient_id, b->d.patient_id) != 0 ||
                a->d.effective_ms == INT64_MIN || a->d.effective_ms != b->d.effective_ms)
                continue;
            /* The same order as reading pairing: the earlier item's ids first. */
            bp_obs_result *pair = next_slot(w);
            if (!pair)
                return;
            a = &w->items[i]; /* next_slot may have moved the items */
            b = &w->items[j];
            *pair = *a;
            pair->d.stable_id = bp_obs_join_ids(&w->ctx, a->d.stable_id, b->d.stable_id);
            pair_revision(w, &pair->d, &b->d);
            pair->code_sys_only = pair->code_dia_only = false; /* a pair is no half */
            if (!pair->d.practitioner_id)
                pair->d.practitioner_id = b->d.practitioner_id;
            break;
        }
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
            /* Both ids whole, so distinct pairs never share a stable id. */
            a->d.stable_id = bp_obs_join_ids(&w->ctx, a->d.stable_id, b->d.stable_id);
            pair_revision(w, &a->d, &b->d);
            if (!a->d.practitioner_id)
                a->d.practitioner_id = b->d.practitioner_id;
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
        /* ASCII fast path, sixteen bytes at a time: FHIR JSON is nearly all ASCII. */
        while (i + 16 <= len) {
            uint64_t word[2];
            memcpy(word, s + i, 16);
            if ((word[0] | word[1]) & 0x8080808080808080ull)
                break;
            i += 16;
        }
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
    cJSON *root = parse_json(data, len, &end);
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
        drop_tree(root);
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
    drop_tree(root);
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
    cJSON *whole = parse_json(data, len, &end);
    if (whole && skip_space(data, len, (size_t)(end - data)) == len) {
        drop_tree(whole);
        parse_and_visit(w, data, len, 0);
        return;
    }
    drop_tree(whole);
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
    w.ctx.nul_marked = w.ctx.nomem = false;
    char *marked = NULL; /* the payload with its NUL characters marked, when it has any */
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
                        .heart_rate = NAN, .mean_pressure = NAN, .effective_ms = INT64_MIN, .resource_index = -1};
        return emit(user, &d);
    }
    /* From here on the trees are in this thread's arena (an emit that decoded again would
     * nest: only the outer call owns the arena). */
    bp_fhir_decode_init();
    bool outer = !trees_active;
    if (!trees_ready) {
        bp_arena_init_growing(&trees, TREE_CHUNK);
        trees_ready = true;
    }
    trees_active = true;
    if (outer && payload_strings_ready)
        w.ctx.arena = payload_strings;
    else
        bp_arena_init(&w.ctx.arena, 1024);
    size_t start = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* BOM */
    marked = bp_fhir_mark_nuls(data, len, &w.nomem);
    w.ctx.nul_marked = marked != NULL;
    if (!w.nomem)
        walk_payload(&w, (marked ? marked : data) + start, len - start);
    w.nomem = w.nomem || w.ctx.nomem;
    int rc = 0;
    if (!w.nomem) {
        for (size_t i = 0; i < w.n; i++)
            if (!w.items[i].d.skip_reason) /* a skipped item's strings are the tree's or arena's */
                bp_obs_rebase(&w.items[i]);
        pair_single_values(&w);
        pair_retractions(&w);
        w.nomem = w.nomem || w.ctx.nomem;
    }
    if (w.nomem) {
        bp_decoded d = {.invalid_reason = "out of memory while decoding", .systolic = NAN,
                        .diastolic = NAN, .heart_rate = NAN, .mean_pressure = NAN, .effective_ms = INT64_MIN,
                        .resource_index = -1};
        emit(user, &d);
        rc = -1;
        goto done;
    }
    size_t emitted = 0;
    for (size_t i = 0; i < w.n && rc == 0; i++) {
        if (w.items[i].paired_away)
            continue;
        rc = emit(user, &w.items[i].d);
        emitted++;
    }
    if (emitted == 0 && rc == 0) {
        /* Only an empty container gets here: every resource is emitted, as a reading, a dead
         * letter or a skipped item, and an empty Bundle is a skipped item of its own. */
        if (w.container)
            snprintf(reason, sizeof reason, "no FHIR resource in %s of %zu %s", w.container,
                     w.container_size,
                     w.container_size == 1 ? w.container_noun : w.container_nouns);
        else
            snprintf(reason, sizeof reason, "no FHIR resource in the payload");
        bp_decoded d = {.invalid_reason = reason, .systolic = NAN, .diastolic = NAN,
                        .heart_rate = NAN, .mean_pressure = NAN, .effective_ms = INT64_MIN, .resource_index = -1};
        rc = emit(user, &d);
    }
done:
    free(marked);
    for (size_t i = 0; i < w.n_trees; i++)
        drop_tree(w.trees[i]);
    if (w.trees != w.inline_trees)
        free(w.trees);
    if (w.items != w.inline_items)
        free(w.items);
    if (!outer) {
        bp_arena_free(&w.ctx.arena);
        return rc;
    }
    /* The composed strings' arena stays warm for the next payload, unless this one was big. */
    if (bp_arena_bytes(&w.ctx.arena) > 256 * 1024)
        bp_arena_free(&w.ctx.arena);
    else
        bp_arena_reset(&w.ctx.arena);
    payload_strings = w.ctx.arena;
    payload_strings_ready = true;
    trees_active = false;
    trees_reset();
    return rc;
}
