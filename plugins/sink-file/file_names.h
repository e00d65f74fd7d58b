/* File names of sink-file: pure functions, unit-tested. Names are deterministic, so a replay
 * writes the same names (per-record files are overwritten, not duplicated), and they always fit
 * NAME_MAX (255 bytes), whatever the length of the ids they are made from. */
#ifndef BPPIPE_FILE_NAMES_H
#define BPPIPE_FILE_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Longest part written as it is; FHIR ids are at most 64 characters. */
#define BP_NAME_PART_MAX 64
/* A shortened part: this many safe characters of the input, '~', and BP_NAME_HASH_HEX hex
 * digits of the SHA-256 of the input's exact bytes. */
#define BP_NAME_PREFIX 40
#define BP_NAME_HASH_HEX 20
/* Longest name bp_record_file_name() makes: three parts, the time, separators and ".json".
 * sink-file adds 5 bytes for its temporary name, still well below NAME_MAX. */
#define BP_RECORD_NAME_MAX (3 * BP_NAME_PART_MAX + 15 + 3 + 5)

/* Copies `in` to `out` keeping [A-Za-z0-9.-] and replacing anything else with '_'; a leading
 * '.' becomes '_' so no name is hidden or "..". NULL or empty in gives `fallback`. At most
 * `max` characters are kept. */
void bp_safe_name(const char *in, const char *fallback, size_t max, char *out, size_t out_len);

/* One part of a file name (at most BP_NAME_PART_MAX characters, plus the NUL). `in` is written
 * as it is when it is made only of [A-Za-z0-9.-], does not start with '.', and is at most
 * BP_NAME_PART_MAX long. Anything else (too long, or with a character a name cannot carry
 * as it is) becomes its first BP_NAME_PREFIX characters made safe, '~', and a hash of its
 * exact bytes, so distinct inputs never share a part ('~' never appears in a part written as it
 * is). NULL or empty in gives `fallback` (written as it is). `out_len` must be at least
 * BP_NAME_PART_MAX + 1. */
void bp_name_part(const char *in, const char *fallback, char *out, size_t out_len);

/* "<patient>_<practitioner>_<YYYYmmdd_HHMMSS>_<id>.json" (UTC), each id a bp_name_part(). A
 * missing practitioner is "none". Returns 0, or -1 when the time has no calendar date or the
 * result would not fit `out_len` (BP_RECORD_NAME_MAX + 1 always does). */
int bp_record_file_name(const char *patient, const char *practitioner, int64_t effective_ms,
                        const char *id, char *out, size_t out_len);

/* "invalid_<16 hex digits>.json", for dead letters that have no patient: a hash of the payload,
 * its position in the source (`offset`, -1 for none) and the resource's position inside the
 * payload (`resource_index`: a Bundle entry, an array element, an NDJSON line; -1 for a whole
 * payload). Two dead letters of one payload (two bad entries of a Bundle) get two names; a
 * replay gives the same ones. */
int bp_invalid_file_name(const void *payload, size_t len, int64_t offset, int64_t resource_index,
                         char *out, size_t out_len);

/* The "resource_index" a record's document (pretty or compact) gives in its "source" object, or
 * -1 when it has none. */
int64_t bp_doc_resource_index(const char *doc, size_t len);

/* "bp-YYYYmmddTHH.ndjson": the hourly NDJSON file for a time (UTC). */
int bp_hour_file_name(int64_t ms, char *out, size_t out_len);

/* FNV-1a, 64 bits. */
uint64_t bp_fnv1a64(const void *data, size_t len, uint64_t seed);

#endif
