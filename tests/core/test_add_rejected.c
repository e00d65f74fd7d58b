/* bp_host.add_rejected (ABI 1.6): a payload the source itself rejected is kept with its origin
 * and marked with the source's reason (its BP_F_INVALID_REASON for commit()), and
 * bp_decode_input, which the runner's inline loop and the decode pool both call, never decodes
 * it: its one item is a dead letter with exactly that reason and resource_index -1, even when its
 * bytes are a valid FHIR reading. A NULL, empty or multi-line reason is BP_EINVAL, nothing added. */
#include "check.h"
#include "engine/decode_pool.h"
#include "pipeline/instance.h"
#include "pipeline/record.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define VALID                                                                                 \
    "{\"resourceType\":\"Observation\",\"id\":\"r1\",\"status\":\"final\",\"code\":{\"coding\":" \
    "[{\"system\":\"http://loinc.org\",\"code\":\"85354-9\"}]},\"subject\":{\"reference\":"     \
    "\"Patient/p1\"},\"effectiveDateTime\":\"2026-03-01T08:00:00Z\",\"component\":[{\"code\":"  \
    "{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"8480-6\"}]},\"valueQuantity\":"   \
    "{\"value\":120,\"unit\":\"mmHg\"}},{\"code\":{\"coding\":[{\"system\":"                   \
    "\"http://loinc.org\",\"code\":\"8462-4\"}]},\"valueQuantity\":{\"value\":80,\"unit\":"     \
    "\"mmHg\"}}]}"
#define REASON "frame of 70000 bytes is over max_frame_bytes = 65536"

typedef struct seen {
    int n, invalid;
    char reason[128];
    int resource_index;
    double systolic;
} seen;

static int take(void *user, const bp_decoded *d)
{
    seen *s = user;
    s->n++;
    s->invalid += d->invalid_reason != NULL;
    snprintf(s->reason, sizeof s->reason, "%s", d->invalid_reason ? d->invalid_reason : "");
    s->resource_index = d->resource_index;
    s->systolic = d->systolic;
    return 0;
}

/* Per payload of the pool's run: how many items, and the reason of the last. */
typedef struct pooled {
    seen per[40];
} pooled;

static int take_pooled(void *user, size_t payload, const bp_decoded *d)
{
    pooled *p = user;
    return payload < 40 ? take(&p->per[payload], d) : -1;
}

int main(void)
{
    bp_fhir_decode_init();
    const bp_host *h = bp_host_table();
    CHECK(BP_HOST_HAS(h, add_rejected));
    CHECK(h->abi_minor >= 6);
    bp_arena a;
    bp_arena_init(&a, 4096);
    bp_batch b;
    bp_batch_init(&b, &a, 40);
    b.seq = 3;
    bp_origin o = {sizeof o, "mllp", -1, 42, "127.0.0.1:5000", 14, 1700000000000};

    /* refusals: nothing added */
    CHECK(h->add_rejected(&b, VALID, strlen(VALID), &o, NULL) == BP_EINVAL);
    CHECK(h->add_rejected(&b, VALID, strlen(VALID), &o, "") == BP_EINVAL);
    CHECK(h->add_rejected(&b, VALID, strlen(VALID), &o, "two\nlines") == BP_EINVAL);
    CHECK(h->add_rejected(&b, VALID, strlen(VALID), &o, "cr\rhere") == BP_EINVAL);
    CHECK(h->add_rejected(NULL, VALID, strlen(VALID), &o, REASON) == BP_EINVAL);
    CHECK(h->add_rejected(&b, NULL, 5, &o, REASON) == BP_EINVAL);
    CHECK(h->batch_count(&b) == 0);

    /* the same valid FHIR bytes, once as a payload, once rejected */
    CHECK(h->add_payload(&b, VALID, strlen(VALID), &o) == BP_OK);
    char reason[] = REASON;
    CHECK(h->add_rejected(&b, VALID, strlen(VALID), &o, reason) == BP_OK);
    reason[0] = 'X'; /* copied: the caller's buffer may change */
    CHECK(h->batch_count(&b) == 2);
    const bp_record *ok = h->batch_at(&b, 0), *rej = h->batch_at(&b, 1);
    CHECK_STR(h->text(ok, BP_F_INVALID_REASON), NULL);
    CHECK_STR(h->text(rej, BP_F_INVALID_REASON), REASON); /* what commit() reads */
    size_t len = 0;
    const char *pl = h->payload(rej, &len);
    CHECK(len == strlen(VALID) && pl && memcmp(pl, VALID, len) == 0);
    CHECK_STR(h->text(rej, BP_F_SOURCE_TOPIC), "mllp");
    CHECK(h->number(rej, BP_F_SOURCE_OFFSET) == 42);
    CHECK_STR(h->text(rej, BP_F_SOURCE_KEY), "127.0.0.1:5000");
    CHECK(h->number(rej, BP_F_SOURCE_TIMESTAMP_MS) == 1700000000000.0);
    CHECK(rej->state_seq == 3); /* stamped as add_payload stamps */

    seen s1 = {0}, s2 = {0};
    CHECK(bp_decode_input(ok, NULL, take, &s1) == 0);
    CHECK(s1.n == 1 && s1.invalid == 0 && s1.systolic == 120); /* the bytes are a reading */
    CHECK(bp_decode_input(rej, NULL, take, &s2) == 0);
    CHECK(s2.n == 1 && s2.invalid == 1 && s2.resource_index == -1 && isnan(s2.systolic));
    CHECK_STR(s2.reason, REASON);

    /* the reading made of it is a dead letter with that reason, and so is its payload */
    bp_decoded d = {.invalid_reason = REASON, .systolic = NAN, .diastolic = NAN,
                    .heart_rate = NAN, .mean_pressure = NAN, .resource_index = -1};
    bp_record *dead = bp_record_from_decoded(&a, rej, &d);
    CHECK(dead && bp_record_route(dead) == BP_ROUTE_INVALID && dead->rejected == NULL);

    /* the decode pool takes the same decision on its threads: 2 blocks, every third rejected */
    for (int i = 2; i < 34; i++) {
        int rc = i % 3 == 0 ? h->add_rejected(&b, VALID, strlen(VALID), &o, REASON)
                            : h->add_payload(&b, VALID, strlen(VALID), &o);
        CHECK(rc == BP_OK);
    }
    bp_decode_pool *pool = bp_decode_pool_start(2);
    CHECK(pool != NULL);
    pooled p = {0};
    CHECK(pool && bp_decode_pool_run(pool, &b, NULL, take_pooled, &p) == 0);
    for (size_t i = 0; i < b.count; i++) {
        bool is_rejected = b.items[i]->rejected != NULL;
        CHECK(p.per[i].n == 1);
        CHECK(p.per[i].invalid == (is_rejected ? 1 : 0));
        if (is_rejected)
            CHECK_STR(p.per[i].reason, REASON);
        else
            CHECK(p.per[i].systolic == 120);
    }
    bp_decode_pool_stop(pool);
    bp_batch_free(&b);
    bp_arena_free(&a);
    bp_fhir_decode_thread_done();
    return CHECK_DONE();
}
