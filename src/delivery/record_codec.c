#include "delivery/record_codec.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Layout, all integers little-endian:
 *   "BPR" version(1)  attempts(u32)  flags(u32: bit 0 anomaly)
 *   partition(i32) offset(i64) source_ts_ms(i64) effective_ms(i64)
 *   systolic diastolic heart_rate (IEEE-754 binary64 bits, u64)
 *   decode_flags(u32) resource_index(i32) severity(u32)
 *   15 strings: payload topic key stable_id observation_id patient_id practitioner_id device_id
 *               status invalid_reason skip_reason resource_type resource_code category
 *               anomaly_type
 *   reasons: count(u32), then strings
 *   annotations: count(u32), then key(string) type(u8) number(u64 bits) text(string)
 *   format 2 (HL7 v2, issue 24): mean_pressure (u64 bits), then 5 strings: hl7_control_id
 *               hl7_sending_app hl7_sending_facility hl7_code hl7_corrects
 *   format 3 (revisions, issue 26): logical_id (string), version (u64, two's complement of
 *               the i64), revision (u32)
 * A string is its length (u32; 0xFFFFFFFF for none) and its bytes. Nothing may follow. Formats 1
 * and 2 (the same without the later tails) are still read: a spool written before stays
 * readable. */

#define NO_STRING 0xFFFFFFFFu

static void put_u32(bp_buf *b, uint32_t v)
{
    char c[4] = {(char)(v & 0xff), (char)((v >> 8) & 0xff), (char)((v >> 16) & 0xff),
                 (char)(v >> 24)};
    bp_buf_put(b, c, 4);
}

