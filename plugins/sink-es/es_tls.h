/* What a TLS failure of a request to the cluster means, in words that say what to change: a
 * certificate for another host name (naming the host), one from a CA that is not trusted
 * (naming ca_file, or saying none was given), a CA file that cannot be used (naming it). libcurl
 * says "SSL peer certificate or SSH remote key was not OK" for the first two alike. Pure: codes
 * and texts in, a sentence out (tests/es/test_es_bulk.c). */
#ifndef BP_ES_TLS_H
#define BP_ES_TLS_H

#include <stddef.h>

/* 1 when `curl_code` is a TLS failure that waiting will not cure (the certificate, the CA file),
 * so the sink stops instead of waiting for the cluster. */
int bp_es_tls_fatal(int curl_code);

/* The message for `curl_code` (CURLE_*), with OpenSSL's verdict on the chain `verify_result`
 * (CURLINFO_SSL_VERIFYRESULT, X509_V_ERR_*; 0 when the chain was trusted), libcurl's own
 * detail (its error buffer, may be empty), the node's URL as shown and the ca_file option (NULL
 * or empty: none given). */
void bp_es_tls_advice(int curl_code, long verify_result, const char *detail, const char *node,
                      const char *ca_file, char *out, size_t cap);

#endif
