/* Where bppipe finds the files it runs or loads only for one command (the broker helper, the
 * tree trainer's module): beside a build-tree bppipe, or in <prefix>/lib/bppipe/ for an
 * installed or unpacked one, found from this executable's own path as the plugins are
 * (src/pipeline/loader.c). */
#ifndef BPPIPE_CLI_HELPER_PATH_H
#define BPPIPE_CLI_HELPER_PATH_H

#include <stddef.h>

/* Looks for `name` (mode as access(2) takes it: X_OK for a program, R_OK for a module) beside
 * the executable, then in the helper dir. Returns 0 with `found` set to the first that exists;
 * -1 otherwise, with `found` set to the installed path (for the message that names it); -2 when
 * the executable's own path is unknown. */
int bp_helper_find(const char *name, int mode, char *found, size_t len);

#endif
