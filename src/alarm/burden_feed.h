/* The burden (src/alarm/burden.h) fed by the alarm stage (src/alarm/alarm.h): every event it
 * appends and every reading it judges, through the stage's two hooks, on the main thread. */
#ifndef BPPIPE_ALARM_BURDEN_FEED_H
#define BPPIPE_ALARM_BURDEN_FEED_H

#include "alarm/alarm.h"
#include "alarm/burden.h"

/* From now on `a` feeds `b` (both the caller's; `b` must outlive the stage's runs). Takes the
 * stage's hooks: one burden per stage. */
void bp_burden_attach(bp_burden *b, bp_alarms *a);

#endif
