/* source-file: replays a file, a folder of .json/.ndjson files, or standard input.
 *
 * A .json file (or any file named explicitly that is not .ndjson) is one payload; .ndjson files
 * and standard input are one payload per non-empty line. The origin names the file and the
 * line (offset; 0 for a whole-file payload), so a dead letter says where it came from. The
 * reading position lives in the state, so a full batch simply resumes on the next poll. */
#include "line_reader.h"

#include <bppipe/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct source {
    const bp_host *host;
    bp_ctx *ctx;
    char **files; /* in reading order; "-" is standard input */
    size_t n_files, cap_files, next_file;
    bool reading; /* a line-by-line file is open in `lines` */
    bp_lines lines;
    const char *current; /* the file being read (one of `files`) */
    int64_t line_no;
} source;

static const bp_option options[] = {
    BP_OPTION_STRING("path", NULL, BP_OPT_REQUIRED,
                     "a file, a folder of .json/.ndjson files (sorted by name), or - for stdin"),
    BP_OPTION_BOOL("recursive", "false", "also read the .json/.ndjson files of sub-folders"),
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Takes ownership of `path` (freed on failure). */
static int add_file(source *s, char *path)
{
    if (!path)
        return -1;
    if (s->n_files == s->cap_files) {
        size_t cap = s->cap_files ? s->cap_files * 2 : 16;
        char **grown = realloc(s->files, cap * sizeof *grown);
        if (!grown) {
            free(path);
            return -1;
        }
        s->files = grown;
        s->cap_files = cap;
    }
    s->files[s->n_files++] = path;
    return 0;
}

/* "dir/name" without doubling a trailing slash of `dir`; NULL when memory ran out. */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir), m = strlen(name);
    bool slash = n > 0 && dir[n - 1] == '/';
    char *p = malloc(n + m + 2);
    if (p)
        snprintf(p, n + m + 2, "%s%s%s", dir, slash ? "" : "/", name);
    return p;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the .json/.ndjson regular files of `dir` (and, when `recursive`, of its
 * sub-folders; symbolic links to folders are not followed, so a loop cannot recurse forever).
 * Hidden entries are skipped. Returns 0, or -1 with errno set and *bad naming the folder. */
static int list_folder(source *s, const char *dir, bool recursive, const char **bad)
{
    DIR *d = opendir(dir);
    if (!d) {
        *bad = dir;
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = join(dir, e->d_name);
        struct stat st;
        if (!path) {
            rc = -1;
        } else if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (recursive)
                rc = list_folder(s, path, recursive, bad);
            free(path);
        } else if ((ends_with(path, ".json") || ends_with(path, ".ndjson")) &&
                   stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc = add_file(s, path);
        } else {
            free(path); /* other extensions, sockets, dangling links: not ours to read */
        }
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    if (rc != 0 && !*bad)
        *bad = dir;
    return rc;
}

static void stop_reading(source *s)
{
    if (s->lines.fd != STDIN_FILENO)
        close(s->lines.fd);
    bp_lines_free(&s->lines);
    s->reading = false;
}

static void free_source(source *s)
{
    if (s->reading)
        stop_reading(s);
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    free(s);
}

