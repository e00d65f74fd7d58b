/* source-mllp: HL7 v2 messages (IHE PCD-01 ORU^R01) over MLLP, acknowledged once stored.
 *
 * One thread, one epoll set, and sockets are touched only inside poll() and commit(): while
 * the host does not poll (a full lane), nothing is read and TCP makes the senders wait. Each
 * complete frame becomes one payload; its origin's offset is a per-process message number,
 * its key the peer's address. commit(batch) answers the messages of `batch`, in poll order and
 * so in order per connection: AA (CA) when every reading is stored or skipped, AE (CE) when
 * one became a dead letter, AR (CR) for what HL7 rejects at arrival (mllp_ack.h). A frame this
 * source will not hand to the decoder (oversized, cut short, rejected at arrival) is handed with
 * add_rejected (ABI 1.6): its bytes as they came, the reason beside them, never decoded, one dead
 * letter whose invalid_reason is that reason. */
#define _GNU_SOURCE /* accept4 */
#include "mllp_ack.h"
#include "mllp_frame.h"
#include "mllp_net.h"
#include "mllp_tls.h"

#include <bppipe/plugin.h>

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES 65536 /* one read per connection and turn */
#define KEEP_BYTES 16384 /* what a dead letter keeps of an oversized or cut frame */
#define MAX_EVENTS 64
#define SWEEP_MS 1000    /* how often idle connections are looked for */
#define TLS_LOG_LINES 10 /* handshake failures logged a minute; more are counted, not logged */

typedef struct conn {
    int fd; /* -1 once closed; the struct lives on while messages of it wait for the host */
    char peer[64];
    bp_mllp_deframer df;
    char *in; /* bytes read, not yet framed: in[pos..len) */
    size_t pos, len;
    bp_buf out; /* answers not yet written: out.data[out_pos..out.len) */
    size_t out_pos;
    size_t pending;        /* messages handed to the host and not yet answered */
    bool eof;              /* the peer closed its side: read nothing more */
    bool ready;            /* in the ready list: in[pos..len) holds bytes to frame */
    uint32_t events;       /* what epoll watches for it */
    struct ssl_st *ssl;    /* TLS, when on */
    bool handshaking;      /* TLS: the handshake is not over; nothing is read before it is */
    bool hs_wants_write;   /* TLS: the handshake waits for the socket to be writable */
    bool read_wants_write; /* TLS: a read waits for the socket to be writable */
    bool write_wants_read; /* TLS: an answer's write waits for the socket to be readable */
    double last_active;
    struct conn *next_ready, *next, *prev;
} conn;

/* A message in the host, waiting for its answer. */
typedef struct message {
    int64_t seq;
    conn *c;
    int reject_code; /* 0, or the table 0357 code it is rejected with at arrival */
    char reject_reason[200];
} message;

typedef struct source {
    const bp_host *host;
    bp_ctx *ctx;
    char lhost[256], lport[16];
    const char *port_file;
    size_t max_frame;
    int64_t max_conns, idle_ms;
    const char *processing_ids;
    int ep, lfd; /* -1 until the first poll listens */
    conn *conns, *ready, *ready_tail;
    int64_t n_open;
    message *fifo; /* messages in the host, in seq order: fifo[head..head+n) mod cap */
    size_t head, n, cap;
    int64_t seq;
    long long started;
    double last_sweep;
    bp_mllp_tls *tls;     /* NULL: plain TCP */
    double tls_window;    /* the minute handshake failures are logged in, and how */
    int tls_logged;       /* many lines it has had; */
    int64_t tls_unlogged; /* the failures past TLS_LOG_LINES, said in the next line */
} source;

