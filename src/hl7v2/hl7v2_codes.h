/* What an OBX-3 code and an OBX-6 unit mean for blood pressure: the IEEE 11073-10101 (MDC)
 * codes in their three written forms and the LOINC codes, and the units pressures and rates
 * arrive in. The code decides, never the text beside it (docs/hl7v2.md, "Codes"). */
#ifndef BPPIPE_HL7V2_CODES_H
#define BPPIPE_HL7V2_CODES_H

#include <stdbool.h>
#include <stddef.h>

typedef enum bp_bp_part {
    BP_PART_NONE = 0, /* not blood pressure (SpO2, temperature, an ECG heart rate, ...) */
    BP_PART_SYS,
    BP_PART_DIA,
    BP_PART_MEAN,
    BP_PART_PULSE,
    BP_PART_COMPOUND, /* 150020 / 150300 / 150032 / 150036 / LOINC panels: the group's head */
} bp_bp_part;

typedef struct bp_bp_code {
    bp_bp_part part;
    bool invasive; /* arterial line (150032-150039, LOINC 76213-8/76214-6/76215-3) */
    char text[40]; /* canonical: "MDC 150021" or "LOINC 8480-6" (for the document) */
} bp_bp_code;

/* Classifies one coded triple (identifier, coding system) as HL7 writes them in OBX-3.1/.3 or
 * OBX-3.4/.6. An MDC code may be the 32-bit form (150021), the 16-bit term code of partition 2
 * (18949), or partition and term in hexadecimal ("0002-4a05"). LOINC codes are recognised by
 * their shape (digits, '-', one check digit) whatever the system says. Returns false when the
 * identifier is none of these forms (out->part is then BP_PART_NONE). */
bool bp_bp_classify(const char *id, const char *system, bp_bp_code *out);

typedef enum bp_unit_kind {
    BP_UNIT_MMHG,
    BP_UNIT_KPA,
    BP_UNIT_PER_MIN,
    BP_UNIT_NONE, /* OBX-6 empty */
    BP_UNIT_UNKNOWN,
} bp_unit_kind;

/* OBX-6.1 (and .2 when .1 is not recognised): 266016 / 0004-0f20 / mm[Hg] / mmHg / mm Hg,
 * 266019 / kPa, 264864 / {beat}/min / /min / bpm. Case matters for UCUM only where it means
 * something else (mm[Hg] vs MM[HG] both accepted; "mhg" is not). */
bp_unit_kind bp_unit_classify(const char *id, const char *text);

#define BP_KPA_TO_MMHG 7.50061683 /* 1 kPa = 1000 Pa / 133.322387415 Pa per mmHg */

#endif
