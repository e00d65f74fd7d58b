/* The listening socket of source-mllp: HOST:PORT parsed, bound and listening non-blocking, its
 * address written to a port file; peers' addresses as text. */
#ifndef BP_MLLP_NET_H
#define BP_MLLP_NET_H

#include <stddef.h>

/* Splits "HOST:PORT" ("[V6]:PORT" too) into host and port. Returns 0 or -1. */
int bp_mllp_parse_listen(const char *listen, char *host, size_t host_cap, char *port,
                         size_t port_cap);

/* A non-blocking listening socket on host:port; *bound receives "HOST:PORT" with the port the
 * kernel chose for port 0. Returns the fd, or -1 with errno set. */
int bp_mllp_listen(const char *host, const char *port, int backlog, char *bound, size_t cap);

/* Writes `text` and a line end to `path` whole (a temporary file renamed into place). */
int bp_mllp_write_port_file(const char *path, const char *text);

/* "ADDRESS:PORT" of the peer of `fd`. */
void bp_mllp_peer_name(int fd, char *out, size_t cap);

#endif
