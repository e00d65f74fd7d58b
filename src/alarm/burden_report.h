/* The burden (src/alarm/burden.h) written out: as the JSON object of the run summary
 * (--summary-json's `alarms`), of the live page (/api/ward's `alarm_burden`) and of
 * `bppipe alarms replay --json`; as the text of the run summary; and two burdens side by side
 * (`bppipe alarms replay`). docs/alarms.md ("The burden") shows each. */
#ifndef BPPIPE_ALARM_BURDEN_REPORT_H
#define BPPIPE_ALARM_BURDEN_REPORT_H

#include "alarm/burden.h"
#include "common/json_buf.h"

#include <stdio.h>

/* {"readings","delayed_readings","patients","patients_capped","first_reading","last_reading",
 *  "patient_days","events","pipeline":{FIGURES},"by_priority":{"high":{FIGURES},...},
 *  "by_condition":{"NAME":{FIGURES},...}}, FIGURES being {"alarms","per_patient_day",
 *  "acknowledged","share_acknowledged","ack_p50_s","ack_p90_s","escalations",
 *  "escalated_alarms","resolved","withdrawn","delayed_readings","top10_share"} and, for a
 *  condition, "priority". Undefined figures are null. */
void bp_burden_write_json(bp_burden *b, bp_buf *out);
/* The summary's lines: the totals, then a table by condition and by priority. */
void bp_burden_print(bp_burden *b, FILE *out);
/* Two burdens of the same input side by side, each column headed by its label: alarms per
 * patient-day, alarms and readings delayed, per pipeline, priority and condition. */
void bp_burden_print_compare(bp_burden *a, const char *label_a, bp_burden *b, const char *label_b,
                             FILE *out);

#endif
