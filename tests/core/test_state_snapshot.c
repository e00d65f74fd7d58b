/* The snapshot file format of keyed state (src/pipeline/state_snapshot.c), without the store:
 * the exact bytes of version 1, a round trip, and the files it refuses (another magic, another
 * owner's, cut short, a field too long, a key the reader cannot take) with today's reasons. */
#include "check.h"
#include "pipeline/state_snapshot.h"

#include "bppipe/plugin.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/bppipe-snapshot-XXXXXX";
static char file[128];

typedef struct got {
    int n, refuse_at;
    char topic[4][32];
    int has_topic[4];
    int32_t partition[4];
    char key[4][32], value[4][32];
    size_t value_len[4];
} got;

static int take(void *user, const char *topic, int32_t partition, const unsigned char *key,
                size_t key_len, unsigned char *value, size_t len)
{
    got *g = user;
    if (g->n == g->refuse_at || g->n >= 4)
        return -1;
    g->has_topic[g->n] = topic != NULL;
    snprintf(g->topic[g->n], 32, "%s", topic ? topic : "");
    g->partition[g->n] = partition;
    snprintf(g->key[g->n], 32, "%.*s", (int)key_len, (const char *)key);
    CHECK(value[len] == '\0');
    snprintf(g->value[g->n], 32, "%s", (const char *)value);
    g->value_len[g->n] = len;
    g->n++;
    free(value);
    return 0;
}

static int read_back(const char *ns, got *g, char *why, size_t why_len, size_t *loaded)
{
    memset(g, 0, sizeof *g);
    g->refuse_at = -1;
    *loaded = 0;
    why[0] = '\0';
    return bp_state_snapshot_read(file, ns, take, g, why, why_len, loaded);
}

static void write_bytes(const void *p, size_t n)
{
    FILE *f = fopen(file, "wb");
    CHECK(f && fwrite(p, 1, n, f) == n);
    fclose(f);
}

static size_t file_bytes(unsigned char *buf, size_t size)
{
    FILE *f = fopen(file, "rb");
    size_t n = f ? fread(buf, 1, size, f) : 0;
    if (f)
        fclose(f);
    return n;
}

/* The two keys every test below starts from, as version 1 lays them out. */
static const unsigned char expected[] = {
    'B', 'P', 'S', 'T', 'A', 'T', 'E', '1', 7, 0, 0, 0, 'd', '.', 'x', '/', 'f', '.', '1',
    /* topic "t", partition 2, key "k", value "v" */
    1, 0, 0, 0, 't', 2, 0, 0, 0, 1, 0, 0, 0, 'k', 1, 0, 0, 0, 'v',
    /* no topic, no partitions, key "ab", empty value */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};

static void write_two(void)
{
    bp_state_snapshot_writer w;
    CHECK(bp_state_snapshot_begin(&w, file, "d.x/f.1") == 0);
    bp_state_snapshot_put(&w, "t", 2, "k", 1, "v", 1);
    bp_state_snapshot_put(&w, NULL, -1, "ab", 2, NULL, 0);
    CHECK(bp_state_snapshot_finish(&w) == 0);
}

static void test_bytes_and_round_trip(void)
{
    write_two();
    unsigned char buf[256];
    size_t n = file_bytes(buf, sizeof buf);
    CHECK(n == sizeof expected && memcmp(buf, expected, n) == 0);
    struct stat st;
    CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600);

    got g;
    char why[256];
    size_t loaded;
    CHECK(read_back("d.x/f.1", &g, why, sizeof why, &loaded) == 0);
    CHECK(loaded == 2 && g.n == 2);
    CHECK(g.has_topic[0] && strcmp(g.topic[0], "t") == 0 && g.partition[0] == 2);
    CHECK_STR(g.key[0], "k");
    CHECK_STR(g.value[0], "v");
    CHECK(!g.has_topic[1] && g.partition[1] == -1);
    CHECK_STR(g.key[1], "ab");
    CHECK(g.value_len[1] == 0);

    /* the largest key and value go through */
    bp_state_snapshot_writer w;
    unsigned char *big = malloc(BP_STATE_MAX_VALUE);
    memset(big, 'z', BP_STATE_MAX_VALUE);
    CHECK(bp_state_snapshot_begin(&w, file, "d.x/f.1") == 0);
    bp_state_snapshot_put(&w, "t", 0, big, BP_STATE_MAX_KEY, big, BP_STATE_MAX_VALUE);
    CHECK(bp_state_snapshot_finish(&w) == 0);
    memset(&g, 0, sizeof g);
    loaded = 0;
    g.refuse_at = -1;
    CHECK(bp_state_snapshot_read(file, "d.x/f.1", take, &g, why, sizeof why, &loaded) == 0);
    CHECK(loaded == 1 && g.value_len[0] == BP_STATE_MAX_VALUE);
    free(big);
}

