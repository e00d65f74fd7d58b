/* The simulated ward as bedside monitors report it: one reading → one HL7 v2.6 ORU^R01 message
 * of the IHE PCD-01 profile (Device to Enterprise Communication), written as PCD gateways write
 * them: MSH with the profile id in MSH-21, PID-3 id^^^authority, PV1 bed, OBR with the filler
 * order number, and the monitor's containment tree in OBX rows (MDS 1.0.0.0, VMD 1.1.0.0, the
 * NIBP compound 150020 at 1.1.1.0, then systolic, diastolic, mean and pulse at 1.1.1.1-4, each
 * with MDC units, OBX-11 F, OBX-14 time with its zone, OBX-18 the monitor's EUI-64). Pure and
 * deterministic like the rest of lib/wardsim: the same ward and reading give the same bytes. */
#ifndef BPPIPE_WARD_PCD01_H
#define BPPIPE_WARD_PCD01_H

#include "wardsim/ward_sim.h"

#include <stddef.h>

/* MSH-4 sending facility and PID-3's assigning authority of every simulated message. */
#define BP_PCD01_FACILITY "BPPIPE-WARD"

/* Writes reading `r` of ward `w` as one PCD-01 message (segments ended by '\r', no MLLP framing)
 * into `buf` of `len` bytes, NUL-terminated. A reading with r->broken set gets its deliberate
 * defect in HL7 terms: cut off halfway, an ADT^A01 instead of an ORU^R01, no patient in PID-3,
 * or pressures in centimetres. Returns the length without the NUL, or 0 when it does not fit
 * (2 KB is always enough). */
size_t bp_ward_pcd01(const bp_ward *w, const bp_sim_reading *r, char *buf, size_t len);

/* The monitor of the patient's bed: a 16-hex-digit EUI-64 (an OUI-48 with FFFE inserted, as
 * monitors derive it from their MAC), one per patient index. `out` holds at least 17 bytes. */
void bp_ward_monitor_eui64(size_t patient, char *out, size_t len);

/* The pulse rate the monitor reports with reading `r` (beats per minute): a personal rate plus
 * a little noise, from a hash of the seed, the patient and the sequence number, so that it
 * consumes no random numbers and the FHIR text of the ward stays what it was. */
int bp_ward_pulse(const bp_ward *w, const bp_sim_reading *r);

/* The mean arterial pressure the monitor reports: diastolic + (systolic - diastolic) / 3. */
int bp_ward_mean(const bp_sim_reading *r);

#endif
