/* A second thread that shares a loop with the caller: sink-file's per-record layout creates
 * and writes each group's files from two threads at once (the creation of a file is system
 * time that one core does alone while the other waits: docs/plugins/sink-file.md,
 * "Durability"). The caller and the thread take the indices of the loop one at a time, so a slow
 * file on one does not hold the other back; the caller returns once both are done. Nothing the
 * host gives a plugin may be called from that thread: the work is system calls on bytes the
 * caller prepared. */
#ifndef BPPIPE_SECOND_HAND_H
#define BPPIPE_SECOND_HAND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef void bp_hand_fn(void *arg, size_t j);

typedef struct bp_second_hand {
    bool started; /* the thread runs; without it the caller does every index itself */
    bool busy;    /* the thread works on the current loop */
    bool stop;
    unsigned long round; /* loops handed out so far */
    bp_hand_fn *fn;
    void *arg;
    size_t n;
    atomic_size_t next; /* the next index to take */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} bp_second_hand;

/* Starts the thread; when it cannot start, bp_second_hand_run() runs the loop alone. */
void bp_second_hand_start(bp_second_hand *h);

/* Calls fn(arg, j) once for each j in [0, n), on the caller's thread and on the second one; returns
 * once every call has returned (what the calls wrote is then visible to the caller). */
void bp_second_hand_run(bp_second_hand *h, bp_hand_fn *fn, void *arg, size_t n);

/* Stops and joins the thread. */
void bp_second_hand_stop(bp_second_hand *h);

#endif
