/* [alarms] users_file: which files are refused and why (the message says chmod 600), which
 * lines, and that a token names its user and nothing else does. */
#include "alarm/users.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/bp_users_XXXXXX";

static const char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static const char *T_ANNA = "anna-0123456789abcdef";
static const char *T_BEN = "ben-fedcba9876543210";

static void test_modes(void)
{
    char err[512];
    const char *ok = "anna anna-0123456789abcdef\n";
    CHECK(bp_users_check_file(write_file("u600", ok, 0600), err, sizeof err) == 0);
    CHECK(bp_users_check_file(write_file("u400", ok, 0400), err, sizeof err) == 0);
    const mode_t refused[] = {0644, 0640, 0604, 0660, 0700, 0606};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%o", (unsigned)refused[i]);
        const char *p = write_file(name, ok, refused[i]);
        err[0] = '\0';
        CHECK(bp_users_check_file(p, err, sizeof err) == -1);
        CHECK(bp_users_load(p, err, sizeof err) == NULL);
        char want[600];
        snprintf(want, sizeof want, "chmod 600 %s", p);
        CHECK_CONTAINS(err, want);
    }
    /* a folder, a link to a good file, a missing file */
    char sub[512], link[512], missing[512];
    snprintf(sub, sizeof sub, "%s/folder", dir);
    mkdir(sub, 0700);
    CHECK(bp_users_check_file(sub, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "not a regular file");
    snprintf(link, sizeof link, "%s/link", dir);
    CHECK(symlink("u600", link) == 0);
    CHECK(bp_users_check_file(link, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "symbolic link");
    snprintf(missing, sizeof missing, "%s/none", dir);
    CHECK(bp_users_check_file(missing, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "chmod 600");
}

static void test_lookup(void)
{
    char err[512] = "";
    const char *p = write_file("users",
                               "# who may acknowledge alarms\n"
                               "\n"
                               "anna   anna-0123456789abcdef\n"
                               "  # an indented comment\n"
                               "ben\tben-fedcba9876543210  \r\n"
                               "c.d@ward-3 0000000000000000000000000",
                               0600);
    bp_users *u = bp_users_load(p, err, sizeof err);
    CHECK(u != NULL);
    if (!u) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(bp_users_count(u) == 3);
    CHECK_STR(bp_users_find(u, T_ANNA, strlen(T_ANNA)), "anna");
    CHECK_STR(bp_users_find(u, T_BEN, strlen(T_BEN)), "ben");
    CHECK_STR(bp_users_find(u, "0000000000000000000000000", 25), "c.d@ward-3");
    /* a prefix, one more byte, one byte changed, the name as a token, nothing */
    CHECK(bp_users_find(u, T_ANNA, strlen(T_ANNA) - 1) == NULL);
    CHECK(bp_users_find(u, "anna-0123456789abcdefX", 22) == NULL);
    CHECK(bp_users_find(u, "anna-0123456789abcdeF", 21) == NULL);
    CHECK(bp_users_find(u, "anna", 4) == NULL);
    CHECK(bp_users_find(u, "", 0) == NULL);
    CHECK(bp_users_find(NULL, T_ANNA, strlen(T_ANNA)) == NULL);
    bp_users_free(u);
}

/* Each malformed file is refused with its line, and no message holds a token. */
static void test_refused_lines(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"anna\n", "line 1: expected `NAME TOKEN`"},
        {"# c\nanna tok-0123456789abcdef extra\n", "line 2: expected `NAME TOKEN`"},
        {"anna short\n", "line 1: the token is shorter than 16"},
        {"an/na tok-0123456789abcdef\n", "line 1: a name holds letters"},
        {"anna tok-0123456789abcdef\nanna tok-0123456789abcdeX\n", "line 2: this name is given"},
        {"anna tok-0123456789abcdef\nben tok-0123456789abcdef\n", "line 2: this token is given"},
        {"# nobody yet\n\n", "names no user"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[512] = "";
        const char *p = write_file("bad", cases[i].text, 0600);
        CHECK(bp_users_load(p, err, sizeof err) == NULL);
        CHECK_CONTAINS(err, cases[i].want);
        CHECK(strstr(err, "tok-0123") == NULL);
    }
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    test_modes();
    test_lookup();
    test_refused_lines();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
