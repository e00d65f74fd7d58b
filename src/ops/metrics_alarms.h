/* The burden alarms cause (src/alarm/burden.h) as Prometheus text, the `bppipe_alarms_*`
 * families of /metrics (docs/operations.md, docs/alarms.md "The burden"). Counters carry the
 * labels condition and priority, one series per condition (sum them for a priority or the
 * pipeline); the figures that do not add up (rates, shares, quantiles) are gauges with a series
 * for the pipeline (condition="all", priority="all"), each priority (condition="all") and each
 * condition. */
#ifndef BPPIPE_METRICS_ALARMS_H
#define BPPIPE_METRICS_ALARMS_H

#include "alarm/burden.h"
#include "common/json_buf.h"

void bp_metrics_alarms_render(bp_buf *b, bp_burden *burden);

#endif
