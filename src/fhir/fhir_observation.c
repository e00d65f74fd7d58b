#include "fhir/fhir_observation.h"

#include "common/sha256.h"
#include "fhir/fhir_json.h"
#include "fhir/fhir_time.h"
#include "fhir/fhir_version.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOINC "http://loinc.org"
#define MDC "urn:iso:std:iso:11073:10101"
#define MMHG_PER_KPA 7.50062

typedef enum { K_NONE, K_PANEL, K_SYS, K_DIA, K_HR, K_MEAN } code_kind;

static const struct {
    const char *system, *code;
    code_kind kind;
} known_codes[] = {
    {LOINC, "85354-9", K_PANEL}, {LOINC, "55284-4", K_PANEL}, {LOINC, "96607-7", K_PANEL},
    {LOINC, "8480-6", K_SYS},    {LOINC, "96608-5", K_SYS},   {LOINC, "8462-4", K_DIA},
    {LOINC, "96609-3", K_DIA},   {LOINC, "8867-4", K_HR},     {LOINC, "8478-0", K_MEAN},
    {MDC, "150020", K_PANEL},    {MDC, "150021", K_SYS},      {MDC, "150022", K_DIA},
    {MDC, "150023", K_MEAN},     {MDC, "149530", K_HR},
};

static void set_reason(bp_obs_result *res, const char *reason)
{
    snprintf(res->reason, sizeof res->reason, "%s", reason);
    res->d.invalid_reason = res->reason;
}

/* Up to `max` bytes of `s` for quoting in a reason, into out[cap]: cut only between UTF-8
 * characters and marked with "…" when cut, NUL marks shown as \u0000. Never more than `cap`. */
static const char *quoted(char *out, size_t cap, const char *s, size_t max)
{
    size_t o = 0;
    for (size_t i = 0; s[i];) {
        unsigned char c = (unsigned char)s[i];
        const char *text = s + i;
        size_t n, skip;
        if (c == (unsigned char)BP_FHIR_NUL_MARK) {
            text = "\\u0000";
            n = 6;
            for (skip = 1; skip < 6 && s[i + skip] == BP_FHIR_NUL_PAD; skip++)
                ;
        } else if (c == (unsigned char)BP_FHIR_NUL_PAD) {
            n = 0, skip = 1; /* only ever after a mark, which consumed it */
        } else {
            n = skip = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        }
        if (o + n > max || o + n + 4 > cap) {
            memcpy(out + o, "\xe2\x80\xa6", 3); /* … */
            o += 3;
            break;
        }
        memcpy(out + o, text, n);
        o += n;
        i += skip;
    }
    out[o] = '\0';
    return out;
}

/* The shortest printing of `v` that reads back as `v`: reasons quote values exactly. */
static const char *exact_number(char out[32], double v)
{
    snprintf(out, 32, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, 32, "%.17g", v);
    return out;
}

static const char *str_of(const cJSON *obj, const char *key)
{
    return bp_json_text(bp_json_member(obj, key));
}

/* A coding with no system is matched as LOINC: the original producer sends {"code": "8480-6"}.
 * The system is compared once, then only that system's codes. */
static code_kind classify_coding(const cJSON *coding)
{
    const char *system = str_of(coding, "system"), *code = str_of(coding, "code");
    if (!code)
        return K_NONE;
    const char *family = !system || strcmp(system, LOINC) == 0 ? LOINC
                         : strcmp(system, MDC) == 0           ? MDC
                                                              : NULL;
    if (!family)
        return K_NONE;
    for (size_t i = 0; i < sizeof known_codes / sizeof known_codes[0]; i++)
        if (known_codes[i].system == family && known_codes[i].code[0] == code[0] &&
            strcmp(code, known_codes[i].code) == 0)
            return known_codes[i].kind;
    return K_NONE;
}

/* Bit mask of the kinds a CodeableConcept's codings name. */
static unsigned concept_kinds(const cJSON *concept, bool *has_codings)
{
    unsigned mask = 0;
    const cJSON *codings = bp_json_member(concept, "coding");
    *has_codings = cJSON_IsArray(codings) && codings->child; /* an element or more */
    const cJSON *c;
    cJSON_ArrayForEach(c, codings) mask |= 1u << classify_coding(c);
    return mask & ~(1u << K_NONE);
}