static const bp_option options[] = {
    BP_OPTION_STRING("listen", "127.0.0.1:2575", 0,
                     "HOST:PORT to listen on (loopback by default; port 0 picks a free port)"),
    BP_OPTION_STRING("port_file", NULL, 0,
                     "file the listening HOST:PORT is written to once listening (for port 0)"),
    BP_OPTION_INT("max_frame_bytes", "10485760", 1024, 67108864, 0,
                  "largest message; a longer frame is answered AR and dead-lettered (its first "
                  "16 KiB)"),
    BP_OPTION_INT("max_connections", "256", 1, 65536, 0,
                  "connections at once; one more is closed at once (counted connections_refused)"),
    BP_OPTION_INT("idle_timeout_s", "3600", 0, 604800, 0,
                  "close a connection silent this long with nothing waiting for its answer; 0 = "
                  "never"),
    BP_OPTION_STRING("processing_ids", "P", 0,
                     "MSH-11 processing ids accepted, comma separated (P production, D debug, T "
                     "training); others are answered AR"),
    BP_OPTION_STRING("tls_cert_file", NULL, 0,
                     "PEM certificate (then any intermediates) of the listener; TLS is on when "
                     "this and tls_key_file are set"),
    BP_OPTION_STRING("tls_key_file", NULL, 0,
                     "PEM private key of tls_cert_file, unencrypted, readable by its owner only "
                     "(chmod 600)"),
    BP_OPTION_STRING("tls_ca_file", NULL, 0,
                     "PEM CA certificate(s): when set, senders must present a client certificate "
                     "this CA signed"),
    BP_OPTION_STRING("tls_min_version", "1.2", 0, "lowest TLS version accepted: 1.2 or 1.3"),
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count(source *s, const char *name, double delta)
{
    s->host->count(s->ctx, name, delta);
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_free(source *s, conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bp_mllp_tls_conn_free(c->ssl);
    bp_mllp_deframer_free(&c->df);
    free(c->in);
    bp_buf_free(&c->out);
    free(c);
}

static void unready(source *s, conn *c)
{
    if (!c->ready)
        return;
    conn **p = &s->ready;
    conn *prev = NULL;
    while (*p && *p != c) {
        prev = *p;
        p = &(*p)->next_ready;
    }
    if (*p)
        *p = c->next_ready;
    if (s->ready_tail == c)
        s->ready_tail = prev;
    c->next_ready = NULL;
    c->ready = false;
}

static void make_ready(source *s, conn *c)
{
    if (c->ready)
        return;
    c->ready = true;
    c->next_ready = NULL;
    if (s->ready_tail)
        s->ready_tail->next_ready = c;
    else
        s->ready = c;
    s->ready_tail = c;
}

/* Closes the socket; the struct goes once no message of it waits for the host. */
static void conn_close(source *s, conn *c, const char *counter)
{
    if (c->fd < 0)
        return;
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    bp_mllp_tls_conn_free(c->ssl); /* its close_notify, if the socket takes it */
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    unready(s, c);
    s->n_open--;
    count(s, "connections_open", -1);
    if (counter)
        count(s, counter, 1);
    if (c->pending == 0)
        conn_free(s, c);
}

/* Watches what the connection waits for: its handshake's next step, bytes to read (until the
 * peer's end), room for its answers; TLS may need the other direction for either. */
static void set_events(source *s, conn *c)
{
    uint32_t want;
    if (c->handshaking) {
        want = c->hs_wants_write ? EPOLLOUT : EPOLLIN;
    } else {
        bool out = c->out_pos < c->out.len;
        want = (!c->eof || (out && c->write_wants_read) ? EPOLLIN : 0u) |
               ((out && !c->write_wants_read) || c->read_wants_write ? EPOLLOUT : 0u);
    }
    if (want == c->events)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    c->events = want;
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what the connection's answers hold. Returns false when the connection was closed (a
 * peer that went away: its answers are dropped; a sender resends what it saw no answer to). */
static bool flush_out(source *s, conn *c)
{
    while (c->fd >= 0 && c->out_pos < c->out.len) {
        if (c->ssl) {
            size_t put = 0;
            bp_tls_status st =
                bp_mllp_tls_write(c->ssl, c->out.data + c->out_pos, c->out.len - c->out_pos, &put);
            c->write_wants_read = st == BP_TLS_WANT_READ;
            if (st == BP_TLS_OK) {
                c->out_pos += put;
                continue;
            }
            if (st == BP_TLS_WANT_READ || st == BP_TLS_WANT_WRITE) {
                set_events(s, c); /* kept, and written again when the socket allows */
                return true;
            }
            conn_close(s, c, "connections_lost");
            return false;
        }
        ssize_t w = send(c->fd, c->out.data + c->out_pos, c->out.len - c->out_pos, MSG_NOSIGNAL);
        if (w > 0) {
            c->out_pos += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(s, c);
            return true;
        }
        conn_close(s, c, "connections_lost");
        return false;
    }
    c->out_pos = 0;
    bp_buf_reset(&c->out);
    c->write_wants_read = false;
    set_events(s, c);
    if (c->eof && c->pending == 0 && !c->ready) {
        conn_close(s, c, NULL);
        return false;
    }
    return true;
}

static void accept_all(source *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                s->host->log(s->ctx, BP_LOG_WARN, "accept failed: %s", strerror(errno));
            return;
        }
        if (s->n_open >= s->max_conns) {
            close(fd);
            count(s, "connections_refused", 1);
            s->host->log(s->ctx, BP_LOG_WARN,
                         "a connection over max_connections = %lld was "
                         "closed; raise max_connections if this many senders are expected",
                         (long long)s->max_conns);
            continue;
        }
        conn *c = calloc(1, sizeof *c);
        if (c && !(c->in = malloc(READ_BYTES))) {
            free(c);
            c = NULL;
        }
        if (!c) {
            close(fd);
            s->host->log(s->ctx, BP_LOG_ERROR, "out of memory for a new connection");
            return;
        }
        c->fd = fd;
        if (s->tls && !(c->ssl = bp_mllp_tls_conn(s->tls, fd))) {
            close(fd);
            free(c->in);
            free(c);
            s->host->log(s->ctx, BP_LOG_ERROR, "out of memory for a new TLS connection");
            return;
        }
        c->handshaking = c->ssl != NULL; /* the client speaks first: EPOLLIN */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* answers go out at once */
        bp_mllp_peer_name(fd, c->peer, sizeof c->peer);
        bp_mllp_deframer_init(&c->df, s->max_frame, KEEP_BYTES);
        c->last_active = now_s();
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        c->events = EPOLLIN;
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            bp_mllp_tls_conn_free(c->ssl);
            close(fd);
            free(c->in);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_open++;
        count(s, "connections", 1);
        count(s, "connections_open", 1);
        s->host->log(s->ctx, BP_LOG_DEBUG, "connection from %s", c->peer);
    }
}

