#define _GNU_SOURCE /* syncfs */
#include "syncer.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

void bp_syncer_init(bp_syncer *y, int fd)
{
    *y = (bp_syncer){.fd = fd};
    pthread_mutex_init(&y->mu, NULL);
    pthread_cond_init(&y->cv, NULL);
}

static void *syncer_main(void *arg)
{
    bp_syncer *y = arg;
    pthread_mutex_lock(&y->mu);
    for (;;) {
        while (!y->stop && !(y->asked && !y->done))
            pthread_cond_wait(&y->cv, &y->mu);
        if (y->stop)
            break;
        pthread_mutex_unlock(&y->mu);
        int rc = syncfs(y->fd);
        int err = errno;
        pthread_mutex_lock(&y->mu);
        y->rc = rc;
        y->err = err;
        y->done = true;
        pthread_cond_broadcast(&y->cv);
    }
    pthread_mutex_unlock(&y->mu);
    return NULL;
}

/* The thread takes no signals: the host's main thread handles them. */
static bool start_thread(bp_syncer *y)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    y->started = pthread_create(&y->thread, NULL, syncer_main, y) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return y->started;
}

void bp_syncer_start(bp_syncer *y)
{
    pthread_mutex_lock(&y->mu);
    y->asked = true;
    y->done = false;
    if (y->started || start_thread(y)) {
        pthread_cond_broadcast(&y->cv);
        pthread_mutex_unlock(&y->mu);
        return;
    }
    pthread_mutex_unlock(&y->mu);
    y->rc = syncfs(y->fd); /* no thread: the sync is done before the next group is written */
    y->err = errno;
    y->done = true;
}

int bp_syncer_wait(bp_syncer *y)
{
    pthread_mutex_lock(&y->mu);
    while (y->asked && !y->done)
        pthread_cond_wait(&y->cv, &y->mu);
    int rc = y->asked ? y->rc : 0;
    int err = y->err;
    y->asked = false;
    pthread_mutex_unlock(&y->mu);
    errno = err;
    return rc;
}

void bp_syncer_free(bp_syncer *y)
{
    if (y->started) {
        pthread_mutex_lock(&y->mu);
        y->stop = true;
        pthread_cond_broadcast(&y->cv);
        pthread_mutex_unlock(&y->mu);
        pthread_join(y->thread, NULL);
        y->started = false;
    }
    pthread_mutex_destroy(&y->mu);
    pthread_cond_destroy(&y->cv);
}