/* A component's kind: by coding; by text only when it has no coding at all. */
static code_kind component_kind(const cJSON *component, bool *by_text)
{
    const cJSON *concept = bp_json_member(component, "code");
    bool has_codings;
    unsigned mask = concept_kinds(concept, &has_codings);
    *by_text = false;
    if (!has_codings) {
        const char *text = str_of(concept, "text");
        if (text && strcasecmp(text, "Systolic Blood Pressure") == 0) {
            *by_text = true;
            return K_SYS;
        }
        if (text && strcasecmp(text, "Diastolic Blood Pressure") == 0) {
            *by_text = true;
            return K_DIA;
        }
        return K_NONE;
    }
    /* A component coded as both systolic and diastolic is not trusted as either. */
    if ((mask & (1u << K_SYS)) && !(mask & (1u << K_DIA)))
        return K_SYS;
    if ((mask & (1u << K_DIA)) && !(mask & (1u << K_SYS)))
        return K_DIA;
    if (mask & (1u << K_HR))
        return K_HR;
    return K_NONE;
}

/* The Observation's members this decoder reads, found in one pass over the object instead of
 * one search per member. */
typedef struct obs_members {
    const cJSON *id, *meta, *status, *code, *subject, *performer, *contained, *device, *component,
        *value, *absent;
    const cJSON *times[4]; /* effectiveDateTime, effectivePeriod, effectiveInstant, issued */
} obs_members;

/* Where member `name` goes in obs_members, or NULL when the decoder does not read it. The
 * first letter picks the few candidates, so most members cost one comparison. */
static const cJSON **member_slot(obs_members *m, const char *name)
{
#define MEMBER(key, field)                                                                         \
    if (strcmp(name, key) == 0)                                                                    \
    return &m->field
    switch (name[0]) {
    case 'c':
        MEMBER("code", code);
        MEMBER("component", component);
        MEMBER("contained", contained);
        break;
    case 'd':
        MEMBER("device", device);
        MEMBER("dataAbsentReason", absent);
        break;
    case 'e':
        MEMBER("effectiveDateTime", times[0]);
        MEMBER("effectivePeriod", times[1]);
        MEMBER("effectiveInstant", times[2]);
        break;
    case 'i':
        MEMBER("id", id);
        MEMBER("issued", times[3]);
        break;
    case 'm': MEMBER("meta", meta); break;
    case 'p': MEMBER("performer", performer); break;
    case 's':
        MEMBER("status", status);
        MEMBER("subject", subject);
        break;
    case 'v': MEMBER("valueQuantity", value); break;
    }
#undef MEMBER
    return NULL;
}

static void index_members(const cJSON *obs, obs_members *m)
{
    memset(m, 0, sizeof *m);
    for (const cJSON *c = obs ? obs->child : NULL; c; c = c->next) {
        const cJSON **slot = c->string ? member_slot(m, c->string) : NULL;
        if (slot && !*slot) /* the first of duplicated keys, as cJSON lookups do */
            *slot = c;
    }
}

typedef enum { V_ABSENT, V_OK, V_BAD } value_state;

static const char *kind_word(code_kind k)
{
    return k == K_SYS ? "systolic" : k == K_DIA ? "diastolic" : "heart rate";
}

static bool is_pressure_unit(const char *u)
{
    return u && (strcmp(u, "mm[Hg]") == 0 || strcmp(u, "mmHg") == 0 || strcmp(u, "mm Hg") == 0);
}

static bool is_rate_unit(const char *u)
{
    return u && (strcmp(u, "/min") == 0 || strcmp(u, "{beats}/min") == 0 ||
                 strcmp(u, "beats/minute") == 0 || strcmp(u, "beats/min") == 0 ||
                 strcmp(u, "bpm") == 0);
}