/* ---- handing messages to the host ---------------------------------------------------------- */

static message *fifo_push(source *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        message *grown = malloc(cap * sizeof *grown);
        if (!grown)
            return NULL;
        for (size_t i = 0; i < s->n; i++)
            grown[i] = s->fifo[(s->head + i) % s->cap];
        free(s->fifo);
        s->fifo = grown;
        s->head = 0;
        s->cap = cap;
    }
    return &s->fifo[(s->head + s->n++) % s->cap];
}

/* Hands one frame to the host. `local_code`/`why` (0/NULL for a whole frame) say the source
 * rejects it whatever it holds: oversized or cut short. A rejected frame goes to add_rejected
 * with its reason. Returns BP_OK or BP_FATAL (logged). */
static int hand(source *s, conn *c, bp_batch *batch, const char *data, size_t len, int local_code,
                const char *why)
{
    message *m = fifo_push(s);
    if (!m) {
        s->host->log(s->ctx, BP_LOG_ERROR, "out of memory keeping a message's answer");
        return BP_FATAL;
    }
    m->seq = ++s->seq;
    m->c = c;
    m->reject_code = local_code;
    if (local_code)
        snprintf(m->reject_reason, sizeof m->reject_reason, "%s", why);
    else
        m->reject_code =
            bp_mllp_check(data, len, s->processing_ids, m->reject_reason, sizeof m->reject_reason);
    bp_origin o = {sizeof o, NULL, -1, m->seq, c->peer, strlen(c->peer), wall_ms()};
    int rc;
    if (m->reject_code) {
        /* add_rejected takes one line; a reason quoting the message could hold a break. */
        for (char *p = m->reject_reason; (p = strpbrk(p, "\r\n")) != NULL;)
            *p = ' ';
        rc = s->host->add_rejected(batch, data, len, &o, m->reject_reason);
    } else {
        rc = s->host->add_payload(batch, data, len, &o);
    }
    if (rc != BP_OK) {
        s->n--;
        s->host->log(s->ctx, BP_LOG_ERROR,
                     "could not hand a message of %zu bytes to the host "
                     "(status %d, out of memory?); lower batch_size or max_frame_bytes",
                     len, rc);
        return BP_FATAL;
    }
    c->pending++;
    count(s, "messages", 1);
    if (m->reject_code)
        count(s, "messages_rejected", 1);
    return BP_OK;
}

