/* lib/hl7v2: the zero-copy reader (delimiters, segments, the split, escapes, MSH) and the ACK
 * writer source-mllp sends back. */
#include "check.h"
#include "hl7v2/hl7v2.h"
#include "hl7v2/hl7v2_ack.h"

#include <stdlib.h>

static char text_buf[512];

/* A span's bytes as a C string (raw, still escaped). */
static const char *raw(bp_hl7_span s)
{
    if (!s.p)
        return "";
    snprintf(text_buf, sizeof text_buf, "%.*s", (int)s.n, s.p);
    return text_buf;
}

static const char *unesc(const bp_hl7_msg *m, bp_hl7_span s)
{
    if (bp_hl7_unescape(m, s, text_buf, sizeof text_buf, NULL) != 0)
        return "(unescape failed)";
    return text_buf;
}

static const char MSG[] =
    "MSH|^~\\&|AcmeGW^0123456789ABCDEF^EUI-64|ICU^^|BPPIPE|HOSP|20261206101500+0100||"
    "ORU^R01^ORU_R01|MSG00042|P|2.6|||AL|NE||8859/1\r"
    "PID|||123456^^^Hospital&1.2.3&ISO^MR~999^^^Other||Doe^John\n"
    "OBR|1||ORD1^AcmeGW|182777000^monitoring of patient^SNOMED-CT|||20261206101400\r\n"
    "\r\n"
    "OBX|1|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.1|120|266016^MDC_DIM_MMHG^MDC|||||F\r"
    "NTE|1||a \\F\\ b \\S\\ c \\T\\ d \\R\\ e \\E\\ f\\X414243\\\\.br\\g\\H\\h\\N\\\\Zlocal\\\\"
    "unclosed\r";

static void test_open_and_segments(void)
{
    bp_hl7_msg m;
    const char *why = NULL;
    CHECK(bp_hl7_open(&m, MSG, sizeof MSG - 1, &why) == 0);
    CHECK(m.d.field == '|' && m.d.comp == '^' && m.d.rep == '~' && m.d.esc == '\\' &&
          m.d.sub == '&');
    const char *names[] = {"MSH", "PID", "OBR", "OBX", "NTE"};
    bp_hl7_seg it = {{NULL, 0}, 0};
    int n = 0;
    while (bp_hl7_next_segment(&m, &it)) {
        /* \r, \n, \r\n and the empty line between all end segments */
        CHECK(n < 5 && bp_hl7_seg_is(&m, it.text, names[n]));
        n++;
    }
    CHECK(n == 5);

    bp_hl7_msh h;
    CHECK(bp_hl7_msh_read(&m, &h) == 0);
    CHECK_STR(raw(h.sending_app), "AcmeGW^0123456789ABCDEF^EUI-64");
    CHECK_STR(raw(h.sending_facility), "ICU^^");
    CHECK_STR(raw(h.receiving_app), "BPPIPE");
    CHECK_STR(raw(h.receiving_facility), "HOSP");
    CHECK_STR(raw(h.time), "20261206101500+0100");
    CHECK_STR(raw(h.type), "ORU");
    CHECK_STR(raw(h.trigger), "R01");
    CHECK_STR(raw(h.structure), "ORU_R01");
    CHECK_STR(raw(h.control_id), "MSG00042");
    CHECK_STR(raw(h.processing_id), "P");
    CHECK_STR(raw(h.version), "2.6");
    CHECK_STR(raw(h.accept_ack), "AL");
    CHECK_STR(raw(h.app_ack), "NE");

    it.next = 0;
    bp_hl7_next_segment(&m, &it); /* MSH */
    CHECK_STR(raw(bp_hl7_field(&m, it.text, 1)), "|");
    CHECK_STR(raw(bp_hl7_field(&m, it.text, 2)), "^~\\&");
    /* MSH-2 is never split at its own characters */
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 2, 1, 1, 0)), "^~\\&");
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 3, 1, 2, 0)), "0123456789ABCDEF");
    CHECK(bp_hl7_field(&m, it.text, 40).n == 0);

    bp_hl7_next_segment(&m, &it); /* PID */
    bp_hl7_span pid3 = bp_hl7_field(&m, it.text, 3);
    CHECK(bp_hl7_rep_count(&m, pid3) == 2);
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 3, 1, 1, 0)), "123456");
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 3, 1, 4, 0)), "Hospital&1.2.3&ISO");
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 3, 1, 4, 2)), "1.2.3");
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 3, 2, 1, 0)), "999");
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 3, 3, 1, 0)), "");
    CHECK_STR(raw(bp_hl7_comp(&m, pid3, 4)), "Hospital&1.2.3&ISO"); /* first repetition */
    CHECK_STR(raw(bp_hl7_sub(&m, bp_hl7_comp(&m, bp_hl7_rep(&m, pid3, 1), 5), 1)), "MR");
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 5, 1, 2, 0)), "John");

    bp_hl7_next_segment(&m, &it); /* OBR */
    bp_hl7_next_segment(&m, &it); /* OBX */
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 3, 1, 1, 0)), "150021");
    CHECK_STR(raw(bp_hl7_field(&m, it.text, 4)), "1.1.1.1");
    CHECK_STR(raw(bp_hl7_field(&m, it.text, 11)), "F");

    bp_hl7_next_segment(&m, &it); /* NTE */
    CHECK_STR(unesc(&m, bp_hl7_field(&m, it.text, 3)),
              "a | b ^ c & d ~ e \\ fABC\ngh\\Zlocal\\\\unclosed");
    /* \Zlocal\ is unknown: kept as written (its backslashes and all) */
}