/* Reads the valueQuantity of `holder` (a component or the Observation) as mmHg (or /min). */
static value_state read_value(const cJSON *absent, const cJSON *vq, code_kind kind, double *out,
                              char *reason, size_t reason_len)
{
    if (absent || !vq)
        return V_ABSENT;
    const cJSON *value = bp_json_member(vq, "value");
    if (!value)
        return V_ABSENT;
    if (!cJSON_IsNumber(value)) {
        snprintf(reason, reason_len, "%s value is not a number", kind_word(kind));
        return V_BAD;
    }
    double v = value->valuedouble;
    if (!isfinite(v)) {
        snprintf(reason, reason_len, "%s value is not a finite number", kind_word(kind));
        return V_BAD;
    }
    const char *unit = str_of(vq, "unit"), *code = str_of(vq, "code");
    if (kind == K_HR) {
        if (!is_rate_unit(code) && !is_rate_unit(unit))
            return V_ABSENT; /* an unrecognised pulse unit is left out, not guessed */
        *out = v;
        return V_OK;
    }
    if (is_pressure_unit(code) || (!code && is_pressure_unit(unit))) {
        *out = v;
        return V_OK;
    }
    if ((code && strcmp(code, "kPa") == 0) || (!code && unit && strcmp(unit, "kPa") == 0)) {
        *out = v * MMHG_PER_KPA;
        return V_OK;
    }
    if (!unit && !code)
        snprintf(reason, reason_len, "%s value has no unit", kind_word(kind));
    else
        snprintf(reason, reason_len, "%s unit '%s' is not a pressure unit", kind_word(kind),
                 quoted((char[48]){0}, 48, code ? code : unit, 40));
    return V_BAD;
}

/* Records one value of `kind`; equal duplicates are one value, different ones are a conflict. */
static bool store_value(bp_obs_result *res, code_kind kind, double v)
{
    double *slot = kind == K_SYS ? &res->d.systolic : kind == K_DIA ? &res->d.diastolic
                                                                     : &res->d.heart_rate;
    bool *seen = kind == K_SYS ? &res->has_sys : kind == K_DIA ? &res->has_dia : NULL;
    if (!isnan(*slot) && fabs(*slot - v) > 1e-9) {
        char a[32], b[32];
        snprintf(res->reason, sizeof res->reason, "conflicting %s values %s and %s",
                 kind_word(kind), exact_number(a, *slot), exact_number(b, v));
        res->d.invalid_reason = res->reason;
        return false;
    }
    *slot = v;
    if (seen)
        *seen = true;
    return true;
}

/* Whether the string holds a NUL mark (only possible when the payload held a NUL). */
static bool has_mark(const char *s)
{
    return s && strchr(s, BP_FHIR_NUL_MARK) != NULL;
}

static const char *nomem(bp_obs_ctx *ctx)
{
    ctx->nomem = true;
    return NULL;
}

/* The id in a reference to `type`: "Patient/123", "Patient/123/_history/2",
 * "https://x/fhir/Patient/123" (with or without "/_history/<v>") -> "123"; NULL when `ref` is
 * not of that form, so it is used as written. Exact: "Patient/a/b" is not "a". Points into
 * `ref` when nothing follows the id, else a copy in the arena. */
static const char *id_after(bp_obs_ctx *ctx, const char *ref, const char *type)
{
    size_t tlen = strlen(type);
    const char *p = NULL;
    if (strncmp(ref, type, tlen) == 0 && ref[tlen] == '/') {
        p = ref + tlen + 1;
    } else if (strstr(ref, "://")) {
        for (const char *hit = strstr(ref, "/"); hit; hit = strstr(hit + 1, "/"))
            if (strncmp(hit + 1, type, tlen) == 0 && hit[tlen + 1] == '/') {
                p = hit + tlen + 2;
                break;
            }
    }
    if (!p || !*p)
        return NULL;
    size_t n = strcspn(p, "/");
    if (n == 0)
        return NULL;
    if (!p[n])
        return p;
    const char *version = p + n + strlen("/_history/");
    if (strncmp(p + n, "/_history/", 10) != 0 || !*version || strchr(version, '/'))
        return NULL; /* "Patient/a/b" is a reference of another form: kept whole */
    char *id = bp_arena_strndup(&ctx->arena, p, n);
    return id ? id : nomem(ctx);
}

static bool read_subject(const obs_members *m, bp_obs_ctx *ctx, bp_obs_result *res)
{
    const cJSON *subject = m->subject;
    const char *ref = str_of(subject, "reference");
    if (ref && *ref) {
        const char *id = id_after(ctx, ref, "Patient");
        res->d.patient_id = id ? id : ref; /* urn:uuid:, #contained, ... as written */
        return true;
    }
    const cJSON *ident = bp_json_member(subject, "identifier");
    const char *value = str_of(ident, "value");
    if (value && *value) {
        const char *system = str_of(ident, "system");
        size_t size = (system ? strlen(system) : 0) + strlen(value) + 2;
        char *out = bp_arena_alloc(&ctx->arena, size);
        if (!out)
            return nomem(ctx), true;
        snprintf(out, size, "%s|%s", system ? system : "", value);
        res->d.patient_id = out;
        return true;
    }
    return false;
}