/* A frame that began and never ended, on a connection that closes or idles: a dead letter (an
 * answer is still tried; a sender that half-closed gets it). */
static int hand_partial(source *s, conn *c, bp_batch *batch)
{
    const char *data;
    size_t len;
    uint64_t total;
    int kind = bp_mllp_take_partial(&c->df, &data, &len, &total);
    if (kind == 0)
        return BP_OK;
    if (kind == 2 && total <= s->max_frame)
        return hand(s, c, batch, data, len, 0, NULL);
    char why[160];
    snprintf(why, sizeof why,
             kind == 2 ? "frame of %llu bytes is over max_frame_bytes = %zu"
                       : "the connection ended after %llu bytes of a frame, "
                         "before its end block (0x1C 0x0D)",
             (unsigned long long)total, s->max_frame);
    count(s, kind == 2 ? "frames_oversized" : "frames_cut", 1);
    return hand(s, c, batch, data, len, BP_MLLP_ERR_INTERNAL, why);
}

static bool read_conn(source *s, conn *c);

/* Frames what the connection has read, handing frames over until the batch is full. */
static int frame_conn(source *s, conn *c, bp_batch *batch, size_t want)
{
    const bp_host *h = s->host;
    while (c->pos < c->len && h->batch_count(batch) < want) {
        const char *data;
        size_t used, len;
        uint64_t total;
        uint64_t garbage = c->df.garbage;
        int ev = bp_mllp_next(&c->df, c->in + c->pos, c->len - c->pos, &used, &data, &len, &total);
        c->pos += used;
        if (c->df.garbage > garbage)
            count(s, "garbage_bytes", (double)(c->df.garbage - garbage));
        int rc = BP_OK;
        char why[160];
        if (ev == BP_MLLP_FRAME) {
            rc = hand(s, c, batch, data, len, 0, NULL);
        } else if (ev == BP_MLLP_OVERSIZED) {
            count(s, "frames_oversized", 1);
            snprintf(why, sizeof why, "frame of %llu bytes is over max_frame_bytes = %zu",
                     (unsigned long long)total, s->max_frame);
            rc = hand(s, c, batch, data, len, BP_MLLP_ERR_INTERNAL, why);
        } else if (ev == BP_MLLP_CUT) {
            count(s, "frames_cut", 1);
            snprintf(why, sizeof why,
                     "frame cut short: a start block (0x0B) came after %llu "
                     "bytes, before its end block (0x1C 0x0D)",
                     (unsigned long long)total);
            rc = hand(s, c, batch, data, len, BP_MLLP_ERR_SEGMENT_SEQUENCE, why);
        } else if (ev < 0) {
            h->log(s->ctx, BP_LOG_ERROR,
                   "out of memory framing a message from %s; the frame "
                   "is lost and the sender gets no answer for it",
                   c->peer);
        }
        if (rc != BP_OK)
            return rc;
    }
    if (c->pos < c->len)
        return BP_OK;
    c->pos = c->len = 0;
    /* TLS may hold bytes already taken from the socket, which epoll will not report again. */
    if (c->ssl && !c->eof && bp_mllp_tls_pending(c->ssl)) {
        if (!read_conn(s, c) || c->pos < c->len)
            return BP_OK;
    }
    /* A frame the sender left unfinished is handed over when the batch has room for it. */
    if (c->eof && bp_mllp_in_frame(&c->df) && h->batch_count(batch) >= want)
        return BP_OK;
    unready(s, c);
    if (c->eof) {
        int rc = hand_partial(s, c, batch);
        if (rc != BP_OK)
            return rc;
        if (c->pending == 0 && c->out_pos == c->out.len)
            conn_close(s, c, NULL);
    }
    return BP_OK;
}

