#include "config/listen_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bp_parse_listen(const char *text, char *host, size_t host_size, unsigned *port)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    const char *digits = colon ? colon + 1 : text;
    size_t host_len = colon ? (size_t)(colon - text) : 0;
    if (!text || !*digits || host_len + 1 > host_size || (colon && host_len == 0))
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(digits, &end, 10);
    if (errno || *end || v > 65535 || digits[0] == '-' || digits[0] == '+')
        return -1;
    if (colon) {
        memcpy(host, text, host_len);
        host[host_len] = '\0';
    } else {
        snprintf(host, host_size, "127.0.0.1");
    }
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return -1;
    *port = (unsigned)v;
    return 0;
}
