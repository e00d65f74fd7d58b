#include "mllp_tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct bp_mllp_tls {
    SSL_CTX *ctx;
};

const char *bp_mllp_key_mode_problem(mode_t mode, uid_t owner)
{
    if (mode & S_IRWXO)
        return "other users can read or write it";
    if (mode & (S_IWGRP | S_IXGRP))
        return "its group can write it";
    if ((mode & S_IRGRP) && owner != 0)
        return "its group can read it (allowed only for a key root owns, as Debian's ssl-cert "
               "group does)";
    return NULL;
}

/* OpenSSL's reason for the last failure of this thread, in words; the queue is emptied. */
static void openssl_reason(char *out, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(out, cap, "%s", r ? r : "no reason given by OpenSSL");
    ERR_clear_error();
}

/* Never prompts on a terminal for an encrypted key's passphrase: the load fails instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static EVP_PKEY *load_key(const char *key, char *err, size_t cap)
{
    struct stat st;
    if (stat(key, &st) != 0) {
        snprintf(err, cap, "tls_key_file = %s cannot be read (%s)", key, strerror(errno));
        return NULL;
    }
    const char *problem = bp_mllp_key_mode_problem(st.st_mode, st.st_uid);
    if (problem) {
        snprintf(err, cap,
                 "tls_key_file = %s is refused: %s (mode %03o); a private key must be readable "
                 "by its owner only: chmod 600 %s",
                 key, problem, (unsigned)(st.st_mode & 0777), key);
        return NULL;
    }
    BIO *bio = BIO_new_file(key, "r");
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    if (!pkey) {
        char why[160];
        openssl_reason(why, sizeof why);
        snprintf(err, cap,
                 "tls_key_file = %s cannot be loaded (%s); give the certificate's private key "
                 "in PEM, unencrypted",
                 key, why);
    }
    return pkey;
}

static int set_min_version(SSL_CTX *ctx, const char *v, char *err, size_t cap)
{
    int version = !v || !*v || strcmp(v, "1.2") == 0 ? TLS1_2_VERSION
                  : strcmp(v, "1.3") == 0            ? TLS1_3_VERSION
                                                     : 0;
    if (!version || !SSL_CTX_set_min_proto_version(ctx, version)) {
        snprintf(err, cap, "tls_min_version = %s: expected 1.2 or 1.3", v ? v : "");
        return -1;
    }
    return 0;
}

static int load_ca(SSL_CTX *ctx, const char *ca, char *err, size_t cap)
{
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (!names || !SSL_CTX_load_verify_locations(ctx, ca, NULL)) {
        char why[160];
        openssl_reason(why, sizeof why);
        snprintf(err, cap,
                 "tls_ca_file = %s cannot be loaded (%s); give the PEM certificate(s) of the CA "
                 "that signs the senders' client certificates",
                 ca, names ? why : "no certificate in it, or it cannot be read");
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        return -1;
    }
    SSL_CTX_set_client_CA_list(ctx, names); /* the CA names the server asks certificates of */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