static const cJSON *contained_resource(const obs_members *m, const char *local_id)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, m->contained)
    {
        const char *id = str_of(c, "id");
        if (id && strcmp(id, local_id) == 0)
            return c;
    }
    return NULL;
}

/* The first performer that is a Practitioner or PractitionerRole. */
static void read_performer(const obs_members *m, bp_obs_ctx *ctx, bp_obs_result *res)
{
    const cJSON *perf;
    cJSON_ArrayForEach(perf, m->performer)
    {
        const char *ref = str_of(perf, "reference");
        if (!ref)
            continue;
        const char *id = id_after(ctx, ref, "Practitioner");
        if (!id)
            id = id_after(ctx, ref, "PractitionerRole");
        if (id) {
            res->d.practitioner_id = id;
            return;
        }
        if (ref[0] == '#') {
            const char *type = str_of(contained_resource(m, ref + 1), "resourceType");
            if (type && (strcmp(type, "Practitioner") == 0 ||
                         strcmp(type, "PractitionerRole") == 0)) {
                res->d.practitioner_id = ref;
                return;
            }
        }
    }
}
static bool read_time(const obs_members *m, bp_obs_result *res)
{
    static const struct {
        int slot;
        const char *field, *sub;
    } sources[] = {{0, "effectiveDateTime", NULL}, {1, "effectivePeriod", "start"},
                   {1, "effectivePeriod", "end"},  {2, "effectiveInstant", NULL},
                   {3, "issued", NULL}};
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) {
        const cJSON *v = m->times[sources[i].slot];
        if (v && sources[i].sub)
            v = bp_json_member(v, sources[i].sub);
        if (!v)
            continue;
        if (!cJSON_IsString(v) || bp_fhir_parse_time(v->valuestring, &res->d.effective_ms) != 0) {
            snprintf(res->reason, sizeof res->reason, "%s%s%s is not a FHIR date-time with a "
                     "time zone", sources[i].field, sources[i].sub ? "." : "",
                     sources[i].sub ? sources[i].sub : "");
            res->d.invalid_reason = res->reason;
            return false;
        }
        return true;
    }
    set_reason(res, "no effective time (effective[x] or issued)");
    return false;
}

static bool status_is_reading(const char *status)
{
    static const char *const ok[] = {"final", "amended", "corrected", "preliminary"};
    for (size_t i = 0; status && i < 4; i++)
        if (strcmp(status, ok[i]) == 0)
            return true;
    return false;
}

const char *bp_obs_content_hash(bp_obs_ctx *ctx, const cJSON *node, const char *raw, size_t raw_len)
{
    char *out = bp_arena_alloc(&ctx->arena, 48);
    if (!out)
        return nomem(ctx);
    if (raw) {
        bp_sha256_id(raw, raw_len, 40, out, 48);
        return out;
    }
    char *printed = cJSON_PrintUnformatted(node);
    if (!printed)
        return nomem(ctx);
    bp_sha256_id(printed, strlen(printed), 40, out, 48);
    cJSON_free(printed);
    return out;
}

/* Bytes of `s` with the characters of `escape` percent-encoded ("%2F"), written to `out` when
 * it is not NULL. */
static size_t encoded(const char *s, const char *escape, char *out)
{
    size_t n = 0;
    for (;;) {
        size_t run = strcspn(s, escape); /* ids rarely hold one: usually the whole string */
        if (out)
            memcpy(out + n, s, run);
        n += run;
        s += run;
        if (!*s)
            return n;
        if (out)
            snprintf(out + n, 4, "%%%02X", (unsigned char)*s);
        n += 3;
        s++;
    }
}

/* Characters a FHIR id never holds and that composed stable ids use as separators: an id
 * holding them is percent-encoded, so it cannot pass for another reading's composed id
 * ("a/_history/1" as an id is not the id "a" at version 1, "x+y" is not the pair of x and y,
 * "sha256:…" is not a content hash). A fullUrl keeps its '/' and ':', only '+' and '%' are
 * encoded. Valid FHIR ids ([A-Za-z0-9.-]) are never changed. */
