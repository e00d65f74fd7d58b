/* Which Debian package a file came from, read from dpkg's own database without running dpkg:
 * <admindir>/info/<package>[:<arch>].list holds every path a package installed, one per line,
 * and <admindir>/status its version. The admindir is $DPKG_ADMINDIR when set (as for dpkg),
 * else /var/lib/dpkg. With no database (not Debian, a container without dpkg) nothing is owned
 * and nothing fails. */
#ifndef BPPIPE_PKG_OWNER_H
#define BPPIPE_PKG_OWNER_H

#include <stddef.h>

typedef struct bp_pkg_owner {
    char name[128];    /* the package, "" when none owns the file */
    char version[128]; /* its installed version, "" when the status file does not say */
} bp_pkg_owner;

/* Looks `n` absolute paths up in one pass over the package lists; owners[i] describes
 * paths[i]. A path matches a list entry equal to it, or, on a merged-/usr system, an entry
 * /lib/..., /bin/... or /sbin/... when the path is /usr/lib/..., /usr/bin/..., /usr/sbin/....
 * Pass resolved paths (realpath) to match through symbolic links. */
void bp_pkg_owners(const char *const *paths, size_t n, bp_pkg_owner *owners);

#endif
