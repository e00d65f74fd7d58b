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
    char ids[16][48], logical[16][48];
    int64_t version[16];
    bp_revision revision[16];
    int n;
} items;

/* What a reading or retraction is a version of, and which version (issue 26): " logical=self"
 * when its logical id is its stable id (F, R, P, S, U, A), "=corrects" when it is the id the
 * correction names (C), "=OTHER" else; then MSH-7 as the version. */
static void put_revision(bp_buf *b, const bp_decoded *d)
{
    const char *l = d->logical_id;
    bp_buf_puts(b, !l                                                   ? " NO-LOGICAL"
                   : d->stable_id && strcmp(l, d->stable_id) == 0       ? " logical=self"
                   : d->hl7_corrects && strcmp(l, d->hl7_corrects) == 0 ? " logical=corrects"
                   : strncmp(l, "sha256:", 7) == 0 && d->revision == BP_REVISION_RETRACT
                       ? " logical=identity" /* a retraction's: compared across messages below */
                       : " logical=OTHER");
    if (d->revision == BP_REVISION_REPLACE)
        bp_buf_puts(b, " replaces");
    bp_buf_puts(b, " v=");
    if (d->version == BP_VERSION_NONE)
        bp_buf_puts(b, "none");
    else
        bp_buf_iso_time(b, d->version);
}

static int collect(void *user, const bp_decoded *d)
{
    items *it = user;
    bp_buf *b = &it->text;
    if (it->n < 16) {
        snprintf(it->ids[it->n], sizeof it->ids[0], "%s", d->stable_id ? d->stable_id : "");
        snprintf(it->logical[it->n], sizeof it->logical[0], "%s",
                 d->logical_id ? d->logical_id : "");
        it->version[it->n] = d->version;
        it->revision[it->n] = d->revision;
    }
    it->n++;
    if ((d->invalid_reason || d->skip_reason) &&
        (d->logical_id || d->version != BP_VERSION_NONE || d->revision != BP_REVISION_NONE))
        bp_buf_puts(b, "NOT-A-VERSION "); /* dead letters and skipped items replace nothing */
    if (d->invalid_reason) {
        bp_buf_printf(b, "invalid: %s", d->invalid_reason);
    } else if (d->skip_reason) {
        bp_buf_printf(b, "skipped: %s [%s %s]", d->skip_reason,
                      d->resource_code ? d->resource_code : "-", d->hl7_code ? d->hl7_code : "-");
    } else if (d->revision == BP_REVISION_RETRACT) {
        /* a retraction: no values, the observation identity it takes back */
        bp_buf_printf(b, "retraction: patient %s", d->patient_id ? d->patient_id : "-");
        if (!isnan(d->systolic) || !isnan(d->diastolic) || !isnan(d->mean_pressure) ||
            !isnan(d->heart_rate))
            bp_buf_puts(b, " WITH-VALUES");
        if (d->device_id)
            bp_buf_printf(b, " device %s", d->device_id);
        bp_buf_puts(b, " at ");
        bp_buf_iso_time(b, d->effective_ms);
        bp_buf_printf(b, " %s %s", d->status, d->hl7_code ? d->hl7_code : "-");
        if (d->flags & BP_DEC_INVASIVE)
            bp_buf_puts(b, " invasive");
        if (!d->stable_id || strncmp(d->stable_id, "sha256:", 7) != 0 ||
            (d->logical_id && strcmp(d->stable_id, d->logical_id) == 0))
            bp_buf_puts(b, " BAD-ID"); /* its own id, never the one of what it retracts */
        put_revision(b, d);
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
        put_revision(b, d);
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
                "MDC 150021 logical=self v=2011-06-02T05:00:00.000Z\n");
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
                "00A0C9FFFE14E2AA at 2026-12-06T09:14:00.000Z final MDC 150021 logical=self "
                "v=2026-12-06T09:15:00.000Z\n");
    /* two cuff channels (one in kPa, 16-bit term codes in the other) and an arterial line */
    expect_file("own-channels-kpa-arterial.hl7",
                "skipped: OBX is not blood pressure [150456 MDC 150456]\n"
                "reading: 118/76 patient ICU-NORTH|77 at 2026-12-06T07:59:00.000Z preliminary "
                "MDC 150021 logical=self v=2026-12-06T08:00:00.000Z\n"
                "reading: 120.01/75.0062 patient ICU-NORTH|77 at "
                "2026-12-06T07:59:00.000Z preliminary MDC 150021 logical=self "
                "v=2026-12-06T08:00:00.000Z\n"
                "reading: 131/64 mean 86 patient ICU-NORTH|77 at 2026-12-06T07:59:00.000Z "
                "preliminary MDC 150037 invasive logical=self v=2026-12-06T08:00:00.000Z\n");
    /* the text says diastolic, the code says systolic: the code decides */
    expect_file("own-loinc-code-decides.hl7",
                "reading: 132/84 pulse 71 patient CLINIC-B|555-12 at 2026-12-01T16:55:00.000Z "
                "final LOINC 8480-6 logical=self v=2026-12-01T17:00:00.000Z\n");
    /* channel 1.1.1 corrected (C): it replaces the F version's id; channel 1.1.2: its
     * systolic cannot be obtained (X, skipped), its diastolic deleted (D) and its mean wrong
     * (W): one retraction of the channel's observation, without values */
    expect_file("own-statuses.hl7",
                "skipped: OBX-11 X: result cannot be obtained [150021 MDC 150021]\n"
                "skipped: OBX is not blood pressure [150364 MDC 150364]\n"
                "reading: 150/90 patient CITYHOSP|P-0042 at 2026-12-06T10:59:00.000Z corrected "
                "MDC 150021 corrects another id logical=corrects replaces "
                "v=2026-12-06T11:00:00.000Z\n"
                "retraction: patient CITYHOSP|P-0042 at 2026-12-06T10:59:00.000Z "
                "entered-in-error MDC 150022 logical=identity v=2026-12-06T11:00:00.000Z\n");
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
                "reading: 120/80 patient W^X|7&8 at 2026-01-01T09:59:00.000Z final MDC 150021 "
                "logical=self v=2026-01-01T10:00:00.000Z\n");
    /* a compound written whole (OBX-2 NA) */
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\rPID|||7\r"
                "OBX|1|NA|150020^MDC_PRESS_BLD_NONINV^MDC|1.1.1|120^80^93|mmHg|||||F\r",
                "reading: 120/80 mean 93 patient 7 at 2026-01-01T12:00:00.000Z final MDC "
                "150020 logical=self v=2026-01-01T12:00:00.000Z\n");
    /* a mean alone is skipped, as FHIR's is */
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\rPID|||7\r"
                "OBX|1|NM|150023||93|mmHg|||||F\r",
                "skipped: mean blood pressure only [- MDC 150023]\n");
}

