#include "second_hand.h"

/* Fewer indices than this are not worth waking the thread for (a wake-up costs about what a
 * file does). */
#define MIN_SHARED 4

static void take(bp_second_hand *h)
{
    for (size_t j; (j = atomic_fetch_add(&h->next, 1)) < h->n;)
        h->fn(h->arg, j);
}

static void *run(void *arg)
{
    bp_second_hand *h = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (h->round == seen && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop)
            break;
        seen = h->round;
        pthread_mutex_unlock(&h->mu);
        take(h);
        pthread_mutex_lock(&h->mu);
        h->busy = false;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

void bp_second_hand_start(bp_second_hand *h)
{
    h->started = h->busy = h->stop = false;
    h->round = 0;
    atomic_init(&h->next, 0);
    if (pthread_mutex_init(&h->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&h->cv, NULL) != 0) {
        pthread_mutex_destroy(&h->mu);
        return;
    }
    h->started = pthread_create(&h->thread, NULL, run, h) == 0;
    if (!h->started) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
    }
}

void bp_second_hand_run(bp_second_hand *h, bp_hand_fn *fn, void *arg, size_t n)
{
    h->fn = fn;
    h->arg = arg;
    h->n = n;
    atomic_store(&h->next, 0);
    bool shared = h->started && n >= MIN_SHARED;
    if (shared) {
        pthread_mutex_lock(&h->mu);
        h->busy = true;
        h->round++;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
    }
    take(h);
    if (!shared)
        return;
    pthread_mutex_lock(&h->mu);
    while (h->busy)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

void bp_second_hand_stop(bp_second_hand *h)
{
    if (!h->started)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    h->started = false;
}