/* recv() through TLS: bytes, 0 at the peer's end, -1 with errno EAGAIN (nothing yet, perhaps
 * waiting for the socket to be writable first) or EPROTO (the connection is unusable). */
static ssize_t tls_recv(source *s, conn *c)
{
    size_t got = 0;
    bp_tls_status st = bp_mllp_tls_read(c->ssl, c->in, READ_BYTES, &got);
    if (c->read_wants_write != (st == BP_TLS_WANT_WRITE)) {
        c->read_wants_write = st == BP_TLS_WANT_WRITE;
        set_events(s, c);
    }
    if (st == BP_TLS_OK)
        return (ssize_t)got;
    if (st == BP_TLS_EOF)
        return 0;
    errno = st == BP_TLS_FAILED ? EPROTO : EAGAIN;
    return -1;
}

/* Reads once from a connection epoll reported. Returns false when the connection was closed
 * (and perhaps freed). */
static bool read_conn(source *s, conn *c)
{
    if (c->fd < 0 || c->eof || c->pos < c->len)
        return c->fd >= 0;
    ssize_t r = c->ssl ? tls_recv(s, c) : recv(c->fd, c->in, READ_BYTES, 0);
    if (r > 0) {
        c->pos = 0;
        c->len = (size_t)r;
        c->last_active = now_s();
        count(s, "bytes", (double)r);
        make_ready(s, c);
    } else if (r == 0) {
        c->eof = true; /* answers still go out: a sender may half-close and wait for them */
        set_events(s, c);
        make_ready(s, c);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_close(s, c, "connections_lost");
        return false;
    }
    return true;
}

/* A handshake failure or a refused client certificate: counted, and logged with the peer and
 * OpenSSL's reason, at most TLS_LOG_LINES times a minute (a port scanner, or a sender with the
 * wrong certificate retrying every second, would fill the log). */
static void tls_failed(source *s, const conn *c, const char *why)
{
    count(s, "tls_handshake_failed", 1);
    double now = now_s();
    if (now - s->tls_window >= 60.0) {
        s->tls_window = now;
        s->tls_logged = 0;
    }
    if (s->tls_logged >= TLS_LOG_LINES) {
        s->tls_unlogged++;
        return;
    }
    s->tls_logged++;
    char more[96] = "";
    if (s->tls_unlogged)
        snprintf(more, sizeof more, " (and %lld more failures not logged in the last minute)",
                 (long long)s->tls_unlogged);
    s->tls_unlogged = 0;
    s->host->log(s->ctx, BP_LOG_WARN, "TLS handshake with %s failed: %s; connection closed%s",
                 c->peer, why, more);
}

/* One step of a connection's TLS handshake. Returns false when the connection was closed. */
static bool handshake(source *s, conn *c)
{
    char why[256];
    bp_tls_status st = bp_mllp_tls_handshake(c->ssl, why, sizeof why);
    if (st == BP_TLS_WANT_READ || st == BP_TLS_WANT_WRITE) {
        c->hs_wants_write = st == BP_TLS_WANT_WRITE;
        set_events(s, c);
        return true;
    }
    if (st != BP_TLS_OK) {
        tls_failed(s, c, why);
        conn_close(s, c, NULL);
        return false;
    }
    c->handshaking = false;
    c->last_active = now_s();
    count(s, "tls_handshakes", 1);
    s->host->log(s->ctx, BP_LOG_DEBUG, "TLS handshake with %s done", c->peer);
    set_events(s, c);
    /* The first message may have come with the handshake's last flight, already read. */
    return bp_mllp_tls_pending(c->ssl) ? read_conn(s, c) : true;
}

