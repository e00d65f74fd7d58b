/* src/hl7v2: PCD-01 messages to readings. Every message of tests/data/hl7v2 (real ones written
 * by others, MANIFEST.md, and our own) decodes to exactly the items listed here; then the rules
 * one at a time: retransmits keep their ids, the code decides over the text, the sniffing. */
#include "check.h"
#include "common/json_buf.h"
#include "decode/payload_decode.h"
#include "hl7v2/hl7v2_decode.h"

#include <stdlib.h>

typedef struct items {
    bp_buf text; /* one line per item */
    char ids[16][48];
    int n;
} items;

static int collect(void *user, const bp_decoded *d)
{
    items *it = user;
    bp_buf *b = &it->text;
    if (it->n < 16)
        snprintf(it->ids[it->n], sizeof it->ids[0], "%s", d->stable_id ? d->stable_id : "");
    it->n++;
    if (d->invalid_reason) {
        bp_buf_printf(b, "invalid: %s", d->invalid_reason);
    } else if (d->skip_reason) {
        bp_buf_printf(b, "skipped: %s [%s %s]", d->skip_reason,
                      d->resource_code ? d->resource_code : "-", d->hl7_code ? d->hl7_code : "-");
    } else {
        bp_buf_printf(b, "reading: %g/%g", d->systolic, d->diastolic);
        if (!isnan(d->mean_pressure))
            bp_buf_printf(b, " mean %g", d->mean_pressure);
        if (!isnan(d->heart_rate))
            bp_buf_printf(b, " pulse %g", d->heart_rate);
        bp_buf_printf(b, " patient %s", d->patient_id);
        if (d->device_id)
            bp_buf_printf(b, " device %s", d->device_id);
        bp_buf_puts(b, " at ");
        bp_buf_iso_time(b, d->effective_ms);
        bp_buf_printf(b, " %s %s", d->status, d->hl7_code ? d->hl7_code : "-");
        if (d->flags & BP_DEC_INVASIVE)
            bp_buf_puts(b, " invasive");
        if (d->flags & BP_DEC_CORRECTION)
            bp_buf_puts(b, d->hl7_corrects && strncmp(d->hl7_corrects, "sha256:", 7) == 0 &&
                                   strcmp(d->hl7_corrects, d->stable_id) != 0
                               ? " corrects another id"
                               : " BAD-CORRECTS");
        if (!d->stable_id || strncmp(d->stable_id, "sha256:", 7) != 0)
            bp_buf_puts(b, " NO-ID");
    }
    bp_buf_putc(b, '\n');
    return 0;
}

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/hl7v2/%s", getenv("BPPIPE_TEST_DATA"), name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    char *data = malloc(1 << 16);
    *len = fread(data, 1, 1 << 16, f);
    fclose(f);
    return data;
}

static void decode_into(const char *data, size_t len, items *it)
{
    bp_buf_init(&it->text);
    it->n = 0;
    /* through the host's entry, as the engine calls it */
    CHECK(bp_payload_decode(data, len, NULL, collect, it) == 0);
}

static void expect_file(const char *name, const char *expected)
{
    size_t len;
    char *data = slurp(name, &len);
    CHECK(data != NULL);
    if (!data)
        return;
    items it;
    decode_into(data, len, &it);
    if (strcmp(bp_buf_cstr(&it.text), expected) != 0)
        fprintf(stderr, "%s decoded to:\n%s", name, bp_buf_cstr(&it.text));
    CHECK_STR(bp_buf_cstr(&it.text), expected);
    bp_buf_free(&it.text);
    free(data);
}

