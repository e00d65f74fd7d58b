#include "alarm/burden_feed.h"

static void on_event(void *user, const bp_alarm_event *ev)
{
    bp_burden_event e = {.alarm_id = ev->alarm_id,
                         .event = bp_alarm_event_name(ev->event),
                         .priority = bp_alarm_priority_name(ev->priority),
                         .condition = ev->condition,
                         .patient_id = ev->patient_id,
                         .event_ms = ev->event_ms,
                         .raised_ms = ev->raised_at_ms,
                         .tier = ev->tier};
    bp_burden_add_event(user, &e);
}

static void on_reading(void *user, const bp_record *r,
                       const struct bp_alarm_condition *const *delayed_by, int n)
{
    /* INT64_MIN: a reading without an effective time, outside the span */
    bp_burden_add_reading(user, r->patient_id, r->effective_ms >= 0 ? r->effective_ms : -1, n > 0);
    for (int i = 0; i < n; i++)
        bp_burden_add_delay(user, delayed_by[i]->name,
                            bp_alarm_priority_name(delayed_by[i]->priority));
}

void bp_burden_attach(bp_burden *b, bp_alarms *a)
{
    bp_alarms_set_hook(a, on_event, b);
    bp_alarms_set_reading_hook(a, on_reading);
}
