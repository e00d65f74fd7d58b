#include "alarm/burden_report.h"

#include <math.h>
#include <string.h>

static void num(bp_buf *out, const char *key, double v, bool comma)
{
    bp_buf_printf(out, "%s\"%s\":", comma ? "," : "", key);
    if (isnan(v) || isinf(v))
        bp_buf_puts(out, "null");
    else
        bp_buf_json_number(out, v);
}

static void figures_json(const bp_burden_figures *f, bp_buf *out)
{
    bp_buf_putc(out, '{');
    num(out, "alarms", (double)f->alarms, false);
    num(out, "per_patient_day", f->per_patient_day, true);
    num(out, "acknowledged", (double)f->acknowledged, true);
    num(out, "share_acknowledged", f->share_acknowledged, true);
    num(out, "ack_p50_s", f->ack_p50_s, true);
    num(out, "ack_p90_s", f->ack_p90_s, true);
    num(out, "escalations", (double)f->escalations, true);
    num(out, "escalated_alarms", (double)f->escalated_alarms, true);
    num(out, "resolved", (double)f->resolved, true);
    num(out, "withdrawn", (double)f->withdrawn, true);
    num(out, "delayed_readings", (double)f->delayed_readings, true);
    num(out, "top10_share", f->top10_share, true);
    if (f->kind == BP_BURDEN_CONDITION) {
        bp_buf_puts(out, ",\"priority\":");
        bp_buf_json_string(out, f->priority, strlen(f->priority));
    }
    bp_buf_putc(out, '}');
}

static void time_json(bp_buf *out, const char *key, int64_t ms)
{
    bp_buf_printf(out, ",\"%s\":", key);
    if (ms < 0) {
        bp_buf_puts(out, "null");
        return;
    }
    bp_buf_putc(out, '"');
    bp_buf_iso_time(out, ms);
    bp_buf_putc(out, '"');
}

void bp_burden_write_json(bp_burden *b, bp_buf *out)
{
    bp_burden_totals t;
    bp_burden_totals_get(b, &t);
    bp_buf_putc(out, '{');
    num(out, "readings", (double)t.readings, false);
    num(out, "delayed_readings", (double)t.delayed_readings, true);
    num(out, "patients", (double)t.patients, true);
    bp_buf_printf(out, ",\"patients_capped\":%s", t.patients_capped ? "true" : "false");
    time_json(out, "first_reading", t.first_ms);
    time_json(out, "last_reading", t.last_ms);
    num(out, "patient_days", t.patient_days, true);
    num(out, "events", (double)t.events, true);
    const char *const groups[] = {"pipeline", "by_priority", "by_condition"};
    for (int g = 0; g < 3; g++) {
        bp_buf_printf(out, ",\"%s\":", groups[g]);
        if (g)
            bp_buf_putc(out, '{');
        bool first = true;
        for (size_t i = 0; i < bp_burden_rows(b); i++) {
            bp_burden_figures f;
            bp_burden_row(b, i, &f);
            if ((int)f.kind != g)
                continue;
            if (g) {
                if (!first)
                    bp_buf_putc(out, ',');
                bp_buf_json_string(out, f.name, strlen(f.name));
                bp_buf_putc(out, ':');
            }
            figures_json(&f, out);
            first = false;
        }
        if (g)
            bp_buf_putc(out, '}');
    }
    bp_buf_puts(out, "}");
}

