/* sink-file's group syncs (group_sync.c): the syncfs() begun on the thread is the one waited
 * for, its job (the naming of the group's files) runs after it on that thread and only when it
 * succeeded, its failure reaches the caller with its errno, and without the thread the caller
 * syncs and runs the job itself. */
#include "check.h"
#include "group_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct job {
    int runs;
    pthread_t on;
} job;

static void count_run(void *arg)
{
    job *j = arg;
    j->runs++;
    j->on = pthread_self();
}

int main(void)
{
    char dir[] = "/tmp/test_group_sync.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);

    bp_group_sync g;
    job j = {0};
    bp_group_sync_start(&g, dfd);
    CHECK(g.started);
    for (int i = 0; i < 3; i++) {
        bp_group_sync_begin(&g, count_run, &j);
        CHECK(bp_group_sync_wait(&g) == 0);
        CHECK(j.runs == i + 1); /* done by the time the wait returns */
        CHECK(!pthread_equal(j.on, pthread_self()));
    }
    bp_group_sync_begin(&g, NULL, NULL); /* a sync with no job */
    CHECK(bp_group_sync_wait(&g) == 0);
    CHECK(j.runs == 3);
    bp_group_sync_stop(&g);

    /* A failed syncfs() (here a descriptor that is not open) is the caller's failure, and its
     * job does not run: nothing is named that is not known durable. */
    j.runs = 0;
    bp_group_sync_start(&g, 1000000);
    bp_group_sync_begin(&g, count_run, &j);
    errno = 0;
    CHECK(bp_group_sync_wait(&g) == -1 && errno == EBADF);
    bp_group_sync_begin(&g, count_run, &j);
    errno = 0;
    CHECK(bp_group_sync_wait(&g) == -1 && errno == EBADF);
    CHECK(j.runs == 0);
    bp_group_sync_stop(&g);

    /* Without the thread, the wait syncs and runs the job on the caller's thread. */
    g.started = false;
    g.dir_fd = dfd;
    bp_group_sync_begin(&g, count_run, &j);
    CHECK(bp_group_sync_wait(&g) == 0);
    CHECK(j.runs == 1 && pthread_equal(j.on, pthread_self()));
    g.dir_fd = 1000000;
    bp_group_sync_begin(&g, count_run, &j);
    errno = 0;
    CHECK(bp_group_sync_wait(&g) == -1 && errno == EBADF);
    CHECK(j.runs == 1);

    close(dfd);
    rmdir(dir);
    return CHECK_DONE();
}
