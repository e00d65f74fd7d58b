/* The optional TLS of source-mllp, over OpenSSL: the server context (certificate, key, the CA
 * client certificates are verified against, the lowest version) built and checked once, and
 * the non-blocking handshake, reads and writes of a connection, each saying whether it is done,
 * must wait for the socket to be readable or writable, or failed (with OpenSSL's reason). */
#ifndef BP_MLLP_TLS_H
#define BP_MLLP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_st;
typedef struct bp_mllp_tls bp_mllp_tls;

typedef enum {
    BP_TLS_OK,         /* done (a handshake complete, bytes read or written) */
    BP_TLS_WANT_READ,  /* call again once the socket is readable */
    BP_TLS_WANT_WRITE, /* call again once the socket is writable */
    BP_TLS_EOF,        /* the peer closed (close_notify, or TCP's end) */
    BP_TLS_FAILED      /* the connection is unusable; `why` says why */
} bp_tls_status;

/* NULL when a key file of mode `mode` owned by `owner` may be used: no permission for others,
 * none for the group but reading, and that only when root owns it (Debian's ssl-cert group).
 * Otherwise what is wrong, for a message that then says to chmod 600 it. Pure. */
const char *bp_mllp_key_mode_problem(mode_t mode, uid_t owner);

/* The server context. `ca` NULL or empty: no client certificate asked for; else one is required
 * and verified against the CA certificates in that file. `min_version` "1.2" or "1.3". On
 * failure NULL, and `err` says which file is wrong and what to do. */
bp_mllp_tls *bp_mllp_tls_new(const char *cert, const char *key, const char *ca,
                             const char *min_version, char *err, size_t cap);
void bp_mllp_tls_free(bp_mllp_tls *t);

/* A server-side TLS connection on the non-blocking socket `fd` (not owned), or NULL. */
struct ssl_st *bp_mllp_tls_conn(bp_mllp_tls *t, int fd);
/* Sends close_notify without waiting for it to go out, and frees the connection. */
void bp_mllp_tls_conn_free(struct ssl_st *ssl);

bp_tls_status bp_mllp_tls_handshake(struct ssl_st *ssl, char *why, size_t cap);
bp_tls_status bp_mllp_tls_read(struct ssl_st *ssl, void *buf, size_t cap, size_t *got);
/* Writes from `buf`; a retry after WANT_* may pass the same bytes moved and with more after. */
bp_tls_status bp_mllp_tls_write(struct ssl_st *ssl, const void *buf, size_t len, size_t *put);
/* Whether bytes already decrypted wait in the connection (epoll will not report them). */
bool bp_mllp_tls_pending(struct ssl_st *ssl);

#endif
