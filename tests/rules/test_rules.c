/* The clinical rules at and around every boundary, table-driven; the CSV reader and the
 * personalised-threshold profiles it reads. */
#include "check.h"
#include "clinical/bp_rules.h"
#include "clinical/csv.h"
#include "clinical/profiles.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct row {
    double s, d;
    const char *reasons; /* codes joined by ',' */
    const char *type, *category;
    int severity;
} row;

static const row rows[] = {
    /* systolic 140/141: > 140 flags; 140 is already stage 2 */
    {140, 70, "", "normal", "hypertension_stage_2", 0},
    {141, 70, "hypertension_systolic", "hypertension", "hypertension_stage_2", 1},
    {139, 70, "", "normal", "hypertension_stage_1", 0},
    {139.6, 70, "", "normal", "hypertension_stage_1", 0},
    /* systolic 89/90: < 90 flags */
    {90, 70, "", "normal", "normal", 0},
    {89, 70, "hypotension_systolic", "hypotension", "hypotension", 1},
    /* diastolic 90/91: > 90 flags; 90 is stage 2 */
    {115, 90, "", "normal", "hypertension_stage_2", 0},
    {115, 91, "hypertension_diastolic", "hypertension", "hypertension_stage_2", 1},
    {115, 89, "", "normal", "hypertension_stage_1", 0},
    /* diastolic 59/60: < 60 flags */
    {115, 60, "", "normal", "normal", 0},
    {115, 59, "hypotension_diastolic", "hypotension", "hypotension", 1},
    /* 120 and 130 systolic: elevated and stage 1 */
    {119, 79, "", "normal", "normal", 0},
    {120, 79, "", "normal", "elevated", 0},
    {129, 79, "", "normal", "elevated", 0},
    {120, 80, "", "normal", "hypertension_stage_1", 0}, /* elevated needs diastolic < 80 */
    {130, 70, "", "normal", "hypertension_stage_1", 0},
    /* crisis: systolic 180/181, diastolic 120/121 */
    {180, 100, "hypertension_systolic,hypertension_diastolic", "hypertension",
     "hypertension_stage_2", 1},
    {181, 100, "hypertension_systolic,hypertension_diastolic", "hypertension",
     "hypertensive_crisis", 2},
    {150, 120, "hypertension_systolic,hypertension_diastolic", "hypertension",
     "hypertension_stage_2", 1},
    {150, 121, "hypertension_systolic,hypertension_diastolic", "hypertension",
     "hypertensive_crisis", 2},
    /* the higher category wins; hypertension outranks hypotension in the anomaly type */
    {85, 95, "hypotension_systolic,hypertension_diastolic", "hypertension",
     "hypertension_stage_2", 1},
    {125, 55, "hypotension_diastolic", "hypotension", "hypotension", 1},
    /* critical low bounds */
    {69, 50, "hypotension_systolic,hypotension_diastolic", "hypotension", "hypotension", 2},
    {75, 39, "hypotension_systolic,hypotension_diastolic", "hypotension", "hypotension", 2},
    /* one value: judged on that value */
    {NAN, 95, "hypertension_diastolic", "hypertension", "hypertension_stage_2", 1},
    {150, NAN, "hypertension_systolic", "hypertension", "hypertension_stage_2", 1},
    {125, NAN, "", "normal", "elevated", 0},
    {NAN, 85, "", "normal", "hypertension_stage_1", 0},
    {NAN, 55, "hypotension_diastolic", "hypotension", "hypotension", 1},
};

static void reasons_text(unsigned bits, char *out, size_t len)
{
    out[0] = '\0';
    for (unsigned b = 1; b <= BP_R_HYPOTENSION_DIASTOLIC; b <<= 1) {
        if (!(bits & b))
            continue;
        if (out[0])
            strncat(out, ",", len - strlen(out) - 1);
        strncat(out, bp_reason_code(b), len - strlen(out) - 1);
    }
}

/* Reads all of `text` (len bytes, NULs allowed) as CSV; the records joined as
 * "line:cell|cell;..." in `out`, or "ERR <why>" at the first error. */
static void csv_text(const char *text, size_t len, char *out, size_t out_len)
{
    out[0] = '\0';
    FILE *f = len ? fmemopen((void *)text, len, "rb") : fopen("/dev/null", "rb");
    if (!f) {
        snprintf(out, out_len, "ERR fmemopen");
        return;
    }
    bp_csv c;
    bp_csv_init(&c, f);
    char **cells, why[200];
    size_t n;
    int got;
    while ((got = bp_csv_next(&c, &cells, &n, why, sizeof why)) == 1) {
        size_t used = strlen(out);
        snprintf(out + used, out_len - used, "%d:", bp_csv_line(&c));
        for (size_t i = 0; i < n; i++) {
            used = strlen(out);
            snprintf(out + used, out_len - used, "%s%s", i ? "|" : "", cells[i]);
        }
        used = strlen(out);
        snprintf(out + used, out_len - used, ";");
    }
    if (got < 0)
        snprintf(out, out_len, "ERR %s", why);
    bp_csv_free(&c);
    fclose(f);
}