/* A figure for a table cell: "-" when undefined. */
static const char *cell(char *buf, size_t size, const char *fmt, double v)
{
    if (isnan(v) || isinf(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, fmt, v);
    return buf;
}

static void print_row(const bp_burden_figures *f, FILE *out)
{
    char name[80], rate[24], acked[24], p50[24], p90[24], top[24];
    if (f->kind == BP_BURDEN_PIPELINE)
        snprintf(name, sizeof name, "all");
    else if (f->kind == BP_BURDEN_PRIORITY)
        snprintf(name, sizeof name, "priority %s", f->name);
    else
        snprintf(name, sizeof name, "%s (%s)", f->name, *f->priority ? f->priority : "?");
    fprintf(out, "  %-34s %7llu %9s %6s %8s %8s %6llu %8llu %6s\n", name,
            (unsigned long long)f->alarms, cell(rate, sizeof rate, "%.3f", f->per_patient_day),
            cell(acked, sizeof acked, "%.0f%%", f->share_acknowledged * 100),
            cell(p50, sizeof p50, "%.0f s", f->ack_p50_s),
            cell(p90, sizeof p90, "%.0f s", f->ack_p90_s), (unsigned long long)f->escalations,
            (unsigned long long)f->delayed_readings,
            cell(top, sizeof top, "%.0f%%", f->top10_share * 100));
}

void bp_burden_print(bp_burden *b, FILE *out)
{
    bp_burden_totals t;
    bp_burden_totals_get(b, &t);
    fprintf(out,
            "alarms: %llu readings of %llu patient(s)%s over %.2f day(s): %.2f patient-days; "
            "%llu reading(s) delayed by confirmation\n",
            (unsigned long long)t.readings, (unsigned long long)t.patients,
            t.patients_capped ? " (more not tracked)" : "",
            t.first_ms >= 0 ? (double)(t.last_ms - t.first_ms) / 86400000.0 : 0.0, t.patient_days,
            (unsigned long long)t.delayed_readings);
    uint64_t withdrawn = 0;
    fprintf(out, "  %-34s %7s %9s %6s %8s %8s %6s %8s %6s\n", "condition (priority)", "alarms",
            "/pt-day", "acked", "ack p50", "ack p90", "escal", "delayed", "top10%");
    for (int g = BP_BURDEN_PIPELINE; g <= BP_BURDEN_CONDITION; g++)
        for (size_t i = 0; i < bp_burden_rows(b); i++) {
            bp_burden_figures f;
            bp_burden_row(b, i, &f);
            if ((int)f.kind == g && (g != BP_BURDEN_PRIORITY || f.alarms || f.delayed_readings))
                print_row(&f, out);
            if ((int)f.kind == g && g == BP_BURDEN_PIPELINE)
                withdrawn = f.withdrawn;
        }
    /* A line of its own, only when it happened: the table stays as operators know it. */
    if (withdrawn)
        fprintf(out,
                "  %llu alarm(s) withdrawn: the readings they stood on were retracted or "
                "corrected (docs/alarms.md)\n",
                (unsigned long long)withdrawn);
}

/* Row `name` of kind `kind` in `b`, zeroed (NaN rates) when it has none. */
static void find_row(bp_burden *b, bp_burden_row_kind kind, const char *name,
                     bp_burden_figures *out)
{
    for (size_t i = 0; i < bp_burden_rows(b); i++) {
        bp_burden_row(b, i, out);
        if (out->kind == kind && strcmp(out->name, name) == 0)
            return;
    }
    bp_burden_totals t;
    bp_burden_totals_get(b, &t);
    *out = (bp_burden_figures){.kind = kind,
                               .name = name,
                               .priority = "",
                               .per_patient_day = t.patient_days > 0 ? 0 : NAN};
}

static void compare_row(bp_burden *a, bp_burden *b, bp_burden_row_kind kind, const char *name,
                        FILE *out)
{
    bp_burden_figures fa, fb;
    find_row(a, kind, name, &fa);
    find_row(b, kind, name, &fb);
    char label[80], ra[24], rb[24], change[24];
    if (kind == BP_BURDEN_PIPELINE)
        snprintf(label, sizeof label, "all alarms");
    else if (kind == BP_BURDEN_PRIORITY)
        snprintf(label, sizeof label, "priority %s", name);
    else
        snprintf(label, sizeof label, "%s", name);
    double delta =
        fa.alarms ? ((double)fb.alarms - (double)fa.alarms) / (double)fa.alarms * 100 : NAN;
    fprintf(out, "  %-28s %8llu %9s %8llu | %8llu %9s %8llu | %7s\n", label,
            (unsigned long long)fa.alarms, cell(ra, sizeof ra, "%.3f", fa.per_patient_day),
            (unsigned long long)fa.delayed_readings, (unsigned long long)fb.alarms,
            cell(rb, sizeof rb, "%.3f", fb.per_patient_day),
            (unsigned long long)fb.delayed_readings, cell(change, sizeof change, "%+.0f%%", delta));
}

void bp_burden_print_compare(bp_burden *a, const char *label_a, bp_burden *b, const char *label_b,
                             FILE *out)
{
    bp_burden_totals ta, tb;
    bp_burden_totals_get(a, &ta);
    bp_burden_totals_get(b, &tb);
    fprintf(out, "A: %s\nB: %s\n", label_a, label_b);
    fprintf(out, "input: %llu readings of %llu patient(s)%s, %.2f patient-days",
            (unsigned long long)ta.readings, (unsigned long long)ta.patients,
            ta.patients_capped ? " (more not tracked)" : "", ta.patient_days);
    if (tb.readings != ta.readings || tb.patients != ta.patients)
        fprintf(out, " (B read %llu readings of %llu patient(s))", (unsigned long long)tb.readings,
                (unsigned long long)tb.patients);
    fprintf(out, "\n\n  %-28s %8s %9s %8s | %8s %9s %8s | %7s\n", "", "A alarms", "/pt-day",
            "delayed", "B alarms", "/pt-day", "delayed", "alarms");
    compare_row(a, b, BP_BURDEN_PIPELINE, "", out);
    static const char *const prio[] = {"high", "medium", "low"};
    for (int i = 0; i < 3; i++)
        compare_row(a, b, BP_BURDEN_PRIORITY, prio[i], out);
    /* every condition of either, in A's order and then B's new ones */
    bp_burden *both[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < bp_burden_rows(both[k]); i++) {
            bp_burden_figures f, seen;
            bp_burden_row(both[k], i, &f);
            if (f.kind != BP_BURDEN_CONDITION)
                continue;
            if (k == 1) {
                find_row(a, BP_BURDEN_CONDITION, f.name, &seen);
                if (seen.priority[0] || seen.alarms || seen.delayed_readings)
                    continue; /* printed with A's */
            }
            char name[80];
            snprintf(name, sizeof name, "%s", f.name); /* find_row reuses the row's storage */
            compare_row(a, b, BP_BURDEN_CONDITION, name, out);
        }
    fprintf(out, "\n  readings delayed by confirmation: A %llu, B %llu (each reading once)\n",
            (unsigned long long)ta.delayed_readings, (unsigned long long)tb.delayed_readings);
}
