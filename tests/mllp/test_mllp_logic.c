/* source-mllp's pure logic: the deframer (frames split anywhere, garbage, a cut frame, an
 * oversized one, a missing 0x0D, a partial frame at the end) and the answers (original and
 * enhanced mode, the codes, the ERR segment, what is rejected at arrival). */
#include "mllp_ack.h"
#include "mllp_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

typedef struct got {
    int ev[16];
    char data[16][64];
    size_t len[16];
    unsigned long long total[16];
    int n;
} got;

/* Feeds `in` to a fresh deframer `step` bytes at a time, collecting every event. */
static void feed(const char *in, size_t n, size_t step, size_t max, got *g, uint64_t *garbage)
{
    bp_mllp_deframer d;
    bp_mllp_deframer_init(&d, max, 8);
    memset(g, 0, sizeof *g);
    for (size_t at = 0; at < n;) {
        size_t chunk = n - at < step ? n - at : step, pos = 0;
        while (pos < chunk) {
            size_t used, len;
            const char *data;
            uint64_t total;
            int ev = bp_mllp_next(&d, in + at + pos, chunk - pos, &used, &data, &len, &total);
            pos += used;
            if (ev != BP_MLLP_NONE && g->n < 16) {
                g->ev[g->n] = ev;
                g->len[g->n] = len;
                g->total[g->n] = total;
                memcpy(g->data[g->n], data, len < 63 ? len : 63);
                g->n++;
            }
        }
        at += chunk;
    }
    const char *data;
    size_t len;
    uint64_t total;
    int kind = bp_mllp_take_partial(&d, &data, &len, &total);
    if (kind && g->n < 16) {
        g->ev[g->n] = kind == 2 ? 100 : 101; /* complete at close / cut by close */
        g->len[g->n] = len;
        memcpy(g->data[g->n], data, len < 63 ? len : 63);
        g->n++;
    }
    *garbage = d.garbage;
    bp_mllp_deframer_free(&d);
}

static void test_frames(void)
{
    static const char in[] = "xx\x0b"
                             "ABC\x1c\r\r\n\x0b"
                             "DEF\x1c\x0b"
                             "GH\x0b"
                             "IJ\x1c\r\x0b"
                             "0123456789abcdefXYZ\x1c\r\x0b"
                             "tail";
    size_t n = sizeof in - 1;
    for (size_t step = 1; step <= n; step++) {
        got g;
        uint64_t garbage;
        feed(in, n, step, 16, &g, &garbage);
        CHECK(g.n == 6);
        CHECK(g.ev[0] == BP_MLLP_FRAME && g.len[0] == 3 && memcmp(g.data[0], "ABC", 3) == 0);
        /* no 0x0D after 0x1C: the frame still ends */
        CHECK(g.ev[1] == BP_MLLP_FRAME && g.len[1] == 3 && memcmp(g.data[1], "DEF", 3) == 0);
        /* a start block before the end block cuts the frame */
        CHECK(g.ev[2] == BP_MLLP_CUT && g.len[2] == 2 && memcmp(g.data[2], "GH", 2) == 0);
        CHECK(g.ev[3] == BP_MLLP_FRAME && g.len[3] == 2 && memcmp(g.data[3], "IJ", 2) == 0);
        /* over max (16): the first keep_bytes (8) and the whole length */
        CHECK(g.ev[4] == BP_MLLP_OVERSIZED && g.len[4] == 8 && g.total[4] == 19 &&
              memcmp(g.data[4], "01234567", 8) == 0);
        CHECK(g.ev[5] == 101 && g.len[5] == 4 && memcmp(g.data[5], "tail", 4) == 0);
        CHECK(garbage == 2); /* "xx"; the line end after a frame is not garbage */
    }
}

static const char oru[] = "MSH|^~\\&|MON|WARD|BPP|HOSP|20240101||ORU^R01^ORU_R01|C1|P|2.6%s\r"
                          "PID|||P1\r";

static int answer(const char *tail, bp_mllp_outcome o, const char *reason, char *text, size_t cap,
                  const char *codes[2])
{
    char msg[512];
    snprintf(msg, sizeof msg, oru, tail);
    bp_buf out;
    bp_buf_init(&out);
    int n = bp_mllp_answer(&out, msg, strlen(msg), o, reason ? 207 : 0, reason, "ID", 0, codes);
    snprintf(text, cap, "%.*s", (int)out.len, out.data ? out.data : "");
    bp_buf_free(&out);
    return n;
}