static void test_unescape_no_truncation(void)
{
    bp_hl7_msg m;
    const char s[] = "MSH|^~\\&|A\\F\\B\r";
    CHECK(bp_hl7_open(&m, s, sizeof s - 1, NULL) == 0);
    bp_hl7_seg it = {{NULL, 0}, 0};
    bp_hl7_next_segment(&m, &it);
    bp_hl7_span f = bp_hl7_field(&m, it.text, 3);
    char out[16];
    size_t n = 99;
    /* s.n + 1 always fits; less never does, even when the decoded text would */
    CHECK(bp_hl7_unescape(&m, f, out, f.n + 1, &n) == 0 && n == 3 && strcmp(out, "A|B") == 0);
    CHECK(bp_hl7_unescape(&m, f, out, f.n, &n) == -1 && n == 0 && out[0] == '\0');
    /* a malformed hex escape is kept as written */
    const char s2[] = "MSH|^~\\&|\\X4\\ \\XZZ\\ \\X\\\r";
    CHECK(bp_hl7_open(&m, s2, sizeof s2 - 1, NULL) == 0);
    it.next = 0;
    bp_hl7_next_segment(&m, &it);
    CHECK_STR(unesc(&m, bp_hl7_field(&m, it.text, 3)), "\\X4\\ \\XZZ\\ \\X\\");
}

