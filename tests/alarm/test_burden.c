/* The burden figures (src/alarm/burden.h) on a small ward whose every figure was worked out by
 * hand (the comments show the sums), then the quantile's error bound, the top 10 % selection
 * against a sort, and the memory bounds. */
#include "alarm/burden.h"
#include "alarm/burden_report.h"

#include "../check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define T0 1000000LL

static const bp_burden_figures *row_named(bp_burden *b, const char *name, bp_burden_figures *out)
{
    for (size_t i = 0; i < bp_burden_rows(b); i++) {
        bp_burden_row(b, i, out);
        if (strcmp(out->name, name) == 0)
            return out;
    }
    return NULL;
}

static bool near(double got, double want, double rel)
{
    return fabs(got - want) <= rel * fabs(want);
}

static void event(bp_burden *b, const char *id, const char *ev, const char *prio, const char *cond,
                  const char *patient, int64_t raised_s, int64_t at_s, int tier)
{
    bp_burden_event e = {.alarm_id = id,
                         .event = ev,
                         .priority = prio,
                         .condition = cond,
                         .patient_id = patient,
                         .event_ms = T0 + at_s * 1000,
                         .raised_ms = T0 + raised_s * 1000,
                         .tier = tier};
    bp_burden_add_event(b, &e);
}

/* Ten patients p0..p9, one reading each at T0 and one two days later: 10 patients x 2 days =
 * 20 patient-days. Eight alarms: crisis (high) p0 x3 + p1; hypotension (medium) p2 + p0;
 * stage2 (low) p3 x2. */