static void test_refused(void)
{
    got g;
    char why[256];
    size_t loaded;

    unlink(file);
    CHECK(read_back("d.x/f.1", &g, why, sizeof why, &loaded) == -1);
    CHECK_STR(why, "cannot read it: No such file or directory");

    write_two();
    CHECK(read_back("d.y/f.1", &g, why, sizeof why, &loaded) == -1); /* another owner's */
    CHECK_STR(why, "it holds the state of d.x/f.1, not of d.y/f.1");
    CHECK(g.n == 0);

    unsigned char copy[sizeof expected];
    memcpy(copy, expected, sizeof copy);
    copy[7] = '2'; /* another version */
    write_bytes(copy, sizeof copy);
    CHECK(read_back("d.x/f.1", &g, why, sizeof why, &loaded) == -1);
    CHECK_STR(why, "not a bppipe state snapshot (an older detector-trend one is not read: that "
                   "history starts again)");

    /* cut short anywhere: refused with the keys read so far, except between two keys (the
     * format has no count: a file cut there reads as the keys before the cut) */
    const size_t header = 19, first = 19 + 19;
    for (size_t cut = 0; cut < sizeof expected; cut++) {
        write_bytes(expected, cut);
        int rc = read_back("d.x/f.1", &g, why, sizeof why, &loaded);
        if (cut < 8) {
            CHECK(rc == -1 && strstr(why, "not a bppipe state snapshot"));
        } else if (cut < header) {
            CHECK(rc == -1);
            CHECK_STR(why, "it holds the state of ?, not of d.x/f.1");
        } else if (cut == header || cut == first) {
            CHECK(rc == 0 && loaded == (cut == first ? 1u : 0u));
        } else if (cut < header + 4 || (cut > first && cut < first + 4)) {
            CHECK(rc == 0); /* a topic length cut short reads as the end, as it always did */
        } else {
            char want[64];
            snprintf(want, sizeof want, "it is damaged after %d keys", cut < first ? 0 : 1);
            CHECK(rc == -1);
            CHECK_STR(why, want);
        }
    }

    /* a field longer than the format allows */
    memcpy(copy, expected, sizeof copy);
    copy[19] = 0x01, copy[20] = 0x10; /* topic length 4097 */
    write_bytes(copy, sizeof copy);
    CHECK(read_back("d.x/f.1", &g, why, sizeof why, &loaded) == -1);
    CHECK_STR(why, "it is damaged after 0 keys");
    memcpy(copy, expected, sizeof copy);
    copy[28] = 0x01, copy[29] = 0x04; /* key length 1025 */
    write_bytes(copy, sizeof copy);
    CHECK(read_back("d.x/f.1", &g, why, sizeof why, &loaded) == -1);
    CHECK_STR(why, "it is damaged after 0 keys");

    /* a key the reader cannot take stops the read as damaged */
    write_two();
    memset(&g, 0, sizeof g);
    g.refuse_at = 1;
    loaded = 0;
    CHECK(bp_state_snapshot_read(file, "d.x/f.1", take, &g, why, sizeof why, &loaded) == -1);
    CHECK(loaded == 1);
    CHECK_STR(why, "it is damaged after 1 keys");
}

static void test_write_errors(void)
{
    bp_state_snapshot_writer w;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no-such-folder/s.state", dir);
    errno = 0;
    CHECK(bp_state_snapshot_begin(&w, missing, "d.x/f.1") == -1 && errno == ENOENT);

    /* the rename fails (the target is a folder): -1, and no temporary file is left */
    char target[160];
    snprintf(target, sizeof target, "%s/folder.state", dir);
    CHECK(mkdir(target, 0700) == 0);
    CHECK(bp_state_snapshot_begin(&w, target, "d.x/f.1") == 0);
    bp_state_snapshot_put(&w, "t", 0, "k", 1, "v", 1);
    errno = 0;
    CHECK(bp_state_snapshot_finish(&w) == -1 && errno == EISDIR);
    char tmp[200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", target, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);
    CHECK(rmdir(target) == 0);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/s.state", dir);
    test_bytes_and_round_trip();
    test_refused();
    test_write_errors();
    unlink(file);
    CHECK(rmdir(dir) == 0);
    return CHECK_DONE();
}
