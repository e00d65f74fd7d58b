/* The one FHIR decoder of bppipe: payload bytes in, readings (or invalid reasons) out.
 *
 * Pure functions over plain data: no I/O, no logging, and no global state but cJSON's
 * allocation hooks (bp_fhir_decode_init) and a per-thread allocator kept warm between
 * payloads. The decoder parses a payload once (cJSON), walks the container (one resource, a
 * Bundle of any type, a JSON array or NDJSON), pairs single-value Observations of one patient
 * and time, and calls `emit` once per reading found or once per reason the payload (or one
 * resource of it) could not be used. Every string handed to `emit` is valid only during that
 * call; the caller copies what it keeps. Threads may decode at the same time. The rules, field
 * by field, are in docs/fhir.md. */
#ifndef BPPIPE_FHIR_DECODE_H
#define BPPIPE_FHIR_DECODE_H

#include "fhir/fhir_types.h"

#include <stddef.h>

typedef struct bp_decode_opts {
    size_t max_payload_bytes; /* 0 = no limit; larger payloads are invalid without parsing */
} bp_decode_opts;

/* Called for each item; return 0 to go on, non-zero to stop decoding (the value is returned
 * by bp_fhir_decode). */
typedef int (*bp_decode_emit)(void *user, const bp_decoded *item);

/* Decodes `len` bytes at `data` (need not be NUL-terminated). `opts` may be NULL for the
 * defaults. Calls `emit` at least once for every payload: a payload that yields no reading
 * produces an invalid item with the reason, or one skipped item per resource that is valid FHIR
 * but not blood pressure. Returns 0, the non-zero value of `emit`
 * that stopped it, or -1 when memory ran out (after emitting an invalid item saying so). */
int bp_fhir_decode(const char *data, size_t len, const bp_decode_opts *opts,
                   bp_decode_emit emit, void *user);

/* Installs the decoder's cJSON allocation hooks (a per-thread arena while a payload is decoded,
 * plain malloc and free otherwise). bp_fhir_decode calls it on first use; a program that runs
 * cJSON on other threads calls it first, before those threads start (cJSON's hooks are one
 * process-wide setting, and setting them races with any cJSON call). Idempotent. */
void bp_fhir_decode_init(void);

/* Gives back the calling thread's decoder memory (kept warm between payloads). A thread that
 * decoded calls it before it ends; decoding again afterwards is fine. */
void bp_fhir_decode_thread_done(void);

#endif