static void test_files(void)
{
    /* NIST's PCD-01 example: the NIBP channel 1.1.1 is one reading with its mean and pulse; the
     * containment rows (MDS, VMD, channel) are no items at all. */
    expect_file("nist-pcd01-acme-nibp.hl7",
                "reading: 120/80 mean 93 pulse 63 patient NIST|HO2009001 device "
                "080019FFFE3ED02D172.16.172.135 at 2011-06-02T04:58:42.000Z preliminary "
                "MDC 150021\n");
    /* Philips IntelliVue Information Center: partition-and-term hexadecimal codes (0002-4a15 is
     * 150037, the arterial line); SpO2, respiration and the ECG heart rate are not blood
     * pressure; every time lacks a zone and MSH-7 is empty, so the reading cannot be placed. */
    expect_file("philips-center-mdil-abp.hl7",
                "skipped: OBX is not blood pressure [0002-4bb8 MDC 150456]\n"
                "skipped: OBX is not blood pressure [0002-5000 MDC 151552]\n"
                "skipped: OBX is not blood pressure [0002-4182 MDC 147842]\n"
                "invalid: OBR-7 \"20030110152630\" has no time zone, nor has MSH-7\n");
    expect_file("own-crisis-nibp.hl7",
                "reading: 190/125 mean 147 pulse 96 patient CITYHOSP|P-0042 device "
                "00A0C9FFFE14E2AA at 2026-12-06T09:14:00.000Z final MDC 150021\n");
    /* two cuff channels (one in kPa, 16-bit term codes in the other) and an arterial line */
    expect_file("own-channels-kpa-arterial.hl7",
                "skipped: OBX is not blood pressure [150456 MDC 150456]\n"
                "reading: 118/76 patient ICU-NORTH|77 at 2026-12-06T07:59:00.000Z preliminary "
                "MDC 150021\n"
                "reading: 120.01/75.0062 patient ICU-NORTH|77 at "
                "2026-12-06T07:59:00.000Z preliminary MDC 150021\n"
                "reading: 131/64 mean 86 patient ICU-NORTH|77 at 2026-12-06T07:59:00.000Z "
                "preliminary MDC 150037 invasive\n");
    /* the text says diastolic, the code says systolic: the code decides */
    expect_file("own-loinc-code-decides.hl7",
                "reading: 132/84 pulse 71 patient CLINIC-B|555-12 at 2026-12-01T16:55:00.000Z "
                "final LOINC 8480-6\n");
    expect_file("own-statuses.hl7",
                "skipped: OBX-11 X: result cannot be obtained [150021 MDC 150021]\n"
                "skipped: OBX-11 D: result deleted [150022 MDC 150022]\n"
                "skipped: OBX-11 W: result was wrong [150023 MDC 150023]\n"
                "skipped: OBX is not blood pressure [150364 MDC 150364]\n"
                "reading: 150/90 patient CITYHOSP|P-0042 at 2026-12-06T10:59:00.000Z corrected "
                "MDC 150021 corrects another id\n");
    expect_file("own-spo2-temp-only.hl7",
                "skipped: OBX is not blood pressure [150456 MDC 150456]\n"
                "skipped: OBX is not blood pressure [150364 MDC 150364]\n"
                "skipped: OBX is not blood pressure [188736 MDC 188736]\n");
    expect_file("own-broken-adt.hl7", "invalid: message type ADT^A01 is not ORU^R01\n");
    expect_file("own-broken-values.hl7",
                "invalid: OBX 1 (MDC 150021 systolic) has no value in OBX-5\n"
                "invalid: OBX 3 (MDC 150021 systolic): unit \"cmH2O\" is not mmHg, mm[Hg] or "
                "kPa\n"
                "invalid: OBX 5 (MDC 150021 systolic): value \"12O\" is not a number\n"
                "invalid: channel 1.1.4: diastolic without systolic (OBX 7)\n");
}

/* Replaces every `from` in `s` by `to` (same length or not) into a new string. */
static char *replace(const char *s, const char *from, const char *to)
{
    bp_buf b;
    bp_buf_init(&b);
    for (const char *p = s, *q; *p; p = q + strlen(from)) {
        if (!(q = strstr(p, from))) {
            bp_buf_puts(&b, p);
            break;
        }
        bp_buf_put(&b, p, (size_t)(q - p));
        bp_buf_puts(&b, to);
    }
    return b.data;
}

static void ids_of(const char *msg, items *it)
{
    decode_into(msg, strlen(msg), it);
    bp_buf_free(&it->text);
}

/* A retransmit (a new control id, MLLP framing left on, other line ends) is the same reading:
 * the same stable id. Another time or another patient is another reading. */
