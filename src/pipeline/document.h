/* The one serializer: a judged reading (or a dead-lettered record) as the JSON document that
 * every sink receives. Field names are the original system's, documented in docs/documents.md. */
#ifndef BPPIPE_DOCUMENT_H
#define BPPIPE_DOCUMENT_H

#include "common/json_buf.h"
#include "pipeline/record.h"

/* Appends the document of `r` to `out`. `pretty` indents with two spaces. `now_ms` stamps
 * invalid records that carry no time of their own. */
void bp_document_write(bp_buf *out, const bp_record *r, bool pretty, long long now_ms);

/* The record's cached document (built on first use in the record's arena). NULL on ENOMEM.
 * Safe from several threads at once for one record when the record has a doc_lock. */
const char *bp_document_get(bp_record *r, bool pretty, size_t *len);
/* Frees the calling thread's rendering buffer (a delivery lane, before it exits). */
void bp_document_thread_done(void);

#endif
