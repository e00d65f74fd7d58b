/* The helper dir, found from /proc/self/exe (helper_path.h). */
#include "cli/helper_path.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int bp_helper_find(const char *name, int mode, char *found, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = '\0';
    char *slash = n > 0 ? strrchr(exe, '/') : NULL;
    if (!slash)
        return -2;
    *slash = '\0';
    snprintf(found, len, "%s/%s", exe, name);
    if (access(found, mode) == 0)
        return 0;
    char dir[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/%s", exe, BPPIPE_HELPER_DIR_FROM_BIN);
    tidy(dir);
    snprintf(found, len, "%s/%s", dir, name);
    return access(found, mode) == 0 ? 0 : -1;
}