static void test_other_delimiters_and_refusals(void)
{
    bp_hl7_msg m;
    const char *why = NULL;
    /* MLLP framing left on, odd delimiters, a short MSH-2 */
    const char s[] = "\x0b  MSH#$*\rPID###a$b*c$d\r\x1c\r";
    CHECK(bp_hl7_open(&m, s, sizeof s - 1, &why) == 0);
    CHECK(m.d.field == '#' && m.d.comp == '$' && m.d.rep == '*' && m.d.esc == 0 && m.d.sub == 0);
    CHECK(m.data[m.len - 1] != 0x1C);
    bp_hl7_seg it = {{NULL, 0}, 0};
    bp_hl7_next_segment(&m, &it);
    bp_hl7_next_segment(&m, &it);
    CHECK_STR(raw(bp_hl7_get(&m, it.text, 3, 2, 2, 0)), "d");
    CHECK(!bp_hl7_next_segment(&m, &it));

    struct {
        const char *in, *why;
    } bad[] = {
        {"", "not HL7 v2: no MSH segment"},
        {"{\"resourceType\":\"Observation\"}", "not HL7 v2: no MSH segment"},
        {"PID|1", "not HL7 v2: no MSH segment"},
        {"MSH", "MSH-1 field separator missing or not a valid delimiter"},
        {"MSHA^~\\&", "MSH-1 field separator missing or not a valid delimiter"},
        {"MSH||", "MSH-2 encoding characters missing"},
        {"MSH|^^\\&|", "MSH-1 and MSH-2 delimiters are not distinct"},
        {"MSH|^~\\&#!|", "MSH-2 encoding characters longer than 5"},
        {"MSH|^~a&|", "MSH-2 encoding characters include a letter, digit or space"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        CHECK(bp_hl7_open(&m, bad[i].in, strlen(bad[i].in), &why) == -1);
        CHECK_STR(why, bad[i].why);
    }
    CHECK(bp_hl7_sniff("\r\n\x0bMSH|^~", 9));
    CHECK(!bp_hl7_sniff("MSHA", 4));
    CHECK(!bp_hl7_sniff("{\"MSH\"", 6));
    CHECK(!bp_hl7_sniff("MS", 2));
}

static void test_escape(void)
{
    bp_hl7_delims d = {'|', '^', '~', '\\', '&'};
    bp_buf b;
    bp_buf_init(&b);
    const char s[] = "a|b^c~d\\e&f\rg\x01";
    bp_hl7_escape(&b, &d, s, sizeof s - 1);
    CHECK_STR(bp_buf_cstr(&b), "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f\\X0D\\g\\X01\\");
    /* and back */
    char msg[256];
    snprintf(msg, sizeof msg, "MSH|^~\\&|%s\r", bp_buf_cstr(&b));
    bp_hl7_msg m;
    CHECK(bp_hl7_open(&m, msg, strlen(msg), NULL) == 0);
    bp_hl7_seg it = {{NULL, 0}, 0};
    bp_hl7_next_segment(&m, &it);
    CHECK_STR(unesc(&m, bp_hl7_field(&m, it.text, 3)), s);
    bp_buf_free(&b);
}

static void test_ack(void)
{
    bp_hl7_msg m;
    CHECK(bp_hl7_open(&m, MSG, sizeof MSG - 1, NULL) == 0);
    bp_buf b;
    bp_buf_init(&b);
    bp_hl7_ack a = {.code = BP_HL7_AA, .control_id = "ACK1", .now_ms = 1796551200123LL};
    CHECK(bp_hl7_ack_build(&b, &m, &a) == 0);
    CHECK_STR(bp_buf_cstr(&b), "MSH|^~\\&|BPPIPE|HOSP|AcmeGW^0123456789ABCDEF^EUI-64|ICU^^|"
                               "20261206100000.123+0000||ACK^R01^ACK|ACK1|P|2.6\r"
                               "MSA|AA|MSG00042\r");

    bp_buf_reset(&b);
    a.code = BP_HL7_AE;
    a.reason = "OBX 3 has no value | see ^docs^";
    a.error_code = 101;
    CHECK(bp_hl7_ack_build(&b, &m, &a) == 0);
    CHECK_CONTAINS(bp_buf_cstr(&b), "\rMSA|AE|MSG00042\r"
                                    "ERR|||101^Required field missing^HL70357|E||||"
                                    "OBX 3 has no value \\F\\ see \\S\\docs\\S\\\r");
    /* the ACK parses, and its ERR-8 reads back as the reason */
    bp_hl7_msg am;
    CHECK(bp_hl7_open(&am, b.data, b.len, NULL) == 0);
    bp_hl7_seg it = {{NULL, 0}, 0};
    int segs = 0;
    while (bp_hl7_next_segment(&am, &it)) {
        segs++;
        if (bp_hl7_seg_is(&am, it.text, "ERR"))
            CHECK_STR(unesc(&am, bp_hl7_field(&am, it.text, 8)), a.reason);
    }
    CHECK(segs == 3);

    /* no readable MSH: still an ACK, AR with an empty MSA-2 */
    bp_buf_reset(&b);
    bp_hl7_ack r = {.code = BP_HL7_AR,
                    .control_id = "ACK2",
                    .now_ms = 0,
                    .reason = "not HL7 v2: no MSH segment",
                    .error_code = 0};
    CHECK(bp_hl7_ack_build(&b, NULL, &r) == 0);
    CHECK_CONTAINS(bp_buf_cstr(&b), "MSH|^~\\&|||||19700101000000.000+0000||ACK|ACK2|P|2.6\r"
                                    "MSA|AR|\rERR|||207^Application internal error^HL70357|E");

    /* the ACK uses the message's own delimiters */
    const char odd[] = "MSH#$*!@#A#F#B#G#20260101##ORU$R01#C1#T#2.5\r";
    CHECK(bp_hl7_open(&m, odd, sizeof odd - 1, NULL) == 0);
    bp_buf_reset(&b);
    bp_hl7_ack c = {.code = BP_HL7_CE, .control_id = "X", .now_ms = 0, .reason = "a#b"};
    CHECK(bp_hl7_ack_build(&b, &m, &c) == 0);
    CHECK_CONTAINS(bp_buf_cstr(&b), "MSH#$*!@#B#G#A#F#");
    CHECK_CONTAINS(bp_buf_cstr(&b), "#ACK$R01$ACK#X#T#2.5\rMSA#CE#C1\r");
    CHECK_CONTAINS(bp_buf_cstr(&b), "a!F!b\r");
    bp_buf_free(&b);

    bp_hl7_span al = {"AL", 2}, ne = {"NE", 2}, er = {"ER", 2}, su = {"SU", 2}, none = {0};
    CHECK(bp_hl7_ack_wanted(al, false) && bp_hl7_ack_wanted(al, true));
    CHECK(!bp_hl7_ack_wanted(ne, false) && !bp_hl7_ack_wanted(ne, true));
    CHECK(!bp_hl7_ack_wanted(er, false) && bp_hl7_ack_wanted(er, true));
    CHECK(bp_hl7_ack_wanted(su, false) && !bp_hl7_ack_wanted(su, true));
    CHECK(bp_hl7_ack_wanted(none, false) && bp_hl7_ack_wanted(none, true));
    CHECK_STR(bp_hl7_ack_code_text(BP_HL7_CR), "CR");
}

int main(void)
{
    test_open_and_segments();
    test_unescape_no_truncation();
    test_other_delimiters_and_refusals();
    test_escape();
    test_ack();
    return CHECK_DONE();
}
