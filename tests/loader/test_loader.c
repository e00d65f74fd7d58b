/* Every refusal of the plugin loader, each against a real .so built by the suite. */
#include "check.h"
#include "pipeline/loader.h"

#include <stdlib.h>

static const char *dir;

static int try_load(bp_loader *ld, const char *sub, const char *file, char *err, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, file);
    const bp_loaded *pl = NULL;
    err[0] = '\0';
    return bp_loader_open_file(ld, path, &pl, err, len);
}

/* A refusal is one line that names the file. */
static void check_refusal(bp_loader *ld, const char *file, const char *cause)
{
    char err[2048];
    CHECK(try_load(ld, "bad", file, err, sizeof err) == -1);
    CHECK_CONTAINS(err, file);
    CHECK_CONTAINS(err, cause);
    CHECK(strchr(err, '\n') == NULL);
}

int main(void)
{
    dir = getenv("LOADER_DIR");
    if (!dir) {
        fprintf(stderr, "LOADER_DIR is not set\n");
        return 1;
    }
    bp_loader ld;
    CHECK(bp_loader_init(&ld, NULL, NULL) == 0);

    char err[2048];
    CHECK(try_load(&ld, "good", "test-good.so", err, sizeof err) == 0);

    check_refusal(&ld, "test-notelf.so", "not a loadable shared object");
    check_refusal(&ld, "test-noentry.so", "no exported symbol bppipe_plugin");
    check_refusal(&ld, "test-abi2.so", "built for ABI 2, this bppipe speaks ABI 1");
    check_refusal(&ld, "test-minor.so", "needs ABI 1.99");
    check_refusal(&ld, "test-misnamed.so", "calls itself 'someone-else'");
    check_refusal(&ld, "test-incomplete.so", "needs open, close and detect");
    /* Cut short: refused from its headers, before dlopen maps it (SIGBUS otherwise). */
    check_refusal(&ld, "test-truncated.so", "refused: truncated: segment");
    check_refusal(&ld, "test-shtrunc.so", "refused: truncated: its section header table");
    CHECK(try_load(&ld, "good", "", err, sizeof err) == -1); /* a folder */
    CHECK_CONTAINS(err, "refused: not a regular file");
    CHECK(try_load(&ld, "bad", "missing.so", err, sizeof err) == -1);
    CHECK_CONTAINS(err, "cannot read plugin file");
    bp_loader_free(&ld);

    /* Search path: found by name through plugin_path. */
    char list[2048];
    snprintf(list, sizeof list, "%s/good:%s/dup1", dir, dir);
    CHECK(bp_loader_init(&ld, list, NULL) == 0);
    const bp_loaded *pl = NULL;
    CHECK(bp_loader_find(&ld, "test-good", &pl, err, sizeof err) == 0);
    CHECK(pl && strcmp(pl->desc->name, "test-good") == 0);
    CHECK(bp_loader_find(&ld, "test-dup", &pl, err, sizeof err) == 0);
    CHECK(bp_loader_find(&ld, "nope", &pl, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "plugin 'nope' not found");
    bp_loader_free(&ld);

    /* The same name in two folders: the first in the search order is used (the second is
     * named in a warning on stderr). */
    snprintf(list, sizeof list, "%s/dup1:%s/dup2", dir, dir);
    CHECK(bp_loader_init(&ld, list, NULL) == 0);
    CHECK(bp_loader_find(&ld, "test-dup", &pl, err, sizeof err) == 0);
    CHECK(pl && strstr(pl->path, "/dup1/test-dup.so"));
    bp_loader_free(&ld);
    snprintf(list, sizeof list, "%s/dup2:%s/dup1", dir, dir);
    CHECK(bp_loader_init(&ld, list, NULL) == 0);
    CHECK(bp_loader_find(&ld, "test-dup", &pl, err, sizeof err) == 0);
    CHECK(pl && strstr(pl->path, "/dup2/test-dup.so"));
    bp_loader_free(&ld);

    /* A plugin is a name, never a path: nothing outside the search directories is loaded. */
    snprintf(list, sizeof list, "%s/dup1", dir);
    CHECK(bp_loader_init(&ld, list, NULL) == 0);
    static const char *const not_names[] = {"../good/test-good", "../../x", "/tmp/x", "a/b",
                                            "Test-Good", "", ".", "-x", "x.so", "a b"};
    for (size_t i = 0; i < sizeof not_names / sizeof not_names[0]; i++) {
        CHECK(bp_loader_find(&ld, not_names[i], &pl, err, sizeof err) == -1);
        CHECK_CONTAINS(err, "is not a plugin name");
    }
    CHECK(ld.n_loaded == 0);
    CHECK(bp_plugin_name_ok("sink-file") && bp_plugin_name_ok("x_2") && bp_plugin_name_ok("9a"));
    char longest[BP_PLUGIN_NAME_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[BP_PLUGIN_NAME_MAX] = '\0';
    CHECK(bp_plugin_name_ok(longest));
    longest[BP_PLUGIN_NAME_MAX] = 'a';
    longest[BP_PLUGIN_NAME_MAX + 1] = '\0';
    CHECK(!bp_plugin_name_ok(longest));
    bp_loader_free(&ld);

    /* Relative plugin_path entries are taken relative to the pipeline file's folder. */
    CHECK(bp_loader_init(&ld, "good", dir) == 0);
    CHECK(bp_loader_find(&ld, "test-good", &pl, err, sizeof err) == 0);
    bp_loader_free(&ld);
    return CHECK_DONE();
}
