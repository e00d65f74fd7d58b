#include "ops/metrics_alarms.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static void family(bp_buf *b, const char *name, const char *type, const char *help)
{
    bp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with the text format's escapes (\\, \" and \n). */
static void label_value(bp_buf *b, const char *s)
{
    bp_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '\n') {
            bp_buf_puts(b, "\\n");
            continue;
        }
        if (*s == '\\' || *s == '"')
            bp_buf_putc(b, '\\');
        bp_buf_putc(b, *s);
    }
    bp_buf_putc(b, '"');
}

/* name{condition="...",priority="..."[,quantile="q"]} v; NaN written as Prometheus reads it. */
static void sample(bp_buf *b, const char *name, const char *condition, const char *priority,
                   const char *quantile, double v)
{
    bp_buf_printf(b, "%s{condition=", name);
    label_value(b, condition);
    bp_buf_puts(b, ",priority=");
    label_value(b, priority);
    if (quantile)
        bp_buf_printf(b, ",quantile=\"%s\"", quantile);
    if (isnan(v))
        bp_buf_puts(b, "} NaN\n");
    else
        bp_buf_printf(b, "} %.17g\n", v);
}

/* The labels of row `f`: the pipeline is condition="all",priority="all". */
static void labels_of(const bp_burden_figures *f, const char **condition, const char **priority)
{
    *condition = f->kind == BP_BURDEN_CONDITION ? f->name : "all";
    *priority = f->kind == BP_BURDEN_PIPELINE   ? "all"
                : f->kind == BP_BURDEN_PRIORITY ? f->name
                : *f->priority                  ? f->priority
                                                : "unknown";
}

typedef struct counter_def {
    const char *name, *help;
    size_t offset; /* of a uint64_t in bp_burden_figures */
} counter_def;

static const counter_def counters[] = {
    {"bppipe_alarms_raised_total", "Alarms raised (a re-raise after resolution is a new alarm).",
     offsetof(bp_burden_figures, alarms)},
    {"bppipe_alarms_acknowledged_total", "Alarms acknowledged.",
     offsetof(bp_burden_figures, acknowledged)},
    {"bppipe_alarms_escalations_total", "Escalations, one per tier reached.",
     offsetof(bp_burden_figures, escalations)},
    {"bppipe_alarms_resolved_total", "Alarms resolved.", offsetof(bp_burden_figures, resolved)},
    {"bppipe_alarms_withdrawn_total",
     "Alarms withdrawn: the readings they were raised on were retracted or corrected.",
     offsetof(bp_burden_figures, withdrawn)},
    {"bppipe_alarms_delays_total",
     "Readings that matched the condition while its confirmation had not completed.",
     offsetof(bp_burden_figures, delayed_readings)},
};

typedef struct gauge_def {
    const char *name, *help;
    size_t offset; /* of a double in bp_burden_figures */
} gauge_def;

static const gauge_def gauges[] = {
    {"bppipe_alarms_per_patient_day",
     "Alarms per patient-day (patients seen x span of reading time).",
     offsetof(bp_burden_figures, per_patient_day)},
    {"bppipe_alarms_acknowledged_ratio", "Share of the alarms raised that were acknowledged.",
     offsetof(bp_burden_figures, share_acknowledged)},
    {"bppipe_alarms_top10_patients_ratio",
     "Share of the alarms that came from the tenth of the patients with the most.",
     offsetof(bp_burden_figures, top10_share)},
};

void bp_metrics_alarms_render(bp_buf *b, bp_burden *burden)
{
    size_t n = bp_burden_rows(burden);
    bp_burden_figures f;
    const char *cond, *prio;
    for (size_t c = 0; c < sizeof counters / sizeof *counters; c++) {
        family(b, counters[c].name, "counter", counters[c].help);
        for (size_t i = 0; i < n; i++) {
            bp_burden_row(burden, i, &f);
            if (f.kind != BP_BURDEN_CONDITION)
                continue;
            labels_of(&f, &cond, &prio);
            uint64_t v;
            memcpy(&v, (const char *)&f + counters[c].offset, sizeof v);
            sample(b, counters[c].name, cond, prio, NULL, (double)v);
        }
    }
    for (size_t g = 0; g < sizeof gauges / sizeof *gauges; g++) {
        family(b, gauges[g].name, "gauge", gauges[g].help);
        for (size_t i = 0; i < n; i++) {
            bp_burden_row(burden, i, &f);
            labels_of(&f, &cond, &prio);
            double v;
            memcpy(&v, (const char *)&f + gauges[g].offset, sizeof v);
            sample(b, gauges[g].name, cond, prio, NULL, v);
        }
    }
    const char *ack = "bppipe_alarms_time_to_acknowledge_seconds";
    family(b, ack, "summary",
           "From an alarm's raise to its acknowledgement (quantiles within 1 %).");
    for (size_t i = 0; i < n; i++) {
        bp_burden_row(burden, i, &f);
        labels_of(&f, &cond, &prio);
        sample(b, ack, cond, prio, "0.5", f.ack_p50_s);
        sample(b, ack, cond, prio, "0.9", f.ack_p90_s);
        char name[96];
        snprintf(name, sizeof name, "%s_sum", ack);
        sample(b, name, cond, prio, NULL, f.ack_sum_s);
        snprintf(name, sizeof name, "%s_count", ack);
        sample(b, name, cond, prio, NULL, (double)f.acks_timed);
    }
    bp_burden_totals t;
    bp_burden_totals_get(burden, &t);
    family(b, "bppipe_alarms_patient_day_exposure", "gauge",
           "Patient-days of the readings seen: patients x span of reading time in days.");
    bp_buf_printf(b, "bppipe_alarms_patient_day_exposure %.17g\n", t.patient_days);
    family(b, "bppipe_alarms_patients", "gauge", "Patients seen in readings or alarms.");
    bp_buf_printf(b, "bppipe_alarms_patients %llu\n", (unsigned long long)t.patients);
    family(b, "bppipe_alarms_readings_delayed_total", "counter",
           "Readings a confirmation held back, each once whatever number of conditions held it.");
    bp_buf_printf(b, "bppipe_alarms_readings_delayed_total %llu\n",
                  (unsigned long long)t.delayed_readings);
}