#define CSV(text, expected)                                                                \
    do {                                                                                   \
        char got_[4096];                                                                   \
        csv_text(text, sizeof text - 1, got_, sizeof got_);                                \
        CHECK_STR(got_, expected);                                                         \
    } while (0)

static void csv_tests(void)
{
    CSV("", "");
    CSV("\xEF\xBB\xBF", "");
    CSV("a,b\nc,d\n", "1:a|b;2:c|d;");
    CSV("a,b\r\nc,d\r\n", "1:a|b;2:c|d;");      /* CRLF */
    CSV("a,b\rc,d", "1:a|b;2:c|d;");            /* CR alone; no final line end */
    CSV("\xEF\xBB\xBF\"patient_id\", \"systolic_high\"\r\n\"PAT-001\", 150\r\n",
        "1:patient_id|systolic_high;2:PAT-001|150;"); /* what a spreadsheet writes */
    CSV("  a  ,\tb\t, \" c \" \n", "1:a|b| c ;");  /* trimmed outside quotes, kept inside */
    CSV("a,,\n,\n", "1:a||;2:|;");               /* empty cells */
    CSV("\"say \"\"hi\"\", ok\",x\n", "1:say \"hi\", ok|x;");
    CSV("\"two\nlines\",x\r\nnext,y\n", "1:two\nlines|x;3:next|y;"); /* line counted */
    CSV("\"crlf\r\ninside\",x\r\nnext\r\n", "1:crlf\r\ninside|x;3:next;");
    CSV("\n\r\n   \n\ta\n\n", "4:a;");             /* blank lines skipped */
    CSV("\"\"\n", "1:;");                        /* a quoted empty cell is a record */
    CSV("\xEF\xBC\x8C,x\n", "1:\xEF\xBC\x8C|x;"); /* starts like a BOM, is not one */
    CSV("\xEF\xBB,x\n", "1:\xEF\xBB|x;");
    CSV("a\n\"b,c\nd\n", "ERR 2: unterminated quoted field (the quote opened on this line is "
                         "never closed)");
    CSV("a\n\"b\"c,d\n", "ERR 2: 'c' after the closing quote of a field (a quote inside a "
                         "quoted field is written \"\")");
    CSV("a\nb\"c\n", "ERR 2: a quote inside an unquoted field (quote the whole field and write "
                     "the quote as \"\")");
    CSV("a\nb\0c\n", "ERR 2: a NUL byte");
    CSV("\"a\0\"\n", "ERR 1: a NUL byte inside a quoted field");

    /* no line is too long: a 100 000-byte cell comes back whole */
    size_t big = 100000;
    char *text = malloc(big + 8);
    CHECK(text != NULL);
    if (!text)
        return;
    memset(text, 'x', big);
    memcpy(text + big, ",y\n", 4);
    FILE *f = fmemopen(text, big + 3, "rb");
    bp_csv c;
    bp_csv_init(&c, f);
    char **cells, why[200];
    size_t n;
    CHECK(bp_csv_next(&c, &cells, &n, why, sizeof why) == 1);
    CHECK(n == 2 && strlen(cells[0]) == big && strcmp(cells[1], "y") == 0);
    CHECK(bp_csv_next(&c, &cells, &n, why, sizeof why) == 0);
    bp_csv_free(&c);
    fclose(f);
    free(text);
}

/* Writes `text` to a fresh file under $TMPDIR; its path goes to `path`. */
static void temp_file(const char *text, size_t len, char *path, size_t path_len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, path_len, "%s/profiles-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(fd >= 0 && write(fd, text, len) == (ssize_t)len);
    if (fd >= 0)
        close(fd);
}

/* Loads `text` as a profiles file: 0 and the profiles, or -1 and `why` without the path. */
static int load(const char *text, size_t len, bp_profiles *p, char *why, size_t why_len)
{
    char path[512], full[700];
    temp_file(text, len, path, sizeof path);
    bp_thresholds base = bp_thresholds_default();
    int rc = bp_profiles_load(path, &base, p, full, sizeof full);
    size_t skip = strlen(path);
    snprintf(why, why_len, "%s", rc == 0 ? "" : strncmp(full, path, skip) == 0 ? full + skip
                                                                                 : full);
    unlink(path);
    return rc;
}

#define LOAD_FAILS(text, expected)                                                         \
    do {                                                                                   \
        bp_profiles p_;                                                                    \
        char why_[700];                                                                    \
        CHECK(load(text, sizeof text - 1, &p_, why_, sizeof why_) == -1);                  \
        CHECK_STR(why_, expected);                                                         \
        CHECK(p_.n == 0 && p_.items == NULL);                                              \
    } while (0)

