/* sink-file's second thread (second_hand.c): every index of a loop is taken exactly once, by the
 * caller or the thread, both take some when each index takes a while, what the calls wrote is
 * seen by the caller once run() returns, and without the thread the caller takes them all. */
#include "check.h"
#include "second_hand.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define N 64

typedef struct loop {
    atomic_int calls[N];
    pthread_t by[N];
    int value[N]; /* written by the calls, read by the caller after run() */
} loop;

static void work(void *arg, size_t j)
{
    loop *l = arg;
    atomic_fetch_add(&l->calls[j], 1);
    l->by[j] = pthread_self();
    l->value[j] = (int)j * 3;
    struct timespec ms = {0, 1000 * 1000}; /* a file's creation: long enough for both to take */
    nanosleep(&ms, NULL);
}

static int check_loop(loop *l, size_t n, int *others)
{
    int ok = 1;
    *others = 0;
    for (size_t j = 0; j < n; j++) {
        ok &= atomic_load(&l->calls[j]) == 1 && l->value[j] == (int)j * 3;
        *others += !pthread_equal(l->by[j], pthread_self());
    }
    return ok;
}

int main(void)
{
    static loop l;
    bp_second_hand h;
    bp_second_hand_start(&h);
    CHECK(h.started);
    int shared = 0; /* indices the thread took, over every round */
    for (int round = 0; round < 20; round++) {
        for (size_t j = 0; j < N; j++) {
            atomic_store(&l.calls[j], 0);
            l.value[j] = -1;
        }
        bp_second_hand_run(&h, work, &l, N);
        int others;
        CHECK(check_loop(&l, N, &others));
        shared += others;
    }
    /* The thread took part (each index sleeps 1 ms: over 20 rounds of 64 it wakes in time even
     * on a loaded machine). */
    CHECK(shared > 0);
    /* An empty loop and a short one (the caller alone) return at once. */
    bp_second_hand_run(&h, work, &l, 0);
    for (size_t j = 0; j < 3; j++)
        atomic_store(&l.calls[j], 0);
    bp_second_hand_run(&h, work, &l, 3);
    int others;
    CHECK(check_loop(&l, 3, &others) && others == 0);
    bp_second_hand_stop(&h);
    CHECK(!h.started);

    /* Without the thread the caller takes every index. */
    h.started = false;
    for (size_t j = 0; j < N; j++)
        atomic_store(&l.calls[j], 0);
    bp_second_hand_run(&h, work, &l, N);
    CHECK(check_loop(&l, N, &others) && others == 0);
    return CHECK_DONE();
}
