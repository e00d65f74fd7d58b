/* Writes the simulated ward's PCD-01 messages with what each should say, one JSON line per
 * reading, for pcd01_hl7.py to check with an HL7 parser that is not ours (python3-hl7).
 *
 *   pcd01_dump N SEED INVALID_RATE */
#include "wardsim/ward_pcd01.h"
#include "wardsim/ward_sim.h"

#include <stdio.h>
#include <stdlib.h>

#define START_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

/* The message as a JSON string: it holds '\r' between segments and '\' in MSH-2. */
static void json_string(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: pcd01_dump N SEED INVALID_RATE\n");
        return 2;
    }
    long n = atol(argv[1]);
    bp_ward w;
    if (bp_ward_init(&w, strtoull(argv[2], NULL, 10), 7, 2, START_MS, 5.0, atof(argv[3])) != 0)
        return 1;
    bp_ward_set_jitter(&w, 0.2);
    for (long i = 0; i < n; i++) {
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        char msg[2048], patient[24], eui[24];
        size_t len = bp_ward_pcd01(&w, &r, msg, sizeof msg);
        if (len == 0)
            return 1;
        bp_ward_patient_id(r.patient, patient, sizeof patient);
        bp_ward_monitor_eui64(r.patient, eui, sizeof eui);
        printf("{\"seq\":%llu,\"patient\":\"%s\",\"bed\":%zu,\"eui\":\"%s\",\"ms\":%lld,"
               "\"sys\":%d,\"dia\":%d,\"mean\":%d,\"pulse\":%d,\"broken\":%d,\"message\":",
               (unsigned long long)r.seq, patient, r.patient + 1, eui, (long long)r.effective_ms,
               r.systolic, r.diastolic, bp_ward_mean(&r), bp_ward_pulse(&w, &r), r.broken);
        json_string(msg, len);
        printf("}\n");
    }
    bp_ward_free(&w);
    return 0;
}
