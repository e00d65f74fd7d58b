/* The host table's share of keyed state (src/pipeline/host.c): add_payload stamps a source's
 * record with its batch and its partition's state (bp_batch_add_payload alone makes the record
 * only: records know nothing of the state), and state_restore counts the values of owners
 * that are gone (state_restore_ignored). */
#include "check.h"
#include "state_fixture.h"
#include "pipeline/instance.h"
#include "pipeline/record.h"
#include "pipeline/state.h"

#include <stdlib.h>

static double counter(const bp_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_counters; i++)
        if (strcmp(ctx->counters[i].name, name) == 0)
            return ctx->counters[i].value;
    return 0;
}

int main(void)
{
    const bp_host *h = bp_host_table();
    bp_state_configure(true, 0);
    bp_ctx *src = ctx_new("source.kafka", &src_loaded);
    bp_ctx *det = ctx_new("detector.trend", &det_loaded);
    bp_arena a;
    bp_arena_init(&a, 4096);
    bp_batch b;
    bp_batch_init(&b, &a, 10);
    b.seq = 7;
    bp_origin o = {sizeof o, "bp", 0, 1, NULL, 0, -1};

    /* no owner yet: the batch is stamped, no state */
    CHECK(h->add_payload(&b, "{}", 2, &o) == BP_OK);
    CHECK(b.items[0]->state_seq == 7 && b.items[0]->state_scope == 0);

    CHECK(h->state_open(det, "trend.1", 0, NULL) == BP_OK);
    CHECK(h->add_payload(&b, "{}", 2, &o) == BP_OK);
    CHECK(b.items[1]->state_seq == 7 && b.items[1]->state_scope != 0);
    CHECK(bp_batch_add_payload(&b, "{}", 2, &o) == BP_OK); /* the record alone */
    CHECK(b.items[2]->state_seq == 0 && b.items[2]->state_scope == 0);

    CHECK(h->state_restore(src, "bp", 0, "detector.trend/trend.1", "k", 1, "v", 1) == BP_OK);
    CHECK(counter(src, "state_restore_ignored") == 0);
    CHECK(h->state_restore(src, "bp", 0, "detector.gone/x.1", "k", 1, "v", 1) == BP_OK);
    CHECK(h->state_restore(src, "bp", 0, "detector.gone/x.1", "j", 1, "v", 1) == BP_OK);
    CHECK(counter(src, "state_restore_ignored") == 2);
    CHECK(h->state_restore(det, "bp", 0, "detector.gone/x.1", "k", 1, "v", 1) == BP_EINVAL);
    CHECK(counter(det, "state_restore_ignored") == 0);

    bp_batch_free(&b);
    bp_arena_free(&a);
    bp_ctx_free(det);
    bp_ctx_free(src);
    bp_state_reset();
    return CHECK_DONE();
}
