#include "engine/decode_pool.h"

#include "base/arena.h"
#include "decode/payload_decode.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

/* Payloads per block: small enough that two threads share a 500-payload batch evenly, large
 * enough that taking a block (one atomic add) costs nothing beside decoding it. */
#define BLOCK_PAYLOADS 16

typedef struct item {
    size_t payload; /* index in the batch */
    bp_decoded d;   /* strings in the slot's arena */
} item;

struct bp_decode_pool;

/* One thread's output in the current run: the caller's is slot 0, helper k's slot k. */
typedef struct slot {
    struct bp_decode_pool *pool;
    bp_arena arena;
    item *items;
    size_t n, cap;
    size_t payload; /* the payload being decoded */
    bool nomem;
} slot;

/* Which slot decoded a block, and where its items are there. */
typedef struct block {
    size_t slot, first_item, n_items;
} block;

struct bp_decode_pool {
    unsigned threads;
    pthread_t *helpers;
    pthread_mutex_t mu;
    pthread_cond_t start;    /* a new run (generation) or stopping */
    pthread_cond_t finished; /* every helper has taken its last block of the run */
    uint64_t generation;
    unsigned finished_count;
    bool stopping;
    bool shared; /* the helpers were woken on the current run: complete() waits for them */
    /* The run: written by the caller before the generation advances, read by the helpers. */
    const bp_batch *input;
    bp_decode_opts opts;
    size_t n_blocks;
    block *blocks;
    size_t blocks_cap;
    atomic_size_t next_block;
    slot slots[]; /* threads of them */
};

static bool copy_text(bp_arena *a, const char **field)
{
    return !*field || (*field = bp_arena_strdup(a, *field)) != NULL;
}

/* The decoder's callback on a pool thread: the item and its strings into the slot. */
static int keep(void *user, const bp_decoded *d)
{
    slot *s = user;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        item *items = realloc(s->items, cap * sizeof *items);
        if (!items)
            return -1;
        s->items = items;
        s->cap = cap;
    }
    item *it = &s->items[s->n];
    it->payload = s->payload;
    it->d = *d;
    bp_decoded *c = &it->d;
    if (!copy_text(&s->arena, &c->invalid_reason) || !copy_text(&s->arena, &c->stable_id) ||
        !copy_text(&s->arena, &c->observation_id) || !copy_text(&s->arena, &c->patient_id) ||
        !copy_text(&s->arena, &c->practitioner_id) || !copy_text(&s->arena, &c->device_id) ||
        !copy_text(&s->arena, &c->status) || !copy_text(&s->arena, &c->skip_reason) ||
        !copy_text(&s->arena, &c->resource_type) || !copy_text(&s->arena, &c->resource_code) ||
        !copy_text(&s->arena, &c->hl7_control_id) || !copy_text(&s->arena, &c->hl7_sending_app) ||
        !copy_text(&s->arena, &c->hl7_sending_facility) || !copy_text(&s->arena, &c->hl7_code) ||
        !copy_text(&s->arena, &c->hl7_corrects) || !copy_text(&s->arena, &c->ack_alarm_id) ||
        !copy_text(&s->arena, &c->ack_by) || !copy_text(&s->arena, &c->ack_from) ||
        !copy_text(&s->arena, &c->logical_id))
        return -1;
    s->n++;
    return 0;
}

int bp_decode_input(const bp_record *in, const bp_decode_opts *opts, bp_decode_emit emit,
                    void *user)
{
    if (in->rejected) {
        bp_decoded d = {.invalid_reason = in->rejected, .systolic = NAN, .diastolic = NAN,
                        .heart_rate = NAN, .mean_pressure = NAN, .resource_index = -1};
        return emit(user, &d);
    }
    return bp_payload_decode(in->payload, in->payload_len, opts, emit, user);
}

/* Takes blocks until none is left, decoding each into slot `k`. After running out of memory
 * the slot still takes blocks (so every block is accounted for) but decodes no more. */
static void take_blocks(bp_decode_pool *p, size_t k)
{
    slot *s = &p->slots[k];
    size_t count = p->input->count;
    for (;;) {
        size_t b = atomic_fetch_add_explicit(&p->next_block, 1, memory_order_relaxed);
        if (b >= p->n_blocks)
            return;
        size_t first = b * BLOCK_PAYLOADS;
        size_t end = first + BLOCK_PAYLOADS < count ? first + BLOCK_PAYLOADS : count;
        block *bl = &p->blocks[b];
        bl->slot = k;
        bl->first_item = s->n;
        for (size_t i = first; i < end && !s->nomem; i++) {
            const bp_record *in = p->input->items[i];
            s->payload = i;
            if (bp_decode_input(in, &p->opts, keep, s) != 0)
                s->nomem = true;
        }
        bl->n_items = s->n - bl->first_item;
    }
}

static void *helper_main(void *arg)
{
    slot *s = arg;
    bp_decode_pool *p = s->pool;
    size_t k = (size_t)(s - p->slots);
    uint64_t seen = 0;
    prctl(PR_SET_NAME, "decode", 0, 0, 0); /* in top -H and perf --sort comm */
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->stopping)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        take_blocks(p, k);
        pthread_mutex_lock(&p->mu);
        if (++p->finished_count == p->threads - 1)
            pthread_cond_signal(&p->finished);
    }
    pthread_mutex_unlock(&p->mu);
    bp_fhir_decode_thread_done();
    return NULL;
}

/* Stops and joins the first `started` helpers. */
static void stop_helpers(bp_decode_pool *p, unsigned started)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->helpers[i], NULL);
}

