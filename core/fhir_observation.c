#include "fhir_observation.h"

#include "fhir_time.h"
#include "sha256.h"

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

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
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
        if (known_codes[i].system == family && strcmp(code, known_codes[i].code) == 0)
            return known_codes[i].kind;
    return K_NONE;
}

/* Bit mask of the kinds a CodeableConcept's codings name. */
static unsigned concept_kinds(const cJSON *concept, bool *has_codings)
{
    unsigned mask = 0;
    const cJSON *codings = cJSON_GetObjectItemCaseSensitive(concept, "coding");
    *has_codings = cJSON_IsArray(codings) && cJSON_GetArraySize(codings) > 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, codings) mask |= 1u << classify_coding(c);
    return mask & ~(1u << K_NONE);
}

/* A component's kind: by coding; by text only when it has no coding at all. */
static code_kind component_kind(const cJSON *component, bool *by_text)
{
    const cJSON *concept = cJSON_GetObjectItemCaseSensitive(component, "code");
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

static void index_members(const cJSON *obs, obs_members *m)
{
    static const struct {
        const char *key;
        size_t offset;
    } keys[] = {
        {"id", offsetof(obs_members, id)},
        {"meta", offsetof(obs_members, meta)},
        {"status", offsetof(obs_members, status)},
        {"code", offsetof(obs_members, code)},
        {"subject", offsetof(obs_members, subject)},
        {"performer", offsetof(obs_members, performer)},
        {"contained", offsetof(obs_members, contained)},
        {"device", offsetof(obs_members, device)},
        {"component", offsetof(obs_members, component)},
        {"valueQuantity", offsetof(obs_members, value)},
        {"dataAbsentReason", offsetof(obs_members, absent)},
        {"effectiveDateTime", offsetof(obs_members, times[0])},
        {"effectivePeriod", offsetof(obs_members, times[1])},
        {"effectiveInstant", offsetof(obs_members, times[2])},
        {"issued", offsetof(obs_members, times[3])},
    };
    memset(m, 0, sizeof *m);
    for (const cJSON *c = obs ? obs->child : NULL; c; c = c->next) {
        if (!c->string)
            continue;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            /* first letters differ for most pairs, so most comparisons end here */
            if (c->string[0] == keys[i].key[0] && strcmp(c->string, keys[i].key) == 0) {
                const cJSON **slot = (const cJSON **)((char *)m + keys[i].offset);
                if (!*slot) /* the first of duplicated keys, as cJSON lookups do */
                    *slot = c;
                break;
            }
        }
    }
}

static const char *text_of(const cJSON *v)
{
    return cJSON_IsString(v) ? v->valuestring : NULL;
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
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(vq, "value");
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
        snprintf(reason, reason_len, "%s unit '%.40s' is not a pressure unit", kind_word(kind),
                 code ? code : unit);
    return V_BAD;
}

/* Records one value of `kind`; equal duplicates are one value, different ones are a conflict. */
static bool store_value(bp_obs_result *res, code_kind kind, double v)
{
    double *slot = kind == K_SYS ? &res->d.systolic : kind == K_DIA ? &res->d.diastolic
                                                                     : &res->d.heart_rate;
    bool *seen = kind == K_SYS ? &res->has_sys : kind == K_DIA ? &res->has_dia : NULL;
    if (!isnan(*slot) && fabs(*slot - v) > 1e-9) {
        snprintf(res->reason, sizeof res->reason, "conflicting %s values %g and %g",
                 kind_word(kind), *slot, v);
        res->d.invalid_reason = res->reason;
        return false;
    }
    *slot = v;
    if (seen)
        *seen = true;
    return true;
}

