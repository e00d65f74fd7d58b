/* bppipe-monitor: the simulated ward's bedside monitors sending HL7 v2 PCD-01 messages over MLLP,
 * as the demo's monitor and the benchmark client of source-mllp (bench/mllp.sh). Each
 * connection sends one message at a time and waits for its ACK, resending it on a new connection
 * after a timeout, as a monitor does; the report counts AA/AE/AR and the time from a message's
 * last byte to its ACK. */
#include "common/clock.h"
#include "mllp_link.h"
#include "wardsim/ward_pcd01.h"
#include "wardsim/ward_sim.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_CAP 16       /* messages generated ahead per connection */
#define FRAME_CAP 2304     /* an encoded message (< 2 KiB) and its MLLP framing */
#define FAST_INTERVAL_S 5. /* as source-faker: the simulated clock of an unpaced ward */

static const char usage[] =
    "usage: bppipe-monitor --to HOST:PORT [options]\n"
    "Sends a simulated ward's blood pressure as HL7 v2.6 ORU^R01 (IHE PCD-01) over MLLP,\n"
    "one message at a time per connection, each waiting for its ACK.\n"
    "  --to HOST:PORT       the MLLP listener (source-mllp), e.g. 127.0.0.1:2575\n"
    "  --connections N      connections, each the monitor of patients i, i+N, ... (default 1)\n"
    "  --patients P         patients on the ward, P >= N (default 10, or N when larger)\n"
    "  --count N            messages in total, then stop (default 0: until --duration)\n"
    "  --duration S         stop sending new messages after S seconds (default 0: no limit)\n"
    "  --rate R             messages per second over all connections (default 0: as fast as\n"
    "                       the ACKs come back)\n"
    "  --ack-timeout-ms MS  no ACK after MS: reconnect and send the message again (10000)\n"
    "  --seed S             the ward's seed (default 42)\n"
    "  --start-time T       the simulated clock's start, e.g. 2026-01-01T00:00:00Z (now)\n"
    "  --invalid-rate X     share of deliberately broken messages, 0..1 (default 0)\n"
    "  --ack-log FILE       one line per ACK: control id, MSA-1, patient\n"
    "  --json               the report as one JSON object on standard output\n"
    "CA/CE/CR (the accept acknowledgement PCD-01 messages ask for) count as AA/AE/AR.\n"
    "Exit status: 0 when every message sent got an ACK (AA, AE or AR), 1 when some did not\n"
    "(the listener never answered or the time ran out), 2 for a usage error.\n";

typedef struct msg {
    unsigned char frame[FRAME_CAP];
    size_t len;
    char control_id[64];
    char patient[24];
    bool reading; /* carries a reading (not one of the deliberately broken messages) */
} msg;

/* One monitor: its link and the messages it has still to get acknowledged, oldest first. */
typedef struct monitor {
    bp_link link;
    msg *queue; /* ring of QUEUE_CAP */
    size_t head, n;
    size_t off;    /* bytes of the head message written on this connection */
    bool awaiting; /* the head message is written whole and waits for its ACK */
    bool resend;   /* the head message was sent on a connection that broke or timed out */
    double last_byte;
} monitor;

typedef struct totals {
    long sent, resent, aa, ae, ar, stray, timeouts, broken_links, readings;
    double *lat_ms;
    size_t n_lat, cap_lat;
} totals;

typedef struct config {
    struct sockaddr_in to;
    const char *to_text, *ack_log;
    long connections, patients, count;
    double duration, rate, ack_timeout_s, invalid_rate;
    uint64_t seed;
    int64_t start_ms;
    bool json;
} config;

static volatile sig_atomic_t stop_requests;

static void on_signal(int sig)
{
    (void)sig;
    stop_requests++;
}

static int parse_to(const char *text, struct sockaddr_in *to)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || !colon[1])
        return -1;
    char host[256];
    size_t n = (size_t)(colon - text);
    if (n >= sizeof host)
        return -1;
    memcpy(host, text, n);
    host[n] = '\0';
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
        return -1;
    memcpy(to, res->ai_addr, sizeof *to);
    freeaddrinfo(res);
    return 0;
}

