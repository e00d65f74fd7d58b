/* The address of a listening socket as a pipeline file writes it ([pipeline] http_listen):
 * "HOST:PORT" or "PORT". Parsed here, beside the rest of the configuration, so `check`
 * (src/pipeline/pipeline.c) refuses exactly what the listener (src/ops/http.c) would. */
#ifndef BPPIPE_LISTEN_ADDR_H
#define BPPIPE_LISTEN_ADDR_H

#include <stddef.h>

/* Parses "HOST:PORT" or "PORT" (host 127.0.0.1) into an IPv4 host, written to `host` (the
 * caller's, `host_size` bytes, NUL-terminated), and a port from 0 to 65535. Returns 0, or -1
 * when `text` is NULL, not of that form, the host is not an IPv4 address or does not fit;
 * `host` and `port` are then unspecified. Logs nothing: each caller words its own error. */
int bp_parse_listen(const char *text, char *host, size_t host_size, unsigned *port);

#endif