/* "Patient/123", "https://x/fhir/Patient/123/_history/2" -> "123"; else NULL. */
static bool id_after(const char *ref, const char *type, char *out, size_t out_len)
{
    size_t tlen = strlen(type);
    const char *p = NULL;
    if (strncmp(ref, type, tlen) == 0 && ref[tlen] == '/')
        p = ref + tlen + 1;
    else if (strstr(ref, "://")) {
        char needle[64];
        snprintf(needle, sizeof needle, "/%s/", type);
        const char *hit = strstr(ref, needle);
        if (hit)
            p = hit + strlen(needle);
    }
    if (!p || !*p)
        return false;
    size_t n = strcspn(p, "/");
    if (n == 0 || n >= out_len)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static bool read_subject(const obs_members *m, bp_obs_result *res)
{
    const cJSON *subject = m->subject;
    const char *ref = str_of(subject, "reference");
    char *out = res->ids[1];
    if (ref && *ref) {
        if (!id_after(ref, "Patient", out, sizeof res->ids[1]))
            snprintf(out, sizeof res->ids[1], "%s", ref); /* urn:uuid:, #contained, ... */
        res->d.patient_id = out;
        return true;
    }
    const cJSON *ident = cJSON_GetObjectItemCaseSensitive(subject, "identifier");
    const char *value = str_of(ident, "value");
    if (value && *value) {
        const char *system = str_of(ident, "system");
        snprintf(out, sizeof res->ids[1], "%s|%s", system ? system : "", value);
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
static void read_performer(const obs_members *m, bp_obs_result *res)
{
    const cJSON *perf;
    char *out = res->ids[2];
    cJSON_ArrayForEach(perf, m->performer)
    {
        const char *ref = str_of(perf, "reference");
        if (!ref)
            continue;
        if (id_after(ref, "Practitioner", out, sizeof res->ids[2]) ||
            id_after(ref, "PractitionerRole", out, sizeof res->ids[2])) {
            res->d.practitioner_id = out;
            return;
        }
        if (ref[0] == '#') {
            const char *type = str_of(contained_resource(m, ref + 1), "resourceType");
            if (type && (strcmp(type, "Practitioner") == 0 ||
                         strcmp(type, "PractitionerRole") == 0)) {
                snprintf(out, sizeof res->ids[2], "%s", ref);
                res->d.practitioner_id = out;
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
            v = cJSON_GetObjectItemCaseSensitive(v, sources[i].sub);
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

/* "sha256:" and 40 hex digits over the resource: its own bytes when the payload is that one
 * resource, else (inside a container) its canonical printing. */
static void content_hash(const cJSON *obs, const char *raw, size_t raw_len, char *out,
                         size_t out_len)
{
    if (raw) {
        bp_sha256_id(raw, raw_len, 40, out, out_len);
        return;
    }
    char *printed = cJSON_PrintUnformatted(obs);
    if (printed) {
        bp_sha256_id(printed, strlen(printed), 40, out, out_len);
        free(printed);
    } else {
        snprintf(out, out_len, "sha256:unavailable");
    }
}

static void stable_id(const cJSON *obs, const obs_members *m, const char *full_url,
                      const char *raw, size_t raw_len, bp_obs_result *res)
{
    const char *id = text_of(m->id);
    char *out = res->ids[0];
    if (id && *id) {
        const char *version = str_of(m->meta, "versionId");
        const char *status = text_of(m->status);
        if (version && *version) {
            snprintf(out, sizeof res->ids[0], "%s/_history/%s", id, version);
        } else if (status && (strcmp(status, "amended") == 0 || strcmp(status, "corrected") == 0)) {
            /* A correction sent without a version keeps the original's id; it must still be a new
             * document, not a 409 duplicate of the reading it corrects. Its content tells the
             * corrections apart, and the same correction replayed hashes the same. */
            char hash[48];
            content_hash(obs, raw, raw_len, hash, sizeof hash);
            snprintf(out, sizeof res->ids[0], "%s/_%s/%s", id, status, hash + 7);
        } else {
            snprintf(out, sizeof res->ids[0], "%s", id);
        }
    } else if (full_url && *full_url) {
        snprintf(out, sizeof res->ids[0], "%s", full_url);
    } else {
        content_hash(obs, raw, raw_len, out, sizeof res->ids[0]);
    }
    res->d.stable_id = out;
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
            read_value(cJSON_GetObjectItemCaseSensitive(comp, "dataAbsentReason"),
                       cJSON_GetObjectItemCaseSensitive(comp, "valueQuantity"), k, &v, res->reason,
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
                    bp_obs_result *res)
{
    memset(res, 0, sizeof *res);
    res->d.systolic = res->d.diastolic = res->d.heart_rate = NAN;
    res->d.resource_index = -1;
    res->d.effective_ms = INT64_MIN;
    obs_members m;
    index_members(obs, &m);
    res->d.observation_id = text_of(m.id);
    res->d.status = text_of(m.status);

    bool has_codings;
    unsigned code_mask = concept_kinds(m.code, &has_codings);
    res->is_bp = (code_mask & ((1u << K_PANEL) | (1u << K_SYS) | (1u << K_DIA))) != 0;
    stable_id(obs, &m, full_url, raw, raw_len, res);
    if (!read_values(&m, code_mask, res))
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
    const char *status = res->d.status;
    if (!status_is_reading(status)) {
        snprintf(res->reason, sizeof res->reason, status ? "status %.40s is not a reading"
                 : "no status", status);
        res->d.invalid_reason = res->reason;
        return;
    }
    if (!read_subject(&m, res)) {
        set_reason(res, "no subject (subject.reference or subject.identifier)");
        return;
    }
    read_performer(&m, res);
    const char *device = str_of(m.device, "reference");
    if (device)
        res->d.device_id = strncmp(device, "Device/", 7) == 0 ? device + 7 : device;
    if (!read_time(&m, res))
        return;
    if (!res->has_sys && !res->has_dia) {
        set_reason(res, m.absent
                            ? "no systolic or diastolic value (dataAbsentReason)"
                            : "no systolic or diastolic value");
    }
}

void bp_obs_rebase(bp_obs_result *res)
{
    if (res->d.stable_id)
        res->d.stable_id = res->ids[0];
    if (res->d.patient_id)
        res->d.patient_id = res->ids[1];
    if (res->d.practitioner_id)
        res->d.practitioner_id = res->ids[2];
    if (res->d.invalid_reason)
        res->d.invalid_reason = res->reason;
}
