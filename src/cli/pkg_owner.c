#include "cli/pkg_owner.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static const char *admin_dir(void)
{
    const char *d = getenv("DPKG_ADMINDIR");
    return d && *d ? d : "/var/lib/dpkg";
}

/* True when the list entry `entry` names `path`: the same, or the same under merged /usr. */
static bool names_path(const char *entry, const char *path)
{
    if (strcmp(entry, path) == 0)
        return true;
    static const char *const moved[] = {"/lib/", "/lib64/", "/bin/", "/sbin/"};
    if (strncmp(path, "/usr/", 5) != 0)
        return false;
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++)
        if (strncmp(entry, moved[i], strlen(moved[i])) == 0 && strcmp(entry, path + 4) == 0)
            return true;
    return false;
}

/* Reads one package's list and records it as the owner of the paths it names. Returns how
 * many of the paths still without an owner it took. */
static size_t read_list(const char *file, const char *package, const char *const *paths, size_t n,
                        bp_pkg_owner *owners)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    size_t found = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        for (size_t i = 0; i < n; i++) {
            if (owners[i].name[0] == '\0' && names_path(line, paths[i])) {
                snprintf(owners[i].name, sizeof owners[i].name, "%s", package);
                found++;
            }
        }
    }
    free(line);
    fclose(f);
    return found;
}

/* Fills in the version of every owner from the status file's stanzas. */
static void read_versions(bp_pkg_owner *owners, size_t n)
{
    char file[4096];
    snprintf(file, sizeof file, "%s/status", admin_dir());
    FILE *f = fopen(file, "r");
    if (!f)
        return;
    char package[128] = "";
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0) {
            package[0] = '\0'; /* a blank line ends a stanza */
        } else if (strncmp(line, "Package: ", 9) == 0) {
            snprintf(package, sizeof package, "%s", line + 9);
        } else if (strncmp(line, "Version: ", 9) == 0 && package[0]) {
            for (size_t i = 0; i < n; i++)
                if (owners[i].version[0] == '\0' && strcmp(owners[i].name, package) == 0)
                    snprintf(owners[i].version, sizeof owners[i].version, "%s", line + 9);
        }
    }
    free(line);
    fclose(f);
}

void bp_pkg_owners(const char *const *paths, size_t n, bp_pkg_owner *owners)
{
    memset(owners, 0, n * sizeof *owners);
    if (n == 0)
        return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/info", admin_dir());
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t left = n;
    struct dirent *e;
    while (left > 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".list") != 0)
            continue;
        /* "<package>.list" or "<package>:<arch>.list" */
        char package[128];
        size_t plen = strcspn(e->d_name, ":");
        if (plen > len - 5)
            plen = len - 5;
        if (plen >= sizeof package)
            continue;
        memcpy(package, e->d_name, plen);
        package[plen] = '\0';
        char file[8192];
        snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
        left -= read_list(file, package, paths, n, owners);
    }
    closedir(d);
    read_versions(owners, n);
}
