/* A thread that runs sink-file's syncfs() while the sink goes on writing the next group of
 * per-record files: the sync of one group overlaps with writing the next, where they used to
 * take turns on the lane's thread (docs/plugins/sink-file.md, "Durability"). One sync is asked
 * at a time, and its caller waits for it before it names the files it covers. */
#ifndef BPPIPE_SYNCER_H
#define BPPIPE_SYNCER_H

#include <pthread.h>
#include <stdbool.h>

typedef struct bp_syncer {
    int fd; /* a descriptor on the filesystem to sync */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, stop;
    bool asked;  /* a sync was asked and its result not yet taken */
    bool done;   /* the asked sync returned */
    int rc, err; /* its result and errno */
} bp_syncer;

/* Prepares a syncer for the filesystem of `fd` (the thread starts at the first sync asked). */
void bp_syncer_init(bp_syncer *y, int fd);
/* Starts a syncfs() of the filesystem: everything written before this call is durable once
 * bp_syncer_wait returns 0. When no thread can be started, syncs here and now. */
void bp_syncer_start(bp_syncer *y);
/* Waits for the sync bp_syncer_start asked: 0, or -1 with errno set. */
int bp_syncer_wait(bp_syncer *y);
/* Stops the thread (after the sync it runs, if any). */
void bp_syncer_free(bp_syncer *y);

#endif
