/* sink-capture: every document it receives, one compact JSON line each, to a file descriptor
 * the host process already holds open.
 *
 * `bppipe test` replaces each sink of the pipeline under test by this one (keeping its route),
 * with `fd` an anonymous in-memory file (memfd) per sink: the documents stay in memory, nothing
 * is sent anywhere, and the test reads them back once the run has ended. It is an ordinary sink
 * otherwise: `fd = 1` writes NDJSON to standard output.
 *
 * The descriptor belongs to whoever opened it: close() leaves it open. A failed write of a
 * seekable descriptor is cut back to where the batch started, so a retried batch leaves each
 * document there once.
 */
#include <bppipe/plugin.h>

#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

typedef struct capture {
    const bp_host *host;
    bp_ctx *ctx;
    int fd;
} capture;

static const bp_option options[] = {
    BP_OPTION_INT("fd", NULL, 0, 1048576, BP_OPT_REQUIRED,
                  "an open file descriptor of this process the documents are appended to, one "
                  "compact JSON document per line (bppipe test passes an in-memory file)"),
};

static int capture_open(const bp_host *host, bp_ctx *ctx, void **state)
{
    int fd = (int)host->opt_int(ctx, "fd", -1);
    int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
        host->log(ctx, BP_LOG_ERROR, "fd %d is not a descriptor open for writing", fd);
        return BP_FATAL;
    }
    capture *c = calloc(1, sizeof *c);
    if (!c) {
        host->log(ctx, BP_LOG_ERROR, "out of memory");
        return BP_FATAL;
    }
    c->host = host;
    c->ctx = ctx;
    c->fd = fd;
    *state = c;
    return BP_OK;
}

static void capture_close(void *state)
{
    free(state); /* the descriptor is the opener's */
}

static int capture_write(void *state, bp_batch *batch)
{
    capture *c = state;
    const bp_host *h = c->host;
    off_t start = lseek(c->fd, 0, SEEK_END); /* -1 for a pipe or terminal: nothing to cut */
    size_t n = h->batch_count(batch);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *doc = h->document(c->ctx, h->batch_at(batch, i), 0, &len);
        if (!doc || bp_write_all(c->fd, doc, len) != 0 || bp_write_all(c->fd, "\n", 1) != 0) {
            h->log(c->ctx, BP_LOG_WARN, "could not write to fd %d: %s; will retry", c->fd,
                   doc ? strerror(errno) : "out of memory");
            if (start >= 0 && ftruncate(c->fd, start) != 0)
                return BP_FATAL; /* a partial batch would be read twice */
            return BP_RETRY;
        }
    }
    h->count(c->ctx, "documents", (double)n);
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .name = "sink-capture",
    .version = "1.0.0",
    .kind = BP_KIND_SINK,
    .description = "documents as NDJSON to an open file descriptor (bppipe test keeps them in "
                   "memory)",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = capture_open,
    .close = capture_close,
    .write = capture_write,
    /* Every record as it comes: a capture holds the corrections and retractions (their
     * documents say so) that the sink it stands for would be handed. */
    .caps = BP_CAP_REVISIONS,
};

BP_PLUGIN(descriptor)
