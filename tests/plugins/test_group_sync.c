/* sink-file's group syncs (group_sync.c): the syncfs() begun on the thread is the one waited
 * for, its failure reaches the caller with its errno, and without the thread the caller syncs
 * itself. */
#include "check.h"
#include "group_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    char dir[] = "/tmp/test_group_sync.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);

    bp_group_sync g;
    bp_group_sync_start(&g, dfd);
    CHECK(g.started);
    for (int i = 0; i < 3; i++) {
        bp_group_sync_begin(&g);
        CHECK(bp_group_sync_wait(&g) == 0);
    }
    bp_group_sync_stop(&g);

    /* A failed syncfs() (here a descriptor that is not open) is the caller's failure. */
    bp_group_sync_start(&g, 1000000);
    bp_group_sync_begin(&g);
    errno = 0;
    CHECK(bp_group_sync_wait(&g) == -1 && errno == EBADF);
    bp_group_sync_begin(&g);
    errno = 0;
    CHECK(bp_group_sync_wait(&g) == -1 && errno == EBADF);
    bp_group_sync_stop(&g);

    /* Without the thread, the wait syncs on the caller's thread. */
    g.started = false;
    g.dir_fd = dfd;
    CHECK(bp_group_sync_wait(&g) == 0);
    g.dir_fd = 1000000;
    errno = 0;
    CHECK(bp_group_sync_wait(&g) == -1 && errno == EBADF);

    close(dfd);
    rmdir(dir);
    return CHECK_DONE();
}