static int first_status(void *user, const bp_decoded *d)
{
    char *out = user;
    if (!out[0])
        snprintf(out, 64, "%s", d->status ? d->status : "-");
    return 0;
}

/* Issue 26: every version of one observation names the same logical id (the stable id its F,
 * R or P version has), MSH-7 orders the versions, A and C replace, W and D retract. */
static void test_revisions(void)
{
    size_t len;
    char *data = slurp("own-crisis-nibp.hl7", &len);
    if (!data)
        return;
    data[len] = '\0';
    const int64_t msh7 = INT64_C(1796548500000); /* 2026-12-06T09:15:00Z (10:15 at +0100) */
    items f, c, a, w, d, later_w;
    ids_of(data, &f);
    CHECK(f.n == 1 && strcmp(f.logical[0], f.ids[0]) == 0);
    CHECK(f.version[0] == msh7 && f.revision[0] == BP_REVISION_NONE);

    char *corrected = replace(data, "|||||F|||", "|||||C|||");
    ids_of(corrected, &c);
    CHECK(c.n == 1 && c.revision[0] == BP_REVISION_REPLACE);
    CHECK_STR(c.logical[0], f.ids[0]);      /* what it replaces */
    CHECK(strcmp(c.ids[0], f.ids[0]) != 0); /* its own stable id, as before */

    char *amended = replace(data, "|||||F|||", "|||||A|||");
    ids_of(amended, &a);
    CHECK(a.n == 1 && a.revision[0] == BP_REVISION_REPLACE);
    CHECK_STR(a.logical[0], f.ids[0]);

    /* W: one retraction of the channel's observation, not four skipped OBX */
    char *wrong = replace(data, "|||||F|||", "|||||W|||");
    expect_text(wrong, "retraction: patient CITYHOSP|P-0042 device 00A0C9FFFE14E2AA at "
                       "2026-12-06T09:14:00.000Z entered-in-error MDC 150021 logical=identity "
                       "v=2026-12-06T09:15:00.000Z\n");
    ids_of(wrong, &w);
    CHECK(w.n == 1 && w.revision[0] == BP_REVISION_RETRACT && w.version[0] == msh7);
    CHECK_STR(w.logical[0], f.ids[0]);
    CHECK(strcmp(w.ids[0], f.ids[0]) != 0 && strcmp(w.ids[0], c.ids[0]) != 0);
    /* D retracts the same observation, under the same retraction id (one per logical id) */
    char *deleted = replace(data, "|||||F|||", "|||||D|||");
    ids_of(deleted, &d);
    CHECK(d.n == 1 && d.revision[0] == BP_REVISION_RETRACT);
    CHECK_STR(d.logical[0], f.ids[0]);
    CHECK_STR(d.ids[0], w.ids[0]);
    /* a later message retracting it is a later version of the same observation */
    char *later = replace(wrong, "|20261206101500+0100|", "|20261206113000+0100|");
    ids_of(later, &later_w);
    CHECK(later_w.n == 1 && later_w.version[0] == msh7 + 75 * 60000);
    CHECK_STR(later_w.logical[0], f.ids[0]);
    CHECK_STR(later_w.ids[0], w.ids[0]);
    free(corrected), free(amended), free(wrong), free(deleted), free(later), free(data);

#define MSG(msh7, obx11_sys, obx11_dia)                                                            \
    "MSH|^~\\&|A|B|||" msh7 "||ORU^R01|1|P|2.6\rPID|||7\rOBR|1||O1||||20260101115900+0000\r"       \
    "OBX|1|NM|150021||120|mmHg|||||" obx11_sys "\rOBX|2|NM|150022||80|mmHg|||||" obx11_dia "\r"
    /* MSH-7 without a zone names no instant: no version (the reading itself is still placed by
     * OBR-7); empty: none; a date alone: the start of that day in UTC */
    expect_text(MSG("20260101120000", "F", "F"),
                "reading: 120/80 patient 7 at 2026-01-01T11:59:00.000Z final MDC 150021 "
                "logical=self v=none\n");
    expect_text(MSG("", "F", "F"), "reading: 120/80 patient 7 at 2026-01-01T11:59:00.000Z final "
                                   "MDC 150021 logical=self v=none\n");
    expect_text(MSG("20260101", "P", "P"),
                "reading: 120/80 patient 7 at 2026-01-01T11:59:00.000Z preliminary MDC 150021 "
                "logical=self v=2026-01-01T00:00:00.000Z\n");
    /* W for one half retracts the observation; W beside a result of the same channel and time
     * is refused: the decoder does not guess which holds */
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\rPID|||7\r"
                "OBR|1||O1||||20260101115900+0000\rOBX|1|NM|150021||120|mmHg|||||W\r",
                "retraction: patient 7 at 2026-01-01T11:59:00.000Z entered-in-error MDC 150021 "
                "logical=identity v=2026-01-01T12:00:00.000Z\n");
    expect_text(MSG("20260101120000+0000", "W", "F"),
                "invalid: OBX 1 retracts (OBX-11 W or D) the observation OBX 2 reports: a channel "
                "and time is either retracted or a result in one message\n");
    expect_text(MSG("20260101120000+0000", "F", "D"),
                "invalid: OBX 2 retracts (OBX-11 W or D) the observation OBX 1 reports: a channel "
                "and time is either retracted or a result in one message\n");
    /* X stays skipped; a W on a mean alone is no blood-pressure reading to retract */
    expect_text(MSG("20260101120000+0000", "X", "X"),
                "skipped: OBX-11 X: result cannot be obtained [150021 MDC 150021]\n"
                "skipped: OBX-11 X: result cannot be obtained [150022 MDC 150022]\n");
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\rPID|||7\r"
                "OBX|1|NM|150023||93|mmHg|||||W\r",
                "skipped: mean blood pressure only [- MDC 150023]\n");
    /* a retraction whose time cannot be read names nothing: a dead letter, whose status still
     * says what it was */
    const char *bad_time = "MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\rPID|||7\r"
                           "OBR|1||O1||||2026013\rOBX|1|NM|150021||120|mmHg|||||W\r";
    expect_text(bad_time, "invalid: OBR-7 \"2026013\" is not an HL7 time\n");
    char status[64] = "";
    CHECK(bp_payload_decode(bad_time, strlen(bad_time), NULL, first_status, status) == 0);
    CHECK_STR(status, "entered-in-error");
    /* and without a patient */
    expect_text("MSH|^~\\&|A|B|||20260101120000+0000||ORU^R01|1|P|2.6\r"
                "OBX|1|NM|150021||120|mmHg|||||W\r",
                "invalid: no PID segment before the OBR\n");
#undef MSG
}

int main(void)
{
    test_files();
    test_retransmit_keeps_ids();
    test_sniffing_and_refusals();
    test_revisions();
    return CHECK_DONE();
}
