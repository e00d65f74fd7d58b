/* Record accessors and verdict helpers as plugins reach them through the host table. */
#include "check.h"
#include "pipeline/instance.h"
#include "pipeline/record.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static size_t count_annotations(const bp_record *r)
{
    size_t n = 0;
    for (const bp_annotation *a = r->annotations; a; a = a->next)
        n++;
    return n;
}

/* The value of the one annotation named `key` (NAN: none, -1: more than one). */
static double annotation_number(const bp_record *r, const char *key)
{
    double v = NAN;
    int n = 0;
    for (const bp_annotation *a = r->annotations; a; a = a->next)
        if (strcmp(a->key, key) == 0) {
            v = a->number;
            n++;
        }
    return n == 1 ? v : n ? -1 : NAN;
}

int main(void)
{
    bp_arena a;
    bp_arena_init(&a, 128); /* tiny chunks: exercise growth */
    bp_batch b;
    bp_batch_init(&b, &a, 10);
    const bp_host *h = bp_host_table();
    CHECK(h->struct_size == sizeof(bp_host) && h->abi_major == BP_ABI_MAJOR);

    bp_origin o = {sizeof o, "topic-a", 3, 77, "PAT-9", 5, 1000};
    CHECK(h->add_payload(&b, "{}", 2, &o) == BP_OK);
    CHECK(h->add_payload(&b, NULL, 0, NULL) == BP_OK);
    CHECK(h->add_payload(&b, NULL, 3, NULL) == BP_EINVAL);
    CHECK(h->add_payload(NULL, "x", 1, NULL) == BP_EINVAL);
    bp_origin small = {4, "t", 0, 0, NULL, 0, 0};
    CHECK(h->add_payload(&b, "x", 1, &small) == BP_EINVAL);
    CHECK(h->batch_count(&b) == 2);
    CHECK(h->batch_capacity(&b) == 10);
    CHECK(h->batch_at(&b, 2) == NULL);
    CHECK(h->batch_count(NULL) == 0);

    bp_record *r = h->batch_at(&b, 0);
    size_t len = 0;
    CHECK_STR(h->payload(r, &len), "{}");
    CHECK(len == 2);
    CHECK_STR(h->text(r, BP_F_SOURCE_TOPIC), "topic-a");
    CHECK_STR(h->text(r, BP_F_SOURCE_KEY), "PAT-9");
    CHECK_NUM(h->number(r, BP_F_SOURCE_PARTITION), 3);
    CHECK_NUM(h->number(r, BP_F_SOURCE_OFFSET), 77);
    CHECK_NUM(h->number(r, BP_F_SOURCE_TIMESTAMP_MS), 1000);
    CHECK(isnan(h->number(r, BP_F_SYSTOLIC)));
    CHECK(isnan(h->number(r, BP_F_EFFECTIVE_MS)));
    CHECK(h->text(r, BP_F_SYSTOLIC) == NULL); /* not a text field */
    CHECK(isnan(h->number(r, BP_F_PATIENT_ID))); /* not a number field */
    CHECK(h->text(NULL, BP_F_PATIENT_ID) == NULL);

    bp_record *none = h->batch_at(&b, 1);
    CHECK(isnan(h->number(none, BP_F_SOURCE_PARTITION)));
    CHECK(h->text(none, BP_F_SOURCE_TOPIC) == NULL);

    /* verdicts: flag raises severity and is idempotent per reason; severity never lowers */
    CHECK(h->flag(NULL, r, "hypotension_systolic", BP_SEV_WARNING) == BP_OK);
    CHECK(h->flag(NULL, r, "hypotension_systolic", BP_SEV_WARNING) == BP_OK);
    CHECK(r->reasons && !r->reasons->next);
    CHECK_NUM(h->number(r, BP_F_ANOMALY), 1);
    CHECK(h->raise_severity(NULL, r, BP_SEV_CRITICAL) == BP_OK);
    CHECK(h->raise_severity(NULL, r, BP_SEV_NORMAL) == BP_OK);
    CHECK_NUM(h->number(r, BP_F_SEVERITY), BP_SEV_CRITICAL);
    CHECK(h->flag(NULL, r, "Has Spaces", BP_SEV_WARNING) == BP_EINVAL);
    CHECK(h->flag(NULL, r, "ok", (bp_severity)7) == BP_EINVAL);
    CHECK(h->flag(NULL, NULL, "ok", BP_SEV_WARNING) == BP_EINVAL);
    CHECK(h->set_text(NULL, r, BP_F_PATIENT_ID, "x") == BP_EINVAL);
    CHECK(h->set_text(NULL, r, BP_F_CATEGORY, "elevated") == BP_OK);
    CHECK_STR(h->text(r, BP_F_CATEGORY), "elevated");

    /* annotations: replace on repeat, refuse core names, NaN and bad keys */
    CHECK(h->annotate_number(NULL, r, "ml_risk", 0.5) == BP_OK);
    CHECK(h->annotate_number(NULL, r, "ml_risk", 0.25) == BP_OK);
    CHECK(r->annotations && !r->annotations->next && r->annotations->number == 0.25);
    CHECK(h->annotate_number(NULL, r, "ml_risk", NAN) == BP_EINVAL);
    CHECK(h->annotate_text(NULL, r, "severity", "x") == BP_EINVAL);
    CHECK(h->annotate_text(NULL, r, "systolic_pressure", "x") == BP_EINVAL);
    /* a core field is refused whole or before a dot, never as a prefix or with more after it */
    CHECK(h->annotate_text(NULL, r, "severity.note", "x") == BP_EINVAL);
    CHECK(h->annotate_text(NULL, r, "sever", "x") == BP_OK);
    CHECK(h->annotate_text(NULL, r, "severity_note", "x") == BP_OK);
    CHECK(h->annotate_text(NULL, r, "note", NULL) == BP_EINVAL);
    CHECK(h->annotate_bool(NULL, r, "", 1) == BP_EINVAL);

    /* A key is found again by its pointer only while the bytes there are the same: a buffer
     * rewritten with a core name is refused, with another key it is another annotation, and
     * the same key from another pointer replaces the value. */
    char buf[80];
    size_t before = count_annotations(r);
    strcpy(buf, "buf_key");
    CHECK(h->annotate_number(NULL, r, buf, 1) == BP_OK);
    strcpy(buf, "severity");
    CHECK(h->annotate_number(NULL, r, buf, 2) == BP_EINVAL);
    strcpy(buf, "Bad");
    CHECK(h->annotate_number(NULL, r, buf, 2) == BP_EINVAL);
    strcpy(buf, "buf_other");
    CHECK(h->annotate_number(NULL, r, buf, 3) == BP_OK);
    CHECK(h->annotate_number(NULL, r, "buf_key", 4) == BP_OK);
    CHECK(count_annotations(r) == before + 2);
    CHECK(annotation_number(r, "buf_key") == 4 && annotation_number(r, "buf_other") == 3);
    memset(buf, 'a', 65);
    buf[65] = '\0';
    CHECK(h->annotate_number(NULL, r, buf, 1) == BP_EINVAL); /* longer than 64 */

    /* More keys than the process keeps copies of: each still one annotation, replaced on
     * repeat, whichever pointer passes it. */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 400; i++) {
            snprintf(buf, sizeof buf, "many_%d", i);
            CHECK(h->annotate_number(NULL, r, buf, round * 1000 + i) == BP_OK);
        }
    CHECK(count_annotations(r) == before + 2 + 400);
    CHECK(annotation_number(r, "many_0") == 1000 && annotation_number(r, "many_399") == 1399);
    CHECK(h->annotate_number(NULL, r, "many_399", 7) == BP_OK);
    CHECK(annotation_number(r, "many_399") == 7 && count_annotations(r) == before + 402);
    CHECK(h->set_outcome(NULL, r, BP_DELIVERED, NULL) == BP_EINVAL);

    bp_batch_free(&b);
    bp_arena_free(&a);
    return CHECK_DONE();
}
