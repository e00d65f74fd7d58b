#include "wardsim/ward_sim.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* splitmix64 expands the seed; xoshiro256** generates (both public-domain designs by
 * Vigna and Blackman, implemented here from their published descriptions). */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bp_rng_seed(bp_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t bp_rng_next(bp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double bp_rng_uniform(bp_rng *r)
{
    return (double)(bp_rng_next(r) >> 11) / 9007199254740992.0;
}

double bp_rng_normal(bp_rng *r)
{
    double u = bp_rng_uniform(r), v = bp_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v); /* Box-Muller */
}

/* Episode dynamics per reading: a patient slips into hypertension now and then and stays for
 * a dozen readings on average; hypotension is rarer and shorter. */
#define P_START_HYPER 0.01
#define P_END_HYPER 0.08
#define P_START_HYPO 0.005
#define P_END_HYPO 0.12
#define AR_PHI 0.7

int bp_ward_init(bp_ward *w, uint64_t seed, size_t n_patients, size_t n_practitioners,
                 int64_t start_ms, double interval_s, double invalid_rate)
{
    memset(w, 0, sizeof *w);
    if (n_patients == 0 || n_practitioners == 0 || !(interval_s > 0) || !(invalid_rate >= 0) ||
        invalid_rate > 1)
        return -1;
    w->patients = calloc(n_patients, sizeof *w->patients);
    if (!w->patients)
        return -1;
    bp_rng_seed(&w->rng, seed);
    w->seed = seed;
    w->start_ms = start_ms;
    w->interval_s = interval_s;
    w->n_patients = n_patients;
    w->n_practitioners = n_practitioners;
    w->invalid_rate = invalid_rate;
    for (size_t i = 0; i < n_patients; i++) {
        bp_patient *p = &w->patients[i];
        p->base_sys = 118 + 7 * bp_rng_normal(&w->rng);
        p->base_dia = 75 + 5 * bp_rng_normal(&w->rng);
        p->sd_sys = 4 + 4 * bp_rng_uniform(&w->rng);
        p->sd_dia = 3 + 3 * bp_rng_uniform(&w->rng);
    }
    return 0;
}

void bp_ward_free(bp_ward *w)
{
    free(w->patients);
    w->patients = NULL;
}

static void evolve_episode(bp_ward *w, bp_patient *p)
{
    double u = bp_rng_uniform(&w->rng);
    if (p->episode == BP_EP_NONE) {
        if (u < P_START_HYPER) {
            p->episode = BP_EP_HYPER;
            p->ep_sys = 32 + 12 * bp_rng_normal(&w->rng);
            p->ep_dia = 16 + 6 * bp_rng_normal(&w->rng);
        } else if (u < P_START_HYPER + P_START_HYPO) {
            p->episode = BP_EP_HYPO;
            p->ep_sys = -(30 + 8 * bp_rng_normal(&w->rng));
            p->ep_dia = -(17 + 5 * bp_rng_normal(&w->rng));
        }
    } else if (u < (p->episode == BP_EP_HYPER ? P_END_HYPER : P_END_HYPO)) {
        p->episode = BP_EP_NONE;
        p->ep_sys = p->ep_dia = 0;
    }
}

static int clamp_round(double v, int lo, int hi)
{
    long r = lround(v);
    return (int)(r < lo ? lo : r > hi ? hi : r);
}

void bp_ward_set_jitter(bp_ward *w, double share)
{
    w->jitter = share < 0 || share != share ? 0 : share > 0.45 ? 0.45 : share;
}

double bp_ward_due_s(const bp_ward *w, uint64_t seq)
{
    /* Patients are spread over the interval, so the ward does not read everyone at once. */
    uint64_t round = seq / w->n_patients;
    double slot = (double)(seq % w->n_patients) / (double)w->n_patients;
    return ((double)round + slot) * w->interval_s;
}

/* A deterministic jitter in [-1, 1) for reading `seq`: a hash, not the random stream, so that
 * switching jitter on or off leaves the values unchanged. */
static double jitter_unit(const bp_ward *w, uint64_t seq)
{
    uint64_t x = w->seed ^ (seq * 0xD1B54A32D192ED03ull) ^ 0x6A09E667F3BCC909ull;
    return (double)(splitmix(&x) >> 11) / 4503599627370496.0 - 1.0;
}

void bp_ward_step(bp_ward *w, bp_sim_reading *out)
{
    uint64_t seq = w->next++;
    size_t i = (size_t)(seq % w->n_patients);
    bp_patient *p = &w->patients[i];
    evolve_episode(w, p);
    double k = sqrt(1 - AR_PHI * AR_PHI); /* keeps the stationary sd at sd_sys / sd_dia */
    p->noise_sys = AR_PHI * p->noise_sys + k * p->sd_sys * bp_rng_normal(&w->rng);
    p->noise_dia = AR_PHI * p->noise_dia + k * p->sd_dia * bp_rng_normal(&w->rng);
    int sys = clamp_round(p->base_sys + p->ep_sys + p->noise_sys, 55, 250);
    int dia = clamp_round(p->base_dia + p->ep_dia + p->noise_dia, 30, 150);
    if (dia > sys - 15)
        dia = sys - 15; /* keep a physiological pulse pressure */
    out->seq = seq;
    out->patient = i;
    out->practitioner = (size_t)(seq % w->n_practitioners); /* alternating, as the original */
    double at_s = bp_ward_due_s(w, seq);
    if (w->jitter > 0 && seq > 0) /* the first reading anchors the run at start_time */
        at_s += w->jitter * (w->interval_s / (double)w->n_patients) * jitter_unit(w, seq);
    out->effective_ms = w->start_ms + (int64_t)llround(at_s * 1000.0);
    out->systolic = sys;
    out->diastolic = dia;
    out->broken = 0;
    if (w->invalid_rate > 0 && bp_rng_uniform(&w->rng) < w->invalid_rate)
        out->broken = 1 + (int)(bp_rng_next(&w->rng) % 4);
}

void bp_ward_patient_id(size_t i, char *out, size_t len)
{
    snprintf(out, len, "PAT-%03zu", i + 1);
}

void bp_ward_practitioner_id(size_t i, char *out, size_t len)
{
    snprintf(out, len, "PRAC-%02zu", i + 1);
}

/* A UUID-shaped id derived from the seed, the start time and the sequence number. */
static void observation_id(const bp_ward *w, uint64_t seq, char *out, size_t len)
{
    uint64_t x = w->seed ^ ((uint64_t)w->start_ms * 0xD6E8FEB86659FD93ull) ^
                 (seq * 0x9E3779B97F4A7C15ull);
    uint64_t a = splitmix(&x), b = splitmix(&x);
    snprintf(out, len, "%08llx-%04llx-4%03llx-%04llx-%012llx", (unsigned long long)(a >> 32),
             (unsigned long long)((a >> 16) & 0xFFFF), (unsigned long long)(a & 0xFFF),
             (unsigned long long)(0x8000 | ((b >> 48) & 0x3FFF)),
             (unsigned long long)(b & 0xFFFFFFFFFFFFull));
}

static void iso_time(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03dZ", (int)(ms % 1000));
}

size_t bp_ward_fhir(const bp_ward *w, const bp_sim_reading *r, char *buf, size_t len)
{
    char id[40], when[40], patient[24], practitioner[24];
    observation_id(w, r->seq, id, sizeof id);
    iso_time(r->effective_ms, when, sizeof when);
    bp_ward_patient_id(r->patient, patient, sizeof patient);
    bp_ward_practitioner_id(r->practitioner, practitioner, sizeof practitioner);
    /* JSON that is not FHIR (no resourceType): a dead letter. A Patient would be valid FHIR
     * that is not blood pressure, which the core skips rather than dead-letters. */
    if (r->broken == BP_BROKEN_NOT_OBS)
        return (size_t)snprintf(buf, len, "{\"id\":\"%s\",\"status\":\"final\"}", id);
    const char *unit = r->broken == BP_BROKEN_UNIT ? "cm" : "mm[Hg]";
    char subject[64] = "";
    if (r->broken != BP_BROKEN_NO_SUBJECT)
        snprintf(subject, sizeof subject, "\"subject\":{\"reference\":\"Patient/%s\"},", patient);
    int n = snprintf(buf, len,
        "{\"resourceType\":\"Observation\",\"id\":\"%s\","
        "\"meta\":{\"profile\":[\"http://hl7.org/fhir/StructureDefinition/bp\"]},"
        "\"status\":\"final\","
        "\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
        "observation-category\",\"code\":\"vital-signs\",\"display\":\"Vital Signs\"}]}],"
        "\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\","
        "\"display\":\"Blood pressure panel with all children optional\"}],"
        "\"text\":\"Blood pressure\"},"
        "%s\"performer\":[{\"reference\":\"Practitioner/%s\"}],"
        "\"effectiveDateTime\":\"%s\","
        "\"component\":["
        "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\","
        "\"display\":\"Systolic blood pressure\"}]},\"valueQuantity\":{\"value\":%d,"
        "\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"%s\"}},"
        "{\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8462-4\","
        "\"display\":\"Diastolic blood pressure\"}]},\"valueQuantity\":{\"value\":%d,"
        "\"unit\":\"mmHg\",\"system\":\"http://unitsofmeasure.org\",\"code\":\"%s\"}}]}",
        id, subject, practitioner, when, r->systolic, unit, r->diastolic, unit);
    if (n < 0 || (size_t)n >= len)
        return 0;
    if (r->broken == BP_BROKEN_TRUNCATED)
        n /= 2; /* truncated JSON, as a producer cut off mid-message would send */
    return (size_t)n;
}

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int number_at(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int bp_ward_parse_time(const char *text, int64_t *ms)
{
    /* Fixed positions: "YYYY-MM-DDTHH:MM:SS", then an optional fraction, then the zone. */
    if (!text || strlen(text) < 20 || !is_digits(text, 4) || text[4] != '-' ||
        !is_digits(text + 5, 2) || text[7] != '-' || !is_digits(text + 8, 2) ||
        (text[10] != 'T' && text[10] != 't') || !is_digits(text + 11, 2) || text[13] != ':' ||
        !is_digits(text + 14, 2) || text[16] != ':' || !is_digits(text + 17, 2))
        return -1;
    const char *p = text + 19;
    int frac_ms = 0;
    if (*p == '.') {
        p++;
        size_t n = strspn(p, "0123456789");
        if (n == 0)
            return -1;
        for (size_t i = 0; i < 3; i++)
            frac_ms = frac_ms * 10 + (i < n ? p[i] - '0' : 0);
        p += n;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 && strcmp(p, "+00:00") != 0)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = number_at(text, 4) - 1900;
    tm.tm_mon = number_at(text + 5, 2) - 1;
    tm.tm_mday = number_at(text + 8, 2);
    tm.tm_hour = number_at(text + 11, 2);
    tm.tm_min = number_at(text + 14, 2);
    tm.tm_sec = number_at(text + 17, 2);
    struct tm want = tm;
    time_t t = timegm(&tm);
    /* timegm normalises 2026-02-30 into March; a changed field means the date was impossible. */
    if (t < 0 || tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon ||
        tm.tm_mday != want.tm_mday || tm.tm_hour != want.tm_hour || tm.tm_min != want.tm_min ||
        tm.tm_sec != want.tm_sec)
        return -1;
    *ms = (int64_t)t * 1000 + frac_ms;
    return 0;
}
