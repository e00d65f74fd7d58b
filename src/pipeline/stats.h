/* The books of a run: what came in, where it went, and the status line and summary printed
 * from them. in = anomaly + normal + invalid (+ in flight) always holds. Skipped resources
 * (valid FHIR that is not blood pressure) are not readings: they are counted beside the books,
 * by reason, never inside them. */
#ifndef BPPIPE_STATS_H
#define BPPIPE_STATS_H

#include "pipeline/record.h" /* BP_ROUTE_COUNT */

#include <stddef.h>
#include <stdint.h>

struct bp_pipeline;

#define BP_MAX_REASON_KINDS 32
#define BP_MAX_SKIP_REASONS 16

typedef struct bp_stats {
    uint64_t payloads;
    uint64_t readings_in; /* every record decoding produced, valid or not */
    uint64_t by_route[BP_ROUTE_COUNT]; /* indexed by bp_route: judged (or skipped) and fully
                                          delivered */
    uint64_t in_flight;   /* decoded but not yet delivered everywhere */
    uint64_t invalid_unrouted; /* invalid with no invalid-route sink: counted and logged */
    uint64_t sink_rejected;    /* judged readings a sink refused, sent to the dead letter */
    /* revisions (docs/revisions.md), beside the books: corrections among the readings of
     * anomaly and normal; accepted retractions are by_route[BP_ROUTE_RETRACT] (not readings). The
     * revision ledger's entries forgotten for its bound, and those it could not keep. */
    uint64_t corrected;
    uint64_t revisions_evicted, revisions_lost;
    struct {
        char kind[96]; /* the reason with digits folded to N: "not JSON at byte N" */
        uint64_t count;
    } reasons[BP_MAX_REASON_KINDS];
    size_t n_reasons;
    uint64_t reasons_other; /* reasons beyond BP_MAX_REASON_KINDS distinct kinds */
    /* Skipped resources by reason: the decoder's BP_SKIP_* texts, a small fixed set. */
    struct {
        char reason[64];
        uint64_t count;
    } skipped[BP_MAX_SKIP_REASONS];
    size_t n_skipped;
    uint64_t skipped_other; /* beyond BP_MAX_SKIP_REASONS distinct reasons */
    double started_s, ended_s;
    /* The alarms' burden as a JSON object (src/alarm/burden_report.h), written as the summary's
     * `alarms`; the caller's text, set after the run (bp_run clears it). NULL: left out. */
    const char *alarms_json;
} bp_stats;

void bp_stats_count_reason(bp_stats *st, const char *reason);
/* Counts one skipped resource under `reason` (a BP_SKIP_* text). */
void bp_stats_count_skipped(bp_stats *st, const char *reason);
/* One line: "in 5000 (812/s) anomaly 450 normal 4500 invalid 50 in-flight 0", then `note`
 * (the delivery lanes that hold a backlog they cannot deliver now; may be empty). */
void bp_stats_print_status(const bp_stats *st, const struct bp_pipeline *p, double rate,
                           const char *note);
void bp_stats_print_summary(const bp_stats *st, const struct bp_pipeline *p);
/* The same facts as JSON, for scripts and tests. Returns 0 or -1 (errno set). */
int bp_stats_write_json(const bp_stats *st, const struct bp_pipeline *p, const char *path);

#endif