static void sweep_idle(source *s, bp_batch *batch, size_t want)
{
    double now = now_s();
    if (s->idle_ms <= 0 || now - s->last_sweep < SWEEP_MS / 1000.0)
        return;
    s->last_sweep = now;
    for (conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->fd < 0 || c->pending || c->ready || c->out_pos < c->out.len ||
            (now - c->last_active) * 1000.0 < (double)s->idle_ms)
            continue;
        if (bp_mllp_in_frame(&c->df)) {
            if (s->host->batch_count(batch) >= want)
                continue;  /* next time, when the batch has room for its dead letter */
            c->eof = true; /* read nothing more from it */
            set_events(s, c);
            if (hand_partial(s, c, batch) != BP_OK)
                return;
        }
        if (c->pending == 0)
            conn_close(s, c, "connections_idle_closed");
    }
}

static int start_listening(source *s)
{
    char bound[320];
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        s->host->log(s->ctx, BP_LOG_ERROR, "epoll_create1: %s", strerror(errno));
        return BP_FATAL;
    }
    s->lfd = bp_mllp_listen(s->lhost, s->lport, 128, bound, sizeof bound);
    if (s->lfd < 0) {
        s->host->log(s->ctx, BP_LOG_ERROR,
                     "cannot listen on %s:%s (%s); choose a free port "
                     "in `listen`, or 0 for any",
                     s->lhost, s->lport, strerror(errno));
        return BP_FATAL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev);
    s->host->log(s->ctx, BP_LOG_INFO, "MLLP listener on %s%s", bound, s->tls ? " (TLS)" : "");
    if (s->port_file && bp_mllp_write_port_file(s->port_file, bound) != 0) {
        s->host->log(s->ctx, BP_LOG_ERROR,
                     "could not write the listener's address to "
                     "port_file = %s (%s)",
                     s->port_file, strerror(errno));
        return BP_FATAL;
    }
    return BP_OK;
}

static int src_poll(void *state, bp_batch *batch, int timeout_ms)
{
    source *s = state;
    const bp_host *h = s->host;
    if (s->lfd < 0 && start_listening(s) != BP_OK)
        return BP_FATAL;
    size_t want = h->batch_capacity(batch), had = h->batch_count(batch);
    double deadline = now_s() + (timeout_ms > 0 ? timeout_ms : 0) / 1000.0;
    for (;;) {
        /* What was read and not yet framed first: a full batch left it there. */
        for (conn *c = s->ready, *next; c && h->batch_count(batch) < want; c = next) {
            next = c->next_ready;
            int rc = frame_conn(s, c, batch, want);
            if (rc != BP_OK)
                return rc;
        }
        sweep_idle(s, batch, want);
        if (h->batch_count(batch) >= want)
            return BP_OK;
        double left = deadline - now_s();
        int wait = h->batch_count(batch) > had || s->ready || left <= 0 ? 0 : (int)(left * 1000);
        if (wait > SWEEP_MS)
            wait = SWEEP_MS;
        struct epoll_event evs[MAX_EVENTS];
        int n = epoll_wait(s->ep, evs, MAX_EVENTS, wait);
        if (n < 0 && errno != EINTR) {
            h->log(s->ctx, BP_LOG_ERROR, "epoll_wait: %s", strerror(errno));
            return BP_RETRY;
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                accept_all(s);
                continue;
            }
            if (c->handshaking) {
                handshake(s, c); /* an error or a hang-up fails it, and it is counted */
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && c->read_wants_write && !read_conn(s, c))
                continue;
            if ((evs[i].events & EPOLLIN) && c->write_wants_read && !flush_out(s, c))
                continue;
            if ((evs[i].events & EPOLLOUT) && !flush_out(s, c))
                continue;
            if ((evs[i].events & (EPOLLERR | EPOLLHUP)) && c->eof) {
                /* Gone both ways (a reset after it closed): its answers cannot be delivered,
                 * and a socket left open would wake every epoll_wait. */
                conn_close(s, c, "connections_lost");
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                read_conn(s, c);
        }
        if (n <= 0 && !s->ready && (h->batch_count(batch) > had || now_s() >= deadline))
            return BP_OK;
    }
}

/* ---- answers ------------------------------------------------------------------------------- */

static void count_codes(source *s, int n, const char *codes[2])
{
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "acks_%c%c", codes[i][0] + 32, codes[i][1] + 32);
        count(s, name, 1);
    }
}

