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
/* Whether a document of `r` is one sink's alone: at most one sink is routed the record, and
 * every rendering gives the same bytes (its time is the reading's own, not the moment of
 * rendering), so it need not outlive that sink's write(). */
bool bp_document_unshared(const bp_record *r);
/* bp_document_get, a document not cached yet made in `into` (NULL: the record's arena). */
const char *bp_document_get_in(bp_record *r, bool pretty, bp_arena *into, size_t *len);
/* Forgets the record's cached documents that live in `from` (before `from` is emptied). */
void bp_document_forget_in(bp_record *r, const bp_arena *from);
/* Frees the calling thread's rendering buffer (a delivery lane, before it exits). */
void bp_document_thread_done(void);

#endif
