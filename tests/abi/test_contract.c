/* What include/bppipe/plugin.h promises a detector's author about annotations, anomaly_type and
 * BP_HOST_HAS, checked through the host table a plugin is given: the reserved names (alone and
 * before a '.'), non-finite numbers refused and left out of the document, a key set again
 * replacing value and type, a flagged reading never "normal", and BP_HOST_HAS against a host
 * table cut short. */
#include "check.h"
#include "pipeline/document.h"
#include "pipeline/instance.h"
#include "pipeline/record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The list of plugin.h (annotate_*), in its order. */
static const char *const reserved[] = {
    "@timestamp",    "stable_id", "observation_id",    "patient_id",         "practitioner_id",
    "device_id",     "status",    "systolic_pressure", "diastolic_pressure", "heart_rate",
    "identified_by", "anomaly",   "anomaly_type",      "anomaly_details",    "bp_category",
    "severity",      "route",     "invalid_reason",    "skip_reason",        "resource_type",
    "resource_code", "source",    "payload",           "effective_time",     "mean_pressure",
    "hl7v2"};

static bp_record *reading(const bp_host *h, bp_batch *b)
{
    size_t before = h->batch_count(b);
    CHECK(h->add_payload(b, "{}", 2, NULL) == BP_OK);
    return h->batch_at(b, before);
}

static const char *doc(const bp_host *h, const bp_record *r)
{
    const char *d = h->document(NULL, r, 0, NULL);
    CHECK(d != NULL);
    return d ? d : "";
}

static void reserved_names(const bp_host *h, bp_batch *b)
{
    bp_record *r = reading(h, b);
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        char dotted[80];
        snprintf(dotted, sizeof dotted, "%s.x", reserved[i]);
        if (reserved[i][0] == '@') {
            /* not a key character at all: refused as malformed as well */
            CHECK(h->annotate_text(NULL, r, reserved[i], "x") == BP_EINVAL);
            continue;
        }
        CHECK(h->annotate_text(NULL, r, reserved[i], "x") == BP_EINVAL);
        CHECK(h->annotate_number(NULL, r, reserved[i], 1) == BP_EINVAL);
        CHECK(h->annotate_bool(NULL, r, reserved[i], 1) == BP_EINVAL);
        CHECK(h->annotate_text(NULL, r, dotted, "x") == BP_EINVAL);
    }
    CHECK(r->annotations == NULL); /* a refusal changes nothing */
    /* A name that only starts like a reserved one is the plugin's own. */
    CHECK(h->annotate_text(NULL, r, "source_quality", "good") == BP_OK);
    CHECK(h->annotate_number(NULL, r, "severity_score", 2) == BP_OK);
    CHECK(h->annotate_text(NULL, r, "acme.model", "v2") == BP_OK);
    CHECK(strstr(doc(h, r), "\"source_quality\":\"good\",\"severity_score\":2,"
                            "\"acme.model\":\"v2\",\"source\":{") != NULL);
    /* Keys: 1 to 64 of [a-z0-9_.] */
    char longest[66];
    memset(longest, 'k', 64);
    longest[64] = '\0';
    CHECK(h->annotate_bool(NULL, r, longest, 1) == BP_OK);
    longest[64] = 'k';
    longest[65] = '\0';
    CHECK(h->annotate_bool(NULL, r, longest, 1) == BP_EINVAL);
    CHECK(h->annotate_bool(NULL, r, "Upper", 1) == BP_EINVAL);
    CHECK(h->annotate_bool(NULL, r, "", 1) == BP_EINVAL);
}