static void small_ward(void)
{
    bp_burden *b = bp_burden_new();
    CHECK(b != NULL);
    char id[8];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "p%d", i);
        bp_burden_add_reading(b, id, T0, i < 3); /* three readings held by a confirmation */
        bp_burden_add_reading(b, id, T0 + 2 * DAY_MS, false);
    }
    bp_burden_add_delay(b, "crisis", "high");
    bp_burden_add_delay(b, "crisis", "high");
    bp_burden_add_delay(b, "stage2", "low");

    event(b, "a", "raised", "high", "crisis", "p0", 0, 0, 0);
    event(b, "b", "raised", "high", "crisis", "p0", 100, 100, 0);
    event(b, "c", "raised", "high", "crisis", "p0", 200, 200, 0);
    event(b, "d", "raised", "high", "crisis", "p1", 300, 300, 0);
    event(b, "e", "raised", "medium", "hypotension", "p2", 400, 400, 0);
    event(b, "f", "raised", "medium", "hypotension", "p0", 500, 500, 0);
    event(b, "g", "raised", "low", "stage2", "p3", 600, 600, 0);
    event(b, "h", "raised", "low", "stage2", "p3", 700, 700, 0);
    /* acknowledged after 30, 60 and 120 s (crisis) and 600 s (hypotension) */
    event(b, "a", "acknowledged", "high", "crisis", "p0", 0, 30, 0);
    event(b, "b", "acknowledged", "high", "crisis", "p0", 100, 160, 0);
    event(b, "c", "acknowledged", "high", "crisis", "p0", 200, 320, 0);
    event(b, "e", "acknowledged", "medium", "hypotension", "p2", 400, 1000, 0);
    /* d escalated twice, g once; a and e resolved */
    event(b, "d", "escalated", "high", "crisis", "p1", 300, 420, 1);
    event(b, "d", "escalated", "high", "crisis", "p1", 300, 720, 2);
    event(b, "g", "escalated", "low", "stage2", "p3", 600, 720, 1);
    event(b, "a", "resolved", "high", "crisis", "p0", 0, 900, 0);
    event(b, "e", "resolved", "medium", "hypotension", "p2", 400, 1900, 0);

    bp_burden_totals t;
    bp_burden_totals_get(b, &t);
    CHECK(t.readings == 20 && t.delayed_readings == 3 && t.patients == 10);
    CHECK(!t.patients_capped);
    CHECK(t.first_ms == T0 && t.last_ms == T0 + 2 * DAY_MS);
    CHECK(t.patient_days == 20.0);
    CHECK(t.events == 17);
    CHECK(bp_burden_rows(b) == 4 + 3); /* pipeline, 3 priorities, 3 conditions */

    bp_burden_figures f;
    CHECK(row_named(b, "", &f) && f.kind == BP_BURDEN_PIPELINE);
    CHECK(f.alarms == 8 && f.acknowledged == 4 && f.escalations == 3 && f.escalated_alarms == 2);
    CHECK(f.resolved == 2 && f.withdrawn == 0 && f.delayed_readings == 3);
    CHECK(f.per_patient_day == 8.0 / 20.0);
    CHECK(f.share_acknowledged == 0.5);
    CHECK(f.acks_timed == 4 && f.ack_sum_s == 30 + 60 + 120 + 600);
    /* {30, 60, 120, 600}: p50 is rank ceil(0.5 x 4) = 2, 60 s (its bucket, within 1 %); p90
     * rank ceil(0.9 x 4) = 4, the largest: exact */
    CHECK(near(f.ack_p50_s, 60, 0.01));
    CHECK(f.ack_p90_s == 600);
    /* one patient in ten: p0 with 3 crisis + 1 hypotension = 4 of 8 */
    CHECK(f.top10_share == 0.5);

    CHECK(row_named(b, "crisis", &f) && f.kind == BP_BURDEN_CONDITION);
    CHECK_STR(f.priority, "high");
    CHECK(f.alarms == 4 && f.acknowledged == 3 && f.escalations == 2 && f.escalated_alarms == 1);
    CHECK(f.resolved == 1 && f.delayed_readings == 2);
    CHECK(f.per_patient_day == 4.0 / 20.0 && f.share_acknowledged == 0.75);
    /* {30, 60, 120}: p50 rank 2 = 60 (bucket), p90 rank 3 = 120 (the largest) */
    CHECK(near(f.ack_p50_s, 60, 0.01) && f.ack_p90_s == 120);
    CHECK(f.top10_share == 0.75); /* p0's 3 of 4 */

    CHECK(row_named(b, "hypotension", &f));
    CHECK_STR(f.priority, "medium");
    CHECK(f.alarms == 2 && f.acknowledged == 1 && f.resolved == 1 && f.delayed_readings == 0);
    CHECK(f.per_patient_day == 0.1 && f.share_acknowledged == 0.5);
    CHECK(f.ack_p50_s == 600 && f.ack_p90_s == 600); /* one time: the smallest and largest */
    CHECK(f.top10_share == 0.5);

    CHECK(row_named(b, "stage2", &f));
    CHECK(f.alarms == 2 && f.acknowledged == 0 && f.escalations == 1 && f.escalated_alarms == 1);
    CHECK(f.delayed_readings == 1 && f.share_acknowledged == 0);
    CHECK(isnan(f.ack_p50_s) && isnan(f.ack_p90_s)); /* nobody acknowledged */
    CHECK(f.top10_share == 1.0);                     /* p3 has both */

    /* the priority rows: high is crisis, medium hypotension, low stage2 here */
    CHECK(row_named(b, "high", &f) && f.kind == BP_BURDEN_PRIORITY);
    CHECK(f.alarms == 4 && f.delayed_readings == 2 && f.top10_share == 0.75);
    CHECK(row_named(b, "medium", &f) && f.alarms == 2 && f.delayed_readings == 0);
    CHECK(row_named(b, "low", &f) && f.alarms == 2 && f.escalations == 1);
    CHECK(f.delayed_readings == 1);
    bp_burden_free(b);
}

