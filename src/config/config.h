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
    BP_SEC_SINK,
    BP_SEC_ALARMS /* [alarms]: one section, like [pipeline] (src/alarm, docs/alarms.md) */
} bp_section_kind;

typedef struct bp_kv {
    char *key;
    char *value;      /* after ${VAR} expansion; NULL while `unresolved` is set */
    char *unresolved; /* why the file's value could not be expanded (an undefined ${VAR}),
                       * kept until it is known whether the key stays part of the pipeline;
                       * see bp_section_report_unresolved */
    const char *file; /* the pipeline file, or "-o" for a command-line override */
    int line;         /* 0 for overrides */
    bool used;        /* consumed by validation (host key or declared option) */
} bp_kv;

typedef struct bp_section {
    char *name; /* as written: "sink.anomalies" */
    bp_section_kind kind;
    const char *instance; /* points into name after the dot; "" for [pipeline] */
    const char *file;
    int line;
    bp_kv *kvs;
    size_t n_kvs, cap_kvs;
    char *file_plugin; /* the file's `plugin` value once -o has set another; else NULL */
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
 * device, FIFO or folder is refused at once, without blocking). Syntax errors, unknown or
 * repeated sections and repeated keys are added to `errs`. A value whose ${VAR} cannot be
 * expanded is not an error yet: its key is kept with `unresolved` set and no value, because
 * a command-line edit may still remove it (-u) or a plugin swap drop it; the caller reports
 * what remains with bp_config_report_unresolved. Returns 0 when the file could be read at all
 * (check errs->n for problems), -1 when it could not be opened (also reported in errs). */
int bp_config_load(bp_config *cfg, const char *path, bp_errors *errs);
/* Parses INI text held in memory, naming it `name` in errors. */
int bp_config_load_string(bp_config *cfg, const char *name, const char *text, bp_errors *errs);

/* Applies one "-o SECTION.KEY=VALUE": replaces the key, adds it, or adds the section. The
 * section part is "pipeline", "alarms" or KIND.NAME; everything after it is the key, so dotted keys
 * such as "kafka.security.protocol" work. Setting `plugin` to another plugin than the file's
 * records the file's value in `file_plugin` (see bp_section_drop_undeclared). */
int bp_config_override(bp_config *cfg, const char *assignment, bp_errors *errs);

/* Applies one "-u SECTION" (removes the section) or "-u SECTION.KEY" (removes the key). A
 * section or key that is not there is an error naming it, with a "did you mean" when a name
 * of the file is close. */
int bp_config_unset(bp_config *cfg, const char *target, bp_errors *errs);

/* Command-line edits of a pipeline, applied in the order given. `position` is the argument's
 * index on the command line (0 when unknown): errors name it, or SECTION.KEY, never a value,
 * which may be a secret. `arg` is borrowed and must outlive the config. */
typedef enum bp_edit_kind { BP_EDIT_SET, BP_EDIT_UNSET } bp_edit_kind;
typedef struct bp_edit {
    bp_edit_kind kind;
    const char *arg; /* "SECTION.KEY=VALUE" for SET, "SECTION" or "SECTION.KEY" for UNSET */
    int position;
} bp_edit;

/* Applies every edit, all of them even after a failure, so every mistake is seen in one go.
 * Returns 0 when all applied. */
int bp_config_apply(bp_config *cfg, const bp_edit *edits, size_t n, bp_errors *errs);

/* The plugin the file gave `s` when -o has since replaced it by another, else NULL. */
const char *bp_section_swapped_from(const bp_section *s);

/* Removes the keys of `s` that came from the file (not from -o) and that `declared` does not
 * accept: after a plugin swap they belonged to the old plugin. The removed names (never their
 * values) are written to `names`, ", "-separated and cut to fit `names_len`. Returns how many
 * were removed. */
typedef bool (*bp_key_filter)(void *user, const char *key);
size_t bp_section_drop_undeclared(bp_section *s, bp_key_filter declared, void *user,
                                  char *names, size_t names_len);

/* Reports every unresolved key of `s` in `errs` (file, line, section, key and why), then
 * removes those keys; with `errs` NULL they are removed silently. Call it once edits and
 * swaps have settled which keys stay, before anything reads the section's values. */
void bp_section_report_unresolved(bp_section *s, bp_errors *errs);
/* The same for every section of `cfg`. */
void bp_config_report_unresolved(bp_config *cfg, bp_errors *errs);

bp_section *bp_config_find(const bp_config *cfg, const char *name);
bp_kv *bp_section_get(const bp_section *s, const char *key);
/* The value of `key` or NULL. */
const char *bp_section_value(const bp_section *s, const char *key);
void bp_config_free(bp_config *cfg);

/* Expands ${VAR} and ${VAR:-default} in `in`. Returns a malloc'd string, or NULL with a reason
 * in `why` (undefined variable, unterminated reference). */
char *bp_expand_env(const char *in, char *why, size_t why_len);

#endif
