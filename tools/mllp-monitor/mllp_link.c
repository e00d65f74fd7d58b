#include "mllp_link.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKOFF_FIRST_S 0.05
#define BACKOFF_MAX_S 2.0

void bp_link_init(bp_link *l)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    l->state = LINK_DOWN;
    l->backoff_s = BACKOFF_FIRST_S;
}

void bp_link_down(bp_link *l, double now, int at_once)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->state = LINK_DOWN;
    l->rx_len = 0; /* a half-read ACK of the closed connection answers nothing now */
    l->retry_at = at_once ? now : now + l->backoff_s;
    if (!at_once && (l->backoff_s *= 2) > BACKOFF_MAX_S)
        l->backoff_s = BACKOFF_MAX_S;
}

void bp_link_connect(bp_link *l, const struct sockaddr_in *to, double now)
{
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        bp_link_down(l, now, 0);
        return;
    }
    /* one small message at a time, each waiting for its ACK: Nagle would only add delay */
    int one = 1;
    setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(l->fd, (const struct sockaddr *)to, sizeof *to) == 0)
        l->state = LINK_UP;
    else if (errno == EINPROGRESS)
        l->state = LINK_CONNECTING;
    else
        bp_link_down(l, now, 0);
}

int bp_link_connected(bp_link *l, double now)
{
    int err = 0;
    socklen_t n = sizeof err;
    if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &n) != 0 || err != 0) {
        bp_link_down(l, now, 0);
        return -1;
    }
    l->state = LINK_UP;
    l->backoff_s = BACKOFF_FIRST_S;
    return 0;
}

int bp_link_write(bp_link *l, const unsigned char *frame, size_t len, size_t *off)
{
    while (*off < len) {
        ssize_t n = send(l->fd, frame + *off, len - *off, MSG_NOSIGNAL);
        if (n > 0) {
            *off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
    return 1;
}

int bp_link_read(bp_link *l)
{
    for (;;) {
        if (l->rx_len == sizeof l->rx)
            return -1; /* no ACK is 16 KiB long: the peer is not speaking MLLP */
        ssize_t n = recv(l->fd, l->rx + l->rx_len, sizeof l->rx - l->rx_len, 0);
        if (n > 0) {
            l->rx_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1; /* 0: the peer closed */
    }
}

/* The end of segment text starting at p: the next \r or \n, or the end. */
static const char *segment_end(const char *p, const char *end)
{
    while (p < end && *p != '\r' && *p != '\n')
        p++;
    return p;
}

/* Field `n` (1-based after the segment name) of segment [p, end) into out, up to its first
 * component. */
static void field(const char *p, const char *end, char fs, char cs, int n, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        p = memchr(p, fs, (size_t)(end - p));
        if (!p)
            return;
        p++;
    }
    size_t k = 0;
    while (p < end && *p != fs && *p != cs && k + 1 < cap)
        out[k++] = *p++;
    out[k] = '\0';
}

int bp_ack_parse(const char *msg, size_t len, bp_ack *ack)
{
    const char *end = msg + len;
    while (msg < end && (*msg == '\r' || *msg == '\n' || *msg == ' '))
        msg++;
    if (end - msg < 8 || memcmp(msg, "MSH", 3) != 0)
        return -1;
    char fs = msg[3], cs = msg[4];
    for (const char *p = msg; p < end;) {
        const char *e = segment_end(p, end);
        if (e - p >= 4 && memcmp(p, "MSA", 3) == 0 && p[3] == fs) {
            char code[8];
            field(p, e, fs, cs, 1, code, sizeof code);
            snprintf(ack->code, sizeof ack->code, "%s", code); /* 2 letters, or fewer */
            field(p, e, fs, cs, 2, ack->control_id, sizeof ack->control_id);
            return 0;
        }
        p = e;
        while (p < end && (*p == '\r' || *p == '\n'))
            p++;
    }
    return -1;
}

int bp_link_next_ack(bp_link *l, bp_ack *ack)
{
    unsigned char *start = memchr(l->rx, BP_MLLP_START, l->rx_len);
    if (!start) {
        l->rx_len = 0; /* nothing before a start block is worth keeping */
        return 0;
    }
    size_t from = (size_t)(start - l->rx) + 1;
    for (size_t i = from; i + 1 < l->rx_len; i++) {
        if (l->rx[i] != BP_MLLP_END1 || l->rx[i + 1] != BP_MLLP_END2)
            continue;
        if (bp_ack_parse((const char *)l->rx + from, i - from, ack) != 0) {
            strcpy(ack->code, "??");
            ack->control_id[0] = '\0';
        }
        size_t used = i + 2;
        memmove(l->rx, l->rx + used, l->rx_len - used);
        l->rx_len -= used;
        return 1;
    }
    return 0;
}