#define ID_ESCAPES "%/+:"
#define URL_ESCAPES "%+"

/* "<part1><sep><part2>" with the parts encoded, in the arena; part2 and sep may be NULL. */
static const char *compose(bp_obs_ctx *ctx, const char *part1, const char *escape1,
                           const char *sep, const char *part2, const char *escape2)
{
    size_t n1 = encoded(part1, escape1, NULL);
    if (!sep && n1 == strlen(part1))
        return part1; /* nothing to encode or join: the tree's own string */
    size_t ns = sep ? strlen(sep) : 0, n2 = part2 ? encoded(part2, escape2, NULL) : 0;
    char *out = bp_arena_alloc(&ctx->arena, n1 + ns + n2 + 1);
    if (!out)
        return nomem(ctx);
    encoded(part1, escape1, out);
    memcpy(out + n1, sep ? sep : "", ns);
    if (part2)
        encoded(part2, escape2, out + n1 + ns);
    out[n1 + ns + n2] = '\0';
    return out;
}

static void stable_id(const cJSON *obs, const obs_members *m, const char *full_url,
                      const char *raw, size_t raw_len, bp_obs_ctx *ctx, bp_obs_result *res)
{
    const char *id = bp_json_text(m->id);
    const char *status = bp_json_text(m->status);
    /* A retraction sent without a version must not take the stable id of the reading it
     * retracts (a sink that keeps one record per stable id would then see a duplicate). There
     * is one retraction per logical id, so its own id needs no hash: a replay is the same. */
    bool retract = status && strcmp(status, "entered-in-error") == 0;
    if (id && *id) {
        const char *version = str_of(m->meta, "versionId");
        if (version && *version) {
            res->d.stable_id = compose(ctx, id, ID_ESCAPES, "/_history/", version, ID_ESCAPES);
        } else if (retract) {
            res->d.stable_id = compose(ctx, id, ID_ESCAPES, "/_entered-in-error", "", "");
        } else if (status && (strcmp(status, "amended") == 0 || strcmp(status, "corrected") == 0)) {
            /* A correction sent without a version keeps the original's id; it must still be a new
             * document, not a 409 duplicate of the reading it corrects. Its content tells the
             * corrections apart, and the same correction replayed hashes the same. */
            const char *hash = bp_obs_content_hash(ctx, obs, raw, raw_len);
            res->d.stable_id = hash ? compose(ctx, id, ID_ESCAPES,
                                              strcmp(status, "amended") == 0 ? "/_amended/"
                                                                              : "/_corrected/",
                                              hash + 7, "")
                                    : NULL;
        } else {
            res->d.stable_id = compose(ctx, id, ID_ESCAPES, NULL, NULL, NULL);
        }
    } else if (full_url && *full_url) {
        res->d.stable_id = compose(ctx, full_url, URL_ESCAPES,
                                   retract ? "/_entered-in-error" : NULL, retract ? "" : NULL, "");
    } else {
        res->d.stable_id = bp_obs_content_hash(ctx, obs, raw, raw_len);
    }
}

/* The path of the first member name or string under `node` that holds a NUL mark, into
 * path[cap] from `at` ("subject.reference", "component[1].code.coding[0].code"); false when
 * there is none. A path too long for `path` ends in "…" (then at == cap: nothing more is
 * written). */
static bool marked_path(const cJSON *node, char *path, size_t cap, size_t at)
{
    int i = 0;
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        size_t next = at;
        if (at < cap) { /* then at + 4 <= cap: there is room for "…" */
            char seg[80];
            if (c->string)
                snprintf(seg, sizeof seg, "%s%s", at ? "." : "",
                         quoted((char[64]){0}, 64, c->string, 48));
            else
                snprintf(seg, sizeof seg, "[%d]", i);
            size_t n = strlen(seg);
            if (at + n + 4 <= cap) {
                memcpy(path + at, seg, n + 1);
                next = at + n;
            } else {
                memcpy(path + at, "\xe2\x80\xa6", 4);
                next = cap;
            }
        }
        if (has_mark(c->string) || (cJSON_IsString(c) && has_mark(c->valuestring)))
            return true;
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && marked_path(c, path, cap, next))
            return true;
        if (at < cap)
            path[at] = '\0';
    }
    return false;
}

