/* The names sink-file's per-record folder may hold, as a Bloom filter: filled from the folder's
 * listing at the first write and from every name the sink gives, so that a name it says is
 * absent needs no look-up before its file is made (a probe of a name that is not there was two
 * failed openat() calls per file, a sixth of the archive's system time). A name it may hold is
 * looked up as before; false positives cost only that look-up, never a wrong answer, as long as
 * nothing but this sink puts files in the folder (one running pipeline per folder:
 * docs/plugins/sink-file.md). 2^23 bits (1 MiB), 3 bits a name: about 1 look-up in 25 000 wasted
 * at 100 000 names, 1 in 40 at a million, more beyond (still correct). */
#ifndef BPPIPE_NAME_FILTER_H
#define BPPIPE_NAME_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bp_name_filter {
    uint64_t *bits; /* NULL: not filled (every name may be there) */
    size_t count;   /* names added */
} bp_name_filter;

/* Allocates an empty filter; -1 when out of memory (then every name may be there). */
int bp_name_filter_init(bp_name_filter *f);
void bp_name_filter_free(bp_name_filter *f);

/* Adds one name of the folder. */
void bp_name_filter_add(bp_name_filter *f, const char *name);

/* Whether `name` may be in the folder: false only when it was never added. */
bool bp_name_filter_may_hold(const bp_name_filter *f, const char *name);

#endif