static void non_finite(const bp_host *h, bp_batch *b)
{
    bp_record *r = reading(h, b);
    CHECK(h->annotate_number(NULL, r, "acme_score", NAN) == BP_EINVAL);
    CHECK(h->annotate_number(NULL, r, "acme_score", INFINITY) == BP_EINVAL);
    CHECK(h->annotate_number(NULL, r, "acme_score", -INFINITY) == BP_EINVAL);
    CHECK(strstr(doc(h, r), "acme_score") == NULL); /* left out, not null */
    CHECK(h->annotate_number(NULL, r, "acme_score", 0.5) == BP_OK);
    CHECK(h->annotate_number(NULL, r, "acme_score", NAN) == BP_EINVAL);
    CHECK(strstr(doc(h, r), "\"acme_score\":0.5") != NULL); /* keeps the value set before */
    /* Set again with another type: value and type replaced, one key. */
    CHECK(h->annotate_bool(NULL, r, "acme_score", 1) == BP_OK);
    const char *d = doc(h, r);
    CHECK(strstr(d, "\"acme_score\":true") != NULL);
    CHECK(strstr(strstr(d, "acme_score") + 1, "acme_score") == NULL);
    /* Text is any text, escaped; NULL is refused. */
    CHECK(h->annotate_text(NULL, r, "acme_note", "say \"hi\"\n") == BP_OK);
    CHECK(strstr(doc(h, r), "\"acme_note\":\"say \\\"hi\\\"\\n\"") != NULL);
    CHECK(h->annotate_text(NULL, r, "acme_other", NULL) == BP_EINVAL);
}

static void anomaly_type(const bp_host *h, bp_batch *b)
{
    /* unflagged and untyped: NULL, serialized "normal" */
    bp_record *r = reading(h, b);
    CHECK(h->text(r, BP_F_ANOMALY_TYPE) == NULL);
    CHECK(strstr(doc(h, r), "\"anomaly\":false,\"anomaly_type\":\"normal\"") != NULL);

    /* flagged, untyped: from the first reason code naming a direction */
    r = reading(h, b);
    CHECK(h->flag(NULL, r, "rapid_rise", BP_SEV_WARNING) == BP_OK);
    CHECK_STR(h->text(r, BP_F_ANOMALY_TYPE), "other");
    CHECK(h->flag(NULL, r, "hypotension_diastolic", BP_SEV_WARNING) == BP_OK);
    CHECK(h->flag(NULL, r, "hypertension_systolic", BP_SEV_WARNING) == BP_OK);
    CHECK_STR(h->text(r, BP_F_ANOMALY_TYPE), "hypotension");
    CHECK(strstr(doc(h, r), "\"anomaly_type\":\"hypotension\"") != NULL);

    /* a "normal" after a flag changes nothing; a type of substance wins, last call first */
    CHECK(h->set_text(NULL, r, BP_F_ANOMALY_TYPE, "normal") == BP_OK);
    CHECK_STR(h->text(r, BP_F_ANOMALY_TYPE), "hypotension");
    CHECK(h->set_text(NULL, r, BP_F_ANOMALY_TYPE, "rapid_change") == BP_OK);
    CHECK(h->set_text(NULL, r, BP_F_ANOMALY_TYPE, "normal") == BP_OK);
    CHECK_STR(h->text(r, BP_F_ANOMALY_TYPE), "rapid_change");

    /* typed "normal" first, flagged later: never normal */
    r = reading(h, b);
    CHECK(h->set_text(NULL, r, BP_F_ANOMALY_TYPE, "normal") == BP_OK);
    CHECK(h->flag(NULL, r, "ext_high", BP_SEV_WARNING) == BP_OK);
    CHECK_STR(h->text(r, BP_F_ANOMALY_TYPE), "other");
    CHECK(strstr(doc(h, r), "\"anomaly\":true,\"anomaly_type\":\"other\"") != NULL);

    /* unflagged but typed: the type set */
    r = reading(h, b);
    CHECK(h->set_text(NULL, r, BP_F_ANOMALY_TYPE, "borderline") == BP_OK);
    CHECK_STR(h->text(r, BP_F_ANOMALY_TYPE), "borderline");
    CHECK(h->set_text(NULL, r, BP_F_ANOMALY_TYPE, "Not A Code") == BP_EINVAL);
    CHECK(h->set_text(NULL, r, BP_F_PATIENT_ID, "p") == BP_EINVAL);
}

