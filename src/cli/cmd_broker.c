/* `bppipe broker`: runs the development Kafka broker, which is a helper executable of its own
 * (bppipe-broker, tools/broker/broker.c) so that bppipe links no librdkafka and a site that
 * leaves out the bppipe-kafka package has none. The helper is found from this executable, as
 * the plugins are (cli/helper_path.c). It replaces this process (same pid, same arguments), so a
 * script that signals `bppipe broker` signals the broker. */
#include "cli/commands.h"
#include "cli/helper_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELPER "bppipe-broker"

int bp_cmd_broker(int argc, char **argv)
{
    (void)argc;
    char found[2 * PATH_MAX];
    int rc = bp_helper_find(HELPER, X_OK, found, sizeof found);
    if (rc == -2) {
        fprintf(stderr, "error: bppipe broker: cannot find bppipe's own executable "
                        "(/proc/self/exe)\n");
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr,
                "error: bppipe broker needs %s, which is not installed: it comes in the "
                "bppipe-kafka package, install that (in a build tree: build the " HELPER
                " target)\n",
                found);
        return 2;
    }
    /* argv is NULL-terminated (main's, or help()'s array). */
    argv[0] = found;
    execv(found, argv);
    fprintf(stderr, "error: bppipe broker: cannot run %s: %s\n", found, strerror(errno));
    return 1;
}
