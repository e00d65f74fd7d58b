/* `bppipe broker`: runs the development Kafka broker, which is a helper executable of its own
 * (bppipe-broker, tools/broker/broker.c) so that bppipe links no librdkafka and a site that
 * leaves out the bppipe-kafka package has none. The helper is found from this executable, as
 * the plugins are (src/pipeline/loader.c): beside a build-tree bppipe, or in <prefix>/lib/bppipe/ for
 * an installed or unpacked one. It replaces this process (same pid, same arguments), so a
 * script that signals `bppipe broker` signals the broker. */
#include "cli/commands.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELPER "bppipe-broker"

/* "/usr/bin/../lib/bppipe" -> "/usr/lib/bppipe", in place and by the text alone (the folder
 * need not exist), for the message that names it. */
static void tidy(char *path)
{
    char *out = path;
    for (const char *p = path; *p;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.' && out > path) {
            while (out > path && *--out != '/')
                ;
        } else if (len > 0 && !(len == 1 && *p == '.')) {
            *out++ = '/';
            memmove(out, p, len);
            out += len;
        }
        p += len + (end != NULL);
    }
    if (out == path)
        *out++ = '/';
    *out = '\0';
}

int bp_cmd_broker(int argc, char **argv)
{
    (void)argc;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = '\0';
    char *slash = n > 0 ? strrchr(exe, '/') : NULL;
    if (!slash) {
        fprintf(stderr, "error: bppipe broker: cannot find bppipe's own executable "
                        "(/proc/self/exe)\n");
        return 1;
    }
    *slash = '\0';

    char beside[PATH_MAX + 32], dir[PATH_MAX + 64], installed[2 * PATH_MAX];
    snprintf(beside, sizeof beside, "%s/" HELPER, exe);
    snprintf(dir, sizeof dir, "%s/%s", exe, BPPIPE_HELPER_DIR_FROM_BIN);
    tidy(dir);
    snprintf(installed, sizeof installed, "%s/" HELPER, dir);
    char *found = access(beside, X_OK) == 0      ? beside
                  : access(installed, X_OK) == 0 ? installed
                                                 : NULL;
    if (!found) {
        fprintf(stderr,
                "error: bppipe broker needs %s, which is not installed: it comes in the "
                "bppipe-kafka package, install that (in a build tree: build the " HELPER
                " target)\n",
                installed);
        return 2;
    }
    /* argv is NULL-terminated (main's, or help()'s array). */
    argv[0] = found;
    execv(found, argv);
    fprintf(stderr, "error: bppipe broker: cannot run %s: %s\n", found, strerror(errno));
    return 1;
}
