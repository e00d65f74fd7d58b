/* Declared options: validation of a section's keys against a plugin's table, typed parsing,
 * and the help text printed from the same table. */
#ifndef BPPIPE_OPTIONS_H
#define BPPIPE_OPTIONS_H

#include "bppipe/plugin.h"
#include "config/config.h"

#include <stdbool.h>
#include <stdio.h>

/* Checks every key of `s` against `opts`: unknown keys (with a "did you mean"), wrong types,
 * out-of-bounds values, values not among the choices, missing required keys. Keys listed in
 * `host_keys` (NULL-terminated; may be NULL) belong to the host and are skipped. Each problem
 * is added to `errs` naming file, line, section and key. */
void bp_options_validate(const bp_section *s, const bp_option *opts, size_t n,
                         const char *const *host_keys, bp_errors *errs);

/* The declared option `key` matches exactly or through a "prefix.*" entry; NULL otherwise. */
const bp_option *bp_options_find(const bp_option *opts, size_t n, const char *key);

/* Typed parsing shared by validation and the host's getters. Return 0 on success. */
int bp_parse_int(const char *text, int64_t *out);
int bp_parse_double(const char *text, double *out);
int bp_parse_bool(const char *text, bool *out);
/* True when `text` is one of the '|'-separated words of `choices`. */
bool bp_choice_ok(const char *choices, const char *text);

/* One option per line: name, type, default or "required", bounds or choices, help. */
void bp_options_print(FILE *out, const bp_option *opts, size_t n);

/* "file:line" for a key, or "-o" for an override, into `buf`. */
const char *bp_where(const char *file, int line, char *buf, size_t len);

#endif
