/* The host's input from other threads (src/engine/inject.h): refused outside a run; a queued
 * payload goes at the end of the next drained batch, with no origin, and its request is done
 * only when that batch is committed (not before: a wait times out); a waiter on another thread
 * is woken by the commit; the end of a run fails what is left; the queue is bounded;
 * send_input requests are carried out on the serving thread with the source's answer. */
#include "check.h"
#include "engine/inject.h"
#include "pipeline/instance.h"
#include "pipeline/loader.h"
#include "pipeline/record.h"

#include <pthread.h>
#include <string.h>

static int sent;
static int fake_send(void *state, const char *topic, int32_t partition, const void *key,
                     size_t key_len, const void *data, size_t len, int timeout_ms)
{
    (void)state, (void)key, (void)key_len, (void)timeout_ms;
    if (strcmp(topic, "blood-pressure") != 0 || partition > 2)
        return BP_EINVAL;
    sent++;
    return len == 3 && memcmp(data, "ack", 3) == 0 ? BP_OK : BP_RETRY;
}

static void *waiter(void *req)
{
    static bp_inject_outcome out;
    out = bp_inject_wait(req, 30000);
    return &out;
}

int main(void)
{
    bp_arena arena;
    bp_arena_init_growing(&arena, 4096);
    bp_batch b;
    bp_batch_init(&b, &arena, 0);

    CHECK(bp_runner_inject("x", 1) == NULL); /* no run */
    bp_inject_run_begin();

    bp_inject_req *r1 = bp_runner_inject("{\"bppipe\":1}", 12);
    CHECK(r1 != NULL);
    CHECK(bp_inject_drain(&b, 5) == 1);
    CHECK(b.count == 1 && b.items[0]->payload_len == 12 &&
          memcmp(b.items[0]->payload, "{\"bppipe\":1}", 12) == 0 && !b.items[0]->topic);
    CHECK(b.items[0]->state_seq == 5);
    CHECK(bp_inject_count(5) == 1 && bp_inject_count(6) == 0);
    CHECK(bp_inject_drain(&b, 6) == 0); /* taken once */
    bp_inject_committed(4);             /* an earlier batch: not this one */
    CHECK(bp_inject_wait(r1, 50) == BP_INJECT_TIMEOUT);
    CHECK(bp_inject_count(5) == 1); /* still the runner's until committed */
    bp_inject_committed(5);
    CHECK(bp_inject_count(5) == 0);

    /* a waiter on another thread, woken by the commit */
    bp_inject_req *r2 = bp_runner_inject("y", 1);
    pthread_t th;
    pthread_create(&th, NULL, waiter, r2);
    CHECK(bp_inject_drain(&b, 7) == 1);
    bp_inject_committed(7);
    void *res;
    pthread_join(th, &res);
    CHECK(*(bp_inject_outcome *)res == BP_INJECT_DONE);

    /* send_input requests, served where the source is */
    static bp_plugin desc = {.struct_size = sizeof(bp_plugin), .send_input = fake_send};
    bp_loaded loaded = {.desc = &desc};
    bp_ctx src = {.name = "source.k", .plugin = &loaded};
    bp_inject_req *s1 = bp_runner_send_input("blood-pressure", 1, "k", 1, "ack", 3);
    bp_inject_req *s2 = bp_runner_send_input("other", 0, NULL, 0, "ack", 3);
    bp_inject_req *s3 = bp_runner_send_input("blood-pressure", 0, NULL, 0, "ac", 2);
    CHECK(bp_inject_drain(&b, 8) == 0); /* a send is no payload of a batch */
    bp_inject_serve_sends(&src);
    CHECK(sent == 2);
    CHECK(bp_inject_wait(s1, 1000) == BP_INJECT_DONE);
    CHECK(bp_inject_wait(s2, 1000) == BP_INJECT_REFUSED);
    CHECK(bp_inject_wait(s3, 1000) == BP_INJECT_TIMEOUT);
    /* a source without send_input (a descriptor older than 1.7) fails the request */
    static bp_plugin old = {.struct_size = offsetof(bp_plugin, send_input)};
    bp_loaded old_loaded = {.desc = &old};
    bp_ctx old_src = {.name = "source.old", .plugin = &old_loaded};
    bp_inject_req *s4 = bp_runner_send_input("blood-pressure", 1, NULL, 0, "ack", 3);
    bp_inject_serve_sends(&old_src);
    CHECK(bp_inject_wait(s4, 1000) == BP_INJECT_FAILED);

    /* bounded */
    bp_inject_req *all[BP_INJECT_MAX_QUEUED];
    size_t n = 0;
    while (n < BP_INJECT_MAX_QUEUED && (all[n] = bp_runner_inject("z", 1)))
        n++;
    CHECK(n == BP_INJECT_MAX_QUEUED);
    CHECK(bp_runner_inject("z", 1) == NULL);

    /* the end of the run fails what is left, and takes nothing more */
    bp_inject_run_end();
    for (size_t i = 0; i < n; i++)
        CHECK(bp_inject_wait(all[i], 0) == BP_INJECT_FAILED);
    CHECK(bp_runner_inject("x", 1) == NULL);
    bp_batch_free(&b);
    bp_arena_free(&arena);
    return CHECK_DONE();
}
