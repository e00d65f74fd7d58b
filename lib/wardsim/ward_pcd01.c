#include "wardsim/ward_pcd01.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The PCD-01 profile id gateways put in MSH-21 (IHE PCD TF-2, "IHE PCD ORU-R01 2006" by OID). */
#define PCD01_PROFILE "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
#define SENDING_APP "BPPIPE-SIM"
#define POINT_OF_CARE "WARD-1"

/* A 64-bit mix (the splitmix64 finaliser): ids and the pulse from a few numbers, no state. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bp_ward_monitor_eui64(size_t patient, char *out, size_t len)
{
    /* 02:B9:9E is a locally administered OUI (bit 1 of the first byte): never a real vendor's. */
    snprintf(out, len, "02B99EFFFE%06llX", (unsigned long long)(patient & 0xFFFFFF));
}

int bp_ward_pulse(const bp_ward *w, const bp_sim_reading *r)
{
    uint64_t personal = mix64(w->seed ^ ((uint64_t)r->patient * 0xD6E8FEB86659FD93ull));
    uint64_t noise = mix64(personal ^ (r->seq * 0xA0761D6478BD642Full));
    return 58 + (int)(personal % 32) + (int)(noise % 11) - 5; /* 53..100 */
}

int bp_ward_mean(const bp_sim_reading *r)
{
    return r->diastolic + (r->systolic - r->diastolic + 1) / 3;
}

/* HL7 DTM with milliseconds and the zone, as OBX-14 and MSH-7 carry it: 20260101080000.000+0000 */
static void hl7_time(int64_t ms, char *out, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, len, "%Y%m%d%H%M%S", &tm);
    snprintf(out + n, len - n, ".%03d+0000", (int)(ms % 1000));
}

/* The output buffer: appends until it is full, then remembers that it overflowed. */
typedef struct out {
    char *buf;
    size_t len, used;
    int full;
} out;

static void put(out *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->len - o->used)
        o->full = 1;
    else
        o->used += (size_t)n;
}

/* One OBX row with its fields written by number (1-18), the rest left empty: a device row of
 * the containment tree has no value type, value or unit and status X. */
typedef struct obx {
    int set_id;
    const char *type, *code, *sub_id, *value, *unit, *status, *time, *method, *device;
} obx;

static void put_obx(out *o, const obx *x)
{
    size_t start = o->used;
    put(o, "OBX|%d|%s|%s|%s|%s|%s|||||%s|||%s|||%s|%s", x->set_id, x->type ? x->type : "", x->code,
        x->sub_id, x->value ? x->value : "", x->unit ? x->unit : "", x->status,
        x->time ? x->time : "", x->method ? x->method : "", x->device ? x->device : "");
    /* empty trailing fields are left out, as senders do */
    while (!o->full && o->used > start && o->buf[o->used - 1] == '|')
        o->used--;
    put(o, "\r");
}

size_t bp_ward_pcd01(const bp_ward *w, const bp_sim_reading *r, char *buf, size_t len)
{
    if (len == 0)
        return 0;
    char eui[24], device[64], when[32], patient[24], filler[96], control[40];
    bp_ward_monitor_eui64(r->patient, eui, sizeof eui);
    snprintf(device, sizeof device, "%s^%s^%s^EUI-64", eui, SENDING_APP, eui);
    hl7_time(r->effective_ms, when, sizeof when);
    bp_ward_patient_id(r->patient, patient, sizeof patient);
    /* The filler order number names the measurement, the control id the message: both from
     * the seed, the start and the sequence number, so a replay of the same ward repeats them
     * and another run does not. */
    uint64_t run = mix64(w->seed ^ ((uint64_t)w->start_ms * 0x9E3779B97F4A7C15ull));
    snprintf(filler, sizeof filler, "%016llX^%s^%s^EUI-64", (unsigned long long)mix64(run ^ r->seq),
             SENDING_APP, eui);
    snprintf(control, sizeof control, "%08llX-%llu", (unsigned long long)(run >> 32),
             (unsigned long long)r->seq);

    out o = {buf, len, 0, 0};
    put(&o, "MSH|^~\\&|%s^%s^EUI-64|%s|||%s||%s|%s|P|2.6|||AL|NE||UNICODE UTF-8|||%s\r",
        SENDING_APP, eui, BP_PCD01_FACILITY, when,
        r->broken == BP_BROKEN_NOT_OBS ? "ADT^A01^ADT_A01" : "ORU^R01^ORU_R01", control,
        PCD01_PROFILE);
    if (r->broken == BP_BROKEN_NO_SUBJECT)
        put(&o, "PID|||||%s^SIMULATED^^^^^L\r", patient);
    else
        put(&o, "PID|||%s^^^%s^MR||%s^SIMULATED^^^^^L\r", patient, BP_PCD01_FACILITY, patient);
    put(&o, "PV1||I|%s^^BED-%03zu^%s\r", POINT_OF_CARE, r->patient + 1, BP_PCD01_FACILITY);
    put(&o, "OBR|1|%s|%s|182777000^monitoring of patient^SCT|||%s\r", filler, filler, when);

    char sys[16], dia[16], mean[16], pulse[16];
    snprintf(sys, sizeof sys, "%d", r->systolic);
    snprintf(dia, sizeof dia, "%d", r->diastolic);
    snprintf(mean, sizeof mean, "%d", bp_ward_mean(r));
    snprintf(pulse, sizeof pulse, "%d", bp_ward_pulse(w, r));
    const char *mmhg = r->broken == BP_BROKEN_UNIT ? "cm^cm^UCUM" : "266016^MDC_DIM_MMHG^MDC";
    const char *bpm = "264864^MDC_DIM_BEAT_PER_MIN^MDC";
    const char *ameas = "AMEAS^auto-measurement^MDC";
    const obx rows[] = {
        {1, NULL, "69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC", "1.0.0.0", NULL, NULL, "X", NULL,
         NULL, device},
        {2, NULL, "69854^MDC_DEV_METER_PRESS_BLD_VMD^MDC", "1.1.0.0", NULL, NULL, "X", NULL, NULL,
         NULL},
        {3, NULL, "150020^MDC_PRESS_BLD_NONINV^MDC", "1.1.1.0", NULL, NULL, "X", when, NULL, NULL},
        {4, "NM", "150021^MDC_PRESS_BLD_NONINV_SYS^MDC", "1.1.1.1", sys, mmhg, "F", when, ameas,
         device},
        {5, "NM", "150022^MDC_PRESS_BLD_NONINV_DIA^MDC", "1.1.1.2", dia, mmhg, "F", when, ameas,
         device},
        {6, "NM", "150023^MDC_PRESS_BLD_NONINV_MEAN^MDC", "1.1.1.3", mean, mmhg, "F", when, ameas,
         device},
        {7, "NM", "149546^MDC_PULS_RATE_NON_INV^MDC", "1.1.1.4", pulse, bpm, "F", when, ameas,
         device},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        put_obx(&o, &rows[i]);
    if (o.full)
        return 0;
    if (r->broken == BP_BROKEN_TRUNCATED) {
        /* cut off halfway, as a sender that died mid-message leaves it */
        o.used /= 2;
        buf[o.used] = '\0';
    }
    return o.used;
}