static void test_retransmit_keeps_ids(void)
{
    size_t len;
    char *data = slurp("own-crisis-nibp.hl7", &len);
    if (!data)
        return;
    data[len] = '\0';
    items a, b, c, d, e;
    ids_of(data, &a);
    CHECK(a.n == 1 && strncmp(a.ids[0], "sha256:", 7) == 0);

    char *lf = replace(data, "\r\n", "\n");
    char *ctl = replace(lf, "CRISIS-0001", "CRISIS-0099");
    char *framed = malloc(strlen(ctl) + 4);
    sprintf(framed, "\x0b%s\x1c\r", ctl);
    ids_of(framed, &b);
    CHECK(b.n == 1 && strcmp(a.ids[0], b.ids[0]) == 0);

    char *later = replace(data, "|20261206101400+0100", "|20261206101600+0100");
    ids_of(later, &c);
    CHECK(c.n == 1 && c.ids[0][0] && strcmp(a.ids[0], c.ids[0]) != 0);

    char *other = replace(data, "P-0042", "P-0043");
    ids_of(other, &d);
    CHECK(d.n == 1 && d.ids[0][0] && strcmp(a.ids[0], d.ids[0]) != 0);

    /* the same time written in another zone is another text but the same instant: HL7 gives
     * the identity as sent, so a sender that rewrites its zone makes a new id (documented) */
    char *facility = replace(data, "|CITYHOSP|BPPIPE", "|OTHERHOSP|BPPIPE");
    ids_of(facility, &e);
    CHECK(e.n == 1 && strcmp(a.ids[0], e.ids[0]) != 0);
    free(lf), free(ctl), free(framed), free(later), free(other), free(facility), free(data);
}

static void expect_text(const char *msg, const char *expected)
{
    items it;
    decode_into(msg, strlen(msg), &it);
    CHECK_STR(bp_buf_cstr(&it.text), expected);
    bp_buf_free(&it.text);
}

/* bp_payload_decode sends HL7 v2 to the PCD-01 decoder and everything else to FHIR. */
static void test_sniffing_and_refusals(void)
{
    expect_text("{\"resourceType\":\"Patient\",\"id\":\"MSH\"}",
                "skipped: resource is not an Observation [- -]\n");
    expect_text("MSHX", "invalid: not JSON at byte 0\n");
    expect_text("\x0b\r\nMSH|^~\\&|A|B|||20260101||ORU^R01|1|P|2.6\r",
                "invalid: ORU^R01 has no OBX segment\n");
    expect_text("MSH|^~\\&|A|B|||20260101||^R01|1|P|2.6\r",
                "invalid: MSH-9 message type is empty; only ORU^R01 is read\n");
    expect_text("MSH|^^\\&|A\r", "invalid: MSH-1 and MSH-2 delimiters are not distinct\n");
    /* a reading with no PID, and one whose time is not a time */
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\r"
                "OBR|1||O1||||20260101115900+0000\r"
                "OBX|1|NM|150021||120|mmHg|||||F\rOBX|2|NM|150022||80|mmHg|||||F\r",
                "invalid: no PID segment before the OBR\n");
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\rPID|||7\r"
                "OBR|1||O1||||2026013\r"
                "OBX|1|NM|150021||120|mmHg|||||F\rOBX|2|NM|150022||80|mmHg|||||F\r",
                "invalid: OBR-7 \"2026013\" is not an HL7 time\n");
    /* escapes in the patient id are decoded; a time without a zone takes MSH-7's */
    expect_text("MSH|^~\\&|A|B|||20260101120000+0200||ORU^R01|1|P|2.6\rPID|||7\\T\\8^^^W\\S\\X\r"
                "OBX|1|NM|150021||120|mmHg|||||F|||20260101115900\r"
                "OBX|2|NM|150022||80|mmHg|||||F|||20260101115900\r",
                "reading: 120/80 patient W^X|7&8 at 2026-01-01T09:59:00.000Z final MDC 150021\n");
    /* a compound written whole (OBX-2 NA) */
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\rPID|||7\r"
                "OBX|1|NA|150020^MDC_PRESS_BLD_NONINV^MDC|1.1.1|120^80^93|mmHg|||||F\r",
                "reading: 120/80 mean 93 patient 7 at 2026-01-01T12:00:00.000Z final MDC "
                "150020\n");
    /* a mean alone is skipped, as FHIR's is */
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\rPID|||7\r"
                "OBX|1|NM|150023||93|mmHg|||||F\r",
                "skipped: mean blood pressure only [- MDC 150023]\n");
}

int main(void)
{
    test_files();
    test_retransmit_keeps_ids();
    test_sniffing_and_refusals();
    return CHECK_DONE();
}
