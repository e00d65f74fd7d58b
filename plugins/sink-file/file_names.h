/* File names of sink-file: pure functions, unit-tested. Names are deterministic, so a replay
 * writes the same names (per-record files are overwritten, not duplicated). */
#ifndef BPPIPE_FILE_NAMES_H
#define BPPIPE_FILE_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Copies `in` to `out` keeping [A-Za-z0-9.-] and replacing anything else with '_'; a leading
 * '.' becomes '_' so no name is hidden or "..". NULL or empty in gives `fallback`. At most
 * `max` characters are kept. */
void bp_safe_name(const char *in, const char *fallback, size_t max, char *out, size_t out_len);

/* "<patient>_<practitioner>_<YYYYmmdd_HHMMSS>_<id>.json" (UTC). A missing practitioner is
 * "none". Returns 0, or -1 when the result would not fit. */
int bp_record_file_name(const char *patient, const char *practitioner, int64_t effective_ms,
                        const char *id, char *out, size_t out_len);

/* "invalid_<16 hex digits>.json" from a hash of the payload and the record's position in it,
 * for dead letters that have no patient or time. */
int bp_invalid_file_name(const void *payload, size_t len, int64_t resource_index, char *out,
                         size_t out_len);

/* "bp-YYYYmmddTHH.ndjson": the hourly NDJSON file for a time (UTC). */
int bp_hour_file_name(int64_t ms, char *out, size_t out_len);

/* FNV-1a, 64 bits. */
uint64_t bp_fnv1a64(const void *data, size_t len, uint64_t seed);

#endif
