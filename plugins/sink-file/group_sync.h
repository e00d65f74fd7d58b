/* The syncfs() of one group of sink-file's per-record files and the naming that must follow it,
 * run on a thread of its own while the next group is written: a group's files are written, its
 * syncfs() starts, the next group is written meanwhile, and once that syncfs() has returned the
 * same thread names the first group's files (the `after` job), still beside the writing. So the
 * kernel's work per file is split across two threads: creating and writing on the caller's,
 * naming on this one (docs/plugins/sink-file.md, "Durability"). One syncfs() at a time: the
 * caller never syncs the folder's filesystem itself while one is running, so each call sees the
 * write errors since the one before. */
#ifndef BPPIPE_GROUP_SYNC_H
#define BPPIPE_GROUP_SYNC_H

#include <pthread.h>
#include <stdbool.h>

/* What runs on the thread after a syncfs() that succeeded. */
typedef void (*bp_after_sync)(void *arg);

typedef struct bp_group_sync {
    int dir_fd;
    bp_after_sync after; /* the job of the syncfs() begun last, NULL for none */
    void *after_arg;
    bool started;   /* the thread runs; without it every sync is made by the caller */
    bool requested; /* a syncfs() asked for and not yet waited for */
    bool done, stop;
    int rc, err; /* the result of the last syncfs() */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} bp_group_sync;

/* Starts the thread for `dir_fd`. When it cannot start, every bp_group_sync_wait() syncs on the
 * caller's thread instead (the same durability, without the overlap). */
void bp_group_sync_start(bp_group_sync *g, int dir_fd);

/* Begins a syncfs() of the folder's filesystem on the thread, then, when it succeeded,
 * after(arg) on the same thread; every file written before this call is durable once
 * bp_group_sync_wait() returns 0. The caller touches nothing the job uses until then. */
void bp_group_sync_begin(bp_group_sync *g, bp_after_sync after, void *arg);

/* Waits for the syncfs() begun last and its job: 0, or -1 with errno set (the syncfs() failed
 * and the job did not run). */
int bp_group_sync_wait(bp_group_sync *g);

/* Stops and joins the thread (nothing may be begun and not waited for). */
void bp_group_sync_stop(bp_group_sync *g);

#endif