static void test_answers(void)
{
    char t[2048];
    const char *c[2];
    /* original mode: one answer, sender and receiver swapped, MSA-2 the control id */
    CHECK(answer("", BP_MLLP_ACCEPT, NULL, t, sizeof t, c) == 1 && strcmp(c[0], "AA") == 0);
    CHECK(t[0] == 0x0B && strstr(t, "MSH|^~\\&|BPP|HOSP|MON|WARD|") == t + 1);
    CHECK(strstr(t, "\rMSA|AA|C1\r\x1c\r") != NULL && !strstr(t, "ERR"));
    CHECK(answer("", BP_MLLP_ERROR, "OBX 3 has no value", t, sizeof t, c) == 1 &&
          strcmp(c[0], "AE") == 0 && strstr(t, "MSA|AE|C1\rERR|||207^") &&
          strstr(t, "OBX 3 has no value"));
    /* enhanced mode as IHE PCD-01 writes it (AL/NE): the accept acknowledgement only */
    CHECK(answer("|||AL|NE", BP_MLLP_ACCEPT, NULL, t, sizeof t, c) == 1 &&
          strcmp(c[0], "CA") == 0 && strstr(t, "MSA|CA|C1"));
    CHECK(answer("|||AL|NE", BP_MLLP_REJECT, "r", t, sizeof t, c) == 1 && strcmp(c[0], "CR") == 0);
    /* ER: only on errors; SU: only on success; NE/NE: nothing */
    CHECK(answer("|||ER|NE", BP_MLLP_ACCEPT, NULL, t, sizeof t, c) == 0 && t[0] == 0);
    CHECK(answer("|||ER|NE", BP_MLLP_ERROR, "x", t, sizeof t, c) == 1 && strcmp(c[0], "CE") == 0);
    CHECK(answer("|||SU|NE", BP_MLLP_ERROR, "x", t, sizeof t, c) == 0);
    CHECK(answer("|||NE|NE", BP_MLLP_ACCEPT, NULL, t, sizeof t, c) == 0);
    /* both asked for: the accept acknowledgement, then the application one */
    CHECK(answer("|||AL|AL", BP_MLLP_ACCEPT, NULL, t, sizeof t, c) == 2 &&
          strcmp(c[0], "CA") == 0 && strcmp(c[1], "AA") == 0 && strstr(t, "|ID-A|"));
    /* MSH-15 NE, MSH-16 AL is original mode written out */
    CHECK(answer("|||NE|AL", BP_MLLP_ERROR, "x", t, sizeof t, c) == 1 && strcmp(c[0], "AE") == 0);
    /* no MSH at all: AR with the standard delimiters and an empty MSA-2 */
    bp_buf out;
    bp_buf_init(&out);
    CHECK(bp_mllp_answer(&out, "\x01\x02garbage", 9, BP_MLLP_REJECT, 100, "not HL7 v2", "ID", 0,
                         c) == 1 &&
          strcmp(c[0], "AR") == 0);
    CHECK(out.len && strstr(bp_buf_cstr(&out), "MSA|AR|\rERR|||100^"));
    bp_buf_free(&out);
}

static int check(const char *msg, const char *ids)
{
    char why[200];
    return bp_mllp_check(msg, strlen(msg), ids, why, sizeof why);
}

static void test_checks(void)
{
    char msg[512];
    snprintf(msg, sizeof msg, oru, "");
    CHECK(check(msg, "P") == 0);
    CHECK(check(msg, "D, T") == 202);
    CHECK(check("MSH|^~\\&|A|B|C|D|2024||ADT^A01|C|P|2.6\r", "P") == 200);
    CHECK(check("MSH|^~\\&|A|B|C|D|2024||ORU^R30|C|P|2.6\r", "P") == 201);
    CHECK(check("MSH|^~\\&|A|B|C|D|2024||ORU^R01|C|P|3.0\r", "P") == 203);
    CHECK(check("{\"resourceType\":\"Observation\"}", "P") == 100);
    CHECK(check("", "P") == 100);
}

int main(void)
{
    test_frames();
    test_answers();
    test_checks();
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures != 0;
}
