/* source-file's plugin driven through a fake host: what becomes a payload (whole files, NDJSON
 * lines, empty and blank lines, a 1 MB line, a last line without newline), folder order and
 * filtering (recursive or not), origins, resuming mid-file whatever the batch capacity,
 * standard input (also a quiet one), and the errors a user must be told about. */
#include "check.h"
#include "fake_host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const bp_plugin *bppipe_plugin(void);

#define LONG_LINE (1024 * 1024 + 17)

static char dir[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_file(const char *name, const char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
}

static void make_dir(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(mkdir(path, 0700) == 0);
}

static char *long_line;

static void make_tree(void)
{
    snprintf(dir, sizeof dir, "%s/bppipe-source-file-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    write_file("a.json", "{\n  \"a\": 1\n}\n", 13);
    /* line 2 empty (skipped), 3 blanks (a payload), 4 CRLF, 5 a megabyte, 6 no final newline */
    long_line = malloc(LONG_LINE);
    memset(long_line, 'x', LONG_LINE);
    long_line[0] = '{';
    size_t n = 0;
    char *b = malloc(LONG_LINE + 64);
    n += (size_t)sprintf(b, "l1\n\n  \nl4\r\n");
    memcpy(b + n, long_line, LONG_LINE);
    n += LONG_LINE;
    n += (size_t)sprintf(b + n, "\nlast");
    write_file("b.ndjson", b, n);
    free(b);
    write_file("blank.ndjson", "\n\n\r\n", 4);
    write_file("empty.ndjson", "", 0);
    write_file("c.txt", "not for a folder", 16);
    write_file(".hidden.json", "{}", 2);
    make_dir("sub");
    write_file("sub/d.json", "[1]", 3);
    make_dir("z.json"); /* a folder named like a payload file */
    write_file("z.json/y.ndjson", "y1\n", 3);
}

static void remove_tree(void)
{
    const char *names[] = {"z.json/y.ndjson", "z.json", "sub/d.json", "sub", ".hidden.json",
                           "c.txt", "empty.ndjson", "blank.ndjson", "b.ndjson", "a.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (remove(path) != 0 && errno != ENOENT)
            fprintf(stderr, "cannot remove %s\n", path);
    }
    rmdir(dir);
    free(long_line);
}

typedef struct run {
    bp_ctx ctx;
    void *state;
    int open_rc;
    bp_batch all; /* every payload, in order */
    int polls, end_rc;
    size_t most; /* the largest batch a poll returned */
} run;

/* Opens the plugin with `opts`, then polls with `capacity` until it stops (BP_END or an error,
 * at most 10 000 polls). */
static void drive(run *r, const fake_opt *opts, size_t n, size_t capacity)
{
    memset(r, 0, sizeof *r);
    fake_ctx_init(&r->ctx, bppipe_plugin(), opts, n);
    fake_batch_init(&r->all, 0);
    r->open_rc = bppipe_plugin()->open(&fake_host, &r->ctx, &r->state);
    if (r->open_rc != BP_OK)
        return;
    bp_batch b;
    fake_batch_init(&b, capacity);
    int rc = BP_OK;
    while (rc == BP_OK && r->polls < 10000) {
        fake_batch_clear(&b);
        rc = bppipe_plugin()->poll(r->state, &b, 20);
        r->polls++;
        r->most = b.count > r->most ? b.count : r->most;
        for (size_t i = 0; i < b.count; i++) {
            fake_payload *p = &b.items[i];
            bp_origin o = {sizeof o, p->topic, p->partition, p->offset, p->key, p->key_len,
                           p->timestamp_ms};
            fake_host.add_payload(&r->all, p->data, p->len, &o);
        }
    }
    r->end_rc = rc;
    fake_batch_free(&b);
    bppipe_plugin()->close(r->state);
}

static void done(run *r)
{
    fake_batch_free(&r->all);
}

static void check_payload(const fake_payload *p, const char *file, int64_t offset,
                          const char *data)
{
    char topic[512];
    snprintf(topic, sizeof topic, "%s/%s", dir, file);
    CHECK_STR(p->topic, topic);
    CHECK(p->offset == offset);
    CHECK(p->partition == -1 && p->key == NULL && p->timestamp_ms == -1);
    if (data)
        CHECK(p->len == strlen(data) && memcmp(p->data, data, p->len) == 0);
}

static void test_folder(void)
{
    const fake_opt opts[] = {{"path", dir}};
    run ref;
    drive(&ref, opts, 1, 1000);
    CHECK(ref.open_rc == BP_OK && ref.end_rc == BP_END);
    CHECK(ref.polls == 1); /* everything fits: the payloads come with BP_END */
    CHECK(ref.all.count == 6);
    if (ref.all.count == 6) {
        check_payload(&ref.all.items[0], "a.json", 0, "{\n  \"a\": 1\n}\n");
        check_payload(&ref.all.items[1], "b.ndjson", 1, "l1");
        check_payload(&ref.all.items[2], "b.ndjson", 3, "  ");
        check_payload(&ref.all.items[3], "b.ndjson", 4, "l4");
        check_payload(&ref.all.items[4], "b.ndjson", 5, NULL);
        CHECK(ref.all.items[4].len == LONG_LINE &&
              memcmp(ref.all.items[4].data, long_line, LONG_LINE) == 0);
        check_payload(&ref.all.items[5], "b.ndjson", 6, "last");
    }
    CHECK_CONTAINS(ref.ctx.log, "reading 4 file(s)");

    /* any capacity gives the same payloads, resuming in the middle of b.ndjson */
    for (size_t cap = 1; cap <= 4; cap++) {
        run r;
        drive(&r, opts, 1, cap);
        CHECK(r.end_rc == BP_END && r.most <= cap && r.all.count == ref.all.count);
        int same = 1;
        for (size_t i = 0; i < r.all.count && i < ref.all.count; i++) {
            const fake_payload *p = &r.all.items[i], *q = &ref.all.items[i];
            same &= p->len == q->len && memcmp(p->data, q->data, p->len) == 0 &&
                    strcmp(p->topic, q->topic) == 0 && p->offset == q->offset;
        }
        CHECK(same);
        CHECK(r.polls >= (int)((ref.all.count + cap - 1) / cap));
        done(&r);
    }
    done(&ref);

    /* a trailing slash does not double in the topic */
    char slashed[300];
    snprintf(slashed, sizeof slashed, "%s/", dir);
    const fake_opt with_slash[] = {{"path", slashed}};
    run s;
    drive(&s, with_slash, 1, 10);
    CHECK(s.all.count == 6);
    if (s.all.count)
        check_payload(&s.all.items[0], "a.json", 0, NULL);
    done(&s);

    /* recursive: sub-folders too (also one named like a file), still in path order */
    const fake_opt deep[] = {{"path", dir}, {"recursive", "true"}};
    run d;
    drive(&d, deep, 2, 3);
    CHECK(d.end_rc == BP_END && d.all.count == 8);
    if (d.all.count == 8) {
        check_payload(&d.all.items[6], "sub/d.json", 0, "[1]");
        check_payload(&d.all.items[7], "z.json/y.ndjson", 1, "y1");
    }
    done(&d);
}

static void test_single_files(void)
{
    /* a file named explicitly is one payload whatever its extension ... */
    char path[512];
    snprintf(path, sizeof path, "%s/c.txt", dir);
    const fake_opt txt[] = {{"path", path}};
    run r;
    drive(&r, txt, 1, 10);
    CHECK(r.open_rc == BP_OK && r.end_rc == BP_END && r.all.count == 1);
    if (r.all.count == 1)
        check_payload(&r.all.items[0], "c.txt", 0, "not for a folder");
    done(&r);
    /* ... except .ndjson, which is read line by line */
    snprintf(path, sizeof path, "%s/b.ndjson", dir);
    const fake_opt nd[] = {{"path", path}};
    drive(&r, nd, 1, 2);
    CHECK(r.end_rc == BP_END && r.all.count == 5 && r.polls == 3);
    done(&r);
    /* files without a single payload end at once */
    snprintf(path, sizeof path, "%s/blank.ndjson", dir);
    const fake_opt blank[] = {{"path", path}};
    drive(&r, blank, 1, 2);
    CHECK(r.end_rc == BP_END && r.all.count == 0 && r.polls == 1);
    done(&r);
}

static void test_errors(void)
{
    /* a missing path fails in open (so `bppipe check` reports it) with path and reason */
    char path[512];
    snprintf(path, sizeof path, "%s/nope.ndjson", dir);
    const fake_opt missing[] = {{"path", path}};
    run r;
    drive(&r, missing, 1, 10);
    CHECK(r.open_rc == BP_FATAL);
    CHECK_CONTAINS(r.ctx.log, path);
    CHECK_CONTAINS(r.ctx.log, strerror(ENOENT));
    CHECK_CONTAINS(r.ctx.log, "check `path`");
    done(&r);

    /* a file that vanished after open: BP_FATAL, the path, errno's text and what to do */
    snprintf(path, sizeof path, "%s/gone", dir);
    CHECK(mkdir(path, 0700) == 0);
    char file[600];
    snprintf(file, sizeof file, "%s/g.json", path);
    FILE *f = fopen(file, "w");
    CHECK(f && fputs("{}", f) >= 0 && fclose(f) == 0);
    const fake_opt gone[] = {{"path", path}};
    bp_ctx ctx;
    fake_ctx_init(&ctx, bppipe_plugin(), gone, 1);
    void *state = NULL;
    CHECK(bppipe_plugin()->open(&fake_host, &ctx, &state) == BP_OK);
    CHECK(remove(file) == 0);
    bp_batch b;
    fake_batch_init(&b, 10);
    CHECK(bppipe_plugin()->poll(state, &b, 10) == BP_FATAL);
    CHECK(ctx.errors == 1);
    CHECK_CONTAINS(ctx.log, file);
    CHECK_CONTAINS(ctx.log, strerror(ENOENT));
    CHECK_CONTAINS(ctx.log, "fix or remove the file");
    bppipe_plugin()->close(state);
    fake_batch_free(&b);

    /* an empty folder is not an error, but the user hears about it */
    fake_ctx_init(&ctx, bppipe_plugin(), gone, 1);
    CHECK(bppipe_plugin()->open(&fake_host, &ctx, &state) == BP_OK);
    CHECK_CONTAINS(ctx.log, "has no .json or .ndjson files");
    fake_batch_init(&b, 10);
    CHECK(bppipe_plugin()->poll(state, &b, 10) == BP_END && b.count == 0);
    bppipe_plugin()->close(state);
    fake_batch_free(&b);
    rmdir(path);

    /* an empty path */
    const fake_opt empty[] = {{"path", ""}};
    drive(&r, empty, 1, 10);
    CHECK(r.open_rc == BP_FATAL && r.ctx.errors == 1);
    done(&r);
}

static void test_stdin(void)
{
    int saved = dup(STDIN_FILENO), fds[2];
    CHECK(saved >= 0 && pipe(fds) == 0);
    CHECK(dup2(fds[0], STDIN_FILENO) == STDIN_FILENO);
    close(fds[0]);
    const fake_opt opts[] = {{"path", "-"}};
    bp_ctx ctx;
    fake_ctx_init(&ctx, bppipe_plugin(), opts, 1);
    void *state = NULL;
    CHECK(bppipe_plugin()->open(&fake_host, &ctx, &state) == BP_OK);
    bp_batch b;
    fake_batch_init(&b, 10);

    /* a quiet stdin: poll returns after its timeout with nothing, it does not block */
    double t0 = now_s();
    CHECK(bppipe_plugin()->poll(state, &b, 50) == BP_OK && b.count == 0);
    double took = now_s() - t0;
    CHECK(took >= 0.04 && took < 0.5);

    /* a partial line waits for the rest; complete lines go out at once */
    CHECK(write(fds[1], "s1\n\ns3\ns4-part", 14) == 14);
    CHECK(bppipe_plugin()->poll(state, &b, 50) == BP_OK && b.count == 2);
    if (b.count == 2) {
        CHECK_STR(b.items[0].data, "s1");
        CHECK(b.items[0].offset == 1);
        CHECK_STR(b.items[0].topic, "-");
        CHECK_STR(b.items[1].data, "s3");
        CHECK(b.items[1].offset == 3);
    }
    fake_batch_clear(&b);
    CHECK(write(fds[1], "-rest\n", 6) == 6);
    close(fds[1]); /* end of input: the source ends */
    int rc = bppipe_plugin()->poll(state, &b, 50);
    CHECK(b.count == 1);
    if (b.count == 1) {
        CHECK_STR(b.items[0].data, "s4-part-rest");
        CHECK(b.items[0].offset == 4);
    }
    if (rc == BP_OK) {
        fake_batch_clear(&b);
        rc = bppipe_plugin()->poll(state, &b, 50);
        CHECK(b.count == 0);
    }
    CHECK(rc == BP_END);
    bppipe_plugin()->close(state);
    fake_batch_free(&b);
    CHECK(dup2(saved, STDIN_FILENO) == STDIN_FILENO);
    close(saved);
}

int main(void)
{
    const bp_plugin *p = bppipe_plugin();
    CHECK_STR(p->name, "source-file");
    CHECK(p->kind == BP_KIND_SOURCE && p->poll && !p->commit);
    CHECK(p->n_options == 2 && strcmp(p->options[0].name, "path") == 0 &&
          (p->options[0].flags & BP_OPT_REQUIRED));
    make_tree();
    test_folder();
    test_single_files();
    test_errors();
    test_stdin();
    remove_tree();
    return CHECK_DONE();
}
