/* The operations listener: one HTTP server (libmicrohttpd, its own thread) that serves what the
 * main thread last published: /metrics (Prometheus text), /healthz and /readyz. The listener
 * never reads the run's books itself; it copies the latest snapshot under its own lock, so no
 * counter of the run is shared with its thread. See docs/operations.md. */
#ifndef BPPIPE_HTTP_H
#define BPPIPE_HTTP_H

#include <stddef.h>

typedef struct bp_http bp_http;

/* /healthz answers 503 once the main loop has not published for this long (seconds). */
#define BP_HTTP_STALE_S 5.0

/* Parses "HOST:PORT" or "PORT" (host 127.0.0.1) into an IPv4 host and port. 0 or -1. */
int bp_http_parse_listen(const char *text, char *host, size_t host_size, unsigned *port);
/* Starts listening on `listen` (see bp_http_parse_listen; port 0: any free one). The address it
 * listens on is logged at info and, when port_file is not NULL, written there. token: the bearer
 * token every request must carry (NULL: none). Returns NULL after logging why. */
bp_http *bp_http_start(const char *listen, const char *port_file, const char *token);
/* Replaces the snapshot served: the metrics text, and the /readyz answer (ready, or not with
 * a short reason). Also the main loop's heartbeat: /healthz is 200 while publishes keep coming.
 * Called by the main thread only. */
void bp_http_publish(bp_http *h, const char *metrics, size_t len, int ready, const char *reason);
/* Stops the listener (waits for its thread) and frees it. NULL is fine. */
void bp_http_stop(bp_http *h);

#endif