static int number(const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "bppipe-monitor: %s %s: give a number from %g to %g\n", opt, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, config *c)
{
    static const struct option longs[] = {{"to", required_argument, NULL, 't'},
                                          {"connections", required_argument, NULL, 'c'},
                                          {"patients", required_argument, NULL, 'p'},
                                          {"count", required_argument, NULL, 'n'},
                                          {"duration", required_argument, NULL, 'd'},
                                          {"rate", required_argument, NULL, 'r'},
                                          {"ack-timeout-ms", required_argument, NULL, 'a'},
                                          {"seed", required_argument, NULL, 's'},
                                          {"start-time", required_argument, NULL, 'T'},
                                          {"invalid-rate", required_argument, NULL, 'i'},
                                          {"ack-log", required_argument, NULL, 'l'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    *c = (config){.connections = 1, .ack_timeout_s = 10, .seed = 42, .start_ms = bp_wall_ms()};
    double v;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (opt) {
        case 't':
            c->to_text = optarg;
            if (parse_to(optarg, &c->to) != 0) {
                fprintf(stderr, "bppipe-monitor: --to %s: write HOST:PORT, e.g. 127.0.0.1:2575\n",
                        optarg);
                return -1;
            }
            break;
        case 'c':
            if (number("--connections", optarg, 1, 10000, &v))
                return -1;
            c->connections = (long)v;
            break;
        case 'p':
            if (number("--patients", optarg, 1, 1000000, &v))
                return -1;
            c->patients = (long)v;
            break;
        case 'n':
            if (number("--count", optarg, 0, 1e15, &v))
                return -1;
            c->count = (long)v;
            break;
        case 'd':
            if (number("--duration", optarg, 0, 1e9, &c->duration))
                return -1;
            break;
        case 'r':
            if (number("--rate", optarg, 0, 1e7, &c->rate))
                return -1;
            break;
        case 'a':
            if (number("--ack-timeout-ms", optarg, 1, 3.6e6, &v))
                return -1;
            c->ack_timeout_s = v / 1000;
            break;
        case 's':
            if (number("--seed", optarg, 0, 9007199254740992.0, &v))
                return -1;
            c->seed = (uint64_t)v;
            break;
        case 'T':
            if (bp_ward_parse_time(optarg, &c->start_ms) != 0) {
                fprintf(stderr,
                        "bppipe-monitor: --start-time %s: write an ISO 8601 UTC time "
                        "like 2026-01-01T08:00:00Z\n",
                        optarg);
                return -1;
            }
            break;
        case 'i':
            if (number("--invalid-rate", optarg, 0, 1, &c->invalid_rate))
                return -1;
            break;
        case 'l': c->ack_log = optarg; break;
        case 'j': c->json = true; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: fputs(usage, stderr); return -1;
        }
    }
    if (optind < argc || !c->to_text) {
        fputs(!c->to_text ? "bppipe-monitor: --to HOST:PORT is required\n" : usage, stderr);
        return -1;
    }
    if (c->patients == 0)
        c->patients = c->connections > 10 ? c->connections : 10;
    if (c->patients < c->connections) {
        fprintf(stderr,
                "bppipe-monitor: %ld patients for %ld connections: each connection is "
                "the monitor of at least one patient; raise --patients\n",
                c->patients, c->connections);
        return -1;
    }
    return 0;
}

/* MSH-10 of an encoded message, which the ACK names in MSA-2: MSH-1 is the '|' after "MSH",
 * so MSH-10 follows the ninth '|'. */
static void control_id(const char *text, size_t len, char *out, size_t cap)
{
    size_t i = 0, k = 0;
    for (int bars = 0; i < len && bars < 9; i++)
        bars += text[i] == '|';
    while (i < len && text[i] != '|' && text[i] != '\r' && k + 1 < cap)
        out[k++] = text[i++];
    out[k] = '\0';
}

/* The next message of the ward, framed, for the monitor of its patient; false when that
 * monitor's queue is full (the ward waits for it). */
static bool generate(bp_ward *w, monitor *mons, long n_mons)
{
    monitor *m = &mons[(w->next % w->n_patients) % (uint64_t)n_mons];
    if (m->n == QUEUE_CAP)
        return false;
    msg *q = &m->queue[(m->head + m->n) % QUEUE_CAP];
    bp_sim_reading r;
    bp_ward_step(w, &r);
    size_t len = bp_ward_pcd01(w, &r, (char *)q->frame + 1, sizeof q->frame - 3);
    if (len == 0)
        abort(); /* the encoder's messages are < 2 KiB: a bug, not an input */
    q->frame[0] = BP_MLLP_START;
    q->frame[len + 1] = BP_MLLP_END1;
    q->frame[len + 2] = BP_MLLP_END2;
    q->len = len + 3;
    control_id((const char *)q->frame + 1, len, q->control_id, sizeof q->control_id);
    bp_ward_patient_id(r.patient, q->patient, sizeof q->patient);
    q->reading = r.broken == 0;
    m->n++;
    return true;
}

static void record_latency(totals *t, double ms)
{
    if (t->n_lat == t->cap_lat) {
        size_t cap = t->cap_lat ? t->cap_lat * 2 : 4096;
        double *p = realloc(t->lat_ms, cap * sizeof *p);
        if (!p)
            return; /* the count stays right; the percentiles lose a sample */
        t->lat_ms = p;
        t->cap_lat = cap;
    }
    t->lat_ms[t->n_lat++] = ms;
}

/* An ACK arrived on monitor m. */
static void on_ack(monitor *m, const bp_ack *a, totals *t, FILE *log, double now)
{
    msg *head = m->n ? &m->queue[m->head] : NULL;
    if (!head || !m->awaiting || strcmp(a->control_id, head->control_id) != 0) {
        t->stray++; /* an ACK for nothing we wait for (a late one of a resent message) */
        return;
    }
    record_latency(t, (now - m->last_byte) * 1000);
    /* The messages ask for the accept acknowledgement alone (MSH-15 AL, MSH-16 NE, as PCD-01
     * wants): CA/CE/CR end the wait as AA/AE/AR do from a receiver in original mode. */
    if (strcmp(a->code, "AA") == 0 || strcmp(a->code, "CA") == 0) {
        t->aa++;
        t->readings += head->reading;
    } else if (strcmp(a->code, "AE") == 0 || strcmp(a->code, "CE") == 0) {
        t->ae++;
    } else {
        t->ar++; /* AR, or a frame that is no ACK at all */
    }
    if (log)
        fprintf(log, "%s %s %s\n", head->control_id, a->code, head->patient);
    m->head = (m->head + 1) % QUEUE_CAP;
    m->n--;
    m->off = 0;
    m->awaiting = m->resend = false;
}

/* The connection of m broke or its ACK is overdue: its head message goes again on a new one. */
static void broken(monitor *m, totals *t, double now, bool timeout)
{
    if (timeout)
        t->timeouts++;
    else
        t->broken_links++;
    if (m->n && (m->off > 0 || m->awaiting))
        m->resend = true;
    m->off = 0;
    m->awaiting = false;
    bp_link_down(&m->link, now, timeout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *v, size_t n, double q)
{
    if (n == 0)
        return NAN;
    size_t i = (size_t)ceil(q * (double)n);
    return v[i ? i - 1 : 0];
}

static void report(const config *c, totals *t, double seconds, long unacked)
{
    if (t->n_lat)
        qsort(t->lat_ms, t->n_lat, sizeof *t->lat_ms, cmp_double);
    double p50 = percentile(t->lat_ms, t->n_lat, 0.50), p99 = percentile(t->lat_ms, t->n_lat, 0.99);
    double max = t->n_lat ? t->lat_ms[t->n_lat - 1] : NAN;
    long acked = t->aa + t->ae + t->ar;
    double mps = seconds > 0 ? (double)acked / seconds : 0;
    double rps = seconds > 0 ? (double)t->readings / seconds : 0;
    if (c->json) {
        printf("{\"to\":\"%s\",\"connections\":%ld,\"patients\":%ld,\"seconds\":%.3f,"
               "\"sent\":%ld,\"acknowledged\":%ld,\"aa\":%ld,\"ae\":%ld,\"ar\":%ld,"
               "\"unacknowledged\":%ld,\"resent\":%ld,\"ack_timeouts\":%ld,"
               "\"broken_connections\":%ld,\"stray_acks\":%ld,"
               "\"readings\":%ld,\"messages_per_s\":%.1f,\"readings_per_s\":%.1f,",
               c->to_text, c->connections, c->patients, seconds, t->sent, acked, t->aa, t->ae,
               t->ar, unacked, t->resent, t->timeouts, t->broken_links, t->stray, t->readings, mps,
               rps);
        if (t->n_lat)
            printf("\"ack_ms_p50\":%.3f,\"ack_ms_p99\":%.3f,\"ack_ms_max\":%.3f}\n", p50, p99, max);
        else
            printf("\"ack_ms_p50\":null,\"ack_ms_p99\":null,\"ack_ms_max\":null}\n");
        return;
    }
    printf("bppipe-monitor: %ld messages to %s on %ld connection(s) in %.2f s: %ld AA, %ld AE, "
           "%ld AR, %ld unacknowledged; %ld resent (%ld ACK timeouts, %ld broken connections)\n",
           t->sent, c->to_text, c->connections, seconds, t->aa, t->ae, t->ar, unacked, t->resent,
           t->timeouts, t->broken_links);
    printf("  %.0f messages/s, %.0f readings/s; last byte to ACK p50 %.2f ms, p99 %.2f ms, "
           "max %.2f ms\n",
           mps, rps, p50, p99, max);
}

static int run(const config *c)
{
    bp_ward ward;
    double interval = c->rate > 0 ? (double)c->patients / c->rate : FAST_INTERVAL_S;
    if (bp_ward_init(&ward, c->seed, (size_t)c->patients, 1, c->start_ms, interval,
                     c->invalid_rate) != 0) {
        fprintf(stderr, "bppipe-monitor: out of memory for %ld patients\n", c->patients);
        return 1;
    }
    bp_ward_set_jitter(&ward, 0.2);
    FILE *log = NULL;
    if (c->ack_log && !(log = fopen(c->ack_log, "w"))) {
        fprintf(stderr, "bppipe-monitor: --ack-log %s: %s\n", c->ack_log, strerror(errno));
        bp_ward_free(&ward);
        return 1;
    }
    monitor *mons = calloc((size_t)c->connections, sizeof *mons);
    struct pollfd *pfd = calloc((size_t)c->connections, sizeof *pfd);
    totals t = {0};
    int status = 1;
    if (!mons || !pfd)
        goto out;
    for (long i = 0; i < c->connections; i++) {
        bp_link_init(&mons[i].link);
        if (!(mons[i].queue = malloc(QUEUE_CAP * sizeof(msg))))
            goto out;
    }
    double t0 = bp_now_s(), drain_until = INFINITY;
    bool stopped = false; /* no new messages any more: the ones out wait for their ACKs */
    for (;;) {
        double now = bp_now_s();
        if (!stopped && (stop_requests || (c->duration > 0 && now - t0 >= c->duration) ||
                         (c->count > 0 && (long)ward.next >= c->count))) {
            stopped = true;
            drain_until = now + c->ack_timeout_s + 1;
        }
        while (!stopped && (c->count == 0 || (long)ward.next < c->count) &&
               (c->rate <= 0 || (double)ward.next / c->rate <= now - t0) &&
               generate(&ward, mons, c->connections))
            ;
        long pending = 0;
        for (long i = 0; i < c->connections; i++)
            pending += (long)mons[i].n;
        if ((stopped && pending == 0) || stop_requests > 1 || now > drain_until) {
            report(c, &t, now - t0, pending); /* the drain after the last message counts too */
            status = pending == 0 && t.sent > 0 ? 0 : 1;
            break;
        }
        double wake = now + 0.1;
        if (!stopped && c->rate > 0)
            wake = fmin(wake, t0 + (double)ward.next / c->rate);
        for (long i = 0; i < c->connections; i++) {
            monitor *m = &mons[i];
            bp_link *l = &m->link;
            pfd[i] = (struct pollfd){.fd = -1};
            if (l->state == LINK_DOWN && m->n) {
                if (now < l->retry_at) {
                    wake = fmin(wake, l->retry_at);
                    continue;
                }
                bp_link_connect(l, &c->to, now);
            }
            if (m->awaiting && now - m->last_byte > c->ack_timeout_s) {
                broken(m, &t, now, true);
                continue;
            }
            if (m->awaiting)
                wake = fmin(wake, m->last_byte + c->ack_timeout_s);
            if (l->state == LINK_DOWN)
                continue;
            pfd[i].fd = l->fd;
            pfd[i].events = POLLIN;
            if (l->state == LINK_CONNECTING || (m->n && !m->awaiting))
                pfd[i].events |= POLLOUT;
        }
        int ms = (int)ceil((wake - now) * 1000);
        if (poll(pfd, (nfds_t)c->connections, ms < 0 ? 0 : ms) < 0 && errno != EINTR) {
            perror("bppipe-monitor: poll");
            break;
        }
        now = bp_now_s();
        for (long i = 0; i < c->connections; i++) {
            monitor *m = &mons[i];
            bp_link *l = &m->link;
            short ev = pfd[i].fd >= 0 ? pfd[i].revents : 0;
            if (!ev)
                continue;
            if (l->state == LINK_CONNECTING) {
                if (!(ev & (POLLOUT | POLLERR | POLLHUP)) || bp_link_connected(l, now) != 0)
                    continue;
            }
            if ((ev & (POLLOUT | POLLERR | POLLHUP)) && m->n && !m->awaiting) {
                msg *head = &m->queue[m->head];
                int w = bp_link_write(l, head->frame, head->len, &m->off);
                if (w < 0) {
                    broken(m, &t, now, false);
                    continue;
                }
                if (w == 1) {
                    m->awaiting = true;
                    m->last_byte = bp_now_s();
                    t.sent += !m->resend;
                    t.resent += m->resend;
                }
            }
            if (ev & (POLLIN | POLLERR | POLLHUP)) {
                int r = bp_link_read(l);
                bp_ack a;
                double at = bp_now_s();
                while (bp_link_next_ack(l, &a))
                    on_ack(m, &a, &t, log, at);
                if (r < 0)
                    broken(m, &t, now, false);
            }
        }
    }
out:
    for (long i = 0; mons && i < c->connections; i++) {
        if (mons[i].link.fd >= 0)
            bp_link_down(&mons[i].link, 0, 1);
        free(mons[i].queue);
    }
    free(mons);
    free(pfd);
    free(t.lat_ms);
    if (log)
        fclose(log);
    bp_ward_free(&ward);
    return status;
}

int main(int argc, char **argv)
{
    config c;
    if (parse_args(argc, argv, &c) != 0)
        return 2;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return run(&c);
}
