/* source-file: replays a file, a folder of .json/.ndjson files, or standard input.
 *
 * A .json file (or any file named explicitly that is not .ndjson) is one payload; .ndjson files
 * and standard input are one payload per non-empty line. The origin names the file and the
 * line (offset; 0 for a whole-file payload), so a dead letter says where it came from. */
#include "line_reader.h"

#include <bppipe/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct source {
    const bp_host *host;
    bp_ctx *ctx;
    char **files; /* in reading order; "-" is standard input */
    size_t n_files, next_file;
    bool reading;   /* a line-by-line file is open */
    bp_lines lines;
    const char *current;
    int64_t line_no;
} source;

static const bp_option options[] = {
    BP_OPTION_STRING("path", NULL, BP_OPT_REQUIRED,
                     "a file, a folder of .json/.ndjson files (sorted by name), or - for stdin"),
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int add_file(source *s, const char *path)
{
    char **grown = realloc(s->files, (s->n_files + 1) * sizeof *grown);
    if (!grown)
        return -1;
    s->files = grown;
    if (!(s->files[s->n_files] = strdup(path)))
        return -1;
    s->n_files++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_folder(source *s, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !(ends_with(e->d_name, ".json") || ends_with(e->d_name, ".ndjson")))
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rc = add_file(s, path);
    }
    closedir(d);
    qsort(s->files, s->n_files, sizeof *s->files, by_name);
    return rc;
}

static void free_source(source *s)
{
    if (s->reading) {
        if (s->lines.fd != STDIN_FILENO)
            close(s->lines.fd);
        bp_lines_free(&s->lines);
    }
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    free(s);
}

static int src_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    source *s = calloc(1, sizeof *s);
    if (!s)
        return BP_FATAL;
    s->host = host;
    s->ctx = ctx;
    const char *path = host->opt_string(ctx, "path");
    struct stat st;
    int rc = 0;
    if (strcmp(path, "-") == 0) {
        rc = add_file(s, "-");
    } else if (stat(path, &st) != 0) {
        host->log(ctx, BP_LOG_ERROR, "cannot read %s: %s; check the path", path, strerror(errno));
        goto fail;
    } else if (S_ISDIR(st.st_mode)) {
        rc = list_folder(s, path);
        if (rc == 0 && s->n_files == 0)
            host->log(ctx, BP_LOG_WARN, "folder %s has no .json or .ndjson files", path);
    } else {
        rc = add_file(s, path);
    }
    if (rc != 0) {
        host->log(ctx, BP_LOG_ERROR, "cannot list %s: %s", path, strerror(errno));
        goto fail;
    }
    *state = s;
    return BP_OK;
fail:
    free_source(s);
    return BP_FATAL;
}

static void src_close(void *state)
{
    free_source(state);
}

static void add(source *s, bp_batch *batch, const char *data, size_t len, int64_t offset)
{
    bp_origin o = {sizeof o, s->current, -1, offset, NULL, 0, -1};
    s->host->add_payload(batch, data, len, &o);
}

/* Starts the next file. Returns 1 when a line-by-line file is open, 0 when a whole-file
 * payload was added, -1 on error. */
static int start_next(source *s, bp_batch *batch)
{
    const char *path = s->files[s->next_file++];
    s->current = path;
    s->line_no = 0;
    bool is_stdin = strcmp(path, "-") == 0;
    if (is_stdin || ends_with(path, ".ndjson")) {
        int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        bp_lines_init(&s->lines, fd);
        s->reading = true;
        return 1;
    }
    size_t len;
    char *data = bp_read_file(path, &len);
    if (!data)
        return -1;
    add(s, batch, data, len, 0);
    free(data);
    return 0;
}

static void stop_reading(source *s)
{
    if (s->lines.fd != STDIN_FILENO)
        close(s->lines.fd);
    bp_lines_free(&s->lines);
    s->reading = false;
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    source *s = state;
    const bp_host *h = s->host;
    size_t want = h->batch_capacity(batch);
    while (h->batch_count(batch) < want) {
        if (!s->reading) {
            if (s->next_file == s->n_files)
                return BP_END;
            int rc = start_next(s, batch);
            if (rc < 0) {
                h->log(s->ctx, BP_LOG_ERROR, "cannot read %s: %s; fix or remove the file",
                       s->current, strerror(errno));
                return BP_FATAL;
            }
            continue;
        }
        const char *line;
        size_t len;
        /* Wait for input only while the batch is empty; a partial batch goes out at once. */
        int rc = bp_lines_next(&s->lines, h->batch_count(batch) ? 0 : timeout_ms, &line, &len);
        if (rc == BP_LINE_WAIT)
            return BP_OK;
        if (rc == BP_LINE_EOF) {
            stop_reading(s);
            continue;
        }
        if (rc == BP_LINE_ERROR) {
            h->log(s->ctx, BP_LOG_ERROR, "cannot read %s: %s", s->current, strerror(errno));
            return BP_FATAL;
        }
        s->line_no++;
        if (len > 0)
            add(s, batch, line, len, s->line_no);
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "source-file",
    .version = "1.0.0",
    .kind = BP_KIND_SOURCE,
    .description = "replays a FHIR file, a folder of .json/.ndjson files, or standard input",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
};

BP_PLUGIN(descriptor)