/* Undefined figures are NaN, not 0 or infinity; odd events do not count as alarms. */
static void undefined(void)
{
    bp_burden *b = bp_burden_new();
    bp_burden_figures f;
    bp_burden_row(b, 0, &f);
    CHECK(f.alarms == 0 && isnan(f.per_patient_day) && isnan(f.share_acknowledged));
    CHECK(isnan(f.top10_share) && isnan(f.ack_p50_s));
    /* one instant of readings: no span, no patient-day */
    bp_burden_add_reading(b, "p1", T0, false);
    bp_burden_add_reading(b, "p2", T0, false);
    bp_burden_add_reading(b, NULL, -1, false); /* no patient, no time: a reading all the same */
    event(b, "x", "raised", "high", "crisis", "p1", 0, 0, 0);
    event(b, "x", "paused", "high", "crisis", "p1", 0, 5, 0); /* not an event kind */
    /* acknowledged "before" it was raised (another process's clock): 0 s, not negative */
    event(b, "x", "acknowledged", "high", "crisis", "p1", 10, 5, 0);
    bp_burden_totals t;
    bp_burden_totals_get(b, &t);
    CHECK(t.readings == 3 && t.patients == 2 && t.patient_days == 0 && t.events == 3);
    bp_burden_row(b, 0, &f);
    CHECK(f.alarms == 1 && isnan(f.per_patient_day) && f.share_acknowledged == 1.0);
    CHECK(f.ack_p50_s == 0 && f.ack_p90_s == 0);
    /* two patients: ceil(2 / 10) = 1 patient, p1, with the one alarm */
    CHECK(f.top10_share == 1.0);
    /* an acknowledgement of an alarm raised before the burden began counts, the share stays
     * at most 1 */
    event(b, "y", "acknowledged", "high", "crisis", "p2", 0, 50, 0);
    bp_burden_row(b, 0, &f);
    CHECK(f.acknowledged == 2 && f.share_acknowledged == 1.0);
    bp_burden_free(b);
}

/* p50 of {1 s, v, 10^7 s} is v's bucket: within 1 % of v over the whole range (and below 1 s
 * within the times seen). */
static void quantile_bound(void)
{
    double worst = 0;
    for (double v = 1.0; v < 2.5e6; v *= 1.0037) {
        bp_burden *b = bp_burden_new();
        int64_t at[3] = {1000, (int64_t)(v * 1000), 10000000000LL};
        for (int i = 0; i < 3; i++) {
            bp_burden_event e = {.event = "acknowledged",
                                 .priority = "low",
                                 .condition = "c",
                                 .patient_id = "p",
                                 .raised_ms = 0,
                                 .event_ms = at[i]};
            bp_burden_add_event(b, &e);
        }
        bp_burden_figures f;
        bp_burden_row(b, 0, &f);
        double want = (double)at[1] / 1000.0;
        double err = fabs(f.ack_p50_s - want) / want;
        worst = err > worst ? err : worst;
        bp_burden_free(b);
    }
    CHECK(worst <= 0.01);
    fprintf(stderr, "worst relative error of a p50: %.4f %%\n", worst * 100);

    /* 1..1000 s, once each: p50 = 500 s, p90 = 900 s, within 1 % */
    bp_burden *b = bp_burden_new();
    for (int s = 1000; s >= 1; s--) { /* any order */
        bp_burden_event e = {.event = "acknowledged",
                             .priority = "high",
                             .condition = "c",
                             .raised_ms = 0,
                             .event_ms = (int64_t)s * 1000};
        bp_burden_add_event(b, &e);
    }
    bp_burden_figures f;
    bp_burden_row(b, 0, &f);
    CHECK(near(f.ack_p50_s, 500, 0.01) && near(f.ack_p90_s, 900, 0.01));
    CHECK(f.ack_sum_s == 500500);
    bp_burden_free(b);
}

