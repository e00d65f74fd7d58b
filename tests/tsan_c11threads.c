/* Linked into every executable of a BPPIPE_TSAN build (top-level CMakeLists.txt), nowhere else.
 *
 * librdkafka (Debian 12: 2.0.2) starts its threads and takes its locks through C11 <threads.h>.
 * glibc implements thrd_create, mtx_lock, cnd_wait... by calling its internal __pthread_*
 * functions directly, so ThreadSanitizer's pthread interceptors never see them, and the
 * sanitizer runtimes of gcc 12 and clang 14 have no C11-threads interceptors of their own.
 * A thread TSan did not see being created has no TSan state, and its first malloc crashes
 * ("SEGV on unknown address 0x000000000c38" in SizeClassAllocator64LocalCache::Allocate, in an
 * rdk:* thread): every Kafka test died that way. Locks TSan cannot see would also hide the
 * happens-before between librdkafka's threads and ours.
 *
 * The executable's definitions come first in symbol lookup, so librdkafka (linked or dlopened
 * with a plugin) binds to these, and they go through the intercepted pthread functions. glibc
 * lays thrd_t, mtx_t, cnd_t and once_flag out as pthread_t, pthread_mutex_t, pthread_cond_t and
 * pthread_once_t, which is what lets them be passed through. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is pthread_t");
_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is pthread_cond_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is pthread_once_t");

static int thrd_result(int err) {
    switch (err) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    default: return thrd_error;
    }
}

struct start {
    thrd_start_t func;
    void *arg;
};

static void *start_thread(void *p) {
    struct start s = *(struct start *)p;
    free(p);
    return (void *)(intptr_t)s.func(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg) {
    struct start *s = malloc(sizeof *s);
    if (!s)
        return thrd_nomem;
    s->func = func;
    s->arg = arg;
    int err = pthread_create((pthread_t *)thr, NULL, start_thread, s);
    if (err)
        free(s);
    return thrd_result(err);
}

int thrd_join(thrd_t thr, int *res) {
    void *value;
    int err = pthread_join((pthread_t)thr, &value);
    if (!err && res)
        *res = (int)(intptr_t)value;
    return thrd_result(err);
}

int thrd_detach(thrd_t thr) {
    return thrd_result(pthread_detach((pthread_t)thr));
}

int mtx_init(mtx_t *m, int type) {
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr))
        return thrd_error;
    if (type & mtx_recursive)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    int err = pthread_mutex_init((pthread_mutex_t *)m, &attr);
    pthread_mutexattr_destroy(&attr);
    return thrd_result(err);
}

int mtx_lock(mtx_t *m) {
    return thrd_result(pthread_mutex_lock((pthread_mutex_t *)m));
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts) {
    return thrd_result(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}

int mtx_trylock(mtx_t *m) {
    return thrd_result(pthread_mutex_trylock((pthread_mutex_t *)m));
}

int mtx_unlock(mtx_t *m) {
    return thrd_result(pthread_mutex_unlock((pthread_mutex_t *)m));
}

void mtx_destroy(mtx_t *m) {
    pthread_mutex_destroy((pthread_mutex_t *)m);
}

int cnd_init(cnd_t *c) {
    return thrd_result(pthread_cond_init((pthread_cond_t *)c, NULL));
}

int cnd_signal(cnd_t *c) {
    return thrd_result(pthread_cond_signal((pthread_cond_t *)c));
}

int cnd_broadcast(cnd_t *c) {
    return thrd_result(pthread_cond_broadcast((pthread_cond_t *)c));
}

int cnd_wait(cnd_t *c, mtx_t *m) {
    return thrd_result(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts) {
    return thrd_result(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}

void cnd_destroy(cnd_t *c) {
    pthread_cond_destroy((pthread_cond_t *)c);
}

void call_once(once_flag *flag, void (*func)(void)) {
    pthread_once((pthread_once_t *)flag, func);
}
