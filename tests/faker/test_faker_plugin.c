/* source-faker's plugin shell driven through a fake host: options, batch capacity, BP_END at
 * `count`, origins, byte-identical runs, start_time errors, and real-time pacing that never
 * waits longer than the poll timeout. */
#include "check.h"
#include "fake_host.h"
#include "wardsim/ward_sim.h"

#include <stdlib.h>
#include <time.h>

const bp_plugin *bppipe_plugin(void);

#define START_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct instance {
    bp_ctx ctx;
    void *state;
    int rc;
} instance;

static void start(instance *in, const fake_opt *opts, size_t n)
{
    fake_ctx_init(&in->ctx, bppipe_plugin(), opts, n);
    in->state = NULL;
    in->rc = bppipe_plugin()->open(&fake_host, &in->ctx, &in->state);
}

static void stop(instance *in)
{
    if (in->rc == BP_OK)
        bppipe_plugin()->close(in->state);
}

/* Polls `in` with batches of `capacity` until BP_END (at most `limit` polls), collecting every
 * payload into `all`. Returns the number of polls, or -1 on an error status. */
static int drain(instance *in, size_t capacity, bp_batch *all, int limit)
{
    bp_batch b;
    fake_batch_init(&b, capacity);
    int polls = 0, rc = BP_OK;
    while (rc == BP_OK && polls < limit) {
        fake_batch_clear(&b);
        rc = bppipe_plugin()->poll(in->state, &b, 100);
        polls++;
        CHECK(b.count <= capacity);
        for (size_t i = 0; i < b.count; i++) {
            fake_payload *p = &b.items[i];
            bp_origin o = {sizeof o, p->topic, p->partition, p->offset, p->key, p->key_len,
                           p->timestamp_ms};
            fake_host.add_payload(all, p->data, p->len, &o);
        }
    }
    fake_batch_free(&b);
    return rc == BP_END ? polls : -1;
}

static void test_descriptor(void)
{
    const bp_plugin *p = bppipe_plugin();
    CHECK_STR(p->name, "source-faker");
    CHECK(p->kind == BP_KIND_SOURCE && p->abi_major == BP_ABI_MAJOR);
    CHECK(p->open && p->close && p->poll && !p->detect && !p->write);
    const char *want[] = {"patients", "practitioners", "rate", "count",
                          "seed", "start_time", "invalid_rate"};
    const char *defaults[] = {"5", "2", "1", "0", NULL, NULL, "0"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const bp_option *o = NULL;
        for (size_t k = 0; k < p->n_options; k++)
            if (strcmp(p->options[k].name, want[i]) == 0)
                o = &p->options[k];
        CHECK(o != NULL);
        if (o && defaults[i])
            CHECK_STR(o->default_value, defaults[i]);
        if (o)
            CHECK(o->struct_size == sizeof(bp_option) && o->help && *o->help);
    }
}

static void test_count_capacity_origin(void)
{
    const fake_opt opts[] = {{"count", "25"}, {"rate", "0"}, {"seed", "7"},
                             {"start_time", "2026-01-01T00:00:00Z"}, {"patients", "5"}};
    instance a, b;
    start(&a, opts, 5);
    start(&b, opts, 5);
    CHECK(a.rc == BP_OK && b.rc == BP_OK);
    bp_batch all_a, all_b;
    fake_batch_init(&all_a, 0);
    fake_batch_init(&all_b, 0);
    /* 25 readings in batches of 10: 10, 10, then 5 with BP_END */
    CHECK(drain(&a, 10, &all_a, 10) == 3);
    CHECK(drain(&b, 7, &all_b, 10) == 4);
    CHECK(all_a.count == 25 && all_b.count == 25);
    int identical = 1;
    for (size_t i = 0; i < all_a.count && i < all_b.count; i++) {
        fake_payload *p = &all_a.items[i], *q = &all_b.items[i];
        identical &= p->len == q->len && memcmp(p->data, q->data, p->len) == 0;
        CHECK(p->topic == NULL && p->partition == -1 && p->offset == (int64_t)i);
        char key[16];
        bp_ward_patient_id(i % 5, key, sizeof key);
        CHECK_STR(p->key, key);
        CHECK(p->key_len == strlen(key));
        /* the timestamp is the effective time written into the payload */
        const char *at = strstr(p->data, "\"effectiveDateTime\":\"");
        char when[40] = "";
        if (at)
            sscanf(at + 21, "%39[^\"]", when);
        int64_t ms = 0;
        CHECK(bp_ward_parse_time(when, &ms) == 0 && ms == p->timestamp_ms);
        int64_t slot = START_MS + (int64_t)(i / 5) * 5000 + (int64_t)(i % 5) * 1000;
        CHECK(llabs(p->timestamp_ms - slot) <= 200);
    }
    CHECK(identical); /* rate 0 still advances the clock 5 s per patient, jitter included */
    CHECK(all_a.items[0].timestamp_ms == START_MS);
    /* after BP_END the source stays ended */
    bp_batch more;
    fake_batch_init(&more, 10);
    CHECK(bppipe_plugin()->poll(a.state, &more, 10) == BP_END && more.count == 0);
    fake_batch_free(&more);
    fake_batch_free(&all_a);
    fake_batch_free(&all_b);
    stop(&a);
    stop(&b);

    /* another seed: other values */
    const fake_opt other[] = {{"count", "25"}, {"rate", "0"}, {"seed", "8"},
                              {"start_time", "2026-01-01T00:00:00Z"}};
    instance c;
    start(&c, other, 4);
    bp_batch all_c;
    fake_batch_init(&all_c, 0);
    start(&a, opts, 5);
    fake_batch_init(&all_a, 0);
    CHECK(drain(&c, 100, &all_c, 3) == 1 && drain(&a, 100, &all_a, 3) == 1);
    int differ = 0;
    for (size_t i = 0; i < 25; i++)
        differ += strcmp(all_a.items[i].data, all_c.items[i].data) != 0;
    CHECK(differ == 25);
    fake_batch_free(&all_a);
    fake_batch_free(&all_c);
    stop(&a);
    stop(&c);
}