/* Answers one message the host settled: `rec` is its payload record. */
static void answer(source *s, const message *m, const bp_record *rec)
{
    const bp_host *h = s->host;
    conn *c = m->c;
    bp_mllp_outcome outcome = BP_MLLP_ACCEPT;
    int code = 0;
    const char *why = NULL, *dead = h->text(rec, BP_F_INVALID_REASON);
    if (m->reject_code) {
        outcome = BP_MLLP_REJECT;
        code = m->reject_code;
        why = m->reject_reason;
    } else if (dead) {
        outcome = BP_MLLP_ERROR;
        code = BP_MLLP_ERR_INTERNAL;
        why = dead;
    }
    c->pending--;
    if (c->fd < 0) {
        count(s, "acks_undeliverable", 1);
        if (c->pending == 0)
            conn_free(s, c);
        return;
    }
    size_t len = 0;
    const char *payload = h->payload(rec, &len);
    if (!payload)
        len = 0;
    char id[64];
    const char *codes[2];
    snprintf(id, sizeof id, "%lld-%lld", s->started, (long long)m->seq);
    int n = bp_mllp_answer(&c->out, payload ? payload : "", len, outcome, code, why,
                           id, (long long)wall_ms(), codes);
    if (n < 0) {
        h->log(s->ctx, BP_LOG_ERROR,
               "out of memory writing an answer to %s; closing the "
               "connection (the sender sends again)",
               c->peer);
        conn_close(s, c, "connections_lost");
        return;
    }
    if (n == 0)
        count(s, "acks_not_requested", 1);
    count_codes(s, n, codes);
    flush_out(s, c);
}

static int src_commit(void *state, const bp_batch *batch)
{
    source *s = state;
    const bp_host *h = s->host;
    size_t n = h->batch_count(batch);
    for (size_t i = 0; i < n; i++) {
        const bp_record *rec = h->batch_at(batch, i);
        double off = h->number(rec, BP_F_SOURCE_OFFSET);
        /* Batches are committed in poll order, so a batch's messages are the oldest waiting. */
        while (s->n && !isnan(off) && s->fifo[s->head].seq < (int64_t)off) {
            h->log(s->ctx, BP_LOG_ERROR,
                   "message %lld was never committed; its sender gets "
                   "no answer",
                   (long long)s->fifo[s->head].seq);
            message *m = &s->fifo[s->head];
            if (--m->c->pending == 0 && m->c->fd < 0)
                conn_free(s, m->c);
            s->head = (s->head + 1) % s->cap;
            s->n--;
        }
        if (!s->n || isnan(off) || s->fifo[s->head].seq != (int64_t)off)
            continue; /* not one of ours */
        message m = s->fifo[s->head];
        s->head = (s->head + 1) % s->cap;
        s->n--;
        answer(s, &m, rec);
    }
    return BP_OK;
}

/* ---- life ---------------------------------------------------------------------------------- */

static void free_source(source *s)
{
    while (s->conns) {
        conn *c = s->conns;
        bp_mllp_tls_conn_free(c->ssl); /* its close_notify, before its socket goes */
        c->ssl = NULL;
        if (c->fd >= 0)
            close(c->fd);
        conn_free(s, c);
    }
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->ep >= 0)
        close(s->ep);
    free(s->fifo);
    bp_mllp_tls_free(s->tls);
    free(s);
}

/* TLS when tls_cert_file and tls_key_file are set. The files are loaded and checked here, so
 * `bppipe check` (even --offline) refuses what `bppipe run` would. */
