#include "engine/inject.h"

#include "base/log.h"
#include "pipeline/instance.h"
#include "pipeline/loader.h"
#include "pipeline/record.h"
#include "pipeline/state.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long the main thread lets one send_input wait for its durability. */
#define SEND_TIMEOUT_MS 5000

typedef enum { ST_QUEUED, ST_TAKEN, ST_DONE } req_step;

struct bp_inject_req {
    struct bp_inject_req *next;
    bool send; /* send_input rather than a payload of the next batch */
    req_step step;
    bp_inject_outcome outcome;
    uint64_t seq; /* the batch it rides in, once taken */
    int refs;     /* the queue's and the waiter's */
    char *topic;  /* send only */
    int32_t partition;
    void *key;
    size_t key_len;
    void *data;
    size_t len;
};

/* One queue per process: the listener's threads put, the main thread takes. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static bool running;
static bp_inject_req *head, *tail; /* queued and taken, in order */
static size_t queued;

static void release(bp_inject_req *r)
{
    if (--r->refs > 0)
        return;
    free(r->topic);
    free(r->key);
    free(r->data);
    free(r);
}

static void finish(bp_inject_req *r, bp_inject_outcome outcome)
{
    r->step = ST_DONE;
    r->outcome = outcome;
}

/* Unlinks the requests that are done; under mu. */
static void sweep(void)
{
    bp_inject_req **at = &head;
    tail = NULL;
    while (*at) {
        bp_inject_req *r = *at;
        if (r->step == ST_DONE) {
            *at = r->next;
            queued--;
            release(r);
            continue;
        }
        tail = r;
        at = &r->next;
    }
}

static bp_inject_req *enqueue(bp_inject_req *r)
{
    pthread_mutex_lock(&mu);
    bool ok = running && queued < BP_INJECT_MAX_QUEUED;
    if (ok) {
        r->refs = 2;
        r->step = ST_QUEUED;
        if (tail)
            tail->next = r;
        else
            head = r;
        tail = r;
        queued++;
    }
    pthread_mutex_unlock(&mu);
    if (ok)
        return r;
    r->refs = 1;
    release(r);
    return NULL;
}

static void *copy(const void *p, size_t n)
{
    void *c = malloc(n ? n : 1);
    if (c && n)
        memcpy(c, p, n);
    return c;
}

bp_inject_req *bp_runner_inject(const void *data, size_t len)
{
    bp_inject_req *r = calloc(1, sizeof *r);
    if (!r || !(r->data = copy(data, len))) {
        free(r);
        return NULL;
    }
    r->len = len;
    return enqueue(r);
}

bp_inject_req *bp_runner_send_input(const char *topic, int32_t partition, const void *key,
                                    size_t key_len, const void *data, size_t len)
{
    bp_inject_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->send = true;
    r->partition = partition;
    r->key_len = key_len;
    r->len = len;
    r->topic = strdup(topic ? topic : "");
    r->key = key ? copy(key, key_len) : NULL;
    r->data = copy(data, len);
    if (!r->topic || (key && !r->key) || !r->data) {
        r->refs = 1;
        release(r);
        return NULL;
    }
    return enqueue(r);
}

bp_inject_outcome bp_inject_wait(bp_inject_req *r, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    while (r->step != ST_DONE)
        if (pthread_cond_timedwait(&changed, &mu, &until) != 0)
            break;
    bp_inject_outcome outcome = r->step == ST_DONE ? r->outcome : BP_INJECT_TIMEOUT;
    release(r);
    pthread_mutex_unlock(&mu);
    return outcome;
}

void bp_inject_run_begin(void)
{
    pthread_mutex_lock(&mu);
    running = true;
    pthread_mutex_unlock(&mu);
}

void bp_inject_run_end(void)
{
    pthread_mutex_lock(&mu);
    running = false;
    for (bp_inject_req *r = head; r; r = r->next)
        finish(r, BP_INJECT_FAILED);
    sweep();
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&mu);
}

size_t bp_inject_drain(bp_batch *input, uint64_t seq)
{
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (bp_inject_req *r = head; r; r = r->next) {
        if (r->send || r->step != ST_QUEUED)
            continue;
        /* No origin: not one of the source's messages, so not one of its positions. */
        if (bp_batch_add_payload(input, r->data, r->len, NULL) != BP_OK) {
            bp_log("core", BP_LOG_WARN,
                   "out of memory adding an acknowledgement to a batch; "
                   "it is answered 503");
            finish(r, BP_INJECT_FAILED);
            continue;
        }
        bp_state_stamp(input->items[input->count - 1], seq);
        r->step = ST_TAKEN;
        r->seq = seq;
        n++;
    }
    sweep();
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&mu);
    return n;
}

size_t bp_inject_count(uint64_t seq)
{
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (bp_inject_req *r = head; r; r = r->next)
        n += !r->send && r->step == ST_TAKEN && r->seq == seq;
    pthread_mutex_unlock(&mu);
    return n;
}

void bp_inject_committed(uint64_t seq)
{
    pthread_mutex_lock(&mu);
    bool any = false;
    for (bp_inject_req *r = head; r; r = r->next) {
        if (!r->send && r->step == ST_TAKEN && r->seq <= seq) {
            finish(r, BP_INJECT_DONE);
            any = true;
        }
    }
    if (any) {
        sweep();
        pthread_cond_broadcast(&changed);
    }
    pthread_mutex_unlock(&mu);
}

/* The first queued send request, taken (so no other call serves it); under mu. */
static bp_inject_req *take_send(void)
{
    for (bp_inject_req *r = head; r; r = r->next) {
        if (r->send && r->step == ST_QUEUED) {
            r->step = ST_TAKEN;
            return r;
        }
    }
    return NULL;
}

void bp_inject_serve_sends(bp_ctx *source)
{
    const bp_plugin *d = source->plugin->desc;
    int (*send)(void *, const char *, int32_t, const void *, size_t, const void *, size_t, int) =
        BP_DESC_HAS(d, send_input) ? d->send_input : NULL;
    for (;;) {
        pthread_mutex_lock(&mu);
        bp_inject_req *r = head ? take_send() : NULL;
        pthread_mutex_unlock(&mu);
        if (!r)
            return;
        /* Outside the lock: the request is the main thread's while taken, and the call may
         * wait for the broker. */
        int rc = send ? send(source->state, r->topic, r->partition, r->key, r->key_len, r->data,
                             r->len, SEND_TIMEOUT_MS)
                      : BP_FATAL;
        if (!send)
            bp_log(source->name, BP_LOG_WARN,
                   "an acknowledgement names a partition, but this "
                   "source cannot send to its input (no send_input, ABI 1.7)");
        pthread_mutex_lock(&mu);
        finish(r, rc == BP_OK       ? BP_INJECT_DONE
                  : rc == BP_EINVAL ? BP_INJECT_REFUSED
                  : rc == BP_RETRY  ? BP_INJECT_TIMEOUT
                                    : BP_INJECT_FAILED);
        sweep();
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&mu);
    }
}