/* interval = 900 with rate = 0: a patient every 15 simulated minutes, as fast as possible;
 * refused beside rate > 0. */
static void test_interval(void)
{
    const fake_opt opts[] = {{"count", "12"}, {"rate", "0"}, {"interval", "900"},
                             {"start_time", "2026-01-01T00:00:00Z"}, {"patients", "4"}};
    instance a;
    start(&a, opts, 5);
    CHECK(a.rc == BP_OK);
    bp_batch all;
    fake_batch_init(&all, 0);
    CHECK(drain(&a, 100, &all, 3) == 1 && all.count == 12);
    for (size_t i = 0; i < all.count; i++) {
        /* patient i % 4, round i / 4: 900 s apart, patients 225 s apart, jitter 20 % of it */
        int64_t slot = START_MS + (int64_t)(i / 4) * 900000 + (int64_t)(i % 4) * 225000;
        CHECK(llabs(all.items[i].timestamp_ms - slot) <= 45000);
    }
    CHECK(all.items[11].timestamp_ms - START_MS > 2 * 900000); /* a 5 s clock would be at 15 s */
    fake_batch_free(&all);
    stop(&a);
    const fake_opt paced[] = {{"rate", "1"}, {"interval", "900"}};
    instance b;
    start(&b, paced, 2);
    CHECK(b.rc == BP_FATAL);
}

static void test_forever_and_wall_clock(void)
{
    /* count 0 = forever: a full batch and BP_OK, again and again; no start_time = now */
    const fake_opt opts[] = {{"rate", "0"}, {"patients", "3"}};
    instance in;
    start(&in, opts, 2);
    CHECK(in.rc == BP_OK);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t now_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    bp_batch b;
    fake_batch_init(&b, 1000);
    for (int i = 0; i < 3; i++) {
        fake_batch_clear(&b);
        CHECK(bppipe_plugin()->poll(in.state, &b, 10) == BP_OK && b.count == 1000);
    }
    CHECK(b.items[999].offset == 2999);
    CHECK_STR(b.items[999].key, "PAT-003");
    fake_batch_clear(&b);
    CHECK(bppipe_plugin()->poll(in.state, &b, 10) == BP_OK);
    CHECK(b.count > 0 && llabs(b.items[0].timestamp_ms - (now_ms + 1000LL * 5 * 1000)) < 60000);
    fake_batch_free(&b);
    stop(&in);
}

static void test_bad_start_time(void)
{
    const fake_opt opts[] = {{"start_time", "2026-01-01 08:00"}};
    instance in;
    start(&in, opts, 1);
    CHECK(in.rc == BP_FATAL);
    CHECK(in.ctx.errors == 1);
    CHECK_CONTAINS(in.ctx.log, "start_time '2026-01-01 08:00'");
    CHECK_CONTAINS(in.ctx.log, "2026-01-01T08:00:00Z"); /* tells the user how to write it */
}

static void test_pacing(void)
{
    /* one patient read twice a second: due at 0, 0.5, 1.0 s. Polls with a 50 ms timeout must
     * each return within about 50 ms, and 1.2 s of polling yields exactly three readings. */
    const fake_opt opts[] = {{"rate", "2"}, {"patients", "1"}, {"seed", "1"}};
    instance in;
    start(&in, opts, 3);
    CHECK(in.rc == BP_OK);
    bp_batch b;
    fake_batch_init(&b, 100);
    double t0 = now_s(), longest = 0;
    size_t got = 0;
    int polls = 0;
    while (now_s() - t0 < 1.2) {
        fake_batch_clear(&b);
        double p0 = now_s();
        CHECK(bppipe_plugin()->poll(in.state, &b, 50) == BP_OK);
        double took = now_s() - p0;
        longest = took > longest ? took : longest;
        got += b.count;
        polls++;
    }
    fprintf(stderr, "paced: %zu readings in %d polls, longest poll %.0f ms\n", got, polls,
            longest * 1000);
    CHECK(got == 3);
    CHECK(longest < 0.15);
    CHECK(polls > 10); /* waited in short steps, not one long sleep */
    fake_batch_free(&b);
    stop(&in);

    /* the real clock starts at the first poll: a slow start does not cause a burst */
    start(&in, opts, 3);
    struct timespec pause = {1, 100000000};
    nanosleep(&pause, NULL);
    fake_batch_init(&b, 100);
    CHECK(bppipe_plugin()->poll(in.state, &b, 10) == BP_OK);
    CHECK(b.count == 1);
    fake_batch_free(&b);
    stop(&in);
}

int main(void)
{
    test_descriptor();
    test_count_capacity_origin();
    test_interval();
    test_forever_and_wall_clock();
    test_bad_start_time();
    test_pacing();
    return CHECK_DONE();
}
