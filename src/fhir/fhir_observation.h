/* One FHIR Observation (a cJSON tree) to one reading or one reason it is not usable. The
 * container walk (fhir_decode.c) calls this for every Observation it finds. */
#ifndef BPPIPE_FHIR_OBSERVATION_H
#define BPPIPE_FHIR_OBSERVATION_H

#include "base/arena.h"
#include "fhir/fhir_types.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* The longest id, in bytes, an Observation may yield: its id, its stable id, the patient,
 * practitioner and device ids. Longer ones make the Observation a dead letter with the reason
 * ("patient id of 1500 bytes is over the limit of 1024"), never a shortened id. A paired
 * reading's stable id joins two stable ids with '+', so it may reach 2 * 1024 + 1. */
#define BP_FHIR_ID_MAX 1024

/* NUL characters. cJSON, like every C string, ends a string at a NUL, so "a\u0000b" would read
 * as "a". Before parsing, the container walk marks each NUL of a payload in a copy of it: the
 * escape \u0000 becomes BP_FHIR_NUL_MARK and five BP_FHIR_NUL_PAD bytes (the same length, so
 * byte positions in reasons do not move), a raw 0 byte one BP_FHIR_NUL_MARK. Valid UTF-8 never
 * holds these two bytes, so a marked string is recognised, and distinct payloads stay distinct.
 * An Observation holding a mark is a dead letter. */
#define BP_FHIR_NUL_MARK '\xff'
#define BP_FHIR_NUL_PAD '\xfe'

/* What extraction shares across one payload. */
typedef struct bp_obs_ctx {
    bp_arena arena;  /* composed strings ("<id>/_history/<v>", ids cut out of references, pairs),
                        alive until the payload's items are emitted */
    bool nul_marked; /* the payload held NUL characters, marked as above */
    bool nomem;      /* an allocation failed: the payload becomes "out of memory while decoding" */
} bp_obs_ctx;

/* What the extraction found. Strings point into the cJSON tree or into ctx->arena, which the
 * caller keeps alive as long as the result; only d.invalid_reason points into the result. */
typedef struct bp_obs_result {
    bp_decoded d;
    bool is_bp;       /* the Observation is about blood pressure at all (codes seen) */
    bool has_sys, has_dia;
    char reason[256]; /* storage for d.invalid_reason; values quoted in it are marked when
                         shortened ("status very-long-sta… is not a reading") */
    bool paired_away; /* merged into another result by pairing: not emitted */
    /* A retraction's Observation.code names systolic alone or diastolic alone: it may take back
     * one half of a reading that pairing made of two. */
    bool code_sys_only, code_dia_only;
} bp_obs_result;

/* Extracts a reading from `obs`. `full_url` is the Bundle entry's fullUrl or NULL; `raw`,
 * `raw_len` are the bytes the resource was parsed from when the payload is exactly this one
 * resource (for a content hash without re-printing), else NULL. Never fails: problems end up
 * in res->d.invalid_reason (and ctx->nomem when memory ran out). */
void bp_obs_extract(const cJSON *obs, const char *full_url, const char *raw, size_t raw_len,
                    bp_obs_ctx *ctx, bp_obs_result *res);

/* "sha256:" and 40 hex digits naming a resource by its content, in ctx's arena: over `raw`,
 * `raw_len` (the resource's own bytes) when not NULL, else over `node` printed compactly by
 * cJSON. Stable ids and so Elasticsearch _ids and file names are made of it: the bytes hashed
 * must never change. NULL (and ctx->nomem) when memory ran out. */
const char *bp_obs_content_hash(bp_obs_ctx *ctx, const cJSON *node, const char *raw,
                                size_t raw_len);

/* Points d.invalid_reason back at this result's own storage, after the result was moved (the
 * container walk keeps results in an array that grows). */
void bp_obs_rebase(bp_obs_result *res);

/* "<a>+<b>" in ctx's arena: the stable id of a reading paired from two single-value ones. NULL
 * (and ctx->nomem) when memory ran out. */
const char *bp_obs_join_ids(bp_obs_ctx *ctx, const char *a, const char *b);

/* A copy of data[0..len) with every NUL character marked as described above, for parsing; NULL
 * when the payload holds none (the common case: nothing is copied) or when memory ran out
 * (*nomem set). The caller frees the copy. */
char *bp_fhir_mark_nuls(const char *data, size_t len, bool *nomem);

#endif
