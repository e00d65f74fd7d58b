/* [alarms] audit_file: the line's fields, appending (never truncating) across opens, the mode
 * it is created with, and the files it refuses. */
#include "alarm/audit.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/bp_audit_XXXXXX";

static char *slurp(const char *path)
{
    static char text[8192];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    return text;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);

    char line[512];
    bp_audit_entry e = {.time_ms = 1796000000123LL,
                        .user = "anna",
                        .alarm_id = "vitals~3~0123456789abcdef",
                        .remote = "127.0.0.1:40000",
                        .outcome = "acknowledged"};
    size_t n = bp_audit_format(&e, line, sizeof line);
    line[n] = '\0';
    CHECK_STR(line, "{\"time\":\"2026-11-30T00:53:20.123Z\",\"user\":\"anna\","
                    "\"alarm_id\":\"vitals~3~0123456789abcdef\",\"remote\":\"127.0.0.1:40000\","
                    "\"outcome\":\"acknowledged\"}\n");
    bp_audit_entry anon = {.time_ms = 0, .alarm_id = "x\"y\n", .outcome = "unauthorized"};
    n = bp_audit_format(&anon, line, sizeof line);
    line[n] = '\0';
    CHECK_STR(line, "{\"time\":\"1970-01-01T00:00:00.000Z\",\"user\":null,\"alarm_id\":"
                    "\"x\\\"y\\n\",\"remote\":null,\"outcome\":\"unauthorized\"}\n");
    CHECK(bp_audit_format(&e, line, 20) == 0);

    /* created 0600 whatever the umask; appended to across opens */
    mode_t old = umask(0);
    bp_audit *a = bp_audit_open(path, err, sizeof err);
    umask(old);
    CHECK(a != NULL);
    CHECK(bp_audit_append(a, &e) == 0);
    bp_audit_close(a);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    a = bp_audit_open(path, err, sizeof err);
    CHECK(a != NULL);
    CHECK(bp_audit_append(a, &anon) == 0);
    bp_audit_close(a);
    char *text = slurp(path);
    CHECK_CONTAINS(text, "\"user\":\"anna\"");
    CHECK_CONTAINS(text, "\"outcome\":\"unauthorized\"}\n");
    CHECK(strchr(text, '\n') && strchr(strchr(text, '\n') + 1, '\n') &&
          !strchr(strchr(strchr(text, '\n') + 1, '\n') + 1, '\n'));

    /* readable by others: refused with the fix */
    chmod(path, 0644);
    err[0] = '\0';
    CHECK(bp_audit_open(path, err, sizeof err) == NULL);
    char want[600];
    snprintf(want, sizeof want, "chmod 600 %s", path);
    CHECK_CONTAINS(err, want);
    /* a folder, and a link */
    CHECK(bp_audit_open(dir, err, sizeof err) == NULL);
    char link[512];
    snprintf(link, sizeof link, "%s/link", dir);
    CHECK(symlink(path, link) == 0);
    CHECK(bp_audit_open(link, err, sizeof err) == NULL);
    CHECK_CONTAINS(err, "symbolic link");
    CHECK(bp_audit_append(NULL, &e) == -1);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
