/* bp_pkg_owners against a dpkg database laid out in a temporary admindir: exact paths,
 * merged-/usr paths, multiarch list names, versions from the status file, files no package
 * owns, and no database at all. */
#include "check.h"
#include "cli/pkg_owner.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/bppipe-pkgowner-XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    char info[512];
    snprintf(info, sizeof info, "%s/info", dir);
    CHECK(mkdir(info, 0700) == 0);
    write_file("info/bppipe.list", "/.\n/usr\n/usr/lib/bppipe/plugins\n"
                                   "/usr/lib/bppipe/plugins/sink-file.so\n");
    write_file("info/bppipe-kafka:amd64.list", "/usr/lib/bppipe/plugins/source-kafka.so");
    write_file("info/oldstyle.list", "/lib/bppipe/plugins/detector-old.so\n");
    write_file("info/bppipe.md5sums", "0123 /usr/lib/bppipe/plugins/other.so\n");
    write_file("status", "Package: unrelated\nStatus: install ok installed\nVersion: 9\n\n"
                         "Package: bppipe\nStatus: install ok installed\nVersion: 0.1.0\n\n"
                         "Package: bppipe-kafka\nArchitecture: amd64\nVersion: 0.1.0-2\n\n"
                         "Package: oldstyle\n\nVersion: 3\n");
    setenv("DPKG_ADMINDIR", dir, 1);

    const char *paths[] = {
        "/usr/lib/bppipe/plugins/sink-file.so",    /* listed as is */
        "/usr/lib/bppipe/plugins/source-kafka.so", /* in a <package>:<arch>.list, no newline */
        "/usr/lib/bppipe/plugins/detector-old.so", /* listed under /lib (merged /usr) */
        "/usr/lib/bppipe/plugins/other.so",        /* only in an md5sums file: not owned */
        "/usr/lib/bppipe/plugins",                 /* a directory some list names */
        "/opt/mine/detector-mine.so",              /* nobody's */
    };
    bp_pkg_owner o[6];
    bp_pkg_owners(paths, 6, o);
    CHECK_STR(o[0].name, "bppipe");
    CHECK_STR(o[0].version, "0.1.0");
    CHECK_STR(o[1].name, "bppipe-kafka");
    CHECK_STR(o[1].version, "0.1.0-2");
    CHECK_STR(o[2].name, "oldstyle");
    CHECK_STR(o[2].version, ""); /* its Version is outside its stanza */
    CHECK_STR(o[3].name, "");
    CHECK_STR(o[4].name, "bppipe");
    CHECK_STR(o[5].name, "");
    CHECK_STR(o[5].version, "");

    /* /lib/... asked for is not /usr/lib/...: the mapping goes one way only */
    const char *lib[] = {"/lib/bppipe/plugins/sink-file.so"};
    bp_pkg_owners(lib, 1, o);
    CHECK_STR(o[0].name, "");

    /* no database: nothing owned, nothing fails */
    char none[600];
    snprintf(none, sizeof none, "%s/absent", dir);
    setenv("DPKG_ADMINDIR", none, 1);
    bp_pkg_owners(paths, 2, o);
    CHECK_STR(o[0].name, "");
    CHECK_STR(o[1].name, "");
    bp_pkg_owners(paths, 0, o);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return CHECK_DONE();
}
