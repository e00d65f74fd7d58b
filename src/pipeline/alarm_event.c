/* The names alarm events are written with (documents, the host table's text(), the list). */
#include "pipeline/alarm_event.h"

const char *bp_alarm_priority_name(bp_alarm_priority p)
{
    return p == BP_ALARM_HIGH ? "high" : p == BP_ALARM_MEDIUM ? "medium" : "low";
}

const char *bp_alarm_event_name(bp_alarm_event_kind e)
{
    static const char *const names[] = {"raised", "acknowledged", "escalated", "resolved",
                                        "withdrawn"};
    return (unsigned)e < 5 ? names[e] : "raised";
}

const char *bp_alarm_phase_name(bp_alarm_phase s)
{
    static const char *const names[] = {"",        "confirming", "raised", "acknowledged",
                                        "latched", "resolved"};
    return (unsigned)s < 6 ? names[s] : "";
}
