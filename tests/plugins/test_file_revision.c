/* sink-file's revisions (file_revision.c): the name of a logical id, what a held file says, which
 * version may go over which, and the trail's name. */
#include "check.h"
#include "file_names.h"
#include "file_revision.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static bp_held held(int64_t version, const char *revision, uint64_t hash)
{
    bp_held h = {true, version, revision != NULL, revision && strcmp(revision, "retract") == 0,
                 hash};
    return h;
}

int main(void)
{
    char out[BP_RECORD_NAME_MAX + 48];
    CHECK(bp_logical_file_name("obs-1", out, sizeof out) == 0);
    CHECK_STR(out, "obs_obs-1.json");
    CHECK(bp_logical_file_name("urn:uuid:7b4c/x", out, sizeof out) == 0);
    CHECK(strncmp(out, "obs_urn_uuid_7b4c_x~", 20) == 0 && strstr(out, "/") == NULL);
    CHECK(bp_logical_file_name("../../etc", out, sizeof out) == 0 && !strstr(out, "/"));

    /* The top-level fields only: "version" inside a nested object is not the version. */
    bp_held h;
    const char *pretty = "{\n  \"@timestamp\": \"2026-01-01T00:00:00.000Z\",\n  \"stable_id\": "
                         "\"a \\\"version\\\": 9\",\n  \"logical_id\": \"x\",\n  \"version\": "
                         "12,\n  \"revision\": \"replace\",\n  \"source\": {\"version\": 99}\n}";
    bp_held_parse(pretty, strlen(pretty), &h);
    CHECK(h.present && h.version == 12 && h.revised && !h.retracted);
    const char *nested = "{\"stable_id\":\"x\",\"hl7v2\":{\"version\":7,\"revision\":\"retract\"}}";
    bp_held_parse(nested, strlen(nested), &h);
    CHECK(h.version == 0 && !h.revised && !h.retracted);
    const char *tomb = "{\"version\":3,\"revision\":\"retract\"}";
    bp_held_parse(tomb, strlen(tomb), &h);
    CHECK(h.version == 3 && h.revised && h.retracted);

    bp_held none = {0};
    /* A first version where nothing is held goes in; a retraction of nothing is nothing. */
    CHECK(bp_revision_applies(&none, &(bp_held){true, 1, false, false, 1}));
    CHECK(!bp_revision_applies(&none, &(bp_held){true, 2, true, true, 1}));
    /* Versions known: only a newer one, or the same one to retract it. */
    bp_held v2 = held(2, "replace", 20);
    CHECK(bp_revision_applies(&v2, &(bp_held){true, 3, true, false, 30}));
    CHECK(!bp_revision_applies(&v2, &(bp_held){true, 1, false, false, 10})); /* a replay */
    CHECK(!bp_revision_applies(&v2, &(bp_held){true, 2, true, false, 21}));
    CHECK(bp_revision_applies(&v2, &(bp_held){true, 2, true, true, 22}));
    bp_held t3 = held(3, "retract", 33);
    CHECK(!bp_revision_applies(&t3, &(bp_held){true, 3, true, true, 34}));
    CHECK(!bp_revision_applies(&t3, &(bp_held){true, 2, true, false, 20}));
    CHECK(bp_revision_applies(&t3, &(bp_held){true, 4, true, false, 40}));
    /* The same bytes change nothing, whatever the rest says. */
    CHECK(!bp_revision_applies(&v2, &(bp_held){true, 3, true, false, 20}));
    /* A version unknown: the last wins, but an original never undoes its correction and a
     * tombstone stays one. */
    bp_held u = held(0, "replace", 5);
    CHECK(!bp_revision_applies(&u, &(bp_held){true, 0, false, false, 6}));
    CHECK(bp_revision_applies(&u, &(bp_held){true, 0, true, false, 7}));
    CHECK(bp_revision_applies(&u, &(bp_held){true, 0, true, true, 8}));
    bp_held ut = held(0, "retract", 9);
    CHECK(!bp_revision_applies(&ut, &(bp_held){true, 0, true, true, 10}));
    bp_held orig = held(0, NULL, 11);
    CHECK(bp_revision_applies(&orig, &(bp_held){true, 0, false, false, 12}));

    /* Trails: by version, else by the hash of the replaced document. */
    CHECK(bp_trail_name("obs_x.json", &v2, out, sizeof out) == 0);
    CHECK_STR(out, "obs_x~v2.json");
    bp_held hashed = held(0, NULL, 0xabcdefULL);
    CHECK(bp_trail_name("obs_x.json", &hashed, out, sizeof out) == 0);
    CHECK_STR(out, "obs_x~h0000000000abcdef.json");
    CHECK(bp_trail_name("obs_x.json", &v2, out, 8) == -1);

    /* Versions of one logical id in one group, decided against each other, not the disk (an
     * empty folder): the same document again, version unknown, changes nothing; another
     * document of it does. Their documents are hashed only when compared (file_revision.c). */
    char dir[] = "/tmp/test_file_revision.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    bp_revisions rv;
    CHECK(dfd >= 0 && bp_revisions_init(&rv, dfd, 8) == 0);
    bp_revisions_begin(&rv);
    const char *a = "{\n  \"value\": 1\n}", *b = "{\n  \"value\": 2\n}";
    bool apply = false;
    CHECK(bp_revisions_decide(&rv, 0, "obs_x.json", false, a, strlen(a), 0, NULL, &apply) == 0 &&
          apply);
    CHECK(bp_revisions_decide(&rv, 1, "obs_y.json", false, b, strlen(b), 0, NULL, &apply) == 0 &&
          apply);
    CHECK(bp_revisions_decide(&rv, 2, "obs_x.json", true, a, strlen(a), 0, NULL, &apply) == 0);
    CHECK(!apply);
    CHECK(bp_revisions_decide(&rv, 3, "obs_x.json", true, b, strlen(b), 0, "replace", &apply) == 0);
    CHECK(apply);
    CHECK(rv.trails == 0); /* nothing on disk gave way */

    /* A name the caller says is absent is not read (sink-file's name filter); one it does not
     * is, and a file there holding a newer version keeps its place. */
    char path[64];
    snprintf(path, sizeof path, "%s/obs_z.json", dir);
    FILE *held_file = fopen(path, "w");
    CHECK(held_file && fputs("{\n  \"version\": 3\n}\n", held_file) >= 0);
    CHECK(held_file && fclose(held_file) == 0);
    const char *doc2 = "{\n  \"version\": 2\n}";
    bp_revisions_begin(&rv);
    CHECK(bp_revisions_decide(&rv, 0, "obs_z.json", false, doc2, strlen(doc2), 2, "replace",
                              &apply) == 0);
    CHECK(!apply);
    bp_revisions_begin(&rv);
    CHECK(bp_revisions_decide(&rv, 0, "obs_z.json", true, doc2, strlen(doc2), 2, "replace",
                              &apply) == 0);
    CHECK(apply && rv.trails == 0);
    unlink(path);
    bp_revisions_free(&rv);
    close(dfd);
    rmdir(dir);
    return CHECK_DONE();
}
