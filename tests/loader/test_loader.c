/* Every refusal of the plugin loader, each against a real .so built by the suite. */
#include "check.h"
#include "loader.h"

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
    CHECK(try_load(&ld, "bad", "missing.so", err, sizeof err) == -1);
    CHECK_CONTAINS(err, "cannot read plugin file");
    bp_loader_free(&ld);

    /* Search path: found by name through plugin_path, refused when provided twice. */
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

    snprintf(list, sizeof list, "%s/dup1:%s/dup2", dir, dir);
    CHECK(bp_loader_init(&ld, list, NULL) == 0);
    CHECK(bp_loader_find(&ld, "test-dup", &pl, err, sizeof err) == -1);
    CHECK_CONTAINS(err, "plugin 'test-dup' is provided twice");
    bp_loader_free(&ld);

    /* Relative plugin_path entries are taken relative to the pipeline file's folder. */
    CHECK(bp_loader_init(&ld, "good", dir) == 0);
    CHECK(bp_loader_find(&ld, "test-good", &pl, err, sizeof err) == 0);
    bp_loader_free(&ld);
    return CHECK_DONE();
}