/* Fills s->files from the configured path. Returns BP_OK or BP_FATAL after logging why. */
static int plan(source *s, const char *path, bool recursive)
{
    const bp_host *h = s->host;
    struct stat st;
    if (strcmp(path, "-") == 0)
        return add_file(s, strdup("-")) == 0 ? BP_OK : BP_FATAL;
    if (stat(path, &st) != 0) {
        h->log(s->ctx, BP_LOG_ERROR, "cannot read %s: %s; check `path` (a file, a folder or -)",
               path, strerror(errno));
        return BP_FATAL;
    }
    if (S_ISDIR(st.st_mode)) {
        const char *bad = NULL;
        if (list_folder(s, path, recursive, &bad) != 0) {
            h->log(s->ctx, BP_LOG_ERROR, "cannot list folder %s: %s; check its permissions",
                   bad ? bad : path, strerror(errno));
            return BP_FATAL;
        }
        if (s->n_files > 1)
            qsort(s->files, s->n_files, sizeof *s->files, by_name);
        if (s->n_files == 0)
            h->log(s->ctx, BP_LOG_WARN, "folder %s has no .json or .ndjson files%s", path,
                   recursive ? "" : " (set recursive = true to read its sub-folders)");
        else
            h->log(s->ctx, BP_LOG_INFO, "reading %zu file(s) from %s", s->n_files, path);
        return BP_OK;
    }
    /* A single file is opened once here so that `bppipe check` reports one we may not read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        h->log(s->ctx, BP_LOG_ERROR, "cannot read %s: %s; check the path and its permissions",
               path, strerror(errno));
        return BP_FATAL;
    }
    close(fd);
    return add_file(s, strdup(path)) == 0 ? BP_OK : BP_FATAL;
}

static int src_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    source *s = calloc(1, sizeof *s);
    if (!s) {
        host->log(ctx, BP_LOG_ERROR, "out of memory");
        return BP_FATAL;
    }
    s->host = host;
    s->ctx = ctx;
    const char *path = host->opt_string(ctx, "path");
    if (!path || !*path) {
        host->log(ctx, BP_LOG_ERROR, "`path` is empty; name a file, a folder or - for stdin");
        goto fail;
    }
    if (plan(s, path, host->opt_bool(ctx, "recursive", 0)) != BP_OK)
        goto fail;
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

static int add(source *s, bp_batch *batch, const char *data, size_t len, int64_t offset)
{
    bp_origin o = {sizeof o, s->current, -1, offset, NULL, 0, -1};
    int rc = s->host->add_payload(batch, data, len, &o);
    if (rc != BP_OK)
        s->host->log(s->ctx, BP_LOG_ERROR, "could not hand %s to the host (status %d, out of "
                     "memory?); lower batch_size or free memory", s->current, rc);
    return rc;
}

/* Starts the next file. Returns 1 when a line-by-line file is open, 0 when a whole-file
 * payload was added, -1 on a read error (errno set), -2 when the host refused the payload. */
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
    int rc = add(s, batch, data, len, 0);
    free(data);
    return rc == BP_OK ? 0 : -2;
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    source *s = state;
    const bp_host *h = s->host;
    size_t want = h->batch_capacity(batch);
    size_t had = h->batch_count(batch); /* more than 0 when the host appends (linger_ms) */
    while (h->batch_count(batch) < want) {
        if (!s->reading) {
            if (s->next_file == s->n_files)
                return BP_END;
            int rc = start_next(s, batch);
            if (rc == -1) {
                h->log(s->ctx, BP_LOG_ERROR, "cannot read %s: %s; fix or remove the file and "
                       "run again", s->current, strerror(errno));
                return BP_FATAL;
            }
            if (rc == -2)
                return BP_FATAL;
            continue;
        }
        const char *line;
        size_t len;
        /* Wait for input only until this call added something; then what it has goes out. */
        int rc = bp_lines_next(&s->lines, h->batch_count(batch) > had ? 0 : timeout_ms, &line,
                               &len);
        if (rc == BP_LINE_WAIT)
            return BP_OK;
        if (rc == BP_LINE_EOF) {
            stop_reading(s);
            continue;
        }
        if (rc == BP_LINE_ERROR) {
            h->log(s->ctx, BP_LOG_ERROR, "cannot read %s after line %lld: %s; fix the file and "
                   "run again", s->current, (long long)s->line_no, strerror(errno));
            return BP_FATAL;
        }
        s->line_no++;
        /* Empty lines are separators; anything else, even blanks, is the decoder's to judge. */
        if (len > 0 && add(s, batch, line, len, s->line_no) != BP_OK)
            return BP_FATAL;
    }
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "source-file",
    .version = "1.1.0",
    .kind = BP_KIND_SOURCE,
    .description = "replays a FHIR file, a folder of .json/.ndjson files, or standard input",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
    /* linger_ms may gather a batch over several polls; a .json file is one payload, a whole
     * patient Bundle of several MB, so the host's default limit for it is 64 MiB, not 1 MiB */
    .caps = BP_CAP_POLL_APPENDS | BP_CAP_WHOLE_FILES,
};

BP_PLUGIN(descriptor)
