/* "Did you mean": the known name closest to a misspelt one, when it is close enough to be a
 * likely typo. Used for unknown option keys (config/options.c) and for the sections and keys
 * that -u names but the pipeline lacks (config/config.c). */
#ifndef BPPIPE_SUGGEST_H
#define BPPIPE_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/* Levenshtein distance (insertions, deletions, substitutions), capped at 100: names longer
 * than 100 bytes are never suggested. */
size_t bp_edit_distance(const char *a, const char *b);

/* How many edits a suggestion may be away from `want`: 1 for names of up to 4 bytes, 2 for
 * longer ones. With `scaled`, a quarter of the length once that is more than 2 (3 edits from
 * 12 bytes, 4 from 16): the rule of -u's hints, while unknown keys keep 2. The two differ only
 * for names of 12 bytes or more, and both are kept so that no message changes. */
size_t bp_suggest_max_edits(const char *want, bool scaled);

/* The search, fed one candidate at a time (names may come from several lists). */
typedef struct bp_suggest {
    const char *want;
    const char *best; /* the first of the closest candidates so far, NULL before any */
    size_t best_d;
} bp_suggest;

void bp_suggest_init(bp_suggest *s, const char *want);
/* Considers `name`; on a tie the earlier candidate stays. `name` must outlive the search. */
void bp_suggest_offer(bp_suggest *s, const char *name);
/* The closest candidate when it is at most `max_edits` away, else NULL. */
const char *bp_suggest_result(const bp_suggest *s, size_t max_edits);

#endif