static int open_tls(source *s)
{
    const bp_host *h = s->host;
    const char *cert = h->opt_string(s->ctx, "tls_cert_file");
    const char *key = h->opt_string(s->ctx, "tls_key_file");
    const char *ca = h->opt_string(s->ctx, "tls_ca_file");
    cert = cert && *cert ? cert : NULL;
    key = key && *key ? key : NULL;
    if (!cert && !key) {
        if (ca && *ca) {
            h->log(s->ctx, BP_LOG_ERROR,
                   "tls_ca_file is set but TLS is off: set tls_cert_file and "
                   "tls_key_file too, or remove tls_ca_file");
            return BP_FATAL;
        }
        return BP_OK;
    }
    if (!cert || !key) {
        h->log(s->ctx, BP_LOG_ERROR,
               "%s is set without %s: TLS needs both the certificate and its private key; "
               "set both, or neither for plain TCP",
               cert ? "tls_cert_file" : "tls_key_file", cert ? "tls_key_file" : "tls_cert_file");
        return BP_FATAL;
    }
    char err[1024];
    s->tls =
        bp_mllp_tls_new(cert, key, ca, h->opt_string(s->ctx, "tls_min_version"), err, sizeof err);
    if (!s->tls) {
        h->log(s->ctx, BP_LOG_ERROR, "%s", err);
        return BP_FATAL;
    }
    count(s, "tls_handshakes", 0);
    count(s, "tls_handshake_failed", 0);
    return BP_OK;
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
    s->ep = s->lfd = -1;
    const char *listen = host->opt_string(ctx, "listen");
    if (bp_mllp_parse_listen(listen, s->lhost, sizeof s->lhost, s->lport, sizeof s->lport) != 0) {
        host->log(ctx, BP_LOG_ERROR,
                  "listen = %s is not HOST:PORT (e.g. 127.0.0.1:2575, or "
                  "0.0.0.0:2575 to take monitors from the network)",
                  listen ? listen : "");
        free_source(s);
        return BP_FATAL;
    }
    s->port_file = host->opt_string(ctx, "port_file");
    s->max_frame = (size_t)host->opt_int(ctx, "max_frame_bytes", 10485760);
    s->max_conns = host->opt_int(ctx, "max_connections", 256);
    s->idle_ms = host->opt_int(ctx, "idle_timeout_s", 3600) * 1000;
    s->processing_ids = host->opt_string(ctx, "processing_ids");
    if (!s->processing_ids)
        s->processing_ids = "P";
    if (open_tls(s) != BP_OK) {
        free_source(s);
        return BP_FATAL;
    }
    s->started = (long long)time(NULL);
    /* The counters exist from the start (a delta of 0 creates them), so the summary shows
     * zeros rather than nothing. */
    static const char *names[] = {"messages", "bytes",   "connections", "connections_open",
                                  "acks_aa",  "acks_ae", "acks_ar"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        count(s, names[i], 0);
    *state = s;
    return BP_OK;
}

static void src_close(void *state)
{
    free_source(state);
}

/* `bppipe check`: whether the address can be listened on now (a port in use, an address this
 * machine does not have), without keeping it. Port 0 always can. */
static int src_probe(void *state, int timeout_ms)
{
    (void)timeout_ms;
    source *s = state;
    char bound[320];
    int fd = bp_mllp_listen(s->lhost, s->lport, 1, bound, sizeof bound);
    if (fd < 0) {
        s->host->log(s->ctx, BP_LOG_ERROR,
                     "cannot listen on %s:%s (%s); another process may "
                     "hold the port: choose another in `listen`",
                     s->lhost, s->lport, strerror(errno));
        return BP_RETRY;
    }
    close(fd);
    return BP_OK;
}

static const bp_plugin descriptor = {
    .struct_size = sizeof(bp_plugin),
    .abi_major = BP_ABI_MAJOR,
    /* 1.6, not "whatever this header is": add_rejected is called without BP_HOST_HAS, since the
     * plugin ships with the host and a 1.5 host has no true reason to give a rejected frame. */
    .abi_minor = 6,
    .name = "source-mllp",
    .version = "1.0.0",
    .kind = BP_KIND_SOURCE,
    .description = "HL7 v2 (IHE PCD-01) over MLLP: a TCP listener, each message acknowledged "
                   "once stored",
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .open = src_open,
    .close = src_close,
    .poll = src_poll,
    .commit = src_commit,
    .probe = src_probe,
    /* A message of several MB (a waveform) is one payload: WHOLE_FILES lifts the host's
     * decoding limit from 1 MiB to 64 MiB, above max_frame_bytes' highest value. */
    .caps = BP_CAP_BATCH_COMMIT | BP_CAP_POLL_APPENDS | BP_CAP_WHOLE_FILES,
};

BP_PLUGIN(descriptor)
