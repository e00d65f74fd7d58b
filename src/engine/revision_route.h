/* Routing with revisions (issue 26, docs/revisions.md, "Routing"): which sinks a record goes
 * to, and the retract companion an accepted correction leaves behind for the sinks that held the
 * old version but do not get the new one (a reading corrected from anomaly to normal leaves the
 * anomaly index). Pure over the pipeline's sinks: the runner (runner.c) calls it. */
#ifndef BPPIPE_REVISION_ROUTE_H
#define BPPIPE_REVISION_ROUTE_H

#include "pipeline/pipeline.h"
#include "pipeline/record.h"

#include <stdint.h>

/* The sink sections' route masks that mean readings: normal, anomaly, all and critical. */
#define BP_ROUTES_READINGS (BP_ROUTES_ALL | BP_ROUTE_CRITICAL)

/* Bit i: p->sinks[i] must deliver `rec`. A retraction (route retract, an accepted one or a
 * companion) goes to every sink that honours revisions (BP_CAP_REVISIONS) and takes readings,
 * never to one that does not, nor to route = invalid, skipped or alarm; every other record by
 * its route (and a judged reading of severity critical to route = critical too). */
uint64_t bp_route_sinks(const bp_pipeline *p, const bp_record *rec);

/* The sinks an accepted correction routed to `delivered` leaves a retract companion for: those
 * that honour revisions, take readings and are not in `delivered`. */
uint64_t bp_companion_sinks(const bp_pipeline *p, uint64_t delivered);

/* Inserts after every accepted REPLACE reading of `records` (routed already: sinks_pending
 * set) its retract companion when some sink needs one: same logical id, version, patient,
 * origin and payload, revision RETRACT, no values, no verdict, companion set, routed. Returns
 * the number inserted, or -1 when out of memory. */
int bp_add_companions(const bp_pipeline *p, bp_batch *records);

#endif
