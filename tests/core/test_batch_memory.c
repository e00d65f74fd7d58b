/* What a batch's arena keeps until its commit (docs/kafka.md, "The ward's memory"): a document
 * only one sink gets is made in that sink's own arena during its write() and forgotten after it,
 * not cached in the batch's arena; a document two sinks get, or one stamped with the moment of
 * rendering, is cached there as before, the same bytes for both. Annotation keys are kept once
 * for the run, not copied into every reading; a batch's payloads share their topic's copy. */
#include "check.h"
#include "pipeline/document.h"
#include "pipeline/instance.h"

#include <stdlib.h>
#include <string.h>

static const bp_plugin test_sink = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "test-sink",
    .kind = BP_KIND_SINK,
};
static const bp_loaded sink_loaded = {.desc = &test_sink};

static bp_record *reading(bp_arena *a, int i)
{
    bp_record *r = bp_record_new(a);
    char id[32];
    snprintf(id, sizeof id, "obs-%d", i);
    r->stable_id = bp_arena_strdup(a, id);
    r->patient_id = "PAT-001";
    r->effective_ms = 1767322800123LL + i;
    r->systolic = 150;
    r->diastolic = 82.5;
    r->sinks_pending = 1; /* one sink */
    return r;
}

int main(void)
{
    const bp_host *h = bp_host_table();
    bp_ctx *sink = calloc(1, sizeof *sink);
    sink->name = strdup("sink.one");
    sink->plugin = &sink_loaded;
    bp_arena a;
    bp_arena_init_growing(&a, 4096);
    bp_batch b;
    bp_batch_init(&b, &a, 0);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

    /* A write of 2 000 readings routed to this sink alone: their documents take nothing of the
     * batch's arena, read twice in one write they are the same bytes at the same place, and
     * after the write the records hold none of them and the sink's arena gave its chunks back
     * (1.5 MiB of documents for a ward's batch is more than it keeps between writes). */
    for (int i = 0; i < 2000; i++) {
        bp_record *r = reading(&a, i);
        r->doc_lock = &lock;
        CHECK(bp_batch_push(&b, r) == BP_OK);
    }
    size_t used = bp_arena_used(&a);
    CHECK(bp_ctx_begin_write(sink, &b) == 0);
    bp_buf want;
    bp_buf_init(&want);
    size_t docs = 0;
    for (size_t i = 0; i < b.count; i++) {
        size_t len = 0, again_len = 0;
        const char *doc = h->document(sink, b.items[i], 0, &len);
        const char *again = h->document(sink, b.items[i], 0, &again_len);
        bp_buf_reset(&want);
        bp_document_write(&want, b.items[i], false, 0);
        CHECK(doc && len == want.len && memcmp(doc, want.data, len) == 0);
        CHECK(again == doc && again_len == len);
        docs += len;
    }
    CHECK(bp_arena_used(&a) == used);
    CHECK(docs > BP_CTX_DOCS_KEEP);
    CHECK(bp_arena_bytes(&sink->docs) >= docs);
    bp_ctx_end_write(sink);
    for (size_t i = 0; i < b.count; i++)
        CHECK(b.items[i]->docs[0] == NULL && b.items[i]->doc_lens[0] == 0);
    CHECK(bp_arena_bytes(&sink->docs) == 0);

    /* A small write keeps its chunks warm for the next one (a paced ward's batch of one). */
    bp_batch one;
    bp_batch_init(&one, &a, 0);
    CHECK(bp_batch_push(&one, b.items[0]) == BP_OK);
    CHECK(bp_ctx_begin_write(sink, &one) == 0);
    CHECK(h->document(sink, b.items[0], BP_DOC_PRETTY, NULL) != NULL);
    bp_ctx_end_write(sink);
    CHECK(b.items[0]->docs[1] == NULL);
    CHECK(bp_arena_bytes(&sink->docs) == 0 && sink->docs.free != NULL);

    /* Routed to two sinks: cached in the batch's arena, the same bytes for the other sink. */
    bp_record *shared = reading(&a, 7);
    shared->sinks_pending = 1 | 2;
    bp_batch two;
    bp_batch_init(&two, &a, 0);
    CHECK(bp_batch_push(&two, shared) == BP_OK);
    used = bp_arena_used(&a);
    CHECK(bp_ctx_begin_write(sink, &two) == 0);
    const char *first = h->document(sink, shared, 0, NULL);
    bp_ctx_end_write(sink);
    CHECK(first && bp_arena_owns(&a, first) && bp_arena_used(&a) > used);
    CHECK(shared->docs[0] == first);
    CHECK(h->document(sink, shared, 0, NULL) == first);

    /* No time of its own (stamped when rendered): cached, so a retry sends the same bytes. */
    bp_record *untimed = reading(&a, 8);
    untimed->effective_ms = INT64_MIN;
    untimed->invalid_reason = "no effectiveDateTime";
    bp_batch three;
    bp_batch_init(&three, &a, 0);
    CHECK(bp_batch_push(&three, untimed) == BP_OK);
    CHECK(bp_ctx_begin_write(sink, &three) == 0);
    const char *dead = h->document(sink, untimed, 0, NULL);
    bp_ctx_end_write(sink);
    CHECK(dead && bp_arena_owns(&a, dead) && untimed->docs[0] == dead);

    /* Outside a write (the conformance kit, a detector): cached in the record as before. */
    bp_record *plain = reading(&a, 9);
    const char *kept = h->document(sink, plain, 0, NULL);
    CHECK(kept && bp_arena_owns(&a, kept) && plain->docs[0] == kept);

    /* Annotation keys: one copy for the run, in no batch's arena, whatever buffer the detector
     * passed (and reused) for the name; a reading's annotation costs its node alone. */
    bp_arena other;
    bp_arena_init(&other, 4096);
    bp_record *x = reading(&a, 10), *y = reading(&other, 11);
    char key[32];
    strcpy(key, "trend_z");
    used = bp_arena_used(&a);
    CHECK(bp_record_annotate(x, key, BP_VAL_NUMBER, 1.5, NULL) == BP_OK);
    CHECK(bp_arena_used(&a) - used == ((sizeof(bp_annotation) + 7) & ~(size_t)7));
    strcpy(key, "trend_baseline");
    CHECK(bp_record_annotate(x, key, BP_VAL_NUMBER, 120, NULL) == BP_OK);
    strcpy(key, "trend_z");
    CHECK(bp_record_annotate(y, key, BP_VAL_NUMBER, 2.5, NULL) == BP_OK);
    strcpy(key, "xxxxxxx");
    CHECK_STR(x->annotations->key, "trend_z");
    CHECK_STR(x->annotations->next->key, "trend_baseline");
    CHECK(x->annotations->key == y->annotations->key);
    CHECK(!bp_arena_owns(&a, x->annotations->key) && !bp_arena_owns(&other, y->annotations->key));
    bp_buf_reset(&want);
    bp_document_write(&want, x, false, 0);
    CHECK_CONTAINS(bp_buf_cstr(&want), "\"trend_z\":1.5,\"trend_baseline\":120");
    /* More distinct keys than the table keeps: the rest are copied into the arena, as before. */
    bp_record *many = reading(&other, 12);
    for (int i = 0; i < 600; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(bp_record_annotate(many, key, BP_VAL_BOOL, 1, NULL) == BP_OK);
    }
    size_t in_arena = 0, n = 0;
    for (const bp_annotation *an = many->annotations; an; an = an->next, n++)
        in_arena += bp_arena_owns(&other, an->key);
    CHECK(n == 600 && in_arena > 0 && in_arena < 600);
    snprintf(key, sizeof key, "k%d", 599);
    CHECK_STR(many->annotations_tail->key, key);

    /* A batch's payloads from one topic share one copy of its name; another topic its own. */
    bp_batch in;
    bp_batch_init(&in, &a, 10);
    bp_origin o = {sizeof o, "blood-pressure", 0, 1, NULL, 0, -1};
    CHECK(bp_batch_add_payload(&in, "{}", 2, &o) == BP_OK);
    o.offset = 2;
    CHECK(bp_batch_add_payload(&in, "{}", 2, &o) == BP_OK);
    o.topic = "alarm-acks";
    CHECK(bp_batch_add_payload(&in, "{}", 2, &o) == BP_OK);
    CHECK(in.items[0]->topic != o.topic && in.items[0]->topic == in.items[1]->topic);
    CHECK_STR(in.items[0]->topic, "blood-pressure");
    CHECK_STR(in.items[2]->topic, "alarm-acks");
    CHECK(bp_arena_owns(&a, in.items[2]->topic));

    bp_buf_free(&want);
    bp_batch_free(&in);
    bp_batch_free(&b);
    bp_batch_free(&one);
    bp_batch_free(&two);
    bp_batch_free(&three);
    bp_arena_free(&other);
    bp_arena_free(&a);
    bp_ctx_free(sink);
    return CHECK_DONE();
}
