#define _GNU_SOURCE /* syncfs */
#include "group_sync.h"

#include <errno.h>
#include <unistd.h>

static void *run(void *arg)
{
    bp_group_sync *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->requested && !g->stop)
            pthread_cond_wait(&g->cv, &g->mu);
        if (g->stop)
            break;
        bp_after_sync after = g->after;
        void *after_arg = g->after_arg;
        pthread_mutex_unlock(&g->mu);
        int rc = syncfs(g->dir_fd);
        int err = errno;
        if (rc == 0 && after)
            after(after_arg);
        pthread_mutex_lock(&g->mu);
        g->rc = rc;
        g->err = err;
        g->requested = false;
        g->done = true;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

void bp_group_sync_start(bp_group_sync *g, int dir_fd)
{
    g->dir_fd = dir_fd;
    g->after = NULL;
    g->after_arg = NULL;
    g->started = g->requested = g->done = g->stop = false;
    if (pthread_mutex_init(&g->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&g->cv, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        return;
    }
    g->started = pthread_create(&g->thread, NULL, run, g) == 0;
    if (!g->started) {
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
    }
}

void bp_group_sync_begin(bp_group_sync *g, bp_after_sync after, void *arg)
{
    if (!g->started) {
        g->after = after; /* run by bp_group_sync_wait() on the caller's thread */
        g->after_arg = arg;
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->after = after;
    g->after_arg = arg;
    g->requested = true;
    g->done = false;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

int bp_group_sync_wait(bp_group_sync *g)
{
    if (!g->started) {
        int rc = syncfs(g->dir_fd);
        int err = errno;
        if (rc == 0 && g->after)
            g->after(g->after_arg);
        g->after = NULL;
        errno = err;
        return rc;
    }
    pthread_mutex_lock(&g->mu);
    while (!g->done)
        pthread_cond_wait(&g->cv, &g->mu);
    g->done = false;
    int rc = g->rc, err = g->err;
    pthread_mutex_unlock(&g->mu);
    errno = err;
    return rc;
}

void bp_group_sync_stop(bp_group_sync *g)
{
    if (!g->started)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    g->started = false;
}