static void pool_free(bp_decode_pool *p)
{
    for (unsigned i = 0; i < p->threads; i++) {
        bp_arena_free(&p->slots[i].arena);
        free(p->slots[i].items);
    }
    free(p->blocks);
    free(p->helpers);
    pthread_cond_destroy(&p->finished);
    pthread_cond_destroy(&p->start);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

bp_decode_pool *bp_decode_pool_start(unsigned threads)
{
    if (threads < 2 || threads > BP_DECODE_MAX_THREADS)
        return NULL;
    bp_decode_pool *p = calloc(1, sizeof *p + threads * sizeof p->slots[0]);
    if (!p)
        return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->finished, NULL);
    atomic_init(&p->next_block, 0);
    for (unsigned i = 0; i < threads; i++) {
        p->slots[i].pool = p;
        bp_arena_init(&p->slots[i].arena, 64 * 1024);
    }
    if (!(p->helpers = calloc(threads - 1, sizeof *p->helpers))) {
        pool_free(p);
        return NULL;
    }
    bp_fhir_decode_init(); /* cJSON's hooks, before any helper can parse */
    /* Signals are the main thread's: the helpers start with every signal blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    unsigned started = 0;
    while (started < threads - 1 &&
           pthread_create(&p->helpers[started], NULL, helper_main, &p->slots[started + 1]) == 0)
        started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started < threads - 1) {
        stop_helpers(p, started);
        pool_free(p);
        return NULL;
    }
    return p;
}

void bp_decode_pool_stop(bp_decode_pool *p)
{
    if (!p)
        return;
    /* The helpers finish the blocks they took before they see `stopping`; the blocks no one
     * took are skipped, and the output is dropped with the pool. */
    stop_helpers(p, p->threads - 1);
    pool_free(p);
}

/* Replays block b's items in payload order; a payload without any gets the lost-item reason. */
static int replay_block(bp_decode_pool *p, size_t b, bp_decode_pool_emit emit, void *user)
{
    const block *bl = &p->blocks[b];
    const slot *s = &p->slots[bl->slot];
    size_t it = bl->first_item, stop = bl->first_item + bl->n_items;
    size_t first = b * BLOCK_PAYLOADS, count = p->input->count;
    size_t end = first + BLOCK_PAYLOADS < count ? first + BLOCK_PAYLOADS : count;
    for (size_t pl = first; pl < end; pl++) {
        bool any = false;
        for (; it < stop && s->items[it].payload == pl; it++, any = true) {
            int rc = emit(user, pl, &s->items[it].d);
            if (rc != 0)
                return rc;
        }
        if (!any) {
            /* The decoder promises one item per payload at least; never lose one if not. */
            bp_decoded lost = {.invalid_reason = "decoder produced no reading and no reason",
                               .systolic = NAN, .diastolic = NAN, .heart_rate = NAN, .mean_pressure = NAN,
                               .resource_index = -1};
            int rc = emit(user, pl, &lost);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Makes `input` the pool's run: blocks sized, slots emptied. 0, or -1 when memory ran out. */
static int prepare(bp_decode_pool *p, const bp_batch *input, const bp_decode_opts *opts)
{
    size_t n_blocks = (input->count + BLOCK_PAYLOADS - 1) / BLOCK_PAYLOADS;
    if (n_blocks > p->blocks_cap) {
        block *blocks = realloc(p->blocks, n_blocks * sizeof *blocks);
        if (!blocks)
            return -1;
        p->blocks = blocks;
        p->blocks_cap = n_blocks;
    }
    for (unsigned i = 0; i < p->threads; i++) {
        bp_arena_reset(&p->slots[i].arena);
        p->slots[i].n = 0;
        p->slots[i].nomem = false;
    }
    p->input = input;
    memset(&p->opts, 0, sizeof p->opts);
    if (opts)
        p->opts = *opts;
    p->n_blocks = n_blocks;
    atomic_store_explicit(&p->next_block, 0, memory_order_relaxed);
    return 0;
}

/* Wakes the helpers on the prepared run. The mutex orders everything prepare() wrote before
 * the helpers read it. */
static void wake_helpers(bp_decode_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->finished_count = 0;
    p->generation++;
    p->shared = true;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
}

/* Takes the blocks left, waits for the helpers woken on this run (their blocks and slots are
 * then ordered before the replay by the mutex), and replays. */
static int complete(bp_decode_pool *p, bp_decode_pool_emit emit, void *user)
{
    take_blocks(p, 0);
    if (p->shared) {
        pthread_mutex_lock(&p->mu);
        while (p->finished_count < p->threads - 1)
            pthread_cond_wait(&p->finished, &p->mu);
        p->shared = false;
        pthread_mutex_unlock(&p->mu);
    }
    for (unsigned i = 0; i < p->threads; i++)
        if (p->slots[i].nomem)
            return -1;
    for (size_t b = 0; b < p->n_blocks; b++) {
        int rc = replay_block(p, b, emit, user);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int bp_decode_pool_run(bp_decode_pool *p, const bp_batch *input, const bp_decode_opts *opts,
                       bp_decode_pool_emit emit, void *user)
{
    if (input->count == 0)
        return 0;
    if (prepare(p, input, opts) != 0)
        return -1;
    /* One block is not worth waking anyone for: the calling thread decodes it meanwhile. */
    if (p->n_blocks > 1)
        wake_helpers(p);
    return complete(p, emit, user);
}

int bp_decode_pool_submit(bp_decode_pool *p, const bp_batch *input, const bp_decode_opts *opts)
{
    if (prepare(p, input, opts) != 0)
        return -1;
    /* Even one block: the calling thread has other work now. */
    if (p->n_blocks > 0)
        wake_helpers(p);
    return 0;
}

int bp_decode_pool_finish(bp_decode_pool *p, bp_decode_pool_emit emit, void *user)
{
    return complete(p, emit, user);
}