static void put_u64(bp_buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64(bp_buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_u64(b, v);
}

static int put_str(bp_buf *b, const char *s, size_t n)
{
    if (!s) {
        put_u32(b, NO_STRING);
        return 0;
    }
    if (n >= NO_STRING)
        return -1;
    put_u32(b, (uint32_t)n);
    bp_buf_put(b, s, n);
    return 0;
}

static int put_cstr(bp_buf *b, const char *s)
{
    return put_str(b, s, s ? strlen(s) : 0);
}

int bp_record_encode(const bp_record *r, unsigned attempts, bp_buf *out)
{
    bp_buf_put(out, "BPR", 3);
    bp_buf_putc(out, (char)BP_RECORD_CODEC_VERSION);
    put_u32(out, attempts);
    put_u32(out, r->anomaly ? 1u : 0u);
    put_u32(out, (uint32_t)r->partition);
    put_u64(out, (uint64_t)r->offset);
    put_u64(out, (uint64_t)r->source_ts_ms);
    put_u64(out, (uint64_t)r->effective_ms);
    put_f64(out, r->systolic);
    put_f64(out, r->diastolic);
    put_f64(out, r->heart_rate);
    put_u32(out, r->decode_flags);
    put_u32(out, (uint32_t)r->resource_index);
    put_u32(out, (uint32_t)r->severity);
    int bad = put_str(out, r->payload, r->payload_len);
    bad |= put_cstr(out, r->topic);
    bad |= put_str(out, r->key, r->key_len);
    const char *texts[] = {r->stable_id, r->observation_id, r->patient_id, r->practitioner_id,
                           r->device_id, r->status, r->invalid_reason, r->skip_reason,
                           r->resource_type, r->resource_code, r->category, r->anomaly_type};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        bad |= put_cstr(out, texts[i]);
    uint32_t n = 0;
    for (const bp_reason *x = r->reasons; x; x = x->next)
        n++;
    put_u32(out, n);
    for (const bp_reason *x = r->reasons; x; x = x->next)
        bad |= put_cstr(out, x->code);
    n = 0;
    for (const bp_annotation *a = r->annotations; a; a = a->next)
        n++;
    put_u32(out, n);
    for (const bp_annotation *a = r->annotations; a; a = a->next) {
        bad |= put_cstr(out, a->key);
        bp_buf_putc(out, (char)a->type);
        put_f64(out, a->number);
        bad |= put_cstr(out, a->type == BP_VAL_TEXT ? a->text : NULL);
    }
    put_f64(out, r->mean_pressure);
    const char *hl7[] = {r->hl7_control_id, r->hl7_sending_app, r->hl7_sending_facility,
                         r->hl7_code, r->hl7_corrects};
    for (size_t i = 0; i < sizeof hl7 / sizeof *hl7; i++)
        bad |= put_cstr(out, hl7[i]);
    bad |= put_cstr(out, r->logical_id);
    put_u64(out, (uint64_t)r->version);
    put_u32(out, (uint32_t)r->revision);
    return bad || out->failed ? -1 : 0;
}

/* A bounds-checked reader over one entry. */
typedef struct reader {
    const unsigned char *p;
    size_t left;
    bool short_read;
} reader;

static uint32_t get_u32(reader *rd)
{
    if (rd->left < 4) {
        rd->short_read = true;
        rd->left = 0;
        return 0;
    }
    uint32_t v = (uint32_t)rd->p[0] | (uint32_t)rd->p[1] << 8 | (uint32_t)rd->p[2] << 16 |
                 (uint32_t)rd->p[3] << 24;
    rd->p += 4;
    rd->left -= 4;
    return v;
}

static uint64_t get_u64(reader *rd)
{
    uint64_t lo = get_u32(rd);
    return lo | (uint64_t)get_u32(rd) << 32;
}

static double get_f64(reader *rd)
{
    uint64_t v = get_u64(rd);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* A string copied into the arena; *ok false when cut short or out of memory. */
static const char *get_str(reader *rd, bp_arena *a, size_t *len, bool *ok)
{
    uint32_t n = get_u32(rd);
    if (len)
        *len = 0;
    if (n == NO_STRING || rd->short_read)
        return NULL;
    if (n > rd->left) {
        rd->short_read = true;
        rd->left = 0;
        *ok = false;
        return NULL;
    }
    char *s = bp_arena_strndup(a, (const char *)rd->p, n);
    if (!s)
        *ok = false;
    rd->p += n;
    rd->left -= n;
    if (len)
        *len = n;
    return s;
}

int bp_record_decode(const void *data, size_t len, bp_arena *arena, bp_record **out,
                     unsigned *attempts, char *err, size_t errlen)
{
    *out = NULL;
    const unsigned char *b = data;
    if (len < 4 || memcmp(b, "BPR", 3) != 0) {
        snprintf(err, errlen, "not a bppipe spooled record (no BPR mark)");
        return -1;
    }
    unsigned format = b[3];
    if (format < 1u || format > BP_RECORD_CODEC_VERSION) {
        snprintf(err, errlen, "a spooled record of format %u; this build reads format %u",
                 (unsigned)b[3], BP_RECORD_CODEC_VERSION);
        return -1;
    }
    bp_record *r = bp_arena_alloc(arena, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    reader rd = {b + 4, len - 4, false};
    bool ok = true;
    r->arena = arena;
    *attempts = get_u32(&rd);
    r->anomaly = (get_u32(&rd) & 1u) != 0;
    r->partition = (int32_t)get_u32(&rd);
    r->offset = (int64_t)get_u64(&rd);
    r->source_ts_ms = (int64_t)get_u64(&rd);
    r->effective_ms = (int64_t)get_u64(&rd);
    r->systolic = get_f64(&rd);
    r->diastolic = get_f64(&rd);
    r->heart_rate = get_f64(&rd);
    r->decode_flags = get_u32(&rd);
    r->resource_index = (int)(int32_t)get_u32(&rd);
    uint32_t sev = get_u32(&rd);
    if (sev > BP_SEV_CRITICAL)
        ok = false;
    r->severity = (bp_severity)sev;
    r->payload = get_str(&rd, arena, &r->payload_len, &ok);
    r->topic = get_str(&rd, arena, NULL, &ok);
    r->key = get_str(&rd, arena, &r->key_len, &ok);
    const char **texts[] = {&r->stable_id, &r->observation_id, &r->patient_id,
                            &r->practitioner_id, &r->device_id, &r->status, &r->invalid_reason,
                            &r->skip_reason, &r->resource_type, &r->resource_code, &r->category,
                            &r->anomaly_type};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        *texts[i] = get_str(&rd, arena, NULL, &ok);
    uint32_t n = get_u32(&rd);
    for (uint32_t i = 0; ok && !rd.short_read && i < n; i++) {
        bp_reason *x = bp_arena_alloc(arena, sizeof *x);
        if (!x || !(x->code = get_str(&rd, arena, NULL, &ok))) {
            ok = false;
            break;
        }
        if (r->reasons_tail)
            r->reasons_tail->next = x;
        else
            r->reasons = x;
        r->reasons_tail = x;
    }
    n = ok ? get_u32(&rd) : 0;
    for (uint32_t i = 0; ok && !rd.short_read && i < n; i++) {
        bp_annotation *a = bp_arena_alloc(arena, sizeof *a);
        if (!a || !(a->key = get_str(&rd, arena, NULL, &ok))) {
            ok = false;
            break;
        }
        if (rd.left < 1) {
            rd.short_read = true;
            break;
        }
        unsigned type = *rd.p++;
        rd.left--;
        if (type > BP_VAL_BOOL)
            ok = false;
        a->type = (bp_value_type)type;
        a->number = get_f64(&rd);
        a->text = get_str(&rd, arena, NULL, &ok);
        if (a->type == BP_VAL_TEXT && !a->text)
            ok = false;
        if (r->annotations_tail)
            r->annotations_tail->next = a;
        else
            r->annotations = a;
        r->annotations_tail = a;
    }
    r->mean_pressure = NAN;
    if (format >= 2u && ok && !rd.short_read) {
        r->mean_pressure = get_f64(&rd);
        const char **hl7[] = {&r->hl7_control_id, &r->hl7_sending_app,
                              &r->hl7_sending_facility, &r->hl7_code, &r->hl7_corrects};
        for (size_t i = 0; i < sizeof hl7 / sizeof *hl7; i++)
            *hl7[i] = get_str(&rd, arena, NULL, &ok);
    }
    if (format >= 3u && ok && !rd.short_read) {
        r->logical_id = get_str(&rd, arena, NULL, &ok);
        r->version = (int64_t)get_u64(&rd);
        uint32_t revision = get_u32(&rd);
        if (revision > BP_REVISION_RETRACT)
            ok = false;
        r->revision = (bp_revision)revision;
    }
    if (rd.short_read || !ok || rd.left != 0) {
        snprintf(err, errlen, "a spooled record of format %u is %s", format,
                 rd.short_read ? "cut short" : !ok ? "damaged (a value out of range)" :
                                                     "followed by stray bytes");
        return -1;
    }
    if (!r->payload) {
        r->payload = "";
        r->payload_len = 0;
    }
    *out = r;
    return 0;
}