static void profiles_tests(void)
{
    /* a spreadsheet's export: BOM, quoted header and ids, ", " separators, CRLF, a quoted
     * id with a comma and a space in it */
    static const char sheet[] = "\xEF\xBB\xBF\"patient_id\", \"systolic_high\", \"diastolic_high\""
                                "\r\n\"PAT-001\", \"100\", \r\n\"PAT 002, ward B\", 150, 95\r\n"
                                "PAT-003 , ,\r\n";
    bp_profiles p;
    char why[700];
    CHECK(load(sheet, sizeof sheet - 1, &p, why, sizeof why) == 0);
    CHECK_STR(why, "");
    CHECK(p.n == 3);
    const bp_thresholds *t = bp_profiles_find(&p, "PAT-001");
    CHECK(t && t->systolic_high == 100 && t->diastolic_high == 90);
    t = bp_profiles_find(&p, "PAT 002, ward B");
    CHECK(t && t->systolic_high == 150 && t->diastolic_high == 95);
    CHECK(bp_profiles_find(&p, "\"PAT-001\"") == NULL);
    CHECK(bp_profiles_find(&p, "PAT-009") == NULL);
    /* PAT-003 (line 4) matched nothing */
    const bp_profile *first[3];
    CHECK(bp_profiles_unmatched(&p, first, 3) == 1);
    CHECK(first[0]->line == 4 && strcmp(first[0]->patient_id, "PAT-003") == 0);
    bp_profiles_free(&p);

    /* a long id (the old reader cut lines at 1023 bytes) */
    char longcsv[3000];
    memset(longcsv, 0, sizeof longcsv);
    strcpy(longcsv, "patient_id,systolic_high\n");
    size_t at = strlen(longcsv);
    memset(longcsv + at, 'L', 2000);
    strcpy(longcsv + at + 2000, ",120\n");
    CHECK(load(longcsv, strlen(longcsv), &p, why, sizeof why) == 0);
    char id[2001];
    memset(id, 'L', 2000);
    id[2000] = '\0';
    t = bp_profiles_find(&p, id);
    CHECK(p.n == 1 && t && t->systolic_high == 120);
    id[1999] = '\0';
    CHECK(bp_profiles_find(&p, id) == NULL);
    bp_profiles_free(&p);

    /* unmatched ones in file order, the first 3; a reload keeps what matched */
    static const char five[] = "patient_id\nE\nD\nC\nB\nA\n";
    CHECK(load(five, sizeof five - 1, &p, why, sizeof why) == 0);
    CHECK(bp_profiles_find(&p, "D") != NULL);
    CHECK(bp_profiles_unmatched(&p, first, 3) == 4);
    CHECK(first[0]->line == 2 && first[1]->line == 4 && first[2]->line == 5);
    CHECK(bp_profiles_unmatched(&p, first, 1) == 4 && first[0]->line == 2);
    bp_profiles fresh;
    static const char again[] = "patient_id\nA\nD\nF\n";
    CHECK(load(again, sizeof again - 1, &fresh, why, sizeof why) == 0);
    bp_profiles_carry_matches(&fresh, &p);
    CHECK(bp_profiles_unmatched(&fresh, first, 3) == 2);
    CHECK(first[0]->line == 2 && first[1]->line == 4); /* A and F; D was seen */
    bp_profiles_free(&fresh);
    bp_profiles_free(&p);

    /* malformed files: refused with path:line */
    LOAD_FAILS("patient_id,systolic_high\nA,150\n\"B,160\nC,170\n",
               ":3: unterminated quoted field (the quote opened on this line is never closed)");
    LOAD_FAILS("patient_id,systolic_high\r\nA,150\r\nB,160,170\r\n",
               ":3: 3 cells where the header has 2 columns (a value with a comma needs quotes)");
    LOAD_FAILS("patient_id,systolic_high\nA\n",
               ":2: 1 cells where the header has 2 columns (a value with a comma needs quotes)");
    LOAD_FAILS("patient_id,systolic_high\n\"A\"x,150\n",
               ":2: 'x' after the closing quote of a field (a quote inside a quoted field is "
               "written \"\")");
    LOAD_FAILS("patient_id,systolic_high,systolic_high\nA,150,150\n",
               ":1: column 'systolic_high' appears twice");
    LOAD_FAILS("\"patient_id\", \"systolic_high\"\n\"\", 150\n", ":2: no patient_id");
    LOAD_FAILS("", ":1: empty file: the first line must name the columns (patient_id,...)");
    LOAD_FAILS("patient_id\n\"A\nB\"\n\"A\nB\"\n",
               ":4: patient 'A\nB' is listed twice (first at line 2)");
}