static void host_has(const bp_host *h)
{
    CHECK(BP_HOST_HAS(h, log));
    CHECK(BP_HOST_HAS(h, count)); /* the last member */
    const bp_host *none = NULL;
    CHECK(!BP_HOST_HAS(none, log));
    /* A host built before `count` was appended (were it appended later) */
    bp_host older = *h;
    older.struct_size = (uint32_t)offsetof(bp_host, count);
    CHECK(BP_HOST_HAS(&older, set_outcome));
    CHECK(!BP_HOST_HAS(&older, count));
    older.struct_size = (uint32_t)(offsetof(bp_host, count) + sizeof older.count - 1);
    CHECK(!BP_HOST_HAS(&older, count));
}

/* A detector's and a sink's context, as the pipeline makes them (name, plugin, no counters). */
static bp_ctx *context(const char *name, const bp_loaded *plugin)
{
    bp_ctx *ctx = calloc(1, sizeof *ctx);
    CHECK(ctx != NULL);
    if (ctx) {
        ctx->name = strdup(name);
        ctx->plugin = plugin;
    }
    return ctx;
}

static void counters_and_refusals(const bp_host *h, bp_batch *b)
{
    static const bp_plugin det_desc = {
        .struct_size = sizeof(bp_plugin), .name = "x", .kind = BP_KIND_DETECTOR};
    static const bp_plugin sink_desc = {
        .struct_size = sizeof(bp_plugin), .name = "y", .kind = BP_KIND_SINK};
    const bp_loaded det_so = {NULL, NULL, &det_desc}, sink_so = {NULL, NULL, &sink_desc};
    bp_ctx *det = context("detector.x", &det_so), *sink = context("sink.y", &sink_so);
    if (!det || !sink)
        return;
    bp_record *r = reading(h, b);

    /* count(): created at the first call (a delta of 0 too), summed, non-finite ignored */
    h->count(det, "seen", 2);
    h->count(det, "seen", 0.5);
    h->count(det, "seen", NAN);
    h->count(det, "seen", INFINITY);
    h->count(det, "zero", 0);
    CHECK(det->n_counters == 2);
    CHECK_STR(det->counters[0].name, "seen");
    CHECK_NUM(det->counters[0].value, 2.5);
    CHECK_STR(det->counters[1].name, "zero");
    CHECK_NUM(det->counters[1].value, 0);

    /* a refused annotation is not counted for the instance that tried */
    CHECK(h->annotate_number(det, r, "acme_score", NAN) == BP_EINVAL);
    CHECK(h->annotate_text(det, r, "patient_id", "x") == BP_EINVAL);
    CHECK(det->n_counters == 2);
    CHECK(h->annotate_number(det, r, "acme_score", 1) == BP_OK);

    /* verdicts are refused to a sink */
    CHECK(h->flag(sink, r, "x", BP_SEV_WARNING) == BP_EINVAL);
    CHECK(h->set_text(sink, r, BP_F_CATEGORY, "x") == BP_EINVAL);
    CHECK(h->annotate_bool(sink, r, "acme_ok", 1) == BP_EINVAL);
    CHECK(h->number(r, BP_F_ANOMALY) == 0);
    CHECK(sink->n_counters == 0);
    bp_ctx_free(det);
    bp_ctx_free(sink);
}

int main(void)
{
    bp_arena a;
    bp_arena_init(&a, 4096);
    bp_batch b;
    bp_batch_init(&b, &a, 100);
    const bp_host *h = bp_host_table();
    reserved_names(h, &b);
    non_finite(h, &b);
    anomaly_type(h, &b);
    host_has(h);
    counters_and_refusals(h, &b);
    bp_batch_free(&b);
    bp_arena_free(&a);
    bp_document_thread_done();
    return CHECK_DONE();
}