/* An Observation holding a NUL character anywhere (or in its entry's fullUrl) is a dead letter:
 * its strings were cut, so neither its ids nor its codes can be trusted. It is kept as blood
 * pressure, so a container reports it rather than skipping it. */
static bool refuse_nul(const cJSON *obs, const char *full_url, const char *raw, size_t raw_len,
                       bp_obs_ctx *ctx, bp_obs_result *res)
{
    char path[128] = "";
    if (has_mark(full_url))
        snprintf(path, sizeof path, "the Bundle entry's fullUrl");
    else if (!marked_path(obs, path, sizeof path, 0))
        return false;
    snprintf(res->reason, sizeof res->reason, "%s holds a NUL character (\\u0000)", path);
    res->d.invalid_reason = res->reason;
    res->is_bp = true;
    /* Nothing marked leaves the decoder; the content hash names the dead letter exactly. */
    res->d.stable_id = bp_obs_content_hash(ctx, obs, raw, raw_len);
    if (has_mark(res->d.observation_id))
        res->d.observation_id = NULL;
    if (has_mark(res->d.status))
        res->d.status = NULL;
    return true;
}

/* Refuses an id longer than BP_FHIR_ID_MAX: "patient id of 1500 bytes is over the limit of
 * 1024". The dead letter keeps none of the over-long ids; an over-long stable id is replaced by
 * the content hash. */
static bool refuse_long(const char *what, const char *id, const cJSON *obs, const char *raw,
                        size_t raw_len, bp_obs_ctx *ctx, bp_obs_result *res)
{
    size_t n = id ? strlen(id) : 0;
    if (n <= BP_FHIR_ID_MAX)
        return false;
    snprintf(res->reason, sizeof res->reason, "%s of %zu bytes is over the limit of %d", what,
             n, BP_FHIR_ID_MAX);
    res->d.invalid_reason = res->reason;
    const char **ids[] = {&res->d.stable_id, &res->d.observation_id, &res->d.patient_id,
                          &res->d.practitioner_id, &res->d.device_id};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (*ids[i] && strlen(*ids[i]) > BP_FHIR_ID_MAX)
            *ids[i] = NULL;
    if (!res->d.stable_id) /* it was the over-long one */
        res->d.stable_id = bp_obs_content_hash(ctx, obs, raw, raw_len);
    return true;
}

/* What the Observation is a version of: its id, else its Bundle entry's fullUrl, encoded as in
 * its stable id; NULL when neither is there (a content hash names bytes, not a resource: such
 * a reading can never be replaced or retracted). */
static const char *logical_id(const obs_members *m, const char *full_url, bp_obs_ctx *ctx)
{
    const char *id = bp_json_text(m->id);
    if (id && *id)
        return compose(ctx, id, ID_ESCAPES, NULL, NULL, NULL);
    if (full_url && *full_url)
        return compose(ctx, full_url, URL_ESCAPES, NULL, NULL, NULL);
    return NULL;
}

/* The fields of a reading or retraction that say which version of what it is (issue 26). Set
 * only on items that are not dead letters: a dead letter replaces nothing. */
static void set_revision(const obs_members *m, const char *full_url, bp_obs_ctx *ctx,
                         bp_obs_result *res)
{
    res->d.logical_id = logical_id(m, full_url, ctx);
    res->d.version = bp_fhir_version(str_of(m->meta, "versionId"), str_of(m->meta, "lastUpdated"));
    const char *status = res->d.status;
    if (status && (strcmp(status, "amended") == 0 || strcmp(status, "corrected") == 0))
        res->d.revision = BP_REVISION_REPLACE;
}

/* An entered-in-error blood-pressure Observation: it should never have existed, so whatever its
 * values are (absent, broken) it carries none, and it takes back every version of its logical
 * id. The patient, practitioner, device and time are kept when it has them (sinks and alarms
 * find the reading by them), never required. Without an id or fullUrl there is nothing to name
 * what it retracts: a dead letter. */