static int by_count_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The top 10 % share against sorting the counts, on wards with many ties. */
static void top10_against_sort(void)
{
    uint64_t rng = 12345;
    for (int round = 0; round < 40; round++) {
        bp_burden *b = bp_burden_new();
        size_t n = 1 + (size_t)(round * 37 % 997);
        uint32_t *counts = calloc(n, sizeof *counts);
        uint64_t total = 0;
        char id[16];
        for (size_t i = 0; i < n; i++) {
            snprintf(id, sizeof id, "q%zu", i);
            bp_burden_add_reading(b, id, T0, false);
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            counts[i] = (uint32_t)(rng >> 60) % (round % 3 == 0 ? 2 : 7); /* many ties */
            for (uint32_t k = 0; k < counts[i]; k++)
                event(b, "z", "raised", "high", "crisis", id, 0, 0, 0);
            total += counts[i];
        }
        qsort(counts, n, sizeof *counts, by_count_desc);
        uint64_t top = 0;
        for (size_t i = 0; i < (n + 9) / 10; i++)
            top += counts[i];
        bp_burden_figures f;
        bp_burden_row(b, 0, &f);
        CHECK(f.alarms == total);
        CHECK(total == 0 ? isnan(f.top10_share) : f.top10_share == (double)top / (double)total);
        free(counts);
        bp_burden_free(b);
    }
}

/* The bounds: conditions beyond BP_BURDEN_MAX_CONDITIONS count as "other", patients beyond
 * BP_BURDEN_MAX_PATIENTS are not tracked and the totals say so. */
static void bounds(void)
{
    bp_burden *b = bp_burden_new();
    char name[32];
    for (int i = 0; i < BP_BURDEN_MAX_CONDITIONS + 4; i++) {
        snprintf(name, sizeof name, "cond%d", i);
        event(b, "x", "raised", "low", name, "p", 0, 0, 0);
    }
    CHECK(bp_burden_rows(b) == 4 + BP_BURDEN_MAX_CONDITIONS + 1);
    bp_burden_figures f;
    CHECK(row_named(b, "other", &f) && f.alarms == 4);
    CHECK(row_named(b, "cond15", &f) && f.alarms == 1);
    CHECK(row_named(b, "cond16", &f) == NULL);
    event(b, "x", "raised", "low", NULL, "p", 0, 0, 0); /* no condition: other */
    CHECK(row_named(b, "other", &f) && f.alarms == 5);

    for (int i = 0; i < BP_BURDEN_MAX_PATIENTS + 10; i++) {
        snprintf(name, sizeof name, "patient-%d", i);
        bp_burden_add_reading(b, name, T0 + i, false);
    }
    bp_burden_totals t;
    bp_burden_totals_get(b, &t);
    /* "p" of the events is one of them */
    CHECK(t.patients == BP_BURDEN_MAX_PATIENTS && t.patients_capped);
    CHECK(t.readings == BP_BURDEN_MAX_PATIENTS + 10);
    bp_burden_add_reading(b, "patient-7", T0, false); /* one already tracked: still found */
    bp_burden_totals_get(b, &t);
    CHECK(t.patients == BP_BURDEN_MAX_PATIENTS);
    bp_burden_free(b);
}

/* Issue 26: a withdrawn alarm is counted apart (it still counts as raised), and the text
 * summary says how many only when there were any. */
static void withdrawals(void)
{
    bp_burden *b = bp_burden_new();
    bp_burden_add_reading(b, "p0", T0, false);
    event(b, "a", "raised", "high", "crisis", "p0", 0, 0, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK(out);
    bp_burden_print(b, out);
    fclose(out);
    CHECK(strstr(text, "withdrawn") == NULL);
    free(text);
    event(b, "a", "withdrawn", "high", "crisis", "p0", 0, 10, 0);
    bp_burden_figures f;
    CHECK(row_named(b, "crisis", &f) && f.withdrawn == 1 && f.alarms == 1);
    out = open_memstream(&text, &len);
    CHECK(out);
    bp_burden_print(b, out);
    fclose(out);
    CHECK_CONTAINS(text, "  1 alarm(s) withdrawn: the readings they stood on were retracted");
    free(text);
    bp_burden_free(b);
}

int main(void)
{
    withdrawals();
    small_ward();
    undefined();
    quantile_bound();
    top10_against_sort();
    bounds();
    return CHECK_DONE();
}