bp_mllp_tls *bp_mllp_tls_new(const char *cert, const char *key, const char *ca,
                             const char *min_version, char *err, size_t cap)
{
    ERR_clear_error();
    bp_mllp_tls *t = calloc(1, sizeof *t);
    if (!t || !(t->ctx = SSL_CTX_new(TLS_server_method()))) {
        snprintf(err, cap, "out of memory setting up TLS");
        free(t);
        return NULL;
    }
    EVP_PKEY *pkey = NULL;
    char why[160];
    if (set_min_version(t->ctx, min_version, err, cap) != 0)
        goto fail;
    if (!SSL_CTX_use_certificate_chain_file(t->ctx, cert)) {
        openssl_reason(why, sizeof why);
        snprintf(err, cap,
                 "tls_cert_file = %s cannot be loaded (%s); give the server's certificate in "
                 "PEM (then any intermediate CA certificates)",
                 cert, why);
        goto fail;
    }
    if (!(pkey = load_key(key, err, cap)))
        goto fail;
    if (!X509_check_private_key(SSL_CTX_get0_certificate(t->ctx), pkey)) {
        ERR_clear_error();
        snprintf(err, cap,
                 "tls_key_file = %s is not the private key of the certificate in tls_cert_file "
                 "= %s; give the key the certificate was made for",
                 key, cert);
        goto fail;
    }
    if (!SSL_CTX_use_PrivateKey(t->ctx, pkey)) {
        openssl_reason(why, sizeof why);
        snprintf(err, cap, "tls_key_file = %s cannot be used (%s)", key, why);
        goto fail;
    }
    EVP_PKEY_free(pkey);
    pkey = NULL;
    if (ca && *ca && load_ca(t->ctx, ca, err, cap) != 0)
        goto fail;
    /* Resumed sessions keep the client certificate verified in the first handshake. */
    static const unsigned char sid[] = "bppipe-source-mllp";
    SSL_CTX_set_session_id_context(t->ctx, sid, sizeof sid - 1);
    /* A peer closing without close_notify is an end like any other (MLLP frames say where
     * messages end); renegotiation is refused (no sender needs it, and it costs CPU). */
    SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    /* Answers are written as far as the socket takes them, from a buffer that may grow and move
     * between tries; buffers of idle connections are released (up to max_connections). */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    return t;
fail:
    EVP_PKEY_free(pkey);
    bp_mllp_tls_free(t);
    return NULL;
}

void bp_mllp_tls_free(bp_mllp_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

SSL *bp_mllp_tls_conn(bp_mllp_tls *t, int fd)
{
    SSL *ssl = SSL_new(t->ctx);
    if (ssl && !SSL_set_fd(ssl, fd)) {
        SSL_free(ssl);
        return NULL;
    }
    if (ssl)
        SSL_set_accept_state(ssl);
    return ssl;
}

void bp_mllp_tls_conn_free(SSL *ssl)
{
    if (!ssl)
        return;
    if (SSL_is_init_finished(ssl))
        SSL_shutdown(ssl); /* one try: the socket closes next, whatever the peer does */
    SSL_free(ssl);
    ERR_clear_error();
}

/* The status of an operation that returned `rc`. */
static bp_tls_status status_of(SSL *ssl, int rc)
{
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_NONE: return BP_TLS_OK;
    case SSL_ERROR_WANT_READ: return BP_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return BP_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return BP_TLS_EOF;
    default: return BP_TLS_FAILED;
    }
}

bp_tls_status bp_mllp_tls_handshake(SSL *ssl, char *why, size_t cap)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1)
        return BP_TLS_OK;
    int e = SSL_get_error(ssl, rc);
    bp_tls_status st = status_of(ssl, rc);
    if (st == BP_TLS_WANT_READ || st == BP_TLS_WANT_WRITE)
        return st;
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        snprintf(why, cap, "client certificate refused: %s", X509_verify_cert_error_string(verify));
        ERR_clear_error();
    } else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
        snprintf(why, cap, "%s", errno ? strerror(errno) : "the peer closed the connection");
    } else {
        openssl_reason(why, cap);
    }
    return BP_TLS_FAILED;
}

bp_tls_status bp_mllp_tls_read(SSL *ssl, void *buf, size_t cap, size_t *got)
{
    ERR_clear_error();
    *got = 0;
    int rc = SSL_read_ex(ssl, buf, cap, got);
    bp_tls_status st = rc == 1 ? BP_TLS_OK : status_of(ssl, 0);
    ERR_clear_error();
    return st;
}

bp_tls_status bp_mllp_tls_write(SSL *ssl, const void *buf, size_t len, size_t *put)
{
    ERR_clear_error();
    *put = 0;
    int rc = SSL_write_ex(ssl, buf, len, put);
    bp_tls_status st = rc == 1 ? BP_TLS_OK : status_of(ssl, 0);
    ERR_clear_error();
    return st;
}

bool bp_mllp_tls_pending(SSL *ssl)
{
    return SSL_pending(ssl) > 0;
}