static void retraction(const obs_members *m, const char *full_url, const cJSON *obs,
                       const char *raw, size_t raw_len, bp_obs_ctx *ctx, bp_obs_result *res)
{
    res->d.invalid_reason = NULL;
    res->d.systolic = res->d.diastolic = res->d.heart_rate = NAN;
    res->d.flags = 0;
    res->has_sys = res->has_dia = false;
    set_revision(m, full_url, ctx, res);
    if (!res->d.logical_id) {
        res->d.version = BP_VERSION_NONE; /* a dead letter is a version of nothing */
        set_reason(res, "entered-in-error Observation without an id or fullUrl: nothing to "
                        "retract");
        return;
    }
    res->d.revision = BP_REVISION_RETRACT;
    if (!read_subject(m, ctx, res))
        res->d.patient_id = NULL;
    read_performer(m, ctx, res);
    const char *device = str_of(m->device, "reference");
    if (device)
        res->d.device_id = strncmp(device, "Device/", 7) == 0 ? device + 7 : device;
    if (refuse_long("patient id", res->d.patient_id, obs, raw, raw_len, ctx, res) ||
        refuse_long("practitioner id", res->d.practitioner_id, obs, raw, raw_len, ctx, res) ||
        refuse_long("device id", res->d.device_id, obs, raw, raw_len, ctx, res)) {
        res->d.logical_id = NULL;
        res->d.version = BP_VERSION_NONE;
        res->d.revision = BP_REVISION_NONE;
        return;
    }
    if (!read_time(m, res)) { /* a broken or missing time does not keep a retraction back */
        res->d.invalid_reason = NULL;
        res->d.effective_ms = INT64_MIN;
    }
}

/* Values from components, or from the top level when Observation.code names exactly one of
 * systolic or diastolic (C-CDA conversions send them as two Observations). */
static bool read_values(const obs_members *m, unsigned code_mask, bp_obs_result *res)
{
    const cJSON *comp;
    /* After the first bad value the remaining components are still looked at, for what the
     * Observation is about: a bad heart-rate component listed before the systolic one makes a
     * BP Observation invalid (with that reason), not "not blood pressure". */
    bool failed = false;
    cJSON_ArrayForEach(comp, m->component)
    {
        bool by_text;
        code_kind k = component_kind(comp, &by_text);
        if (k == K_NONE)
            continue;
        res->is_bp = res->is_bp || k == K_SYS || k == K_DIA;
        if (failed)
            continue;
        if (by_text)
            res->d.flags |= BP_DEC_BY_TEXT;
        double v;
        value_state st =
            read_value(bp_json_member(comp, "dataAbsentReason"),
                       bp_json_member(comp, "valueQuantity"), k, &v, res->reason,
                       sizeof res->reason);
        if (st == V_BAD)
            res->d.invalid_reason = res->reason;
        failed = st == V_BAD || (st == V_OK && !store_value(res, k, v));
    }
    if (failed)
        return false;
    bool only_sys = (code_mask & (1u << K_SYS)) && !(code_mask & ~(1u << K_SYS));
    bool only_dia = (code_mask & (1u << K_DIA)) && !(code_mask & ~(1u << K_DIA));
    if ((only_sys || only_dia) && !res->has_sys && !res->has_dia) {
        code_kind k = only_sys ? K_SYS : K_DIA;
        double v;
        value_state st = read_value(m->absent, m->value, k, &v, res->reason, sizeof res->reason);
        if (st == V_BAD) {
            res->d.invalid_reason = res->reason;
            return false;
        }
        if (st == V_OK && !store_value(res, k, v))
            return false;
    }
    return true;
}

