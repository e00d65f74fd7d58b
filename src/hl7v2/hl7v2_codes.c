/* The code and unit tables of PCD-01 decoding. Sources: IEEE 11073-10101 nomenclature
 * (partition 2 = SCADA, code = partition * 65536 + term), the LOINC vital-sign codes. */
#include "hl7v2/hl7v2_codes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    unsigned long code;
    bp_bp_part part;
    bool invasive;
} mdc_entry;

/* 32-bit MDC codes, partition 2. */
static const mdc_entry mdc[] = {
    {150020, BP_PART_COMPOUND, false}, /* MDC_PRESS_BLD_NONINV */
    {150021, BP_PART_SYS, false},      /* MDC_PRESS_BLD_NONINV_SYS */
    {150022, BP_PART_DIA, false},      /* MDC_PRESS_BLD_NONINV_DIA */
    {150023, BP_PART_MEAN, false},     /* MDC_PRESS_BLD_NONINV_MEAN */
    {150300, BP_PART_COMPOUND, false}, /* MDC_PRESS_CUFF */
    {150301, BP_PART_SYS, false},      /* MDC_PRESS_CUFF_SYS */
    {150302, BP_PART_DIA, false},      /* MDC_PRESS_CUFF_DIA */
    {150303, BP_PART_MEAN, false},     /* MDC_PRESS_CUFF_MEAN */
    {150032, BP_PART_COMPOUND, true},  /* MDC_PRESS_BLD_ART */
    {150033, BP_PART_SYS, true},       /* MDC_PRESS_BLD_ART_SYS */
    {150034, BP_PART_DIA, true},       /* MDC_PRESS_BLD_ART_DIA */
    {150035, BP_PART_MEAN, true},      /* MDC_PRESS_BLD_ART_MEAN */
    {150036, BP_PART_COMPOUND, true},  /* MDC_PRESS_BLD_ART_ABP (arterial line) */
    {150037, BP_PART_SYS, true},       /* MDC_PRESS_BLD_ART_ABP_SYS */
    {150038, BP_PART_DIA, true},       /* MDC_PRESS_BLD_ART_ABP_DIA */
    {150039, BP_PART_MEAN, true},      /* MDC_PRESS_BLD_ART_ABP_MEAN */
    {149546, BP_PART_PULSE, false},    /* MDC_PULS_RATE_NON_INV (the cuff's pulse) */
};

typedef struct {
    const char *code;
    bp_bp_part part;
    bool invasive;
} loinc_entry;

static const loinc_entry loinc[] = {
    {"8480-6", BP_PART_SYS, false},       {"8462-4", BP_PART_DIA, false},
    {"8478-0", BP_PART_MEAN, false},      {"76534-7", BP_PART_SYS, false},
    {"76535-4", BP_PART_DIA, false},      {"76536-2", BP_PART_MEAN, false},
    {"76215-3", BP_PART_SYS, true},       {"76213-8", BP_PART_DIA, true},
    {"76214-6", BP_PART_MEAN, true},      {"85354-9", BP_PART_COMPOUND, false},
    {"55284-4", BP_PART_COMPOUND, false}, {"8867-4", BP_PART_PULSE, false},
};

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return n > 0;
}

/* The MDC code an identifier spells, or 0. */
static unsigned long mdc_code(const char *id)
{
    size_t n = strlen(id);
    if (n == 9 && id[4] == '-' && all_hex(id, 4) && all_hex(id + 5, 4)) {
        unsigned long part = strtoul(id, NULL, 16); /* stops at '-' */
        unsigned long term = strtoul(id + 5, NULL, 16);
        return part * 65536ul + term;
    }
    if (!all_digits(id, n) || n > 9)
        return 0;
    unsigned long v = strtoul(id, NULL, 10);
    /* A term code alone (16 bits) is of the SCADA partition, where every vital sign is. */
    return v < 65536ul ? 2ul * 65536ul + v : v;
}

static bool loinc_shape(const char *id)
{
    size_t n = strlen(id);
    return n >= 3 && n <= 8 && id[n - 2] == '-' && isdigit((unsigned char)id[n - 1]) &&
           all_digits(id, n - 2);
}

bool bp_bp_classify(const char *id, const char *system, bp_bp_code *out)
{
    (void)system; /* the code's shape decides: feeds label MDC codes "MDIL", "MDC", "" ... */
    memset(out, 0, sizeof *out);
    if (!id || !*id)
        return false;
    if (loinc_shape(id)) {
        snprintf(out->text, sizeof out->text, "LOINC %s", id);
        for (size_t i = 0; i < sizeof loinc / sizeof loinc[0]; i++)
            if (strcmp(loinc[i].code, id) == 0) {
                out->part = loinc[i].part;
                out->invasive = loinc[i].invasive;
            }
        return true;
    }
    unsigned long c = mdc_code(id);
    if (!c)
        return false;
    snprintf(out->text, sizeof out->text, "MDC %lu", c);
    for (size_t i = 0; i < sizeof mdc / sizeof mdc[0]; i++)
        if (mdc[i].code == c) {
            out->part = mdc[i].part;
            out->invasive = mdc[i].invasive;
        }
    return true;
}

static bp_unit_kind unit_of(const char *u)
{
    if (!u || !*u)
        return BP_UNIT_NONE;
    if (strcmp(u, "266016") == 0 || strcasecmp(u, "0004-0f20") == 0 ||
        strcasecmp(u, "mm[Hg]") == 0 || strcasecmp(u, "mmHg") == 0 || strcasecmp(u, "mm Hg") == 0 ||
        strcmp(u, "MDC_DIM_MMHG") == 0)
        return BP_UNIT_MMHG;
    if (strcmp(u, "266019") == 0 || strcasecmp(u, "0004-0f03") == 0 || strcmp(u, "kPa") == 0 ||
        strcmp(u, "KPA") == 0 || strcmp(u, "MDC_DIM_KILO_PASCAL") == 0)
        return BP_UNIT_KPA;
    if (strcmp(u, "264864") == 0 || strcasecmp(u, "0004-0aa0") == 0 ||
        strcmp(u, "{beat}/min") == 0 || strcmp(u, "/min") == 0 || strcasecmp(u, "bpm") == 0 ||
        strcmp(u, "{beats}/min") == 0 || strcmp(u, "MDC_DIM_BEAT_PER_MIN") == 0)
        return BP_UNIT_PER_MIN;
    return BP_UNIT_UNKNOWN;
}

bp_unit_kind bp_unit_classify(const char *id, const char *text)
{
    bp_unit_kind k = unit_of(id);
    if (k == BP_UNIT_UNKNOWN || (k == BP_UNIT_NONE && text && *text)) {
        bp_unit_kind t = unit_of(text);
        if (t != BP_UNIT_NONE)
            return t;
    }
    return k;
}
