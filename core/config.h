/* Pipeline files: INI text in, sections and keys with their file and line out. Nothing here
 * knows plugins; validation against declared options happens in options.c. */
#ifndef BPPIPE_CONFIG_H
#define BPPIPE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum bp_section_kind {
    BP_SEC_PIPELINE,
    BP_SEC_SOURCE,
    BP_SEC_DETECTOR,
    BP_SEC_SINK
} bp_section_kind;

typedef struct bp_kv {
    char *key;
    char *value;    /* after ${VAR} expansion */
    const char *file; /* the pipeline file, or "-o" for a command-line override */
    int line;       /* 0 for overrides */
    bool used;      /* consumed by validation (host key or declared option) */
} bp_kv;

typedef struct bp_section {
    char *name; /* as written: "sink.anomalies" */
    bp_section_kind kind;
    const char *instance; /* points into name after the dot; "" for [pipeline] */
    const char *file;
    int line;
    bp_kv *kvs;
    size_t n_kvs, cap_kvs;
} bp_section;

/* Errors are collected, not fatal one by one, so a user sees every mistake in one go. */
typedef struct bp_errors {
    char **items;
    size_t n, cap;
} bp_errors;

typedef struct bp_config {
    char *path; /* the file as given on the command line */
    bp_section *sections;
    size_t n_sections, cap_sections;
} bp_config;

void bp_errors_add(bp_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bp_errors_print(const bp_errors *e); /* to stderr, one per line */
void bp_errors_free(bp_errors *e);

/* The largest pipeline file read: a pipeline is a few kilobytes of INI, so anything larger
 * (a log, a disk image, /dev/zero) is refused before it is read, not grown into memory. */
#define BP_CONFIG_MAX_BYTES (1024 * 1024)

/* Reads and parses `path`, which must be a regular file of at most BP_CONFIG_MAX_BYTES (a
 * device, FIFO or folder is refused at once, without blocking). Syntax errors, unknown or repeated sections, repeated keys and
 * undefined ${VAR}s are added to `errs`. Returns 0 when the file could be read at all (check
 * errs->n for problems), -1 when it could not be opened (also reported in errs). */
int bp_config_load(bp_config *cfg, const char *path, bp_errors *errs);
/* Parses INI text held in memory, naming it `name` in errors. */
int bp_config_load_string(bp_config *cfg, const char *name, const char *text, bp_errors *errs);

/* Applies one "-o SECTION.KEY=VALUE": replaces the key, adds it, or adds the section. The
 * section part is "pipeline" or KIND.NAME; everything after it is the key, so dotted keys
 * such as "kafka.security.protocol" work. */
int bp_config_override(bp_config *cfg, const char *assignment, bp_errors *errs);

bp_section *bp_config_find(const bp_config *cfg, const char *name);
bp_kv *bp_section_get(const bp_section *s, const char *key);
/* The value of `key` or NULL. */
const char *bp_section_value(const bp_section *s, const char *key);
void bp_config_free(bp_config *cfg);

/* Expands ${VAR} and ${VAR:-default} in `in`. Returns a malloc'd string, or NULL with a reason
 * in `why` (undefined variable, unterminated reference). */
char *bp_expand_env(const char *in, char *why, size_t why_len);

#endif