void bp_obs_extract(const cJSON *obs, const char *full_url, const char *raw, size_t raw_len,
                    bp_obs_ctx *ctx, bp_obs_result *res)
{
    memset(res, 0, sizeof *res);
    res->d.systolic = res->d.diastolic = res->d.heart_rate = res->d.mean_pressure = NAN;
    res->d.resource_index = -1;
    res->d.effective_ms = INT64_MIN;
    obs_members m;
    index_members(obs, &m);
    res->d.observation_id = bp_json_text(m.id);
    res->d.status = bp_json_text(m.status);
    if (ctx->nul_marked && refuse_nul(obs, full_url, raw, raw_len, ctx, res))
        return;

    bool has_codings;
    unsigned code_mask = concept_kinds(m.code, &has_codings);
    res->is_bp = (code_mask & ((1u << K_PANEL) | (1u << K_SYS) | (1u << K_DIA))) != 0;
    bool values_ok = read_values(&m, code_mask, res);
    if (!values_ok && !res->is_bp)
        return;
    if (!res->is_bp) {
        if (code_mask & (1u << K_MEAN))
            set_reason(res, "mean blood pressure only (8478-0), not a systolic/diastolic "
                                    "reading");
        else
            set_reason(res, "not a blood-pressure Observation (no systolic, diastolic "
                                    "or panel code)");
        return;
    }
    stable_id(obs, &m, full_url, raw, raw_len, ctx, res);
    if (refuse_long("Observation.id", res->d.observation_id, obs, raw, raw_len, ctx, res) ||
        refuse_long("stable id", res->d.stable_id, obs, raw, raw_len, ctx, res))
        return;
    const char *status = res->d.status;
    if (status && strcmp(status, "entered-in-error") == 0) {
        /* Which half of a split reading it retracts, for pairing (fhir_decode.c). */
        res->code_sys_only = (code_mask & (1u << K_SYS)) && !(code_mask & ~(1u << K_SYS));
        res->code_dia_only = (code_mask & (1u << K_DIA)) && !(code_mask & ~(1u << K_DIA));
        retraction(&m, full_url, obs, raw, raw_len, ctx, res);
        return;
    }
    if (!values_ok)
        return;
    if (!status_is_reading(status)) {
        snprintf(res->reason, sizeof res->reason, status ? "status %s is not a reading"
                 : "no status", status ? quoted((char[64]){0}, 64, status, 40) : "");
        res->d.invalid_reason = res->reason;
        return;
    }
    if (!read_subject(&m, ctx, res)) {
        set_reason(res, "no subject (subject.reference or subject.identifier)");
        return;
    }
    read_performer(&m, ctx, res);
    const char *device = str_of(m.device, "reference");
    if (device)
        res->d.device_id = strncmp(device, "Device/", 7) == 0 ? device + 7 : device;
    if (refuse_long("patient id", res->d.patient_id, obs, raw, raw_len, ctx, res) ||
        refuse_long("practitioner id", res->d.practitioner_id, obs, raw, raw_len, ctx, res) ||
        refuse_long("device id", res->d.device_id, obs, raw, raw_len, ctx, res))
        return;
    if (!read_time(&m, res))
        return;
    if (!res->has_sys && !res->has_dia) {
        set_reason(res, m.absent
                            ? "no systolic or diastolic value (dataAbsentReason)"
                            : "no systolic or diastolic value");
        return;
    }
    set_revision(&m, full_url, ctx, res);
}

void bp_obs_rebase(bp_obs_result *res)
{
    if (res->d.invalid_reason)
        res->d.invalid_reason = res->reason;
}

const char *bp_obs_join_ids(bp_obs_ctx *ctx, const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *out = bp_arena_alloc(&ctx->arena, na + nb + 2);
    if (!out)
        return nomem(ctx);
    memcpy(out, a, na);
    out[na] = '+';
    memcpy(out + na + 1, b, nb + 1);
    return out;
}

char *bp_fhir_mark_nuls(const char *data, size_t len, bool *nomem_out)
{
    /* The common case costs a scan for a 0 byte and one for backslashes, rare in FHIR. */
    bool maybe = memchr(data, '\0', len) != NULL;
    const char *end = data + len;
    for (const char *p = data; !maybe && (p = memchr(p, '\\', (size_t)(end - p))); p++)
        maybe = end - p >= 6 && memcmp(p, "\\u0000", 6) == 0;
    if (!maybe)
        return NULL;
    char *copy = malloc(len);
    if (!copy) {
        *nomem_out = true;
        return NULL;
    }
    memcpy(copy, data, len);
    bool marked = false;
    size_t run = 0; /* where the current run of backslashes started */
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\0') {
            copy[i] = BP_FHIR_NUL_MARK;
            marked = true;
        } else if (data[i] == '\\') {
            /* An escape starts after an even number of backslashes ("\\u0000" is an escaped
             * backslash and the text u0000). */
            if ((i - run) % 2 == 0 && len - i >= 6 && memcmp(data + i, "\\u0000", 6) == 0) {
                copy[i] = BP_FHIR_NUL_MARK;
                memset(copy + i + 1, BP_FHIR_NUL_PAD, 5);
                marked = true;
                i += 5;
                run = i + 1;
            }
            continue;
        }
        run = i + 1;
    }
    if (!marked) {
        free(copy);
        return NULL;
    }
    return copy;
}