int main(void)
{
    csv_tests();
    profiles_tests();
    bp_thresholds t = bp_thresholds_default();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        bp_verdict v = bp_rules_judge(&t, r->s, r->d);
        char got[200];
        reasons_text(v.reasons, got, sizeof got);
        fprintf(stderr, "row %zu: %g/%g\n", i, r->s, r->d);
        CHECK_STR(got, r->reasons);
        CHECK_STR(bp_anomaly_type(v.reasons), r->type);
        CHECK_STR(bp_category_name(v.category), r->category);
        CHECK(v.severity == r->severity);
        CHECK(bp_rules_is_anomaly(&t, r->s, r->d) == (r->reasons[0] != '\0'));
    }
    /* no value at all: no verdict, no category */
    bp_verdict none = bp_rules_judge(&t, NAN, NAN);
    CHECK(none.reasons == 0 && bp_category_name(none.category) == NULL);

    /* custom thresholds move the flags, not the guideline categories */
    bp_thresholds c = t;
    c.systolic_high = 130;
    bp_verdict v = bp_rules_judge(&c, 135, 70);
    CHECK(v.reasons == BP_R_HYPERTENSION_SYSTOLIC);
    CHECK_STR(bp_category_name(v.category), "hypertension_stage_1");

    /* inconsistent thresholds are refused with a reason */
    CHECK(bp_thresholds_check(&t) == NULL);
    c = t;
    c.systolic_low = 150;
    CHECK_CONTAINS(bp_thresholds_check(&c), "systolic_low must be below systolic_high");
    c = t;
    c.critical_diastolic_high = 100;
    c.diastolic_high = 110;
    CHECK(bp_thresholds_check(&c) != NULL);
    /* ESC/ESH 2018 at its boundaries (the higher category wins; ISH needs both values) */
    struct { double s, d; const char *cat; } esh[] = {
        {119, 79, "optimal"}, {120, 79, "normal"}, {119, 80, "normal"}, {129, 84, "normal"},
        {130, 84, "high_normal"}, {125, 85, "high_normal"}, {139, 89, "high_normal"},
        {140, 90, "grade_1"}, {135, 90, "grade_1"}, {159, 99, "grade_1"}, {160, 100, "grade_2"},
        {150, 100, "grade_2"}, {179, 109, "grade_2"}, {180, 110, "grade_3"}, {150, 110, "grade_3"},
        {140, 89, "isolated_systolic_hypertension"}, {185, 70, "isolated_systolic_hypertension"},
        {139.9, 89.9, "high_normal"}, {145, NAN, "grade_1"}, {NAN, 95, "grade_1"},
    };
    for (size_t i = 0; i < sizeof esh / sizeof esh[0]; i++) {
        fprintf(stderr, "esc/esh %g/%g\n", esh[i].s, esh[i].d);
        CHECK_STR(bp_scheme_category(BP_SCHEME_ESC_ESH_2018, esh[i].s, esh[i].d), esh[i].cat);
    }
    /* ESC 2024 */
    struct { double s, d; const char *cat; } esc[] = {
        {119, 69, "non_elevated"}, {120, 69, "elevated"}, {119, 70, "elevated"},
        {139, 89, "elevated"}, {140, 60, "hypertension"}, {110, 90, "hypertension"},
        {NAN, 65, "non_elevated"},
    };
    for (size_t i = 0; i < sizeof esc / sizeof esc[0]; i++)
        CHECK_STR(bp_scheme_category(BP_SCHEME_ESC_2024, esc[i].s, esc[i].d), esc[i].cat);
    CHECK(bp_scheme_category(BP_SCHEME_ESC_2024, NAN, NAN) == NULL);
    CHECK_STR(bp_scheme_category(BP_SCHEME_ACC_AHA_2017, 181, 80), "hypertensive_crisis");
    CHECK(bp_scheme_parse("esc_2024") == BP_SCHEME_ESC_2024 && bp_scheme_parse("who") == -1);

    /* NEWS2 bands, each edge */
    struct { double v; int score; } sys[] = {{90, 3}, {91, 2}, {100, 2}, {101, 1}, {110, 1},
                                             {111, 0}, {219, 0}, {220, 3}, {60, 3}};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        CHECK(bp_news2_systolic(sys[i].v) == sys[i].score);
    struct { double v; int score; } hr[] = {{40, 3}, {41, 1}, {50, 1}, {51, 0}, {90, 0}, {91, 1},
                                            {110, 1}, {111, 2}, {130, 2}, {131, 3}};
    for (size_t i = 0; i < sizeof hr / sizeof hr[0]; i++)
        CHECK(bp_news2_pulse(hr[i].v) == hr[i].score);
    CHECK(bp_news2_systolic(NAN) == -1 && bp_news2_pulse(NAN) == -1);
    return CHECK_DONE();
}
